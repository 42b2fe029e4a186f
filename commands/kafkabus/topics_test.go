package kafkabus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus"
)

// TestEnsureTopicsRefusesTopicsThatContradictTheSettings: topics are
// created with the settings (unlimited retention, the replication and
// min.insync.replicas asked for); a topic that exists and contradicts them
// stops the start with an error naming it and the fix, and nothing is
// created meanwhile.
func TestEnsureTopicsRefusesTopicsThatContradictTheSettings(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		existing map[string]int32             // topic → partitions, made before
		configs  map[string]map[string]string // topic → its configs
		settings kafkabus.TopicSettings
		says     []string // what the error says; none: no error
	}{
		{name: "nothing there", settings: kafkabus.TopicSettings{Partitions: 4}},
		{name: "all there as orderflow makes them", settings: kafkabus.TopicSettings{Partitions: 4},
			existing: map[string]int32{"orderflow.orders": 4},
			configs:  map[string]map[string]string{"orderflow.orders": {"retention.ms": "-1"}}},
		{name: "another partition count", settings: kafkabus.TopicSettings{Partitions: 4},
			existing: map[string]int32{"orderflow.orders": 3},
			configs:  map[string]map[string]string{"orderflow.orders": {"retention.ms": "-1"}},
			says:     []string{"topic orderflow.orders has 3 partitions, not 4", "--kafka-partitions 3"}},
		{name: "a family topic that forgets", settings: kafkabus.TopicSettings{Partitions: 4},
			existing: map[string]int32{"orderflow.orders": 4},
			configs:  map[string]map[string]string{"orderflow.orders": {"retention.ms": "604800000"}},
			says: []string{"topic orderflow.orders has retention.ms=604800000",
				"kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name orderflow.orders --add-config retention.ms=-1"}},
		{name: "a re-keyed topic that forgets by size", settings: kafkabus.TopicSettings{Partitions: 4},
			existing: map[string]int32{"orderflow.orders-by-product": 4},
			configs:  map[string]map[string]string{"orderflow.orders-by-product": {"retention.ms": "-1", "retention.bytes": "1073741824"}},
			says:     []string{"topic orderflow.orders-by-product has retention.bytes=1073741824", "--add-config retention.bytes=-1"}},
		{name: "replies may forget", settings: kafkabus.TopicSettings{Partitions: 4},
			existing: map[string]int32{"orderflow.replies": 4, "orderflow.inventory.commands": 4},
			configs: map[string]map[string]string{"orderflow.replies": {"retention.ms": "3600000"},
				"orderflow.inventory.commands": {"retention.ms": "86400000"}}},
		{name: "another min.insync.replicas than asked for", settings: kafkabus.TopicSettings{Partitions: 4, MinInsyncReplicas: 2},
			existing: map[string]int32{"orderflow.customers": 4},
			configs:  map[string]map[string]string{"orderflow.customers": {"retention.ms": "-1", "min.insync.replicas": "1"}},
			says: []string{"topic orderflow.customers has min.insync.replicas=1, not 2 (--kafka-min-insync-replicas)",
				"--entity-name orderflow.customers --add-config min.insync.replicas=2"}},
		{name: "another replication factor than asked for", settings: kafkabus.TopicSettings{Partitions: 4, ReplicationFactor: 3},
			existing: map[string]int32{"orderflow.customers": 4},
			configs:  map[string]map[string]string{"orderflow.customers": {"retention.ms": "-1"}},
			says:     []string{"topic orderflow.customers has 1 replicas, not 3 (--kafka-replication-factor)"}},
		{name: "more replicas than brokers", settings: kafkabus.TopicSettings{Partitions: 4, ReplicationFactor: 3},
			says: []string{"create topic orderflow.", "replication factor 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			// Metadata not cached for long: a topic made a moment ago is
			// listed at once.
			cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.MetadataMinAge(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			for topic, n := range tt.existing {
				configs := map[string]*string{}
				for k, v := range tt.configs[topic] {
					configs[k] = str(v)
				}
				if _, err := adm.CreateTopic(ctx, n, 1, configs, topic); err != nil {
					t.Fatal(err)
				}
			}
			var made []string
			for topic := range tt.existing {
				made = append(made, topic)
			}
			waitListed(t, ctx, adm, made...)
			err = kafkabus.EnsureTopics(ctx, cl, tt.settings)
			if len(tt.says) == 0 {
				if err != nil {
					t.Fatalf("EnsureTopics: %v", err)
				}
				checkCreated(t, ctx, adm, tt.settings, tt.existing)
				if err := kafkabus.EnsureTopics(ctx, cl, tt.settings); err != nil {
					t.Fatalf("EnsureTopics again, on what it made: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("EnsureTopics accepted it, want an error saying %q", tt.says)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q\ndoes not say %q", err, s)
				}
			}
			if tt.existing != nil {
				listed, lerr := adm.ListTopics(ctx)
				if lerr != nil {
					t.Fatal(lerr)
				}
				if len(listed) != len(tt.existing) {
					t.Errorf("after the refusal %d topics exist, want only the %d there before", len(listed), len(tt.existing))
				}
			}
		})
	}
}

// checkCreated checks every orderflow topic exists with the settings'
// partitions and, those it created, unlimited retention and
// min.insync.replicas 1 (one broker: replication 1).
func checkCreated(t *testing.T, ctx context.Context, adm *kadm.Client, settings kafkabus.TopicSettings, existing map[string]int32) {
	t.Helper()
	topics := kafkabus.AllTopics()
	details := waitListed(t, ctx, adm, topics...)
	configs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		if n := len(details[topic].Partitions); n != settings.Partitions {
			t.Errorf("%s has %d partitions, want %d", topic, n, settings.Partitions)
		}
		if _, made := existing[topic]; made {
			continue
		}
		rc, err := configs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if got["retention.ms"] != "-1" || got["min.insync.replicas"] != "1" {
			t.Errorf("%s created with retention.ms=%s min.insync.replicas=%s, want -1 and 1", topic, got["retention.ms"], got["min.insync.replicas"])
		}
	}
}

// waitListed returns the topics' details once the broker lists them all:
// a topic created a moment ago reaches the metadata a little later.
func waitListed(t *testing.T, ctx context.Context, adm *kadm.Client, topics ...string) kadm.TopicDetails {
	t.Helper()
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		all := true
		for _, topic := range topics {
			if d, ok := details[topic]; !ok || d.Err != nil || len(d.Partitions) == 0 {
				all = false
			}
		}
		if all {
			return details
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the broker does not list %v: %v", topics, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
