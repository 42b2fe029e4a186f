package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"orderflow/app/backup"
)

// TestSeedDiscardsAnUnsyncedCopy: a --db received with --seed-from whose
// marker says it was not all on disk when the process stopped is
// discarded at the next start (with its -wal and -shm) and fetched again,
// or, without --seed-from, left for the topics to fill; a --db without the
// marker is started on as it is, whatever --seed-from says.
func TestSeedDiscardsAnUnsyncedCopy(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var fetches atomic.Int32
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Error(w, "no backup here", http.StatusServiceUnavailable)
	}))
	defer peer.Close()
	for _, tt := range []struct {
		name        string
		marker      bool
		seedFrom    string
		wantErr     bool // the fetch fails: the peer has none
		wantDB      bool // --db is still there
		wantFetches int32
	}{
		{"marker, no --seed-from", true, "", false, false, 0},
		{"marker, --seed-from", true, peer.URL, true, false, 1},
		{"no marker, --seed-from", false, peer.URL, false, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fetches.Store(0)
			db := filepath.Join(t.TempDir(), "of.db")
			files := []string{db, db + "-wal", db + "-shm"}
			if tt.marker {
				files = append(files, backup.UnsyncedMarker(db))
			}
			for _, f := range files {
				if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			seeded, synced, err := seed(context.Background(), Config{DBPath: db, SeedFrom: tt.seedFrom}, "", log)
			if seeded || synced != nil || (err != nil) != tt.wantErr {
				t.Errorf("seed: %v, sync %v, %v; want not seeded, error %v", seeded, synced != nil, err, tt.wantErr)
			}
			for _, f := range files {
				if _, err := os.Stat(f); (err == nil) != tt.wantDB {
					t.Errorf("%s there: %v, want %v", filepath.Base(f), err == nil, tt.wantDB)
				}
			}
			if n := fetches.Load(); n != tt.wantFetches {
				t.Errorf("fetched %d times, want %d", n, tt.wantFetches)
			}
		})
	}
}

// TestSeedRefusesACopyOfOtherContexts: a process starts only from a copy
// of one that runs all of its contexts (a word on the members topic left
// by a process that stopped may name an address another has taken since);
// it refuses any other before it writes anything.
func TestSeedRefusesACopyOfOtherContexts(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(contextsHeader, "inventory")
		w.Write([]byte("SQLite format 3\x00"))
	}))
	defer peer.Close()
	db := filepath.Join(t.TempDir(), "of.db")
	cfg := Config{DBPath: db, SeedFrom: peer.URL, Transport: TransportKafka, Contexts: []string{"api"}}
	seeded, _, err := seed(context.Background(), cfg, "", log)
	if seeded || err == nil || !strings.Contains(err.Error(), "runs the contexts inventory, not all of this process's (api)") {
		t.Errorf("seeded %v, %v; want a refusal naming the contexts", seeded, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(db)); len(ents) != 0 {
		t.Errorf("left %d files beside --db: %v", len(ents), ents)
	}
}

// TestSeedGivesUpOnASilentSource: a process started from a copy gives up
// in seconds on a source that does not answer (stopped or frozen, its word
// on the members topic not stale yet) or whose copy stops arriving, and
// leaves nothing beside --db.
func TestSeedGivesUpOnASilentSource(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	defer func(probe, stall time.Duration) { seedProbeTime, seedStallTime = probe, stall }(seedProbeTime, seedStallTime)
	seedProbeTime, seedStallTime = 200*time.Millisecond, 300*time.Millisecond
	release := make(chan struct{})
	frozen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer frozen.Close()
	stalling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		w.Write([]byte("SQLite format 3\x00"))
		w.(http.Flusher).Flush()
		<-release
	}))
	defer stalling.Close()
	defer close(release) // first: the servers close once their handlers return
	for _, tt := range []struct {
		name, source, want string
	}{
		{"no answer", frozen.URL, "did not answer"},
		{"a copy that stops arriving", stalling.URL, "the copy stalled: nothing arrived for 300ms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "of.db")
			cfg := Config{DBPath: db, SeedFrom: tt.source, Transport: TransportKafka, Contexts: []string{"api"}}
			start := time.Now()
			seeded, _, err := seed(context.Background(), cfg, "", log)
			if seeded || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("seeded %v, %v; want an error saying %q", seeded, err, tt.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("gave up after %s", took)
			}
			if ents, _ := os.ReadDir(filepath.Dir(db)); len(ents) != 0 {
				t.Errorf("left %d files beside --db: %v", len(ents), ents)
			}
		})
	}
}

// TestSeedLeavesStrayFilesToANewMemberThatDoesNotFetch: a -wal left without its database
// stops only a process that would fetch a copy into it; a member that starts from the
// changelogs (--seed-from auto, inventory) or that fetches nothing starts as it always did.
func TestSeedLeavesStrayFilesToANewMemberThatDoesNotFetch(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name, seedFrom string
		contexts       []string
		wantErr        bool
	}{
		{"auto, inventory", seedAuto, []string{"inventory"}, false},
		{"none, api", seedNone, []string{"api"}, false},
		{"an address, api", "http://127.0.0.1:1", []string{"api"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "of.db")
			if err := os.WriteFile(db+"-wal", []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Config{DBPath: db, SeedFrom: tt.seedFrom, Transport: TransportKafka, Contexts: tt.contexts}
			seeded, _, err := seed(context.Background(), cfg, "", log)
			if seeded || (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "is left from another database")) {
				t.Errorf("seeded %v, %v; want an error about the stray -wal: %v", seeded, err, tt.wantErr)
			}
		})
	}
}
