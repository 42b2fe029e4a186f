package events_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orderflow/events"
)

// TestMoveAside: the database file goes to its new name with empty -wal
// and -shm files removed; a write-ahead log with content (a database not
// closed cleanly), a name already taken or no suffix leave everything as
// it was.
func TestMoveAside(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string // suffix of the database's name → content
		suffix  string
		wantErr string
	}{
		{"closed cleanly", map[string]string{"": "db"}, ".old", ""},
		{"empty wal and shm", map[string]string{"": "db", "-wal": "", "-shm": "shm"}, ".old", ""},
		{"wal with content", map[string]string{"": "db", "-wal": "frames"}, ".old", "write-ahead log"},
		{"name taken", map[string]string{"": "db", ".old": "other"}, ".old", "already exists"},
		{"no suffix", map[string]string{"": "db"}, "", "empty suffix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			for ext, content := range c.files {
				if err := os.WriteFile(path+ext, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			to, err := events.MoveAside(path, c.suffix)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				for ext, content := range c.files {
					if got, err := os.ReadFile(path + ext); err != nil || string(got) != content {
						t.Errorf("%s%s is %q (%v) after a refused move, want %q", path, ext, got, err, content)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(to); err != nil || string(got) != "db" || to != path+c.suffix {
				t.Fatalf("moved to %s holding %q (%v)", to, got, err)
			}
			for _, ext := range []string{"", "-wal", "-shm"} {
				if _, err := os.Stat(path + ext); err == nil {
					t.Errorf("%s%s still there", path, ext)
				}
			}
		})
	}
}
