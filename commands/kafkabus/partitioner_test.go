package kafkabus

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"
)

// TestPartitionOfAgreesWithTheRelay: every producer (franz-go, with
// keyPartitioner) places every key in the partition the relay of earlier
// versions (sarama, through watermill-kafka) placed it in, so a key's
// records are co-partitioned across every orderflow topic whoever produced
// them, and whichever version did.
func TestPartitionOfAgreesWithTheRelay(t *testing.T) {
	relay := sarama.NewHashPartitioner("orderflow.orders")
	keys := []string{"1001", "kettle", "", "c-ghost", "p-st-3", "o-kl-0042", "ünïcode", "a-very-long-key-" + fmt.Sprint(1<<40)}
	for i := range 500 {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	for _, n := range []int{1, 3, 12, 50} {
		for _, k := range keys {
			want, err := relay.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(k)}, int32(n))
			if err != nil {
				t.Fatal(err)
			}
			if got := partitionOf([]byte(k), n); got != int(want) {
				t.Errorf("key %q among %d: partition %d, the relay's %d", k, n, got, want)
			}
		}
	}
	// The figures a user saw with kcat: key 1001 on partition 3 of 12,
	// kettle on 6.
	if p := partitionOf([]byte("1001"), 12); p != 3 {
		t.Errorf("1001 on partition %d of 12, want 3", p)
	}
	if p := partitionOf([]byte("kettle"), 12); p != 6 {
		t.Errorf("kettle on partition %d of 12, want 6", p)
	}
}
