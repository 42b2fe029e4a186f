//go:build !race

package e2e

// raceEnabled mirrors the test binary's -race flag; see race_on_test.go.
const raceEnabled = false
