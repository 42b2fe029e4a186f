package events_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orderflow/events"
	"orderflow/migrations"
)

// TestADamagedDatabaseIsRefusedAtOpen: a copy of a database with pages
// overwritten (its tail, or pages in the middle that starting up never
// reads) is refused at Open with a message that says so, instead of
// starting, reporting healthy and failing reads later.
func TestADamagedDatabaseIsRefusedAtOpen(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	for i := range 200 {
		evs := make([]events.Event, 10)
		for j := range evs {
			evs[j] = ev("E", i*10+j)
		}
		if _, err := s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("s-%d", i), Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().Close(); err != nil { // checkpoints the log into the file
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(data) < 20*page {
		t.Fatalf("database is only %d bytes: too small to damage its tail alone", len(data))
	}
	pages := len(data) / page
	for _, tt := range []struct {
		name      string
		fromPage  int // first page overwritten, counting from 0
		pageCount int
	}{
		{"tail", pages - 3, 3},
		{"middle", pages / 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			copied := append([]byte(nil), data...)
			for i := tt.fromPage * page; i < (tt.fromPage+tt.pageCount)*page; i++ {
				copied[i] = byte(i*7 + 13)
			}
			damaged := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(damaged, copied, 0o644); err != nil {
				t.Fatal(err)
			}
			db, err := events.Open(ctx, damaged, events.Options{Migrate: migrations.Apply})
			if err == nil {
				db.Close()
				t.Fatal("Open of a damaged database succeeded")
			}
			if !errors.Is(err, events.ErrDamaged) || !strings.Contains(err.Error(), damaged) {
				t.Errorf("Open = %v, want ErrDamaged naming the file", err)
			}
			if tt.name == "middle" {
				// Told the file was checked just before (a received
				// backup), Open trusts it: pages starting up never
				// reads are not read.
				db, err := events.Open(ctx, damaged, events.Options{Migrate: migrations.Apply, Checked: true})
				if err != nil {
					t.Fatalf("Open with Checked read the damaged pages: %v", err)
				}
				db.Close()
			}
		})
	}
	// The undamaged original still opens.
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatalf("Open of the original: %v", err)
	}
	db.Close()
}
