package commands_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/events"
)

// consumer finds one reaction among the handlers' consumers.
func consumer(t *testing.T, h *commands.Handlers, name string) events.ConsumerSpec {
	t.Helper()
	for _, spec := range h.Consumers() {
		if spec.Name == name {
			return spec
		}
	}
	t.Fatalf("no consumer %q", name)
	return events.ConsumerSpec{}
}

// runToHead runs consumers until every one has handled the log up to its
// head (which they may move) and stops them; it returns the stats of the
// first.
func runToHead(t *testing.T, store *events.Store, reg *events.Registry, specs ...events.ConsumerSpec) events.ConsumerStats {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var cs []*events.Consumer
	var wg sync.WaitGroup
	for _, spec := range specs {
		c := events.NewConsumer(store, reg, spec, events.ConsumerOptions{Lanes: 4})
		cs = append(cs, c)
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		head := store.DB().Head()
		done := true
		for _, c := range cs {
			if c.Stats().Position < head {
				done = false
			}
		}
		if done && store.DB().Head() == head {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("consumers did not reach the head %d in 30s", head)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	return cs[0].Stats()
}

// withID gives an append's single event a fixed id.
func withID(a events.StreamAppend, id string) events.StreamAppend {
	a.Events[0].ID = id
	return a
}
