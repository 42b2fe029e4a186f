package events

import "sync"

// tail keeps the most recently committed events in memory, so that the
// readers that follow the head of the log (every reaction and the
// projections) read them from there instead of each asking SQLite for the
// same rows. It only ever holds a contiguous run of positions that the
// writer committed, filled in commit order; a reader asking for anything
// older reads the database.
type tail struct {
	mu     sync.RWMutex
	ring   []Event
	lo, hi int64 // positions held: lo..hi; none when hi < lo
	// byID finds a held event by its id: a process split into services
	// reads one event from several topics (its consumer groups and its
	// copy of the family, its own output read back), and the copies after
	// the first are found here, not decoded and looked up in SQLite again.
	// It is made at the first find, from the events held then, and kept
	// from there on: a process that never looks an event up by its id
	// (one process, where nothing is read back from a topic) does not pay
	// for two map operations on every event committed.
	byID    map[string]int64
	indexed bool

	// decoded holds the payload of a held event once someone decoded it,
	// so that the readers of one event decode it once between them.
	// Payloads are values that nobody changes once decoded. Readers touch
	// it holding mu for reading (and decodeMu among themselves), add
	// holding mu: a slot is never reused under a reader's feet.
	decodeMu sync.Mutex
	decoded  []Payload
}

// tailSize is how many recent events are kept (a few seconds at full load).
const tailSize = 1 << 16

func newTail() *tail {
	return &tail{ring: make([]Event, tailSize), decoded: make([]Payload, tailSize), lo: 1, hi: 0}
}

// add records committed events, given in position order.
func (t *tail) add(evs []Event) {
	if len(evs) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range evs {
		if e.Position != t.hi+1 {
			// Not contiguous with what is held (the first commit after
			// opening a database with history): start afresh from here.
			t.lo, t.hi = e.Position, e.Position-1
			clear(t.byID)
		}
		i := e.Position % tailSize
		if t.indexed {
			if old := t.ring[i]; old.ID != "" && t.byID[old.ID] == old.Position {
				delete(t.byID, old.ID)
			}
			t.byID[e.ID] = e.Position
		}
		t.ring[i] = e
		t.decoded[i] = nil
		t.hi = e.Position
		if t.hi-t.lo >= tailSize {
			t.lo = t.hi - tailSize + 1
		}
	}
}

// read returns up to limit events after position and at most upTo that
// keep says to keep, and the last position it looked at. ok is false when
// the events right after position are no longer (or not yet) held. They
// are appended to buf[:0], which a reader that is done with the events of
// one read before the next passes again (a consumer: it copies each into
// its deliveries), so that following the log allocates nothing; with a
// nil buf they are in a slice of their own.
func (t *tail) read(after, upTo int64, limit int, keep func(eventType string) bool, buf []Event) (out []Event, last int64, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if upTo <= after {
		return buf[:0], after, true
	}
	if after+1 < t.lo || after+1 > t.hi {
		return buf[:0], after, false
	}
	last = after
	out = buf[:0]
	if keep == nil && buf == nil {
		out = make([]Event, 0, max(min(int64(limit), min(upTo, t.hi)-after), 0))
	}
	for p := after + 1; p <= min(upTo, t.hi) && len(out) < limit; p++ {
		e := t.ring[p%tailSize]
		if keep == nil || keep(e.Type) {
			out = append(out, e)
		}
		last = p
	}
	return out, last, true
}

// find returns the held event with the given id; false when it is not
// held (not in the log, or older than the tail).
func (t *tail) find(id string) (Event, bool) {
	t.mu.RLock()
	if !t.indexed {
		t.mu.RUnlock()
		t.index()
		t.mu.RLock()
	}
	defer t.mu.RUnlock()
	pos, ok := t.byID[id]
	if !ok || pos < t.lo || pos > t.hi {
		return Event{}, false
	}
	return t.ring[pos%tailSize], true
}

// index makes byID from the events held, as add would have kept it: a
// later event of an id held twice is the one found.
func (t *tail) index() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.indexed {
		return
	}
	t.byID = make(map[string]int64, tailSize)
	for p := t.lo; p <= t.hi; p++ {
		t.byID[t.ring[p%tailSize].ID] = p
	}
	t.indexed = true
}

// decode returns the event's payload, decoding it with reg only when no
// reader of the tail did before.
func (t *tail) decode(reg *Registry, e Event) (Payload, error) {
	i := e.Position % tailSize
	held := func() bool { return e.Position >= t.lo && e.Position <= t.hi && t.ring[i].ID == e.ID }
	t.mu.RLock()
	var p Payload
	if held() {
		t.decodeMu.Lock()
		p = t.decoded[i]
		t.decodeMu.Unlock()
	}
	t.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	p, err := reg.Decode(e)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	if held() {
		t.decodeMu.Lock()
		t.decoded[i] = p
		t.decodeMu.Unlock()
	}
	t.mu.RUnlock()
	return p, nil
}

// dropDecoded forgets every payload decoded so far: an erasure made the
// personal fields some of them hold unreadable, and a reader after it
// must decode them again (blank) rather than be handed them.
func (t *tail) dropDecoded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decodeMu.Lock()
	clear(t.decoded)
	t.decodeMu.Unlock()
}
