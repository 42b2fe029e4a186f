package app

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"orderflow/events"
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

// readyz answers whether the process is ready: its database readable, no
// reaction or projection stalled behind the head for longer than
// --stall-after, and none of readinessProblems.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if why := a.notReady(r.Context()); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte(report(nil)))
}

// notReady is why the process is not ready, "" when it is.
func (a *App) notReady(ctx context.Context) string {
	if err := a.db.Reader().PingContext(ctx); err != nil {
		return "not ready: database unavailable"
	}
	var readers []readerPosition
	for _, s := range a.pipeline.stats() {
		readers = append(readers, readerPosition{"reaction " + s.Name, s.Position})
	}
	for _, s := range a.runner.Statuses() {
		readers = append(readers, readerPosition{"projection " + s.Name, s.Position})
	}
	if stalled := a.ready.stalled(a.db.Head(), readers); len(stalled) > 0 {
		return report(stalled)
	}
	if problems := a.readinessProblems(ctx); len(problems) > 0 {
		return "not ready: " + strings.Join(problems, "; ") + "\n"
	}
	return ""
}

// readinessProblems are what keeps the service from being ready besides
// a stalled reader: a diverged stream set aside (two processes wrote one
// stream; it must be looked at), and split, the broker out of reach or a
// context not a member of its consumer group.
func (a *App) readinessProblems(ctx context.Context) []string {
	var out []string
	open, err := a.db.OpenDeadLetters(ctx)
	if err != nil {
		return []string{"dead letters unreadable: " + err.Error()}
	}
	if n := open[events.DivergedReader]; n > 0 {
		out = append(out, fmt.Sprintf("%d diverged stream event(s) set aside as dead letters of %q (two processes wrote one stream; see the deadLetters query)", n, events.DivergedReader))
	}
	if a.kafka != nil {
		out = append(out, a.kafka.ready(ctx)...)
		out = append(out, a.firstCopyApplied()...)
	}
	if a.cdc != nil {
		if p := a.cdc.problem(); p != "" {
			out = append(out, "cdc: "+p)
		}
	}
	return out
}

// firstCopyApplied lists the read models of a split process that have not
// yet applied what its first copy of the topics brought (a new member or
// API replica): until then they answer from part of the history.
func (a *App) firstCopyApplied() []string {
	if a.kafka.replica == nil {
		return nil
	}
	head, done := a.kafka.replica.CopiedUpTo()
	if !done {
		return nil // the replica says so itself (kafkaBus.ready)
	}
	var out []string
	for _, s := range a.runner.Statuses() {
		if s.Position < head {
			out = append(out, fmt.Sprintf("projection %s applying the first copy of the topics (at %d of %d)", s.Name, s.Position, head))
		}
	}
	return out
}
