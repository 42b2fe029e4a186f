// Package devbrokertest is the Kafka client side of the devbroker's tests:
// a franz-go client doing what orderflow's services do against the broker
// (create a topic, produce, consume in a group and commit), and reading back
// what the broker kept. It is shared by the in-process tests of app/devbroker
// and the tests of app/e2e that run `orderflow devbroker` as a process, as
// net/http/httptest is shared by the tests of HTTP code.
package devbrokertest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The topic and group the tests use, and the bound on every wait.
const (
	Topic      = "orderflow.test.orders"
	Group      = "orderflow-test-inventory"
	Partitions = 12
	// Wait bounds every wait on the broker so a broken broker fails the
	// test instead of hanging it; nothing is asserted about durations.
	Wait = 60 * time.Second
)

// NewClient is a franz-go client seeded with the broker at addr.
func NewClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client for %s: %v", addr, err)
	}
	return cl
}

// Context is a context that ends after Wait, or when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return ctx
}

// CreateTopic makes the topic as orderflow does: a fixed partition count
// and unlimited retention (the log is the store).
func CreateTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	cl := NewClient(t, addr)
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	rc := kmsg.NewCreateTopicsRequestTopicConfig()
	rc.Name = "retention.ms"
	rc.Value = kmsg.StringPtr("-1")
	rt.Configs = append(rt.Configs, rc)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(Context(t), cl)
	if err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics %s: %d topics in the answer, want 1", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
}

// Record is what the tests compare: where a record is and what it holds.
type Record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
}

// Produce writes n records keyed k-<from+i> and returns them as the broker
// acknowledged them.
func Produce(t testing.TB, addr, topic string, from, n int) []Record {
	t.Helper()
	cl := NewClient(t, addr, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		k := strconv.Itoa(from + i)
		rs[i] = &kgo.Record{Key: []byte("k-" + k), Value: []byte("v-" + k)}
	}
	results := cl.ProduceSync(Context(t), rs...)
	if err := results.FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	out := make([]Record, 0, n)
	for _, r := range results {
		out = append(out, ToRecord(r.Record))
	}
	return out
}

// ToRecord is what the tests compare of a franz-go record.
func ToRecord(r *kgo.Record) Record {
	return Record{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)}
}

// consumeInGroup joins group, reads until it has want records, commits
// what it read and leaves the group. It returns what it read.
func consumeInGroup(t testing.TB, addr, topic, group string, want int) map[Record]bool {
	t.Helper()
	cl := NewClient(t, addr,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	defer cl.Close() // leaves the group
	ctx := Context(t)
	got := map[Record]bool{}
	for len(got) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s read %d of %d records from %s before giving up", group, len(got), want, topic)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("group %s fetching %s/%d: %v", group, topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { got[ToRecord(r)] = true })
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
	return got
}

// readAll reads every partition of topic from the start, outside any group,
// until it has want records.
func readAll(t testing.TB, addr, topic string, want int) map[Record]bool {
	t.Helper()
	cl := NewClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx := Context(t)
	got := map[Record]bool{}
	for len(got) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s before giving up", len(got), want, topic)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetching %s/%d: %v", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { got[ToRecord(r)] = true })
	}
	return got
}

// committed is the group's committed offset per partition of topic.
func committed(t testing.TB, addr, topic, group string) map[int32]int64 {
	t.Helper()
	cl := NewClient(t, addr)
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(Context(t), cl)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	if len(resp.Groups) != 1 {
		t.Fatalf("OffsetFetch %s: %d groups in the answer, want 1", group, len(resp.Groups))
	}
	if err := kerr.ErrorForCode(resp.Groups[0].ErrorCode); err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	out := map[int32]int64{}
	for _, tp := range resp.Groups[0].Topics {
		if tp.Topic != topic {
			continue
		}
		for _, p := range tp.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				t.Fatalf("OffsetFetch %s %s/%d: %v", group, topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// topicShape is the partition count and retention.ms the broker reports.
func topicShape(t testing.TB, addr, topic string) (partitions int, retention string) {
	t.Helper()
	cl := NewClient(t, addr)
	defer cl.Close()
	ctx := Context(t)
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("Metadata %s: %v", topic, err)
	}
	if len(mresp.Topics) != 1 {
		t.Fatalf("Metadata %s: %d topics, want 1", topic, len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("Metadata %s: %v", topic, err)
	}
	dc := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = topic
	res.ConfigNames = []string{"retention.ms"}
	dc.Resources = append(dc.Resources, res)
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("DescribeConfigs %s: %v", topic, err)
	}
	for _, r := range dresp.Resources {
		for _, c := range r.Configs {
			if c.Name == "retention.ms" && c.Value != nil {
				retention = *c.Value
			}
		}
	}
	return len(mresp.Topics[0].Partitions), retention
}

// endOffsets is, per partition, one past the last record's offset: where a
// group that read everything has committed.
func endOffsets(rs []Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range rs {
		if r.Offset+1 > out[r.Partition] {
			out[r.Partition] = r.Offset + 1
		}
	}
	return out
}

// CheckKept asserts that the broker at addr still has the topic with its
// shape, the records acked, and the group's commits at their end offsets.
func CheckKept(t testing.TB, addr string, acked []Record) {
	t.Helper()
	if n, ret := topicShape(t, addr, Topic); n != Partitions || ret != "-1" {
		t.Errorf("topic %s after the restart: %d partitions, retention.ms %q; want %d and -1", Topic, n, ret, Partitions)
	}
	got := readAll(t, addr, Topic, len(acked))
	if len(got) != len(acked) {
		t.Errorf("read %d records after the restart, want %d", len(got), len(acked))
	}
	for _, r := range acked {
		if !got[r] {
			t.Errorf("acknowledged record %+v is missing after the restart", r)
		}
	}
	want := endOffsets(acked)
	have := committed(t, addr, Topic, Group)
	for p, off := range want {
		if have[p] != off {
			t.Errorf("group %s partition %d: committed %d after the restart, want %d", Group, p, have[p], off)
		}
	}
	if len(have) != len(want) {
		t.Errorf("group %s has commits on %d partitions, want %d: %v", Group, len(have), len(want), have)
	}
}

// ProduceConsumeCommit is the first life of the broker in the restart
// tests: topic, records over every partition, a group that read them all
// and committed. It returns the acknowledged records.
func ProduceConsumeCommit(t testing.TB, addr string) []Record {
	t.Helper()
	CreateTopic(t, addr, Topic, Partitions)
	acked := Produce(t, addr, Topic, 0, 240)
	if parts := len(endOffsets(acked)); parts != Partitions {
		t.Fatalf("240 keys landed on %d partitions, want all %d", parts, Partitions)
	}
	got := consumeInGroup(t, addr, Topic, Group, len(acked))
	for _, r := range acked {
		if !got[r] {
			t.Fatalf("group %s did not read acknowledged record %+v", Group, r)
		}
	}
	return acked
}

// String is the record as partition/offset key=value.
func (r Record) String() string {
	return fmt.Sprintf("%d/%d %s=%s", r.Partition, r.Offset, r.Key, r.Value)
}
