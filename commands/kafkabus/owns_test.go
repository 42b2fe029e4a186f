package kafkabus

import (
	"fmt"
	"testing"
)

// TestFeedOwns follows a member's partitions of the command topic through
// assignments and revocations: it owns a key exactly while it holds the
// partition the key is in.
func TestFeedOwns(t *testing.T) {
	const partitions = 12
	f := &Feed{}
	keys := map[int32][]string{}
	for i := range 200 {
		k := fmt.Sprint("o-", i)
		p := int32(partitionOf([]byte(k), partitions))
		keys[p] = append(keys[p], k)
	}
	check := func(step string, owned ...int32) {
		t.Helper()
		want := map[int32]bool{}
		for _, p := range owned {
			want[p] = true
		}
		for p, ks := range keys {
			for _, k := range ks {
				if got := f.Owns(k, partitions); got != want[p] {
					t.Errorf("%s: Owns(%s) in partition %d = %v, want %v", step, k, p, got, want[p])
				}
			}
		}
	}
	check("before any assignment")
	f.own([]int32{0, 1, 2, 3}, true)
	check("given 0-3", 0, 1, 2, 3)
	f.own([]int32{2, 3}, false)
	check("2 and 3 taken away", 0, 1)
	f.own([]int32{7}, true)
	check("given 7", 0, 1, 7)
}
