package commands

import (
	"context"
	"sync"

	"orderflow/events"
)

// snapshots keeps the last state the handlers folded for each stream of one
// kind, so a command reads only the events appended since. It is used for
// the streams that grow with every order: a product's stock and a
// customer's fraud history. An entry is only ever a fold of committed events
// up to its version and is copied in and out, so the log stays the truth and
// a stale entry only means a longer read. It holds at most snapshotLimit
// streams, forgetting the least recently used: a forgotten stream is read
// from its start again.
type snapshots[S any] struct {
	fold  func(S, events.Payload) S
	clone func(S) S

	mu sync.Mutex
	m  *lru[snapshot[S]]
}

// snapshotLimit bounds the streams one kind of snapshot keeps. The lanes of
// the reactions keep their own keys' state, so this only spares reads when
// a lane reloads a key it forgot or a command (addStock) loads one.
const snapshotLimit = 20_000

type snapshot[S any] struct {
	state   S
	version int64
}

func newSnapshots[S any](fold func(S, events.Payload) S, clone func(S) S) *snapshots[S] {
	return &snapshots[S]{fold: fold, clone: clone, m: newLRU[snapshot[S]](snapshotLimit)}
}

// load returns the current state and version of a stream.
func (c *snapshots[S]) load(ctx context.Context, h *Handlers, stream string) (S, int64, error) {
	c.mu.Lock()
	e, ok := c.m.get(stream)
	c.mu.Unlock()
	if ok {
		e.state = c.clone(e.state)
	}
	evs, err := h.store.ReadStream(ctx, stream, e.version)
	if err != nil {
		return e.state, 0, err
	}
	for _, ev := range evs {
		p, err := h.reg.Decode(ev)
		if err != nil {
			return e.state, 0, err
		}
		e.state = c.fold(e.state, p)
		e.version = ev.StreamVersion
	}
	if len(evs) > 0 {
		c.mu.Lock()
		if held, _ := c.m.get(stream); held.version < e.version {
			c.m.put(stream, snapshot[S]{state: c.clone(e.state), version: e.version})
			c.m.trim()
		}
		c.mu.Unlock()
	}
	// What an open transaction decided is folded in, never kept: it may
	// yet be aborted.
	for _, ev := range h.withPending(stream, e.version, nil) {
		p, err := h.reg.Decode(ev)
		if err != nil {
			return e.state, 0, err
		}
		e.state = c.fold(e.state, p)
		e.version = ev.StreamVersion
	}
	return e.state, e.version, nil
}
