package events

import (
	"fmt"
	"reflect"
	"testing"
)

func TestTail(t *testing.T) {
	at := func(from, to int64) []Event {
		var out []Event
		for p := from; p <= to; p++ {
			typ := "A"
			if p%2 == 0 {
				typ = "B"
			}
			out = append(out, Event{Position: p, Type: typ})
		}
		return out
	}
	positions := func(evs []Event) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.Position)
		}
		return out
	}
	onlyB := func(typ string) bool { return typ == "B" }
	tests := []struct {
		name        string
		added       [][2]int64
		after, upTo int64
		limit       int
		keep        func(string) bool
		want        []int64
		last        int64
		ok          bool
	}{
		{name: "empty tail sends readers to the database", after: 0, upTo: 5, limit: 10},
		{name: "nothing to read is answered", after: 5, upTo: 5, limit: 10, ok: true, last: 5},
		{name: "all held", added: [][2]int64{{1, 5}}, after: 0, upTo: 5, limit: 10, want: []int64{1, 2, 3, 4, 5}, last: 5, ok: true},
		{name: "bounded by upTo", added: [][2]int64{{1, 5}}, after: 1, upTo: 3, limit: 10, want: []int64{2, 3}, last: 3, ok: true},
		{name: "bounded by limit", added: [][2]int64{{1, 5}}, after: 0, upTo: 5, limit: 2, want: []int64{1, 2}, last: 2, ok: true},
		{name: "filtered, last still moves", added: [][2]int64{{1, 5}}, after: 0, upTo: 5, limit: 10, keep: onlyB, want: []int64{2, 4}, last: 5, ok: true},
		{name: "head beyond the tail goes to the database", added: [][2]int64{{1, 5}}, after: 5, upTo: 9, limit: 10, last: 5},
		{name: "history before the first commit held", added: [][2]int64{{100, 105}}, after: 50, upTo: 105, limit: 10, last: 50},
		{name: "right after the first commit held", added: [][2]int64{{100, 105}}, after: 99, upTo: 105, limit: 10, want: []int64{100, 101, 102, 103, 104, 105}, last: 105, ok: true},
		{name: "a gap starts afresh", added: [][2]int64{{1, 5}, {9, 10}}, after: 5, upTo: 10, limit: 10, last: 5},
		{name: "overwritten by newer", added: [][2]int64{{1, tailSize + 10}}, after: 5, upTo: tailSize + 10, limit: 10, last: 5},
		{name: "oldest still held", added: [][2]int64{{1, tailSize + 10}}, after: 10, upTo: tailSize + 10, limit: 2, want: []int64{11, 12}, last: 12, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail()
			for _, r := range tt.added {
				tl.add(at(r[0], r[1]))
			}
			// Into a slice of its own, and into a buffer a reader used
			// before (what it held is not read back).
			used := append(make([]Event, 0, 64), at(1000, 1003)...)
			for _, buf := range [][]Event{nil, used} {
				got, last, ok := tl.read(tt.after, tt.upTo, tt.limit, tt.keep, buf)
				if ok != tt.ok || last != tt.last || !reflect.DeepEqual(positions(got), tt.want) {
					t.Errorf("read(%d, %d) into %d held = %v, last %d, ok %v; want %v, last %d, ok %v",
						tt.after, tt.upTo, len(buf), positions(got), last, ok, tt.want, tt.last, tt.ok)
				}
			}
			// A reader that passes its buffer again allocates nothing.
			if allocs := testing.AllocsPerRun(10, func() {
				used, _, _ = tl.read(tt.after, tt.upTo, tt.limit, tt.keep, used)
			}); allocs != 0 {
				t.Errorf("read into a buffer big enough allocated %v times", allocs)
			}
		})
	}
}

// TestTailDecodesOnce checks that readers of a held event share one
// decoding, and that an event no longer held is decoded afresh.
func TestTailDecodesOnce(t *testing.T) {
	calls := 0
	reg := NewRegistry(Registration{Payload: counted{}})
	tl := newTail()
	tl.add([]Event{{Position: 1, ID: "a", Type: "Counted", Data: []byte(`{"n":1}`)}})
	e := tl.ring[1]
	for range 3 {
		p, err := tl.decode(reg, e)
		if err != nil || p.(counted).N != 1 {
			t.Fatalf("decode = %v, %v", p, err)
		}
		if tl.decoded[1] != nil {
			calls = 1
		}
	}
	if calls != 1 {
		t.Fatal("the decoded payload was not kept")
	}
	// The slot reused by a later event: its own payload, not the old one.
	later := Event{Position: 1 + tailSize, ID: "b", Type: "Counted", Data: []byte(`{"n":2}`)}
	tl.add([]Event{later})
	if p, err := tl.decode(reg, later); err != nil || p.(counted).N != 2 {
		t.Fatalf("decode of the later event = %v, %v", p, err)
	}
	if p, err := tl.decode(reg, e); err != nil || p.(counted).N != 1 {
		t.Fatalf("decode of the event no longer held = %v, %v", p, err)
	}
}

type counted struct {
	N int `json:"n"`
}

func (counted) EventType() string { return "Counted" }

// TestTailFindsHeldEventsByID: an event is found by its id while the tail
// holds it, and no longer once its slot was taken by a later event or the
// tail started afresh.
func TestTailFindsHeldEventsByID(t *testing.T) {
	tl := newTail()
	ev := func(p int64) Event { return Event{Position: p, ID: fmt.Sprintf("e%d", p), Type: "A"} }
	var evs []Event
	for p := int64(1); p <= 10; p++ {
		evs = append(evs, ev(p))
	}
	tl.add(evs)
	if e, ok := tl.find("e7"); !ok || e.Position != 7 {
		t.Fatalf("find e7: %v %v, want position 7", e, ok)
	}
	if _, ok := tl.find("nope"); ok {
		t.Fatal("found an id never added")
	}
	// Wrap around: e1..e10 are pushed out by positions past the ring.
	var more []Event
	for p := int64(11); p <= tailSize+10; p++ {
		more = append(more, ev(p))
	}
	tl.add(more)
	if _, ok := tl.find("e5"); ok {
		t.Error("found e5 after its slot was reused")
	}
	if e, ok := tl.find(fmt.Sprintf("e%d", tailSize+10)); !ok || e.Position != tailSize+10 {
		t.Errorf("the newest event not found: %v %v", e, ok)
	}
	if len(tl.byID) != tailSize {
		t.Errorf("the index holds %d ids, want the %d events held", len(tl.byID), tailSize)
	}
	// A gap starts the tail afresh: what it held is no longer found.
	tl.add([]Event{ev(tailSize + 100)})
	if _, ok := tl.find(fmt.Sprintf("e%d", tailSize+10)); ok {
		t.Error("found an event the tail let go of when it started afresh")
	}
}

// TestTailIndexMadeAtFirstFind: the index of ids is made when an id is
// first looked up, from the events held then; whenever that is, from then
// on it is the index a tail that kept one from the start holds (ring
// wrapped, tail started afresh, an id held twice).
func TestTailIndexMadeAtFirstFind(t *testing.T) {
	ev := func(p int64, id string) Event { return Event{Position: p, ID: id, Type: "A"} }
	run := func(from, to int64) []Event {
		var out []Event
		for p := from; p <= to; p++ {
			out = append(out, ev(p, fmt.Sprintf("e%d", p)))
		}
		return out
	}
	steps := [][]Event{
		run(1, 10),
		{ev(11, "e3")}, // an id held twice: the later is found
		run(12, tailSize/2),
		run(tailSize/2+1, tailSize+5), // wrapped: e1..e5 gone, e3's first slot reused
		{ev(tailSize+50, "gap")},      // started afresh
		run(tailSize+51, tailSize+60),
	}
	eager := newTail()
	eager.index()
	for _, s := range steps {
		eager.add(s)
	}
	for first := range len(steps) + 1 {
		t.Run(fmt.Sprintf("first find after %d adds", first), func(t *testing.T) {
			lazy := newTail()
			for i, s := range steps {
				if i == first {
					lazy.find("e1")
				}
				lazy.add(s)
				if i < first && lazy.byID != nil {
					t.Fatal("an index was kept before anyone looked an id up")
				}
			}
			if first == len(steps) {
				lazy.find("e1")
			}
			if !reflect.DeepEqual(lazy.byID, eager.byID) {
				t.Errorf("index has %d ids, want the %d of a tail indexed from the start", len(lazy.byID), len(eager.byID))
			}
			for _, id := range []string{"e3", "e7", "gap", fmt.Sprintf("e%d", tailSize+60)} {
				got, gotOK := lazy.find(id)
				want, wantOK := eager.find(id)
				if gotOK != wantOK || got.Position != want.Position {
					t.Errorf("find %s = %d %v, want %d %v", id, got.Position, gotOK, want.Position, wantOK)
				}
			}
		})
	}
}
