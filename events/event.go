// Package events owns the event log: the envelope every stored event carries,
// the registry of payload types, the SQLite event store with its single
// writer, and the keyring whose per-subject keys seal the personal fields of
// events (deleting a key erases them: crypto-shredding), and the W3C trace context each event
// carries when tracing is on (trace.go). It imports nothing else of ours; the domain's payload types reach it
// through a Registry filled in at wiring time.
package events

import (
	"encoding/json"
	"time"
)

// Event is one stored fact with its envelope.
type Event struct {
	// Position is the event's place in the total order of the store (1, 2, ...).
	Position int64
	ID       string
	StreamID string
	// StreamVersion is the event's place in its stream (1, 2, ...).
	StreamVersion int64
	Type          string
	SchemaVersion int
	OccurredAt    time.Time
	CorrelationID string
	CausationID   string
	Data          json.RawMessage
	// SourcePosition is, for an event imported from another process's log
	// (over Kafka), its position there; 0 for an event written here.
	SourcePosition int64
	// CausePosition is the origin position (see Origin) of the event that
	// caused this one, when it has a cause and it was recorded.
	CausePosition int64
	// TraceParent and TraceState are the W3C trace context of the span the
	// event was decided in (see Tracing); "" when tracing was off.
	TraceParent, TraceState string
}

// Origin is the event's position in the log of the process that wrote it:
// its own position, or its source position when it was imported. Events of
// one writer are ordered by it in every process that holds them.
func (e Event) Origin() int64 {
	if e.SourcePosition != 0 {
		return e.SourcePosition
	}
	return e.Position
}

// Imported says the event was written by another process and copied here.
func (e Event) Imported() bool { return e.SourcePosition != 0 }

// Metadata travels with a command into the events it produces, so the story
// of one request can be followed across contexts.
type Metadata struct {
	CorrelationID string
	CausationID   string
	// CausePosition is the origin position of the causing event, if any.
	CausePosition int64
	// TraceParent and TraceState are the W3C trace context the events
	// continue (see WithTrace); "" when tracing is off.
	TraceParent, TraceState string
}

// AnyVersion as an expected version skips the concurrency check.
const AnyVersion int64 = -1

// StreamAppend is the events to add to one stream, guarded by the version the
// writer last saw. ExpectedVersion 0 means the stream must not exist yet.
type StreamAppend struct {
	StreamID        string
	ExpectedVersion int64
	Events          []Event // Type, SchemaVersion, Data, OccurredAt and metadata are used; ID is made if empty
}
