package kafkabus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/events"
)

// Every record orderflow writes follows the CloudEvents Kafka protocol
// binding in binary content mode (CloudEvents 1.0): the attributes are
// headers named ce_<attribute>, the value is the event's data in JSON, so a
// record read with any Kafka tool says what it is, and a CloudEvents SDK
// (or a Kafka Connect sink, or a Streams job) reads it without knowing
// orderflow. The headers:
//
//	ce_specversion   1.0
//	ce_id            the event id (a command's id, a reply's own id)
//	ce_source        orderflow/<context>: the context whose stream it is (api for commands)
//	ce_type          orderflow.<EventType>.v<schemaVersion>; orderflow.command.<Name>.v1;
//	                 orderflow.reply.v1
//	ce_time          when it occurred (RFC 3339)
//	ce_subject       the stream id (a command's key, a reply's command id)
//	content-type     application/json
//	ce_streamversion, ce_position, ce_causeposition, ce_correlationid, ce_causationid:
//	                 orderflow's extension attributes (names of lowercase
//	                 letters and digits only, as CloudEvents requires)
//	ce_traceparent, ce_tracestate
//	                 the W3C trace context (CloudEvents' distributed tracing
//	                 extension), only with tracing on: of the span an event
//	                 was decided in, a command sent in, a reply answered in
//
// Records written by earlier versions carry the whole envelope as their
// value (wireEvent) and no ce_ headers; they are read as before.
const (
	ceSpecVersion   = "ce_specversion"
	ceID            = "ce_id"
	ceSource        = "ce_source"
	ceType          = "ce_type"
	ceTime          = "ce_time"
	ceSubject       = "ce_subject"
	contentType     = "content-type"
	ceStreamVersion = "ce_streamversion"
	cePosition      = "ce_position"
	ceCausePosition = "ce_causeposition"
	ceCorrelationID = "ce_correlationid"
	ceCausationID   = "ce_causationid"
	ceTraceParent   = "ce_traceparent"
	ceTraceState    = "ce_tracestate"

	specVersion = "1.0"
	jsonContent = "application/json"
	// typePrefix starts every ce_type of orderflow.
	typePrefix = "orderflow."
)

// wireEvent is an event as records of earlier versions carry it: the whole
// envelope, in JSON, as the value. Position is the event's place in its
// writer's log (its origin).
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

// typeMetadata is the header in which records of the version before
// CloudEvents named their event's type (now in ce_type).
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

// eventType is the type of the event a record carries, read from its
// headers without decoding it: so that a reader that takes only some types
// passes the others by. "" when the headers do not say (a record of an
// early version, to be decoded to see).
func eventType(rec *kgo.Record) string {
	if t, _, ok := parseEventType(header(rec, ceType)); ok {
		return t
	}
	return header(rec, typeMetadata)
}

// ceEventType is the ce_type of an event of a type and schema version.
func ceEventType(typ string, schemaVersion int) string {
	return typePrefix + typ + ".v" + strconv.Itoa(schemaVersion)
}

// parseEventType reads an event's type and schema version from its
// ce_type; false when it is not one of orderflow's events.
func parseEventType(ce string) (string, int, bool) {
	rest, ok := strings.CutPrefix(ce, typePrefix)
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndex(rest, ".v")
	if i <= 0 || strings.Contains(rest[:i], ".") {
		return "", 0, false
	}
	v, err := strconv.Atoi(rest[i+2:])
	if err != nil || v < 1 {
		return "", 0, false
	}
	return rest[:i], v, true
}

// recordID is the id of what a record carries: its ce_id, or the
// watermill id header of records of earlier versions.
func recordID(rec *kgo.Record) string {
	if id := header(rec, ceID); id != "" {
		return id
	}
	return header(rec, uuidHeader)
}

// heldEvent is the event a record of a family topic carries when this
// log's recent events hold it already (read from another topic a moment
// ago, or this process's own output read back): found by the record's id,
// without decoding the record.
func heldEvent(store *events.Store, rec *kgo.Record) (events.Event, bool) {
	id := recordID(rec)
	if id == "" {
		return events.Event{}, false
	}
	return store.Recent(id)
}

// eventMessage is the message of an event, to be published on any topic
// (its family's, a repartition): its data as the payload, its attributes
// as metadata, which the Publisher writes as headers (the message's UUID,
// the event id, as ce_id).
func eventMessage(e events.Event) *message.Message {
	m := message.NewMessage(e.ID, message.Payload(e.Data))
	md := m.Metadata
	md.Set(ceSpecVersion, specVersion)
	md.Set(ceSource, "orderflow/"+commands.StreamContext(e.StreamID))
	md.Set(ceType, ceEventType(e.Type, e.SchemaVersion))
	md.Set(ceTime, e.OccurredAt.UTC().Format(time.RFC3339Nano))
	md.Set(ceSubject, e.StreamID)
	md.Set(contentType, jsonContent)
	md.Set(ceStreamVersion, strconv.FormatInt(e.StreamVersion, 10))
	md.Set(cePosition, strconv.FormatInt(e.Origin(), 10))
	if e.CausePosition != 0 {
		md.Set(ceCausePosition, strconv.FormatInt(e.CausePosition, 10))
	}
	if e.CorrelationID != "" {
		md.Set(ceCorrelationID, e.CorrelationID)
	}
	if e.CausationID != "" {
		md.Set(ceCausationID, e.CausationID)
	}
	setTrace(md, e.TraceParent, e.TraceState)
	return m
}

// setTrace sets the trace context headers, when there is one (tracing on).
func setTrace(md message.Metadata, parent, state string) {
	if parent == "" {
		return
	}
	md.Set(ceTraceParent, parent)
	if state != "" {
		md.Set(ceTraceState, state)
	}
}

// withTraceOf sets on m the trace context of the span in ctx (nothing with
// tracing off).
func withTraceOf(ctx context.Context, m *message.Message) *message.Message {
	if events.Tracing() {
		parent, state := events.TraceOf(ctx)
		setTrace(m.Metadata, parent, state)
	}
	return m
}

// traceOf is ctx with the trace context a record carries as the remote
// parent of the spans started in it (ctx with tracing off).
func traceOf(ctx context.Context, rec *kgo.Record) context.Context {
	if !events.Tracing() {
		return ctx
	}
	return events.ContextWithTrace(ctx, header(rec, ceTraceParent), header(rec, ceTraceState))
}

// decodeEvent reads the event a record carries: from its CloudEvents
// headers and value, or from the envelope that records of earlier versions
// carry as their value. Its SourcePosition is its origin; Position is left
// for the importing log to give.
func decodeEvent(rec *kgo.Record) (events.Event, error) {
	if header(rec, ceSpecVersion) == "" {
		return decodeEnvelope(rec.Value)
	}
	var e events.Event
	var errs []error
	integer := func(name string, required bool) int64 {
		s := header(rec, name)
		if s == "" && !required {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not an integer", name, s))
		}
		return n
	}
	if v := header(rec, ceSpecVersion); v != specVersion {
		errs = append(errs, fmt.Errorf("%s %q, want %s", ceSpecVersion, v, specVersion))
	}
	e.ID, e.StreamID = header(rec, ceID), header(rec, ceSubject)
	typ, version, ok := parseEventType(header(rec, ceType))
	if !ok {
		errs = append(errs, fmt.Errorf("%s %q is not orderflow.<EventType>.v<version>", ceType, header(rec, ceType)))
	}
	e.Type, e.SchemaVersion = typ, version
	at, err := time.Parse(time.RFC3339Nano, header(rec, ceTime))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", ceTime, err))
	}
	e.OccurredAt = at
	if ct := header(rec, contentType); ct != "" && ct != jsonContent {
		errs = append(errs, fmt.Errorf("%s %q, want %s", contentType, ct, jsonContent))
	}
	e.StreamVersion = integer(ceStreamVersion, true)
	e.SourcePosition = integer(cePosition, true)
	e.CausePosition = integer(ceCausePosition, false)
	e.CorrelationID, e.CausationID = header(rec, ceCorrelationID), header(rec, ceCausationID)
	e.TraceParent, e.TraceState = header(rec, ceTraceParent), header(rec, ceTraceState)
	e.Data = json.RawMessage(rec.Value)
	if e.ID == "" || e.StreamID == "" || e.StreamVersion < 1 || e.SourcePosition < 1 {
		errs = append(errs, fmt.Errorf("incomplete event (%s %q, %s %q, %s %d, %s %d)",
			ceID, e.ID, ceSubject, e.StreamID, ceStreamVersion, e.StreamVersion, cePosition, e.SourcePosition))
	}
	if len(errs) > 0 {
		return events.Event{}, fmt.Errorf("decode event record: %w", errors.Join(errs...))
	}
	return e, nil
}

// decodeEnvelope reads an event from the value of a record written before
// CloudEvents (the whole envelope in JSON).
func decodeEnvelope(value []byte) (events.Event, error) {
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

// ceCommandType is the ce_type of a command.
func ceCommandType(name commands.CommandName) string {
	return typePrefix + "command." + string(name) + ".v1"
}

// commandMessage is the message of a command on its context's topic: its
// arguments as the payload, the rest as CloudEvents attributes. The time
// is when it was sent.
func commandMessage(cmd commands.Command, now time.Time) *message.Message {
	m := message.NewMessage(cmd.ID, message.Payload(cmd.Args))
	md := m.Metadata
	md.Set(ceSpecVersion, specVersion)
	md.Set(ceSource, "orderflow/"+commands.ContextAPI)
	md.Set(ceType, ceCommandType(cmd.Name))
	md.Set(ceTime, now.UTC().Format(time.RFC3339Nano))
	md.Set(ceSubject, cmd.Key)
	md.Set(contentType, jsonContent)
	if cmd.CorrelationID != "" {
		md.Set(ceCorrelationID, cmd.CorrelationID)
	}
	return m
}

// decodeCommand reads the command a record of a command topic carries
// (context is the topic's): from its CloudEvents headers and value, or
// from the JSON value that records of earlier versions carry.
func decodeCommand(rec *kgo.Record, context string) (commands.Command, error) {
	var cmd commands.Command
	if header(rec, ceSpecVersion) == "" {
		if err := json.Unmarshal(rec.Value, &cmd); err != nil {
			return commands.Command{}, fmt.Errorf("decode command record: %w", err)
		}
	} else {
		name, ok := strings.CutPrefix(header(rec, ceType), typePrefix+"command.")
		name, ok2 := strings.CutSuffix(name, ".v1")
		if !ok || !ok2 || name == "" {
			return commands.Command{}, fmt.Errorf("decode command record: %s %q is not orderflow.command.<Name>.v1", ceType, header(rec, ceType))
		}
		cmd = commands.Command{ID: header(rec, ceID), Name: commands.CommandName(name), Context: context,
			Key: header(rec, ceSubject), CorrelationID: header(rec, ceCorrelationID), Args: json.RawMessage(rec.Value)}
	}
	if cmd.ID == "" {
		return commands.Command{}, errors.New("decode command record: no command id")
	}
	return cmd, nil
}

// ceReplyType is the ce_type of every reply.
const ceReplyType = typePrefix + "reply.v1"

// replyMessage is the message of a reply, from the context that carried
// the command out: the reply in JSON as the payload (its commandId too, so
// records of every version read alike), the command's id as the subject.
func replyMessage(context string, rep reply, now time.Time) (*message.Message, error) {
	value, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	m := message.NewMessage(events.NewID(), value)
	md := m.Metadata
	md.Set(ceSpecVersion, specVersion)
	md.Set(ceSource, "orderflow/"+context)
	md.Set(ceType, ceReplyType)
	md.Set(ceTime, now.UTC().Format(time.RFC3339Nano))
	md.Set(ceSubject, rep.CommandID)
	md.Set(contentType, jsonContent)
	return m, nil
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

// EventRecord is the record of an event on its family's topic, keyed by
// its stream's key, as the relay and the transactional feeds publish it.
func EventRecord(e events.Event) *kgo.Record {
	return record(FamilyTopic(commands.StreamContext(e.StreamID)), withKey(eventMessage(e), commands.StreamKey(e.StreamID)))
}

// CETypeOfEvent is the ce_type of the records of an event type at a schema
// version (orderflow.OrderPlaced.v1).
func CETypeOfEvent(typ string, schemaVersion int) string { return ceEventType(typ, schemaVersion) }

// CETypeOfCommand is the ce_type of the records of a command
// (orderflow.command.PlaceOrder.v1).
func CETypeOfCommand(name commands.CommandName) string { return ceCommandType(name) }

// CETypeOfReply is the ce_type of every reply (orderflow.reply.v1).
const CETypeOfReply = ceReplyType

// ReplyType is the Go type of a reply's value, for its schema.
func ReplyType() reflect.Type { return reflect.TypeFor[reply]() }

// DecodeEvent reads the event a record of a family topic carries, in
// either format (for tools that read the topics, such as `orderflow
// verify`).
func DecodeEvent(rec *kgo.Record) (events.Event, error) { return decodeEvent(rec) }

// withKey sets the key a message is published under.
func withKey(m *message.Message, key string) *message.Message {
	m.Metadata.Set(keyMetadata, key)
	return m
}
