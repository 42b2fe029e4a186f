package kafkabus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPublisherPlacesKeysAsEveryProducerDoes: one Publish of many messages
// puts each key in the partition partitionOf gives it, each key's messages
// in the order given, with the message's id as the ce_id header.
func TestPublisherPlacesKeysAsEveryProducerDoes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(12, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	pub, err := NewPublisher(Plaintext(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var msgs []*message.Message
	for i := range 600 {
		msg := message.NewMessage(fmt.Sprintf("id-%d", i), []byte(fmt.Sprint(i)))
		msg.Metadata.Set(keyMetadata, fmt.Sprintf("key-%d", i%37))
		msgs = append(msgs, msg)
	}
	if err := pub.Publish("t", msgs...); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last := map[string]int{}
	for seen := 0; seen < len(msgs); {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", seen, len(msgs), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			seen++
			key := string(r.Key)
			if want := partitionOf(r.Key, 12); int(r.Partition) != want {
				t.Errorf("key %s in partition %d, want %d", key, r.Partition, want)
			}
			var i int
			fmt.Sscan(string(r.Value), &i)
			if prev, ok := last[key]; ok && prev >= i {
				t.Errorf("key %s: message %d after %d", key, i, prev)
			}
			last[key] = i
			headers := map[string]string{}
			for _, h := range r.Headers {
				headers[h.Key] = string(h.Value)
			}
			if _, ok := headers[keyMetadata]; headers[ceID] != fmt.Sprintf("id-%d", i) || ok {
				t.Errorf("record %d: headers %v, want its id as ce_id and its key only as the record's key", i, headers)
			}
		})
	}
}
