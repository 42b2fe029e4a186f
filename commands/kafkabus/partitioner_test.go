package kafkabus

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMurmur2MatchesKafka: the hash is Kafka's Utils.murmur2, checked
// against the vectors Kafka's own tests publish for it (UtilsTest), as the
// signed ints Java returns.
func TestMurmur2MatchesKafka(t *testing.T) {
	tests := []struct {
		key  string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, tt := range tests {
		if got := int32(murmur2([]byte(tt.key))); got != tt.want {
			t.Errorf("murmur2(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// TestPartitionOfIsTheJavaDefault: keys land where the Java client's
// default partitioner puts them (toPositive(murmur2(key)) % n). The
// figures are the ones a user computed with the Java algorithm for the
// topics of the README's deployment (12 partitions): order 1001 on
// partition 0 of orderflow.orders, product kettle on 2 of
// orderflow.orders-by-product.
func TestPartitionOfIsTheJavaDefault(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{"1001", 12, 0},
		{"kettle", 12, 2},
		{"1001", 1, 0},
		{"", 12, int(uint32(murmur2(nil))&0x7fffffff) % 12},
	}
	for _, tt := range tests {
		if got := partitionOf([]byte(tt.key), tt.n); got != tt.want {
			t.Errorf("partitionOf(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
		}
	}
	// A hash with the sign bit set must not give a negative partition.
	for i := range 2000 {
		k := fmt.Appendf(nil, "neg-%d", i)
		if p := partitionOf(k, 7); p < 0 || p >= 7 {
			t.Fatalf("partitionOf(%q, 7) = %d", k, p)
		}
	}
}

// TestPartitionOfAgreesWithKcat: an outside client agrees. kcat (librdkafka)
// produces keys with its Java-compatible partitioner (murmur2_random, "the
// default partitioner in the Java Producer") to a broker, and every record
// is read back from the partition partitionOf names, for several partition
// counts. orderflow's own producer, keyPartitioner, puts the same keys in
// the same partitions.
func TestPartitionOfAgreesWithKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("this test needs kcat (Debian's package kcat; .ci/test installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	counts := map[string]int{"p1": 1, "p3": 3, "p12": 12, "p50": 50}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "p1"), kfake.SeedTopics(3, "p3"),
		kfake.SeedTopics(12, "p12"), kfake.SeedTopics(50, "p50"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]

	keys := []string{"1001", "kettle", "c-ghost", "p-st-3", "o-kl-0042", "ünïcode", "a-very-long-key-" + fmt.Sprint(1<<40)}
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	var in strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&in, "%s\t%s\n", k, k)
	}
	for topic := range counts {
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", addr, "-t", topic, "-K", "\t", "-X", "partitioner=murmur2_random")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P to %s: %v\n%s", topic, err, out)
		}
	}
	// orderflow's producer sends the same keys to the same topics.
	pub, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(keyPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for topic := range counts {
		for _, k := range keys {
			r := &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("orderflow")}
			if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("p1", "p3", "p12", "p50"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type landing struct {
		topic, key string
	}
	byKcat, byOrderflow := map[landing]int32{}, map[landing]int32{}
	for want := 2 * len(keys) * len(counts); len(byKcat)+len(byOrderflow) < want; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(byKcat)+len(byOrderflow), want, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			l := landing{r.Topic, string(r.Key)}
			if string(r.Value) == "orderflow" {
				byOrderflow[l] = r.Partition
			} else {
				byKcat[l] = r.Partition
			}
		})
	}
	for topic, n := range counts {
		for _, k := range keys {
			l := landing{topic, k}
			want := partitionOf([]byte(k), n)
			if got, ok := byKcat[l]; !ok || int(got) != want {
				t.Errorf("key %q among %d: kcat put it on partition %d (found %v), partitionOf says %d", k, n, got, ok, want)
			}
			if got := byOrderflow[l]; int(got) != want {
				t.Errorf("key %q among %d: orderflow's producer put it on partition %d, partitionOf says %d", k, n, got, want)
			}
		}
	}
}
