package devbroker_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real binary, built once for the tests that run `orderflow devbroker`
// as a process, as app/e2e builds it for the server.
var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

func needBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("no go tool to build the binary: %w", err)
			return
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "orderflow-devbroker-bin-")
		if err != nil {
			binErr = err
			return
		}
		out := filepath.Join(dir, "orderflow")
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race") // reuses the race build of the packages the test compiled
		}
		args = append(args, ".")
		cmd := exec.Command(goTool, args...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), root, err, msg)
			return
		}
		binPath = out
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// brokerProcess is a running `orderflow devbroker`.
type brokerProcess struct {
	cmd     *exec.Cmd
	stderr  syncBuffer
	done    chan struct{}
	waitErr error
}

// startBrokerProcess runs `orderflow devbroker --addr addr args…` and
// returns once it printed its ready line and accepts connections.
func startBrokerProcess(t *testing.T, addr string, args ...string) *brokerProcess {
	t.Helper()
	cmd := exec.Command(needBinary(t), append([]string{"devbroker", "--addr", addr}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProcess{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		announced := false
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
			if !announced && strings.HasPrefix(sc.Text(), "orderflow devbroker: Kafka protocol on "+addr+" ") {
				announced = true
				close(ready)
			}
		}
		io.Copy(&p.stderr, pipe)
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("devbroker exited before it was ready: %v\nstderr:\n%s", p.waitErr, p.stderr.String())
	case <-time.After(testWait):
		t.Fatalf("devbroker printed no ready line\nstderr:\n%s", p.stderr.String())
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("devbroker said it was ready but %s refuses connections: %v", addr, err)
	}
	conn.Close()
	return p
}

// signal sends sig and returns the exit code.
func (p *brokerProcess) signal(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(testWait):
		t.Fatalf("devbroker did not exit after %v\nstderr:\n%s", sig, p.stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) {
		return exit.ExitCode()
	}
	if p.waitErr != nil {
		t.Fatalf("wait: %v", p.waitErr)
	}
	return 0
}

// TestBinaryStopsOnSIGTERM: the real `orderflow devbroker` listens on the
// exact address it was given, says where its data is, and exits 0 on
// SIGTERM after stopping cleanly.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	p := startBrokerProcess(t, addr, "--data", dir)
	if !strings.Contains(p.stderr.String(), "(data "+dir+"); for tests and demos only, production uses a Kafka cluster") {
		t.Errorf("ready line does not name the data directory and the warning:\n%s", p.stderr.String())
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "orderflow devbroker: stopped") {
		t.Errorf("no stop line:\n%s", p.stderr.String())
	}
}

// TestBinarySurvivesSIGKILL is the usage text's promise without --fsync:
// what the broker acknowledged (records, topic, group commits) is in its
// files before the answer, so killing it with SIGKILL, which skips the
// snapshot a clean stop writes, loses none of it.
func TestBinarySurvivesSIGKILL(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	p := startBrokerProcess(t, addr, "--data", dir)
	acked := produceConsumeCommit(t, addr)
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit code %d after SIGKILL, want -1 (killed)", code)
	}
	if strings.Contains(p.stderr.String(), "stopped") {
		t.Fatalf("the broker stopped cleanly; the test needs it killed:\n%s", p.stderr.String())
	}
	p2 := startBrokerProcess(t, addr, "--data", dir)
	checkKept(t, addr, acked)
	if code := p2.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p2.stderr.String())
	}
}
