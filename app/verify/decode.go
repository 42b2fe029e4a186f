package verify

import (
	"runtime"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus"
	"orderflow/events"
)

// Decoding JSON is most of the work of a read, and each event decodes on
// its own: the readers decode a batch on every CPU, then hand the events
// to the checker one by one in the batch's order, so the checker sees each
// stream's events in the order they were read, as with Add.

// decoded is one record or event decoded: its event and payload, or why not.
type decoded struct {
	event      events.Event
	payload    events.Payload
	payloadErr error
	// recordErr says a record is not an event at all.
	recordErr error
}

// decodeRecords decodes records of a family topic (envelope and payload).
func decodeRecords(rs []*kgo.Record, reg *events.Registry) []decoded {
	out := make([]decoded, len(rs))
	inParallel(len(rs), func(i int) {
		d := &out[i]
		if d.event, d.recordErr = kafkabus.DecodeEvent(rs[i]); d.recordErr == nil {
			d.payload, d.payloadErr = reg.Decode(d.event)
		}
	})
	return out
}

// addAll decodes events' payloads and adds the events to c, in order.
func (c *Checker) addAll(evs []events.Event) {
	out := make([]decoded, len(evs))
	inParallel(len(evs), func(i int) {
		out[i].payload, out[i].payloadErr = c.reg.Decode(evs[i])
	})
	for i, e := range evs {
		c.add(e, out[i].payload, out[i].payloadErr)
	}
}

// inParallel calls fn(i) for every i < n, spread over every CPU (one
// goroutine per CPU, each taking every k-th i), and returns when all are
// done. Small batches stay on the calling goroutine.
func inParallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+255)/256)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}
