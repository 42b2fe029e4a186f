package kafkabus

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFirstCopyWaits: during the first copy, a record is taken when its
// topic's stage has begun and it lies below where its partition ended at
// the start; the rest waits. behind counts what is left of the stages.
func TestFirstCopyWaits(t *testing.T) {
	fc := &firstCopy{
		stages: [][]string{{"orderflow.orders"}, {"orderflow.inventory"}},
		ends: map[string]map[int32]int64{
			"orderflow.orders":    {0: 10, 1: 0},
			"orderflow.inventory": {0: 5},
		},
	}
	tests := []struct {
		stage     int
		topic     string
		partition int32
		offset    int64
		want      bool
	}{
		{0, "orderflow.orders", 0, 0, false},
		{0, "orderflow.orders", 0, 9, false},
		{0, "orderflow.orders", 0, 10, true}, // beyond the end
		{0, "orderflow.orders", 1, 0, true},  // an empty partition: everything is beyond
		{0, "orderflow.inventory", 0, 0, true},
		{1, "orderflow.inventory", 0, 4, false},
		{1, "orderflow.inventory", 0, 5, true},
		{1, "orderflow.orders", 0, 3, false},
		{1, "orderflow.unknown", 0, 3, false}, // not copied in stages: never held
	}
	for _, tt := range tests {
		fc.stage = tt.stage
		rec := &kgo.Record{Topic: tt.topic, Partition: tt.partition, Offset: tt.offset}
		if got := fc.waits(rec); got != tt.want {
			t.Errorf("stage %d, %s/%d at %d: waits %v, want %v", tt.stage, tt.topic, tt.partition, tt.offset, got, tt.want)
		}
	}

	next := map[string]map[int32]int64{"orderflow.orders": {0: 7}, "orderflow.inventory": {0: 6}}
	if got := fc.behind(next, fc.stages[0]); got != 3 {
		t.Errorf("orders behind %d, want 3", got)
	}
	if got := fc.behind(next, fc.stages[1]); got != 0 {
		t.Errorf("inventory behind %d, want 0 (past its end)", got)
	}
}
