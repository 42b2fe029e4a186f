package app

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// readiness decides /readyz: the service is ready unless a reader of the
// log (a reaction or a projection) is behind the head and has not moved
// for longer than --stall-after. A reader that keeps failing (and retries
// with backoff) or waits for the database shows up here, instead of /healthz
// staying green while nothing moves.
type readiness struct {
	stallAfter time.Duration
	now        func() time.Time

	mu   sync.Mutex
	seen map[string]progress
}

type progress struct {
	position int64
	since    time.Time // when position was first seen
}

// readerPosition is where one reader of the log is.
type readerPosition struct {
	name     string
	position int64
}

func newReadiness(stallAfter time.Duration, now func() time.Time) *readiness {
	return &readiness{stallAfter: stallAfter, now: now, seen: map[string]progress{}}
}

// stalled returns what has made no progress for too long while behind
// head, as "name at position (behind by n, for d)", sorted.
func (r *readiness) stalled(head int64, readers []readerPosition) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []string
	for _, rd := range readers {
		p, ok := r.seen[rd.name]
		if !ok || p.position != rd.position {
			p = progress{position: rd.position, since: now}
			r.seen[rd.name] = p
		}
		if rd.position < head && now.Sub(p.since) > r.stallAfter {
			out = append(out, fmt.Sprintf("%s at %d (behind by %d, for %s)",
				rd.name, rd.position, head-rd.position, now.Sub(p.since).Round(time.Second)))
		}
	}
	sort.Strings(out)
	return out
}

// report is the text of a /readyz answer.
func report(stalled []string) string {
	if len(stalled) == 0 {
		return "ready\n"
	}
	return "not ready: no progress while behind: " + strings.Join(stalled, "; ") + "\n"
}
