package kafkabus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCheckPlacementFindsTopicsOfTheOldHash: topics whose keys are where
// partitionOf puts them pass, empty ones too, and are recorded as checked;
// a record an earlier version placed by FNV-1a (key 1001 on partition 3 of
// 12, where murmur2 puts it on 0) stops the start, naming the topic, the
// key and the fix, at every start until it is moved.
func TestCheckPlacementFindsTopicsOfTheOldHash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("placed by this version", func(t *testing.T) {
		c := fakeCluster(ctx, t, 12)
		right := producer(t, c, keyPartitioner())
		for _, k := range []string{"1001", "1002", "o-7"} {
			if err := right.ProduceSync(ctx, &kgo.Record{Topic: "orderflow.orders", Key: []byte(k), Value: []byte("{}")},
				&kgo.Record{Topic: "orderflow.orders-by-product", Key: []byte("kettle"), Value: []byte("{}")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := CheckPlacement(ctx, c); err != nil {
			t.Fatalf("keys where partitionOf puts them, the other topics empty: %v", err)
		}
		// Every topic is recorded (read, or empty: this version writes it from now on), and not
		// read again at the next start.
		checked, err := checkedPlacements(ctx, right)
		if err != nil {
			t.Fatal(err)
		}
		if !checked["orderflow.orders"] || !checked["orderflow.orders-by-product"] || !checked["orderflow.customers"] {
			t.Errorf("recorded as checked: %v, want every topic", checked)
		}
		if err := CheckPlacement(ctx, c); err != nil {
			t.Fatalf("second start: %v", err)
		}
	})

	t.Run("written by an earlier version", func(t *testing.T) {
		c := fakeCluster(ctx, t, 12)
		old := producer(t, c, kgo.ManualPartitioner())
		// Where the earlier versions' FNV-1a put key 1001 among 12 (see the
		// issue: kcat showed it on partition 3).
		if p := partitionOf([]byte("1001"), 12); p == 3 {
			t.Fatal("the test needs a partition murmur2 does not give 1001")
		}
		if err := old.ProduceSync(ctx, &kgo.Record{Topic: "orderflow.customers", Partition: 3, Key: []byte("1001"), Value: []byte("{}")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for range 2 { // refused at every start, not recorded
			err := CheckPlacement(ctx, c)
			for _, says := range []string{`topic orderflow.customers holds key "1001" on partition 3`, "it puts it on 0",
				"Upgrading topics written before the Java partitioner"} {
				if err == nil || !strings.Contains(err.Error(), says) {
					t.Errorf("CheckPlacement = %v, want an error saying %q", err, says)
				}
			}
		}
	})
}

// producer is a client of the cluster placing records with partitioner.
func producer(t *testing.T, c Cluster, partitioner kgo.Partitioner) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(partitioner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
