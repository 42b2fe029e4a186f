package kafkabus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"orderflow/events"
)

func TestEventsTravelWhole(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 5, time.UTC)
	tests := []struct {
		name string
		in   events.Event
		// origin is the position the receiver learns, whatever log it
		// was written to first.
		origin int64
	}{
		{"written here", events.Event{Position: 7, ID: "e7", StreamID: "stock-p", StreamVersion: 3, Type: "StockReserved",
			SchemaVersion: 1, OccurredAt: at, CorrelationID: "c", CausationID: "o", CausePosition: 5, Data: json.RawMessage(`{"x":1}`)}, 7},
		{"copied from elsewhere", events.Event{Position: 90, SourcePosition: 12, ID: "e12", StreamID: "order-o", StreamVersion: 1,
			Type: "OrderPlaced", SchemaVersion: 2, OccurredAt: at, Data: json.RawMessage(`{}`)}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value, err := encodeEvent(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeEvent(value)
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
	for _, bad := range []string{`not json`, `{}`, `{"id":"x","streamId":"s","type":"T","streamVersion":1}`} {
		if _, err := decodeEvent([]byte(bad)); err == nil || !strings.Contains(err.Error(), "decode event record") {
			t.Errorf("decodeEvent(%s) = %v, want an error", bad, err)
		}
	}
}
