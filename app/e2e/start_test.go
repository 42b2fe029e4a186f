package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/events"
	"orderflow/migrations"
)

// TestStartRefusals: the binary refuses at once, with a non-zero status and a message saying why,
// to serve on an address in use, to be a second writer of a database reached through a symlink,
// and to start on a damaged database file.
func TestStartRefusals(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)

	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		db := filepath.Join(t.TempDir(), "orderflow.db")
		res := runBinary(t, bin, 20*time.Second, "--addr", ln.Addr().String(), "--db", db)
		if res.code == 0 || !strings.Contains(res.stderr, "already in use") {
			t.Errorf("exit %d, want non-zero with 'already in use'\nstderr:\n%s", res.code, res.stderr)
		}
	})

	t.Run("second writer through a symlink", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "orderflow.db")
		link := filepath.Join(dir, "link.db")
		if err := os.Symlink(db, link); err != nil {
			t.Skipf("cannot make symlinks here: %v", err)
		}
		p := startBinary(t, bin, db)
		res := runBinary(t, bin, 20*time.Second, "--addr", "127.0.0.1:0", "--db", link)
		if res.code == 0 || !strings.Contains(res.stderr, "held for writing") {
			t.Errorf("exit %d, want non-zero with 'held for writing'\nstderr:\n%s", res.code, res.stderr)
		}
		checkHealth(t, p.client) // the first one is undisturbed
	})

	t.Run("damaged database", func(t *testing.T) {
		db := damagedDatabase(t)
		res := runBinary(t, bin, 20*time.Second, "--addr", "127.0.0.1:0", "--db", db)
		if res.code == 0 || !strings.Contains(res.stderr, "damaged") {
			t.Errorf("exit %d, want non-zero with 'damaged'\nstderr:\n%s", res.code, res.stderr)
		}
	})
}

// damagedDatabase writes a store of a few thousand events, then overwrites two pages in the middle
// of a copy of it: pages that opening the database and reading its head never touch.
func damagedDatabase(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orderflow.db")
	ctx := context.Background()
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	store := events.NewStore(db)
	for i := range 200 {
		evs := make([]events.Event, 10)
		for j := range evs {
			evs[j] = events.Event{Type: "Noted", Data: []byte(fmt.Sprintf(`{"n":%d}`, i*10+j))}
		}
		if _, err := store.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("note-%d", i), Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	mid := len(data) / page / 2
	for i := mid * page; i < (mid+2)*page; i++ {
		data[i] = byte(i*7 + 13)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(damaged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return damaged
}

// TestStartLineNamesWhatIsServed: the line the server prints once it
// listens names GraphiQL, GraphQL and the order board, each at a path that
// answers, so a newcomer finds the board from the terminal.
func TestStartLineNamesWhatIsServed(t *testing.T) {
	t.Parallel()
	p := startBinary(t, needBinary(t), filepath.Join(t.TempDir(), "orderflow.db"))
	line := p.stderr.String()
	want := "orderflow: listening on " + p.client.base + " (GraphiQL at /, GraphQL at /graphql, the order board at /board)\n"
	if !strings.Contains(line, want) {
		t.Fatalf("stderr lacks %q:\n%s", want, line)
	}
	for _, path := range []string{"/", "/board"} {
		resp, err := p.client.http.Get(p.client.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: HTTP %d, want 200", path, resp.StatusCode)
		}
	}
}
