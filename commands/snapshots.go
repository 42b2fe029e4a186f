package commands

import (
	"context"
	"encoding/json"
	"fmt"
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
	var err error
	if ok {
		e.state = c.clone(e.state)
	} else if e, err = restored[S](ctx, h, stream); err != nil {
		return e.state, 0, err
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

// restored is the snapshot a log restored from a changelog holds for a
// stream (see events.Snapshot), or the zero state at version 0: the log
// holds the stream's events after it.
func restored[S any](ctx context.Context, h *Handlers, stream string) (snapshot[S], error) {
	var e snapshot[S]
	sn, ok, err := h.store.Snapshot(ctx, stream)
	if err != nil || !ok {
		return e, err
	}
	if err := json.Unmarshal(sn.State, &e.state); err != nil {
		return e, fmt.Errorf("snapshot of %q at version %d: %w", stream, sn.Version, err)
	}
	e.version = sn.Version
	return e, nil
}

// encoded is a stream's state as a changelog carries it, and its version.
func (c *snapshots[S]) encoded(ctx context.Context, h *Handlers, stream string) ([]byte, int64, error) {
	s, version, err := c.load(ctx, h, stream)
	if err != nil {
		return nil, 0, err
	}
	b, err := json.Marshal(s)
	return b, version, err
}
