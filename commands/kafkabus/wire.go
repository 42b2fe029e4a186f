package kafkabus

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/domain/fault"
	"orderflow/events"
)

// wireEvent is an event as it travels in a Kafka record's value: the whole
// envelope, in JSON, so that a record read with any Kafka tool says what
// it is. Position is the event's place in its writer's log (its origin).
type wireEvent struct {
	ID            string          `json:"id"`
	StreamID      string          `json:"streamId"`
	StreamVersion int64           `json:"streamVersion"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	OccurredAt    time.Time       `json:"occurredAt"`
	CorrelationID string          `json:"correlationId,omitempty"`
	CausationID   string          `json:"causationId,omitempty"`
	Position      int64           `json:"position"`
	CausePosition int64           `json:"causePosition,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// typeMetadata names the message metadata (a record header) that holds the
// type of the event a record carries, so that a reader that takes only
// some types passes the others by without decoding them. Records written
// by earlier versions have no such header and are decoded.
const typeMetadata = "orderflow_type"

// header is the value of a record's header, "" when it has none.
func header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// heldEvent is the event a record of a family topic carries when this
// log's recent events hold it already (read from another topic a moment
// ago, or this process's own output read back): found by the record's id
// header (the event id), without decoding the record.
func heldEvent(store *events.Store, rec *kgo.Record) (events.Event, bool) {
	id := header(rec, uuidHeader)
	if id == "" {
		return events.Event{}, false
	}
	return store.Recent(id)
}

func encodeEvent(e events.Event) ([]byte, error) {
	return json.Marshal(wireEvent{ID: e.ID, StreamID: e.StreamID, StreamVersion: e.StreamVersion, Type: e.Type,
		SchemaVersion: e.SchemaVersion, OccurredAt: e.OccurredAt, CorrelationID: e.CorrelationID,
		CausationID: e.CausationID, Position: e.Origin(), CausePosition: e.CausePosition, Data: e.Data})
}

// decodeEvent reads an event from a record's value. Its SourcePosition is
// its origin; Position is left for the importing log to give.
func decodeEvent(value []byte) (events.Event, error) {
	var w wireEvent
	if err := json.Unmarshal(value, &w); err != nil {
		return events.Event{}, fmt.Errorf("decode event record: %w", err)
	}
	if w.ID == "" || w.StreamID == "" || w.Type == "" || w.StreamVersion < 1 || w.Position < 1 {
		return events.Event{}, fmt.Errorf("decode event record: incomplete envelope (id %q, stream %q, type %q)", w.ID, w.StreamID, w.Type)
	}
	return events.Event{ID: w.ID, StreamID: w.StreamID, StreamVersion: w.StreamVersion, Type: w.Type,
		SchemaVersion: w.SchemaVersion, OccurredAt: w.OccurredAt, CorrelationID: w.CorrelationID,
		CausationID: w.CausationID, SourcePosition: w.Position, CausePosition: w.CausePosition, Data: w.Data}, nil
}

// reply is the answer to a command.
type reply struct {
	CommandID string `json:"commandId"`
	// ResultID is the id of what the command made or changed.
	ResultID string `json:"resultId,omitempty"`
	// EventID is the last event the command wrote (or, when it changed
	// nothing, the last event of the stream): the caller waits for it to
	// reach its own log before it answers, for read-your-writes.
	EventID string `json:"eventId,omitempty"`
	// Code is empty on success, else the refusal's kind
	// (BAD_USER_INPUT, NOT_FOUND, CONFLICT) or INTERNAL.
	Code    fault.Code `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
}

// EncodeEvent is the value of the record of an event on a family topic,
// as the relay and the transactional feeds publish it.
func EncodeEvent(e events.Event) ([]byte, error) { return encodeEvent(e) }

// DecodeEvent reads an event from the value of a record of a family topic
// (for tools that read the topics, such as `orderflow verify`).
func DecodeEvent(value []byte) (events.Event, error) { return decodeEvent(value) }
