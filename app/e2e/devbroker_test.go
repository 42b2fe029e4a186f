package e2e

import (
	"strings"
	"syscall"
	"testing"

	"orderflow/app/devbroker/devbrokertest"
)

// The real `orderflow devbroker` as a process: what only a process can show, a clean stop on
// SIGTERM and no loss on SIGKILL. Its flags and a restart in process are app/devbroker's tests.

// TestDevbrokerStopsOnSIGTERM: the devbroker listens on the exact address it was given, says
// where its data is, and exits 0 on SIGTERM after stopping cleanly.
func TestDevbrokerStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	d := startDevbroker(t, needBinary(t))
	if !strings.Contains(d.p.stderr.String(), "(data "+d.data+"); for tests and demos only, production uses a Kafka cluster") {
		t.Errorf("ready line does not name the data directory and the warning:\n%s", d.p.stderr.String())
	}
	if code := d.p.stop(t, syscall.SIGTERM, devbrokertest.Wait); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, d.p.stderr.String())
	}
	if !strings.Contains(d.p.stderr.String(), "orderflow devbroker: stopped") {
		t.Errorf("no stop line:\n%s", d.p.stderr.String())
	}
}

// TestDevbrokerSurvivesSIGKILL is the usage text's promise without --fsync: what the broker
// acknowledged (records, topic, group commits) is in its files before the answer, so killing it
// with SIGKILL, which skips the snapshot a clean stop writes, loses none of it.
func TestDevbrokerSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	d := startDevbroker(t, needBinary(t))
	acked := devbrokertest.ProduceConsumeCommit(t, d.addr)
	if code := d.p.stop(t, syscall.SIGKILL, devbrokertest.Wait); code != -1 {
		t.Fatalf("exit code %d after SIGKILL, want -1 (killed)", code)
	}
	if strings.Contains(d.p.stderr.String(), "stopped") {
		t.Fatalf("the broker stopped cleanly; the test needs it killed:\n%s", d.p.stderr.String())
	}
	d.start(t) // the same address and data directory
	devbrokertest.CheckKept(t, d.addr, acked)
	if code := d.p.stop(t, syscall.SIGTERM, devbrokertest.Wait); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, d.p.stderr.String())
	}
}
