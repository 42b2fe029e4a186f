package fraud_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"orderflow/domain/fraud"
)

// A snapshot of a history decodes to one that checks orders exactly as the
// one it was taken of, forgotten orders and horizon included.
func TestHistorySnapshotRoundTrip(t *testing.T) {
	passed := func(id string, at time.Duration, cents int64) fraud.Event {
		return fraud.FraudCheckPassed{CustomerID: "c1", OrderID: id, PlacedAt: t0.Add(at), TotalCents: cents}
	}
	tests := []struct {
		name   string
		events []fraud.Event
		forget bool
	}{
		{"empty", nil, false},
		{"a few orders", []fraud.Event{passed("o1", 0, 100), passed("o2", time.Minute, 200)}, false},
		{"with a horizon", []fraud.Event{passed("o1", 0, 100), passed("o2", 3*rule.Window, 200)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fraud.History
			for _, e := range tt.events {
				h = h.Evolve(e)
				if tt.forget {
					h = h.Forget(rule.Retention())
				}
			}
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var got fraud.History
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Len() != h.Len() {
				t.Fatalf("decoded %d orders, want %d", got.Len(), h.Len())
			}
			for _, at := range []time.Duration{0, time.Minute, 3 * rule.Window} {
				if got.Covers(rule, t0.Add(at)) != h.Covers(rule, t0.Add(at)) {
					t.Errorf("covers %v: differs", at)
				}
			}
			at := t0.Add(3*rule.Window + time.Minute)
			want := fraud.Check(h, rule, "c1", "o9", at, fraud.DefaultLimitCents/2)
			if have := fraud.Check(got, rule, "c1", "o9", at, fraud.DefaultLimitCents/2); !reflect.DeepEqual(have, want) {
				t.Errorf("a decoded history checks %+v, the original %+v", have, want)
			}
		})
	}
}
