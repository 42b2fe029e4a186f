package events_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderflow/events"
	"orderflow/migrations"
)

func benchStore(b *testing.B, d events.Durability) *events.Store {
	b.Helper()
	db, err := events.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"),
		events.Options{Durability: d, Migrate: migrations.Apply})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return events.NewStore(db)
}

func reportEventsPerSecond(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendOneStreamSequential: one writer, one event per transaction.
func BenchmarkAppendOneStreamSequential(b *testing.B) {
	for _, d := range []events.Durability{events.DurabilityFull, events.DurabilityNormal} {
		b.Run(string(d), func(b *testing.B) {
			s := benchStore(b, d)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", ExpectedVersion: int64(i), Events: []events.Event{ev("E", i)}}); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSecond(b, b.N)
		})
	}
}

// BenchmarkAppendConcurrent64: 64 goroutines appending to distinct streams;
// group commit puts concurrent appends into one transaction.
func BenchmarkAppendConcurrent64(b *testing.B) {
	for _, d := range []events.Durability{events.DurabilityFull, events.DurabilityNormal} {
		b.Run(string(d), func(b *testing.B) {
			s := benchStore(b, d)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := fmt.Sprintf("order-%d", w)
					for v := int64(0); next.Add(1) <= int64(b.N); v++ {
						if _, err := s.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: v, Events: []events.Event{ev("E", int(v))}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportEventsPerSecond(b, b.N)
		})
	}
}

// BenchmarkAppendMultiStream: one atomic append over 5 stock streams (an
// order with five lines being reserved).
func BenchmarkAppendMultiStream(b *testing.B) {
	s := benchStore(b, events.DurabilityFull)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		appends := make([]events.StreamAppend, 5)
		for j := range appends {
			appends[j] = events.StreamAppend{StreamID: fmt.Sprintf("stock-%d", j), ExpectedVersion: int64(i), Events: []events.Event{ev("StockReserved", i)}}
		}
		if _, err := s.Append(ctx, appends...); err != nil {
			b.Fatal(err)
		}
	}
	reportEventsPerSecond(b, 5*b.N)
}

// BenchmarkReadAll reads the whole log in batches of 512.
func BenchmarkReadAll(b *testing.B) {
	s := benchStore(b, events.DurabilityNormal)
	ctx := context.Background()
	const total = 100_000
	batch := make([]events.Event, 100)
	for i := 0; i < total; i += len(batch) {
		for j := range batch {
			batch[j] = ev("E", i+j)
		}
		if _, err := s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("s-%d", i), ExpectedVersion: events.AnyVersion, Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	read := 0
	for range b.N {
		for pos := int64(0); ; {
			evs, err := s.ReadAll(ctx, pos, 512)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			read += len(evs)
			pos = evs[len(evs)-1].Position
		}
	}
	reportEventsPerSecond(b, read)
}

// BenchmarkReadStream loads one stream of 20 events out of 5,000 by its id
// (what loading an aggregate reads), a different stream each time.
func BenchmarkReadStream(b *testing.B) {
	s := benchStore(b, events.DurabilityNormal)
	ctx := context.Background()
	const streams, per = 5000, 20
	batch := make([]events.Event, per)
	for i := range streams {
		for j := range batch {
			batch[j] = ev("E", j)
		}
		if _, err := s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("s-%d", i), ExpectedVersion: 0, Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		evs, err := s.ReadStream(ctx, fmt.Sprintf("s-%d", (i*7919)%streams), 0)
		if err != nil || len(evs) != per {
			b.Fatal(len(evs), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "streams/s")
}

// benchPayload is an event payload of the size of the shop's.
type benchPayload struct {
	OrderID string    `json:"orderId"`
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Note    string    `json:"note"`
}

func (benchPayload) EventType() string { return "BenchEvent" }

// BenchmarkLoadAggregate loads one stream of 20 events out of 5,000 and
// decodes each event through a registry, as loading an aggregate does
// before folding them.
func BenchmarkLoadAggregate(b *testing.B) {
	s := benchStore(b, events.DurabilityNormal)
	reg := events.NewRegistry(events.Registration{Payload: benchPayload{}})
	ctx := context.Background()
	const streams, per = 5000, 20
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range streams {
		ps := make([]events.Payload, per)
		for j := range ps {
			ps[j] = benchPayload{OrderID: fmt.Sprintf("o-%d", i), N: j, At: at, Note: "a line of text"}
		}
		evs, err := reg.Encode(events.Metadata{CorrelationID: "c"}, ps...)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("s-%d", i), ExpectedVersion: 0, Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		evs, err := s.ReadStream(ctx, fmt.Sprintf("s-%d", (i*7919)%streams), 0)
		if err != nil || len(evs) != per {
			b.Fatal(len(evs), err)
		}
		for _, e := range evs {
			if _, err := reg.Decode(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "aggregates/s")
}

// BenchmarkImport: what a replica's copy does, events of other processes
// imported in batches of 2,000 (a fetch's worth) into a log that grows:
// order streams of a few events each and 50 busy product streams, with
// realistic ids (UUIDv7) and payloads.
func BenchmarkImport(b *testing.B) {
	s := benchStore(b, events.DurabilityNormal)
	ctx := context.Background()
	data := []byte(`{"orderId":"0194f3a2-1111-7222-8333-444455556666","customerId":"c-17","lines":[{"productId":"p-1","quantity":1,"unitPriceCents":250}],"totalCents":250,"placedAt":"2026-12-04T12:00:00.123456789Z"}`)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const batch = 2000
	versions := map[string]int64{}
	evs := make([]events.Event, 0, batch)
	b.ResetTimer()
	for i := range b.N {
		stream := fmt.Sprintf("order-%08d", i/4)
		if i%2 == 1 {
			stream = fmt.Sprintf("stock-p-%d", i%50)
		}
		versions[stream]++
		evs = append(evs, events.Event{ID: events.NewID(), StreamID: stream, StreamVersion: versions[stream], Type: "OrderPlaced",
			SchemaVersion: 1, OccurredAt: at, CorrelationID: "corr-" + stream, CausationID: "cause", Data: data, SourcePosition: int64(i + 1)})
		if len(evs) == batch || i == b.N-1 {
			if _, err := s.Import(ctx, evs, nil); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	reportEventsPerSecond(b, b.N)
}
