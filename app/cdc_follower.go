package app

import (
	"context"
	"log/slog"
	"sync"

	"orderflow/app/cdc"
	"orderflow/commands"
	"orderflow/events"
)

// cdcFollower is `orderflow serve --cdc-pg`: the follower of `orderflow cdc`
// run inside the server, so that a shop need not choose between importing
// and selling. It writes through the server's database and handlers (one
// writer, one lock), and its progress is in the server's /metrics
// (orderflow_cdc_*) and /readyz. A permanent error stops the follower, not
// the server: /readyz then says why until the server is restarted.
type cdcFollower struct {
	stats  *cdc.Stats
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error // the permanent error it stopped with
}

func startCDC(dsn string, src cdc.Source, db *events.DB, h *commands.Handlers, log *slog.Logger) *cdcFollower {
	cfg := cdc.DefaultConfig()
	cfg.DSN, cfg.Source = dsn, src
	ctx, cancel := context.WithCancel(context.Background())
	f := &cdcFollower{stats: &cdc.Stats{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		if err := cdc.Follow(ctx, cfg, db, h, log, f.stats); err != nil && ctx.Err() == nil {
			log.Error("cdc: stopped; the server goes on without it", "err", err)
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
		}
	}()
	return f
}

// problem is why the follower is not streaming ("" while it is).
func (f *cdcFollower) problem() string {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return "stopped: " + err.Error()
	}
	return f.stats.Problem()
}

// stop ends the follower and waits for it: what it applied is committed
// (and what it had not confirmed is sent again at the next start).
func (f *cdcFollower) stop() {
	f.cancel()
	<-f.done
}
