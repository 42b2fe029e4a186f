//go:build race

package devbroker_test

// raceEnabled mirrors the test binary's -race flag so the orderflow binary
// is built the same way (and races in the child process are reported too).
const raceEnabled = true
