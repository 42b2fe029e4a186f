package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain builds the orderflow binary once for the process-level tests (crash, graceful stop).
// A missing go tool only skips those tests; a failed build fails them with the compiler output.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orderflow-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	buildBinary(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBinary(dir string) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		noGoTool = true
		return
	}
	root, err := moduleRoot()
	if err != nil {
		binErr = err
		return
	}
	out := filepath.Join(dir, "orderflow")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, ".")
	cmd := exec.Command(goTool, args...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		binErr = fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), root, err, msg)
		return
	}
	binPath = out
}

// moduleRoot finds the directory of go.mod: the test runs in app/e2e, two levels below it.
func moduleRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("no go.mod at the module root %s: %w", root, err)
	}
	return root, nil
}
