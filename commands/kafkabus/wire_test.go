package kafkabus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/events"
)

// headersOf is a record's headers by name.
func headersOf(rec *kgo.Record) map[string]string {
	out := map[string]string{}
	for _, h := range rec.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

// TestEventsTravelAsCloudEvents: an event's record is a CloudEvent in
// binary mode (attributes in ce_ headers, the data as the value) and is
// read back whole, wherever it was written first.
func TestEventsTravelAsCloudEvents(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 5, time.UTC)
	tests := []struct {
		name string
		in   events.Event
		// origin is the position the receiver learns, whatever log it
		// was written to first.
		origin  int64
		headers map[string]string
	}{
		{"written here", events.Event{Position: 7, ID: "e7", StreamID: "stock-p", StreamVersion: 3, Type: "StockReserved",
			SchemaVersion: 1, OccurredAt: at, CorrelationID: "c", CausationID: "o", CausePosition: 5, Data: json.RawMessage(`{"x":1}`)}, 7,
			map[string]string{"ce_specversion": "1.0", "ce_id": "e7", "ce_source": "orderflow/inventory", "ce_type": "orderflow.StockReserved.v1",
				"ce_time": "2026-11-25T12:00:00.000000005Z", "ce_subject": "stock-p", "content-type": "application/json",
				"ce_streamversion": "3", "ce_position": "7", "ce_causeposition": "5", "ce_correlationid": "c", "ce_causationid": "o"}},
		{"copied from elsewhere", events.Event{Position: 90, SourcePosition: 12, ID: "e12", StreamID: "order-o", StreamVersion: 1,
			Type: "OrderPlaced", SchemaVersion: 2, OccurredAt: at, Data: json.RawMessage(`{}`)}, 12,
			map[string]string{"ce_specversion": "1.0", "ce_id": "e12", "ce_source": "orderflow/orders", "ce_type": "orderflow.OrderPlaced.v2",
				"ce_time": "2026-11-25T12:00:00.000000005Z", "ce_subject": "order-o", "content-type": "application/json",
				"ce_streamversion": "1", "ce_position": "12"}},
		{"with its trace context", events.Event{Position: 8, ID: "e8", StreamID: "order-o", StreamVersion: 2, Type: "OrderValidated",
			SchemaVersion: 2, OccurredAt: at, Data: json.RawMessage(`{}`),
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "vendor=x"}, 8,
			map[string]string{"ce_specversion": "1.0", "ce_id": "e8", "ce_source": "orderflow/orders", "ce_type": "orderflow.OrderValidated.v2",
				"ce_time": "2026-11-25T12:00:00.000000005Z", "ce_subject": "order-o", "content-type": "application/json",
				"ce_streamversion": "2", "ce_position": "8",
				"ce_traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ce_tracestate": "vendor=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := EventRecord(tt.in)
			if got := headersOf(rec); !reflect.DeepEqual(got, tt.headers) {
				t.Errorf("headers %v\nwant    %v", got, tt.headers)
			}
			if string(rec.Value) != string(tt.in.Data) {
				t.Errorf("value %s, want the event's data %s", rec.Value, tt.in.Data)
			}
			if want := commands.StreamKey(tt.in.StreamID); string(rec.Key) != want || rec.Topic != FamilyTopic(commands.StreamContext(tt.in.StreamID)) {
				t.Errorf("record on %s keyed %q, want its family's topic keyed %q", rec.Topic, rec.Key, want)
			}
			if got := eventType(rec); got != tt.in.Type {
				t.Errorf("type from the headers %q, want %q", got, tt.in.Type)
			}
			if got := recordID(rec); got != tt.in.ID {
				t.Errorf("id from the headers %q, want %q", got, tt.in.ID)
			}
			got, err := decodeEvent(rec)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.in
			want.Position, want.SourcePosition = 0, tt.origin
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v\nwant    %+v", got, want)
			}
		})
	}
}

// TestRecordsOfEarlierVersionsAreRead: a record an earlier version wrote
// (the whole envelope as its value, the type and watermill id in headers
// of their own) is read as before, and its type and id are found without
// decoding it.
func TestRecordsOfEarlierVersionsAreRead(t *testing.T) {
	rec := &kgo.Record{Topic: "orderflow.orders", Key: []byte("1001"),
		Headers: []kgo.RecordHeader{{Key: "_watermill_message_uuid", Value: []byte("0193a1")}, {Key: "orderflow_key", Value: []byte("1001")},
			{Key: "orderflow_type", Value: []byte("OrderPlaced")}},
		Value: []byte(`{"id":"0193a1","streamId":"order-1001","streamVersion":1,"type":"OrderPlaced","schemaVersion":1,` +
			`"occurredAt":"2026-12-01T10:00:00.5Z","correlationId":"req-1","position":42,"data":{"customerId":"ada"}}`)}
	want := events.Event{ID: "0193a1", StreamID: "order-1001", StreamVersion: 1, Type: "OrderPlaced", SchemaVersion: 1,
		OccurredAt: time.Date(2026, 12, 1, 10, 0, 0, 500_000_000, time.UTC), CorrelationID: "req-1", SourcePosition: 42,
		Data: json.RawMessage(`{"customerId":"ada"}`)}
	got, err := decodeEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}
	if eventType(rec) != "OrderPlaced" || recordID(rec) != "0193a1" {
		t.Errorf("type %q and id %q from the old headers", eventType(rec), recordID(rec))
	}
	// Earlier still: no headers at all, decoded to see.
	rec.Headers = nil
	if eventType(rec) != "" || recordID(rec) != "" {
		t.Errorf("a record without headers: type %q, id %q, want none", eventType(rec), recordID(rec))
	}
	if got, err := decodeEvent(rec); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("without headers: %+v, %v", got, err)
	}
}

// TestBrokenRecordsAreRefused: a record that is not an event, in either
// format, is an error saying what is wrong, never a half-read event.
func TestBrokenRecordsAreRefused(t *testing.T) {
	good := func() *kgo.Record {
		return EventRecord(events.Event{Position: 3, ID: "e3", StreamID: "order-o", StreamVersion: 2, Type: "OrderPaid",
			SchemaVersion: 1, OccurredAt: time.Now(), Data: json.RawMessage(`{}`)})
	}
	set := func(name, value string) func(*kgo.Record) {
		return func(r *kgo.Record) {
			for i := range r.Headers {
				if r.Headers[i].Key == name {
					r.Headers[i].Value = []byte(value)
					return
				}
			}
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: name, Value: []byte(value)})
		}
	}
	tests := []struct {
		name   string
		change func(*kgo.Record)
		says   string
	}{
		{"another spec version", set("ce_specversion", "0.3"), "ce_specversion"},
		{"not orderflow's type", set("ce_type", "com.example.Thing"), "ce_type"},
		{"a type without its version", set("ce_type", "orderflow.OrderPaid"), "ce_type"},
		{"no id", set("ce_id", ""), "incomplete"},
		{"no subject", set("ce_subject", ""), "incomplete"},
		{"a stream version that is not a number", set("ce_streamversion", "two"), "ce_streamversion"},
		{"no position", set("ce_position", "0"), "incomplete"},
		{"a time that is not RFC 3339", set("ce_time", "yesterday"), "ce_time"},
		{"another content type", set("content-type", "application/avro"), "content-type"},
		{"an old envelope that is not JSON", func(r *kgo.Record) { r.Headers, r.Value = nil, []byte("not json") }, "decode event record"},
		{"an empty old envelope", func(r *kgo.Record) { r.Headers, r.Value = nil, []byte("{}") }, "incomplete envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := good()
			tt.change(rec)
			_, err := decodeEvent(rec)
			if err == nil || !strings.Contains(err.Error(), "decode event record") || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("decodeEvent = %v, want an error about %s", err, tt.says)
			}
		})
	}
}

func TestParseEventType(t *testing.T) {
	tests := []struct {
		in      string
		typ     string
		version int
		ok      bool
	}{
		{"orderflow.OrderPlaced.v1", "OrderPlaced", 1, true},
		{"orderflow.StockReservationRejected.v12", "StockReservationRejected", 12, true},
		{"orderflow.command.PlaceOrder.v1", "", 0, false},
		{"orderflow.reply.v1", "reply", 1, true},
		{"orderflow.OrderPlaced.v0", "", 0, false},
		{"orderflow.OrderPlaced.vx", "", 0, false},
		{"orderflow..v1", "", 0, false},
		{"other.OrderPlaced.v1", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		typ, v, ok := parseEventType(tt.in)
		if typ != tt.typ || v != tt.version || ok != tt.ok {
			t.Errorf("parseEventType(%q) = %q, %d, %v; want %q, %d, %v", tt.in, typ, v, ok, tt.typ, tt.version, tt.ok)
		}
	}
}

// TestCommandsAndRepliesTravelAsCloudEvents: a command's record carries its
// arguments as the value and the rest as ce_ headers, and is read back
// whole; a record of an earlier version (the command in JSON) too. A reply
// is a CloudEvent whose value is the reply.
func TestCommandsAndRepliesTravelAsCloudEvents(t *testing.T) {
	cmd := commands.Command{ID: "cmd-1", Name: commands.CmdAddStock, Context: "inventory", Key: "kettle",
		CorrelationID: "req-9", Args: json.RawMessage(`{"productId":"kettle","quantity":10}`)}
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	rec := record(CommandTopic("inventory"), withKey(commandMessage(cmd, now), cmd.Key))
	wantHeaders := map[string]string{"ce_specversion": "1.0", "ce_id": "cmd-1", "ce_source": "orderflow/api",
		"ce_type": "orderflow.command.AddStock.v1", "ce_time": "2026-12-03T18:00:00Z", "ce_subject": "kettle",
		"content-type": "application/json", "ce_correlationid": "req-9"}
	if got := headersOf(rec); !reflect.DeepEqual(got, wantHeaders) {
		t.Errorf("headers %v\nwant    %v", got, wantHeaders)
	}
	if string(rec.Value) != string(cmd.Args) || string(rec.Key) != "kettle" {
		t.Errorf("record keyed %q with value %s", rec.Key, rec.Value)
	}
	got, err := decodeCommand(rec, "inventory")
	if err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("decoded %+v, %v\nwant    %+v", got, err, cmd)
	}

	old, _ := json.Marshal(cmd)
	got, err = decodeCommand(&kgo.Record{Value: old, Headers: []kgo.RecordHeader{{Key: "_watermill_message_uuid", Value: []byte("cmd-1")}}}, "inventory")
	if err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("an earlier version's command: %+v, %v", got, err)
	}
	for _, bad := range []*kgo.Record{
		{Value: []byte("not json")},
		{Value: []byte(`{"name":"AddStock"}`)},
		{Value: []byte(`{}`), Headers: []kgo.RecordHeader{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_type", Value: []byte("orderflow.OrderPlaced.v1")}, {Key: "ce_id", Value: []byte("x")}}},
		{Value: []byte(`{}`), Headers: []kgo.RecordHeader{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_type", Value: []byte("orderflow.command.AddStock.v1")}}},
	} {
		if _, err := decodeCommand(bad, "inventory"); err == nil || !strings.Contains(err.Error(), "decode command record") {
			t.Errorf("decodeCommand(%s, %v) = %v, want an error", bad.Value, bad.Headers, err)
		}
	}

	m, err := replyMessage("inventory", reply{CommandID: "cmd-1", ResultID: "kettle", EventID: "e5"}, now)
	if err != nil {
		t.Fatal(err)
	}
	rep := record(RepliesTopic, withKey(m, "cmd-1"))
	h := headersOf(rep)
	if h["ce_type"] != "orderflow.reply.v1" || h["ce_source"] != "orderflow/inventory" || h["ce_subject"] != "cmd-1" ||
		h["ce_specversion"] != "1.0" || h["ce_id"] == "" || h["content-type"] != "application/json" {
		t.Errorf("reply headers %v", h)
	}
	var back reply
	if err := json.Unmarshal(rep.Value, &back); err != nil || back != (reply{CommandID: "cmd-1", ResultID: "kettle", EventID: "e5"}) {
		t.Errorf("reply value %s: %+v, %v", rep.Value, back, err)
	}
}
