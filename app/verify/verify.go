// Package verify is `orderflow verify`: it reads the whole event history of
// a deployment (every family topic of a split one, or the SQLite log of one
// process) and checks the invariants the shop cares about, reporting each
// broken one with the streams and events involved.
//
// It owns the checker (Checker, Check), a pure function of the events it is
// given: the same history, in any arrival order that keeps each stream's
// events in order, gives the same report (but for a stream with two events
// at one version, where the first to arrive is the one folded further; the
// pair is reported as breaking linearity either way). It reads the history
// through the domain's own folds (order.Order.Evolve, stock.Stock.Evolve)
// rather than rules of its own, so what it calls broken is what the domain
// would. It also owns the two readers that feed it (ReadKafka, ReadDB) and
// the command line (Main).
//
// The invariants are those of a settled history: run it when no order is in
// flight (after a load, or with the API stopped). On a live system the
// orders still in flight are reported as not settled, and the reservations
// and refunds they are waiting for may be reported too.
package verify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"orderflow/events"
)

// The invariants, numbered as the report prints them.
const (
	StreamsLinear = iota + 1
	OrdersSettledOnce
	StockConsistent
	ChecksAnsweredOnce
	PaymentsMatched
)

var invariantNames = map[int]string{
	StreamsLinear:      "every stream is linear: one event per version, versions 1..n without gaps",
	OrdersSettledOnce:  "every placed order has exactly one validation outcome (none only when cancelled while PENDING)",
	StockConsistent:    "stock: 0 ≤ reserved ≤ on hand throughout, and reserved = the lines of VALIDATED and PAID orders",
	ChecksAnsweredOnce: "every placed order's fraud check and customer check answered exactly once",
	PaymentsMatched:    "every payment received is the order's payment or refunded, as the order's outcome calls for",
}

// Report is what Check found.
type Report struct {
	// Events is how many distinct events were checked; Duplicates how many
	// deliveries of an event already seen (same id) were counted once.
	Events, Duplicates int
	// Undecodable are the records or events that could not be read: each
	// is broken in itself, and the invariants could not see it.
	Undecodable []Violation
	// Invariants are the five invariants in order, each with what breaks it.
	Invariants []Invariant
}

// Invariant is one rule and its violations (none when it holds).
type Invariant struct {
	Number     int
	Name       string
	Violations []Violation
}

// Holds says nothing breaks the invariant.
func (i Invariant) Holds() bool { return len(i.Violations) == 0 }

// Violation is one way an invariant is broken: a sentence naming the
// streams and events involved, and those ids for tools.
type Violation struct {
	Message string
	Streams []string
	Events  []string
}

func (v Violation) String() string { return v.Message }

// Holds says every invariant holds and every record was readable.
func (r Report) Holds() bool { return len(r.Undecodable) == 0 && r.Broken() == 0 }

// Broken is how many invariants are broken.
func (r Report) Broken() int {
	n := 0
	for _, inv := range r.Invariants {
		if !inv.Holds() {
			n++
		}
	}
	return n
}

// Invariant returns the invariant with the given number (StreamsLinear …).
func (r Report) Invariant(number int) Invariant {
	for _, inv := range r.Invariants {
		if inv.Number == number {
			return inv
		}
	}
	return Invariant{Number: number, Name: invariantNames[number]}
}

// Check runs every invariant over a history. The events may come in any
// order that keeps each stream's events in order (a log's, or Kafka's
// partitions interleaved), and an event may appear more than once.
func Check(evs []events.Event, reg *events.Registry) Report {
	c := NewChecker(reg)
	for _, e := range evs {
		c.Add(e)
	}
	return c.Report()
}

// Checker takes a history one event at a time (so a reader need not hold
// it whole) and reports on it at the end. It keeps, per stream, each
// event's version and id and, for the families the invariants read, its
// decoded payload. A Checker is not safe for concurrent use.
type Checker struct {
	reg         *events.Registry
	seen        map[string]place // by event id
	streams     map[string]*stream
	arrivals    int
	duplicates  int
	undecodable []Violation
	// misplaced are events whose id was seen before at another place.
	misplaced []Violation
}

// place is where an event id was first seen.
type place struct {
	stream  string
	version int64
}

// stream is one stream's events as they arrived.
type stream struct {
	entries []entry
	sorted  bool
}

// entry is one event of a stream. payload is nil for the families no
// invariant reads beyond linearity (catalog, customers, notifications).
type entry struct {
	version int64
	id      string
	typ     string
	payload events.Payload
}

// NewChecker returns a checker decoding payloads through reg.
func NewChecker(reg *events.Registry) *Checker {
	return &Checker{reg: reg, seen: map[string]place{}, streams: map[string]*stream{}}
}

// Add takes one event. An event whose id was seen before is counted once;
// one whose payload does not decode is reported as undecodable (and still
// takes its place in its stream, for linearity).
func (c *Checker) Add(e events.Event) {
	p, err := c.reg.Decode(e)
	c.add(e, p, err)
}

// add is Add with the payload decoded already (p, or the error err), so
// that a reader may decode in parallel and add in order.
func (c *Checker) add(e events.Event, p events.Payload, err error) {
	if e.ID == "" || e.StreamID == "" || e.StreamVersion < 1 {
		c.undecodable = append(c.undecodable, Violation{
			Message: fmt.Sprintf("event %q of stream %q at version %d (type %s): incomplete envelope", e.ID, e.StreamID, e.StreamVersion, e.Type),
			Streams: nonEmpty(e.StreamID), Events: nonEmpty(e.ID),
		})
		return
	}
	if first, ok := c.seen[e.ID]; ok {
		c.duplicates++
		if first.stream != e.StreamID || first.version != e.StreamVersion {
			c.misplaced = append(c.misplaced, Violation{
				Message: fmt.Sprintf("event %s is at %s version %d and again at %s version %d",
					e.ID, first.stream, first.version, e.StreamID, e.StreamVersion),
				Streams: uniq(first.stream, e.StreamID), Events: []string{e.ID},
			})
		}
		return
	}
	c.seen[e.ID] = place{e.StreamID, e.StreamVersion}
	en := entry{version: e.StreamVersion, id: e.ID, typ: e.Type}
	if err != nil {
		c.undecodable = append(c.undecodable, Violation{
			Message: fmt.Sprintf("event %s (%s version %d, %s): %v", e.ID, e.StreamID, e.StreamVersion, e.Type, err),
			Streams: []string{e.StreamID}, Events: []string{e.ID},
		})
	} else if readsPayload(e.StreamID) {
		en.payload = p
	}
	s := c.streams[e.StreamID]
	if s == nil {
		s = &stream{sorted: true}
		c.streams[e.StreamID] = s
	}
	if n := len(s.entries); n > 0 && s.entries[n-1].version > en.version {
		s.sorted = false
	}
	s.entries = append(s.entries, en)
	c.arrivals++
}

// AddUndecodable reports a record that is not an event at all (where says
// where it was: topic, partition and offset).
func (c *Checker) AddUndecodable(where string, err error) {
	c.undecodable = append(c.undecodable, Violation{Message: fmt.Sprintf("%s: %v", where, err)})
}

// Report runs the invariants over everything added so far.
func (c *Checker) Report() Report {
	h := c.history()
	orders, settled := h.checkOrders()
	return Report{
		Events:      c.arrivals,
		Duplicates:  c.duplicates,
		Undecodable: c.undecodable,
		Invariants: []Invariant{
			invariant(StreamsLinear, append(slices.Clone(c.misplaced), h.linear...)),
			invariant(OrdersSettledOnce, settled),
			invariant(StockConsistent, h.checkStock(orders)),
			invariant(ChecksAnsweredOnce, h.checkAnswers(orders)),
			invariant(PaymentsMatched, h.checkPayments(orders)),
		},
	}
}

func invariant(n int, vs []Violation) Invariant {
	return Invariant{Number: n, Name: invariantNames[n], Violations: vs}
}

// history is the checker's streams put in version order, each reduced to
// one event per version (the first that arrived; the others are reported
// as breaking linearity), grouped by family, in stream id order.
type history struct {
	linear []Violation
	// by family prefix ("order-", "stock-", …): the streams, by id order.
	families map[string][]folded
}

// folded is one stream, one event per version in version order.
type folded struct {
	id      string
	key     string // the stream id without its family prefix
	entries []entry
}

func (c *Checker) history() history {
	ids := make([]string, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := history{families: map[string][]folded{}}
	for _, id := range ids {
		s := c.streams[id]
		if !s.sorted {
			// Stable: at one version, the first arrival comes first.
			slices.SortStableFunc(s.entries, func(a, b entry) int { return cmp.Compare(a.version, b.version) })
			s.sorted = true
		}
		one, vs := linearize(id, s.entries)
		h.linear = append(h.linear, vs...)
		prefix, key := family(id)
		h.families[prefix] = append(h.families[prefix], folded{id: id, key: key, entries: one})
	}
	return h
}

// family splits a stream id into its family prefix (with the dash, as the
// domain's StreamID("") gives it) and its key.
func family(streamID string) (prefix, key string) {
	i := strings.IndexByte(streamID, '-')
	if i < 0 {
		return "", streamID
	}
	return streamID[:i+1], streamID[i+1:]
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func uniq(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
