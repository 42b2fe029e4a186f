package peerbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"orderflow/events"
)

var at = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// noted is the j-th event of stream i.
func noted(i, j int) Noted {
	return Noted{OrderID: fmt.Sprintf("o-%d", i), N: j, At: at, Note: "a line of text"}
}

// fill writes streams streams of per events each into both stores, one
// append (one transaction) per stream in each.
func fill(ctx context.Context, o *Ours, p *Peer, streams, per int) error {
	ps := make([]Noted, per)
	for i := range streams {
		for j := range ps {
			ps[j] = noted(i, j)
		}
		id := fmt.Sprintf("s-%d", i)
		if o != nil {
			if err := o.Append(ctx, id, 0, ps...); err != nil {
				return err
			}
		}
		if p != nil {
			a, err := NewAggregate(id)
			if err != nil {
				return err
			}
			if err := p.Append(a, ps...); err != nil {
				return err
			}
		}
	}
	return nil
}

func openBoth(t testing.TB, dir string, d events.Durability) (*Ours, *Peer) {
	t.Helper()
	ctx := context.Background()
	o, err := OpenOurs(ctx, filepath.Join(dir, "ours.db"), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	p, err := OpenPeer(filepath.Join(dir, "peer.db"), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return o, p
}

// TestBothStoresHoldTheSameEvents writes the same events to both stores,
// some of them from concurrent writers as the writers' benchmark does, and
// checks that reading all and loading aggregates return the same from both.
func TestBothStoresHoldTheSameEvents(t *testing.T) {
	ctx := context.Background()
	o, p := openBoth(t, t.TempDir(), events.DurabilityNormal)
	if err := fill(ctx, o, p, 3, 4); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(2)
		id := fmt.Sprintf("w-%d", w)
		go func() {
			defer wg.Done()
			for v := range 5 {
				if err := o.Append(ctx, id, int64(v), noted(w, v)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			a, err := NewAggregate(id)
			if err != nil {
				t.Error(err)
				return
			}
			for v := range 5 {
				if err := p.Append(a, noted(w, v)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	var ours, peer []Seen
	if err := o.ReadAll(ctx, 5, func(s Seen) { ours = append(ours, s) }); err != nil {
		t.Fatal(err)
	}
	if err := p.ReadAll(ctx, func(s Seen) { peer = append(peer, s) }); err != nil {
		t.Fatal(err)
	}
	if len(ours) != 3*4+8*5 {
		t.Fatalf("ours read %d events, want %d", len(ours), 3*4+8*5)
	}
	// The first 12 were written one stream after the other and come back in
	// that order from both; the concurrent writers' interleave differs, so
	// the rest is compared per stream, where the order is each writer's.
	if !reflect.DeepEqual(ours[:12], peer[:min(12, len(peer))]) {
		t.Fatalf("first events differ:\nours %+v\npeer %+v", ours[:12], peer)
	}
	if got, want := byStream(peer), byStream(ours); !reflect.DeepEqual(got, want) {
		t.Fatalf("streams differ:\nours %+v\npeer %+v", want, got)
	}
	for i := range 3 {
		id := fmt.Sprintf("s-%d", i)
		want := Tally{Count: 4, Sum: 0 + 1 + 2 + 3}
		if got, err := o.Load(ctx, id); err != nil || got != want {
			t.Errorf("ours: load %s = %+v, %v; want %+v", id, got, err, want)
		}
		if got, err := p.Load(ctx, id); err != nil || got != want {
			t.Errorf("peer: load %s = %+v, %v; want %+v", id, got, err, want)
		}
	}
}

func byStream(seen []Seen) map[string][]Seen {
	out := map[string][]Seen{}
	for _, s := range seen {
		out[s.Stream] = append(out[s.Stream], s)
	}
	return out
}

// The read benchmarks' databases are written once per test binary and
// opened afresh by each benchmark run, so that neither store reads from
// memory its process kept while writing (our store's tail of the log).
var (
	fixturesDir  string
	fixturesOnce sync.Once
	fixturesErr  error
)

const (
	readAllStreams, readAllPer = 1_000, 100 // 100,000 events
	loadStreams, loadPer       = 5_000, 20
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peerbench")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixturesDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtures returns the directory holding, for each shape, both stores'
// databases: readall/ and load/.
func fixtures(b *testing.B) string {
	b.Helper()
	fixturesOnce.Do(func() {
		ctx := context.Background()
		for _, f := range []struct {
			name         string
			streams, per int
		}{{"readall", readAllStreams, readAllPer}, {"load", loadStreams, loadPer}} {
			dir := filepath.Join(fixturesDir, f.name)
			if fixturesErr = os.Mkdir(dir, 0o755); fixturesErr != nil {
				return
			}
			o, err := OpenOurs(ctx, filepath.Join(dir, "ours.db"), events.DurabilityNormal)
			if err != nil {
				fixturesErr = err
				return
			}
			p, err := OpenPeer(filepath.Join(dir, "peer.db"), events.DurabilityNormal)
			if err != nil {
				o.Close()
				fixturesErr = err
				return
			}
			fixturesErr = fill(ctx, o, p, f.streams, f.per)
			o.Close()
			p.Close()
			if fixturesErr != nil {
				return
			}
		}
	})
	if fixturesErr != nil {
		b.Fatal(fixturesErr)
	}
	return fixturesDir
}

func reportEventsPerSecond(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadAll reads the whole log of 100,000 events (1,000 streams of
// 100) in order, each event decoded to its Go type: ours in batches of 512
// as the projections' replay reads, the peer through a projection run to
// the end.
func BenchmarkReadAll(b *testing.B) {
	ctx := context.Background()
	const total = readAllStreams * readAllPer
	b.Run("ours", func(b *testing.B) {
		o, _ := openBoth(b, filepath.Join(fixtures(b), "readall"), events.DurabilityNormal)
		b.ReportAllocs()
		b.ResetTimer()
		read := 0
		for range b.N {
			n := 0
			if err := o.ReadAll(ctx, 512, func(Seen) { n++ }); err != nil || n != total {
				b.Fatal(n, err)
			}
			read += n
		}
		reportEventsPerSecond(b, read)
	})
	b.Run("peer", func(b *testing.B) {
		_, p := openBoth(b, filepath.Join(fixtures(b), "readall"), events.DurabilityNormal)
		b.ReportAllocs()
		b.ResetTimer()
		read := 0
		for range b.N {
			n := 0
			if err := p.ReadAll(ctx, func(Seen) { n++ }); err != nil || n != total {
				b.Fatal(n, err)
			}
			read += n
		}
		reportEventsPerSecond(b, read)
	})
}

// BenchmarkLoadAggregate loads one aggregate of 20 events out of 5,000 (a
// different one each time): its stream read and folded into its state.
func BenchmarkLoadAggregate(b *testing.B) {
	ctx := context.Background()
	loads := map[string]func(context.Context, *Ours, *Peer, string) (Tally, error){
		"ours": func(ctx context.Context, o *Ours, _ *Peer, id string) (Tally, error) { return o.Load(ctx, id) },
		"peer": func(ctx context.Context, _ *Ours, p *Peer, id string) (Tally, error) { return p.Load(ctx, id) },
	}
	for _, name := range []string{"ours", "peer"} {
		load := loads[name]
		b.Run(name, func(b *testing.B) {
			o, p := openBoth(b, filepath.Join(fixtures(b), "load"), events.DurabilityNormal)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t, err := load(ctx, o, p, fmt.Sprintf("s-%d", (i*7919)%loadStreams))
				if err != nil || t.Count != loadPer {
					b.Fatal(t, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "aggregates/s")
			reportEventsPerSecond(b, b.N*loadPer)
		})
	}
}

// BenchmarkAppendConcurrent64: 64 goroutines each appending one event at a
// time to a stream of its own, every append acknowledged (for ours, group
// commit shares transactions between them; the peer saves one at a time).
func BenchmarkAppendConcurrent64(b *testing.B) {
	ctx := context.Background()
	for _, d := range []events.Durability{events.DurabilityFull, events.DurabilityNormal} {
		b.Run(string(d), func(b *testing.B) {
			b.Run("ours", func(b *testing.B) {
				o, _ := openBoth(b, b.TempDir(), d)
				concurrently(b, 64, func(w int) (func(v int) error, error) {
					id := fmt.Sprintf("order-%d", w)
					return func(v int) error { return o.Append(ctx, id, int64(v), noted(w, v)) }, nil
				})
			})
			b.Run("peer", func(b *testing.B) {
				_, p := openBoth(b, b.TempDir(), d)
				concurrently(b, 64, func(w int) (func(v int) error, error) {
					a, err := NewAggregate(fmt.Sprintf("order-%d", w))
					if err != nil {
						return nil, err
					}
					return func(v int) error { return p.Append(a, noted(w, v)) }, nil
				})
			})
		})
	}
}

// concurrently runs b.N appends from writers goroutines; writer w makes
// the append function it calls with its stream's next version (0, 1, ...).
func concurrently(b *testing.B, writers int, writer func(w int) (func(v int) error, error)) {
	appends := make([]func(int) error, writers)
	for w := range appends {
		var err error
		if appends[w], err = writer(w); err != nil {
			b.Fatal(err)
		}
	}
	var next sync.Mutex
	left := b.N
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		left--
		return left >= 0
	}
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, appendNext := range appends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 0; take(); v++ {
				if err := appendNext(v); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportEventsPerSecond(b, b.N)
}
