//go:build race

package e2e

// raceEnabled mirrors the test binary's -race flag so the orderflow binary is built the same way:
// the build then reuses the race-instrumented packages already compiled for the test, and races
// in the child process are reported too.
const raceEnabled = true
