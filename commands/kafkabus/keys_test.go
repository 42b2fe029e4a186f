package kafkabus_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus"
	"orderflow/events"
)

// TestKeysPublishGivesUpWithTheBrokerAway: a key made while the broker is
// away is not used, and its maker is answered once the wait for the
// broker ends (before, it waited for ever); forgetting a subject likewise.
// (That the same key is published at its next use is
// events.TestAKeyNotConfirmedPublishedIsPublishedAgainBeforeItsNextUse.)
func TestKeysPublishGivesUpWithTheBrokerAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, fake, cluster := logAndBroker(t, func(admin *kgo.Client) error {
		return kafkabus.EnsureKeysTopic(ctx, admin, kafkabus.TopicSettings{Partitions: 1})
	})
	ring := events.NewKeyring(db)
	run, stop := context.WithCancel(ctx)
	defer stop()
	if _, err := kafkabus.StartKeys(ctx, run, cluster, ring, events.NewRegistry(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.KeyFor("customer-1"); err != nil {
		t.Fatalf("a key made with the broker there: %v", err)
	}

	// The broker goes away. The keyring waits for it a bounded time
	// (publishWait); the test bounds each call to a short wait itself.
	publish := ring.Published
	var waits []time.Duration
	ring.Published = func(ctx context.Context, subject string, key []byte) error {
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := publish(short, subject, key)
		waits = append(waits, time.Since(start))
		return err
	}
	fake.Close()
	if key, err := ring.KeyFor("customer-2"); err == nil || key != nil {
		t.Fatalf("a key made with the broker away: %x, %v; want none and an error", key, err)
	}
	if err := ring.Forget(ctx, "customer-1", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("forgetting with the broker away: %v; want the wait's end", err)
	}
	for _, w := range waits {
		if w > 5*time.Second {
			t.Fatalf("a publication with the broker away took %s once its context ended", w)
		}
	}
	if len(waits) != 2 {
		t.Fatalf("%d publications tried, want 2", len(waits))
	}
}
