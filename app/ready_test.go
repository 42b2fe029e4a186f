package app

import (
	"reflect"
	"testing"
	"time"
)

// TestReadiness walks a fake clock through the cases of /readyz: moving
// readers, readers at the head, and a reader that stopped while behind.
func TestReadiness(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := newReadiness(10*time.Second, func() time.Time { return now })
	steps := []struct {
		after   time.Duration
		head    int64
		readers []readerPosition
		want    []string
	}{
		{0, 100, []readerPosition{{"inventory", 50}, {"orders", 100}}, nil},
		// Behind but not for long enough yet.
		{9 * time.Second, 120, []readerPosition{{"inventory", 50}, {"orders", 120}}, nil},
		// inventory has not moved from 50 for 11 s while behind.
		{2 * time.Second, 130, []readerPosition{{"inventory", 50}, {"orders", 125}},
			[]string{"inventory at 50 (behind by 80, for 11s)"}},
		// It moves again: ready.
		{time.Second, 130, []readerPosition{{"inventory", 60}, {"orders", 130}}, nil},
		// A reader at the head that nobody writes after is not stalled.
		{time.Minute, 130, []readerPosition{{"inventory", 130}, {"orders", 130}}, nil},
		// orders has stayed at 130 since the fourth step while the head moved on.
		{time.Minute, 200, []readerPosition{{"inventory", 200}, {"orders", 130}},
			[]string{"orders at 130 (behind by 70, for 2m0s)"}},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		if got := r.stalled(s.head, s.readers); !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d: stalled = %q, want %q", i, got, s.want)
		}
	}
}
