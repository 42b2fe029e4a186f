//go:build !race

package devbroker_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
