package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
)

// TestFeedOwns follows a member's partitions of the command topic through
// assignments and revocations: it owns a key exactly while it holds the
// partition the key is in.
func TestFeedOwns(t *testing.T) {
	const partitions = 12
	ctx := context.Background()
	f := &Feed{Context: "orders", Stage: NewStage("orders", nil), Log: slog.New(slog.DiscardHandler)}
	topic := CommandTopic(f.Context)
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
	f.assigned(ctx, nil, map[string][]int32{topic: {0, 1, 2, 3}, FamilyTopic(f.Context): {0, 1, 2, 3}})
	check("given 0-3", 0, 1, 2, 3)
	f.revoked(ctx, nil, map[string][]int32{topic: {2, 3}, FamilyTopic(f.Context): {2, 3}})
	check("2 and 3 revoked", 0, 1)
	f.assigned(ctx, nil, map[string][]int32{topic: {7}})
	check("given 7", 0, 1, 7)
	f.lostPartitions(ctx, nil, map[string][]int32{topic: {0}})
	check("0 lost", 1, 7)
}
