package kafkabus_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus"
	"orderflow/events"
	"orderflow/migrations"
)

// logAndBroker opens a log in a temporary directory and starts a one-broker
// kfake cluster, both closed when the test ends (the test may close the
// broker earlier), and lets topics make its topics with an admin client.
func logAndBroker(t *testing.T, topics func(admin *kgo.Client) error) (*events.DB, *kfake.Cluster, kafkabus.Cluster) {
	t.Helper()
	db, err := events.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cluster := kafkabus.Plaintext(fake.ListenAddrs()...)
	admin, err := kafkabus.NewAdminClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := topics(admin); err != nil {
		t.Fatal(err)
	}
	return db, fake, cluster
}

// TestReplicaCatchUpReportsABrokerAwayAsUnavailable: a catch-up that cannot
// reach the broker fails as a dependency being unavailable, which reactions
// retry for as long as it lasts (a broker outage must never turn the event
// being decided into a dead letter), while asking for a family the process
// does not copy is a plain error.
func TestReplicaCatchUpReportsABrokerAwayAsUnavailable(t *testing.T) {
	ctx := context.Background()
	db, cluster, brokers := logAndBroker(t, func(admin *kgo.Client) error {
		return kafkabus.EnsureTopics(ctx, admin, kafkabus.TopicSettings{Partitions: 2})
	})
	r, err := kafkabus.NewReplica(ctx, events.NewStore(db), brokers, 2, []string{"customers"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if err := r.CatchUp(ctx, "customers"); err != nil {
		t.Fatalf("catch-up on an empty topic with the broker up: %v", err)
	}
	if err := r.CatchUp(ctx, "catalog"); err == nil || events.Unavailable(err) {
		t.Errorf("catch-up on a family not copied: %v (unavailable %v), want a plain error", err, events.Unavailable(err))
	}

	cluster.Close()
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = r.CatchUp(wait, "customers")
	if err == nil || !events.Unavailable(err) {
		t.Fatalf("catch-up with the broker gone: %v (unavailable %v), want an unavailable error", err, events.Unavailable(err))
	}
	t.Logf("with the broker gone: %v", err)
}
