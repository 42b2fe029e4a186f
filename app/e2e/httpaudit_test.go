package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGraphQLOverHTTPAudit runs the public audit suite of the GraphQL over
// HTTP spec (serverAudits of the npm package graphql-http, pinned in
// app/e2e/testdata/httpaudit) against the real binary, and fails on any audit that is
// not ok: errors (MUST), warnings (SHOULD) and notices (MAY) alike.
//
// It needs node and npm; without them it fails and says so, rather than
// passing without having audited anything (.ci/run installs them).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	node, npm := lookTool(t, "node"), lookTool(t, "npm")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "app", "e2e", "testdata", "httpaudit")
	installAudit(t, npm, dir)

	p := startBinary(t, bin, filepath.Join(t.TempDir(), "orderflow.db"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "audit.mjs", p.client.base+"/graphql")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the GraphQL over HTTP audit did not pass (%v):\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Log(lines[len(lines)-1])
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH: the GraphQL over HTTP audit needs Node.js and npm (Debian: apt-get install nodejs npm)", name)
	}
	return path
}

// installAudit runs npm ci in dir when its node_modules does not hold the
// graphql-http version that package-lock.json pins.
func installAudit(t *testing.T, npm, dir string) {
	t.Helper()
	want, err := lockedVersion(filepath.Join(dir, "package-lock.json"), "node_modules/graphql-http")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := lockedVersion(filepath.Join(dir, "node_modules", "graphql-http", "package.json"), ""); err == nil && got == want {
		return
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

// lockedVersion reads the version of the package at key of a
// package-lock.json, or, with an empty key, of a package.json.
func lockedVersion(path, key string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var file struct {
		Version  string `json:"version"`
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return "", errors.New(path + ": " + err.Error())
	}
	if key == "" {
		return file.Version, nil
	}
	if v := file.Packages[key].Version; v != "" {
		return v, nil
	}
	return "", errors.New(path + " pins no " + key)
}
