// Package peerbench measures orderflow's event store beside the peer
// benchmark of the README's event store section, the SQLite event store of
// github.com/hallgren/eventsourcing, on the same data and the same SQLite
// driver and settings. It is a module of its own so that orderflow itself
// never depends on the peer.
//
// Each store is used the way its own documentation uses it: ours through
// events.Store and a Registry, the peer through its aggregate package and
// projections. The functions here are the only code paths the tests and
// benchmarks take, so what the test checks is what the benchmarks time.
//
// Settings, the same for both stores: the mattn/go-sqlite3 driver, WAL
// journal, the same synchronous level (FULL or NORMAL), a busy timeout of
// 10 s, a WAL checkpoint every 16,384 pages and connections opened without
// SQLite's per-connection mutex (_mutex=no: database/sql never uses one
// connection from two goroutines at once). Ours also runs with
// secure_delete on (it zeroes freed pages; the peer does not) and one
// writer connection whose transactions begin IMMEDIATE; the peer's store is
// the one its documentation gives for concurrent writers in one process
// (NewSQLiteSingelWriter: a mutex around each save).
package peerbench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/hallgren/eventsourcing"
	"github.com/hallgren/eventsourcing/aggregate"
	"github.com/hallgren/eventsourcing/core"
	peersql "github.com/hallgren/eventsourcing/eventstore/sql"
	"github.com/mattn/go-sqlite3"

	"orderflow/events"
	"orderflow/migrations"
)

// Noted is the one event type of the benchmarks, a payload of the size of
// the shop's (the same as the events package's own benchmarks).
type Noted struct {
	OrderID string    `json:"orderId"`
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	Note    string    `json:"note"`
}

// EventType names Noted in our registry.
func (Noted) EventType() string { return "Noted" }

// Tally is the state both stores' aggregates fold their events into.
type Tally struct {
	Count, Sum int
}

func (t *Tally) apply(n Noted) {
	t.Count++
	t.Sum += n.N
}

// CorrelationID is the metadata every benchmark event carries: in our
// envelope's column, in the peer's metadata map.
const CorrelationID = "c"

// Seen is one event as a reader of either store hands it on: where it sits
// and its payload decoded to its Go type.
type Seen struct {
	Stream        string
	Version       int64
	CorrelationID string
	Payload       Noted
}

// Ours is orderflow's event store with the registry its events decode
// through.
type Ours struct {
	db    *events.DB
	Store *events.Store
	reg   *events.Registry
}

// OpenOurs opens (creating if needed) our store at path.
func OpenOurs(ctx context.Context, path string, d events.Durability) (*Ours, error) {
	db, err := events.Open(ctx, path, events.Options{Durability: d, Migrate: migrations.Apply})
	if err != nil {
		return nil, err
	}
	return &Ours{db: db, Store: events.NewStore(db), reg: events.NewRegistry(events.Registration{Payload: Noted{}})}, nil
}

// Close closes the store's database.
func (o *Ours) Close() error { return o.db.Close() }

// Append adds payloads to a stream whose version the writer last saw as
// expected, encoded through the registry.
func (o *Ours) Append(ctx context.Context, stream string, expected int64, ps ...Noted) error {
	payloads := make([]events.Payload, len(ps))
	for i, p := range ps {
		payloads[i] = p
	}
	evs, err := o.reg.Encode(events.Metadata{CorrelationID: CorrelationID}, payloads...)
	if err != nil {
		return err
	}
	_, err = o.Store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: expected, Events: evs})
	return err
}

// ReadAll reads the whole log in position order, in batches of batch
// events, and hands each event on decoded, as a projection's replay does.
func (o *Ours) ReadAll(ctx context.Context, batch int, fn func(Seen)) error {
	for pos := int64(0); ; {
		evs, err := o.Store.ReadAll(ctx, pos, batch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			p, err := o.Store.Decode(o.reg, e)
			if err != nil {
				return err
			}
			n, ok := p.(Noted)
			if !ok {
				return fmt.Errorf("event %d: payload %T", e.Position, p)
			}
			fn(Seen{Stream: e.StreamID, Version: e.StreamVersion, CorrelationID: e.CorrelationID, Payload: n})
		}
		pos = evs[len(evs)-1].Position
	}
}

// Load reads one stream and folds it into its Tally, as loading an
// aggregate does before deciding.
func (o *Ours) Load(ctx context.Context, stream string) (Tally, error) {
	evs, err := o.Store.ReadStream(ctx, stream, 0)
	if err != nil {
		return Tally{}, err
	}
	var t Tally
	for _, e := range evs {
		p, err := o.reg.Decode(e)
		if err != nil {
			return Tally{}, err
		}
		if n, ok := p.(Noted); ok {
			t.apply(n)
		}
	}
	return t, nil
}

// PeerTally is the peer's aggregate: its root, embedded, keeps the id and
// version; Transition folds an event into the tally.
type PeerTally struct {
	aggregate.Root
	Tally
}

// Transition applies one event to the aggregate.
func (a *PeerTally) Transition(e eventsourcing.Event) {
	if n, ok := e.Data().(*Noted); ok {
		a.apply(*n)
	}
}

// Register names the aggregate's event types to the peer's registry.
func (a *PeerTally) Register(r aggregate.RegisterFunc) { r(&Noted{}) }

// registerPeer fills the peer's registry, which is global, once.
var registerPeer sync.Once

// peerDriver is mattn/go-sqlite3 with our store's checkpoint interval set
// on each connection, so that both stores checkpoint alike.
const peerDriver = "sqlite3-peerbench"

func init() {
	sql.Register(peerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 16384", nil)
		return err
	}})
}

// Peer is the peer's SQLite event store.
type Peer struct {
	db *sql.DB
	es *peersql.SQLite
}

// OpenPeer opens (creating if needed) the peer's store at path with the
// same journal, synchronous level, busy timeout and mutex mode as ours.
func OpenPeer(path string, d events.Durability) (*Peer, error) {
	registerPeer.Do(func() { aggregate.Register(&PeerTally{}) })
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", string(d))
	q.Set("_busy_timeout", "10000")
	q.Set("_mutex", "no")
	db, err := sql.Open(peerDriver, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	es, err := peersql.NewSQLiteSingelWriter(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Peer{db: db, es: es}, nil
}

// Close closes the store's database.
func (p *Peer) Close() error { return p.db.Close() }

// NewAggregate returns an empty aggregate with the given id, ready to
// track changes.
func NewAggregate(id string) (*PeerTally, error) {
	a := &PeerTally{}
	return a, a.SetID(id)
}

// Append tracks payloads on the aggregate and saves them: the peer checks
// the aggregate's version against the stored one.
func (p *Peer) Append(a *PeerTally, ps ...Noted) error {
	for _, n := range ps {
		aggregate.TrackChangeWithMetadata(a, &n, map[string]any{"correlationId": CorrelationID})
	}
	return aggregate.Save(p.es, a)
}

// ReadAll reads the whole log in global order through a projection, the
// peer's way of reading all events, and hands each event on decoded.
func (p *Peer) ReadAll(ctx context.Context, fn func(Seen)) error {
	// The store's fetcher is of a named type of the peer's core module that
	// its projections do not take as it is (they want their own named
	// type), so it is handed over as a plain function.
	fetch := (func() (core.Iterator, error))(p.es.All(0))
	proj := eventsourcing.NewProjection(fetch, func(e eventsourcing.Event) error {
		n, ok := e.Data().(*Noted)
		if !ok {
			return fmt.Errorf("event %d: payload %T", e.GlobalVersion(), e.Data())
		}
		corr, _ := e.Metadata()["correlationId"].(string)
		fn(Seen{Stream: e.AggregateID(), Version: int64(e.Version()), CorrelationID: corr, Payload: *n})
		return nil
	})
	return proj.RunToEnd(ctx).Error
}

// Load loads one aggregate by its id.
func (p *Peer) Load(ctx context.Context, id string) (Tally, error) {
	var a PeerTally
	if err := aggregate.Load(ctx, p.es, id, &a); err != nil {
		return Tally{}, err
	}
	return a.Tally, nil
}
