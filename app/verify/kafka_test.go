package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/app/verify"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/inventory"
	"orderflow/events"
)

// record is the record the relay would publish for an event: to its
// family's topic, keyed by its stream's key.
func record(tb testing.TB, e events.Event) *kgo.Record {
	tb.Helper()
	return kafkabus.EventRecord(e)
}

// startBroker is an in-process kfake broker with orderflow's topics.
func startBroker(tb testing.TB, ctx context.Context) []string {
	tb.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	admin, err := kafkabus.NewAdminClient(kafkabus.Plaintext(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if err := kafkabus.EnsureTopics(ctx, admin, kafkabus.TopicSettings{Partitions: 6}); err != nil {
		tb.Fatal(err)
	}
	return brokers
}

// produce writes the records; each gets the partition and offset the
// broker gave it.
func produce(tb testing.TB, ctx context.Context, brokers []string, rs []*kgo.Record) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		tb.Fatalf("produce: %v", err)
	}
}

// TestVerifyKafka drives `orderflow verify --kafka-brokers` against an
// in-process broker holding a realistic history in the relay's wire format:
// a clean history, with redeliveries and with records in the topics verify
// must not read, holds (exit 0); the same with a second event planted at a
// stream's version and a record that is no event is broken (exit 1), and
// the report names the stream, both events and the record's place.
func TestVerifyKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evs := realisticHistory(t, 5000, 11)
	var rs []*kgo.Record
	for _, e := range evs {
		rs = append(rs, record(t, e))
	}
	for _, e := range evs[1000:1100] { // the relay publishes again after a crash
		rs = append(rs, record(t, e))
	}
	// Not family topics: verify must not read them (they hold no events
	// of their own, and these are not events at all).
	for _, topic := range []string{"orderflow.orders-by-product", kafkabus.CommandTopic("inventory"), kafkabus.RepliesTopic} {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("not an event")})
	}

	t.Run("clean", func(t *testing.T) {
		brokers := startBroker(t, ctx)
		produce(t, ctx, brokers, rs)

		c := verify.NewChecker(commands.Registry())
		start := time.Now()
		n, err := verify.ReadKafka(ctx, kafkabus.Plaintext(brokers...), c)
		if err != nil {
			t.Fatal(err)
		}
		rep := c.Report()
		elapsed := time.Since(start)
		t.Logf("Kafka path: %d records in %v (%.0f records/s), %s", n, elapsed, float64(n)/elapsed.Seconds(), verify.Summary(rep, elapsed))
		if n != int64(len(evs)+100) || rep.Events != len(evs) || rep.Duplicates != 100 || !rep.Holds() {
			t.Fatalf("read %d records, %d events, %d duplicates, holds %v; want %d, %d, 100 and true:\n%s",
				n, rep.Events, rep.Duplicates, rep.Holds(), len(evs)+100, len(evs), printed(rep))
		}

		var out, errb bytes.Buffer
		code := verify.Main(ctx, []string{"--kafka-brokers", strings.Join(brokers, ",")}, noEnv, &out, &errb)
		if code != verify.ExitHolds || !strings.Contains(out.String(), "5 invariants hold") {
			t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
	})

	t.Run("transactions", func(t *testing.T) {
		// Split, the contexts that scale out decide in Kafka transactions:
		// a fenced member's aborted decision is never read, and a partition
		// may end with the marker of a committed transaction.
		brokers := startBroker(t, ctx)
		produce(t, ctx, brokers, rs)
		tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("verify-test"))
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		inTransaction := func(commit kgo.TransactionEndTry, rs ...*kgo.Record) {
			t.Helper()
			if err := tx.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := tx.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := tx.EndTransaction(ctx, commit); err != nil {
				t.Fatal(err)
			}
		}
		aborted := conflicting(evs)
		inTransaction(kgo.TryAbort, record(t, aborted))
		inTransaction(kgo.TryCommit, record(t, evs[len(evs)-1]), record(t, evs[len(evs)-2]))

		c := verify.NewChecker(commands.Registry())
		n, err := verify.ReadKafka(ctx, kafkabus.Plaintext(brokers...), c)
		if err != nil {
			t.Fatal(err)
		}
		if rep := c.Report(); n != int64(len(evs)+102) || rep.Events != len(evs) || rep.Duplicates != 102 || !rep.Holds() {
			t.Fatalf("read %d records, %d events, %d duplicates, holds %v; want %d, %d, 102 and true:\n%s",
				n, rep.Events, rep.Duplicates, rep.Holds(), len(evs)+102, len(evs), printed(rep))
		}
	})

	t.Run("broken", func(t *testing.T) {
		brokers := startBroker(t, ctx)
		// A member that lost its partitions without stopping published a
		// decision of its own at a version the new owner also wrote.
		planted := conflicting(evs)
		taken := evs[slices.IndexFunc(evs, func(e events.Event) bool {
			return e.StreamID == planted.StreamID && e.StreamVersion == planted.StreamVersion
		})]
		garbage := &kgo.Record{Topic: kafkabus.FamilyTopic("inventory"), Key: []byte("x"), Value: []byte(`{"id": "half`)}
		produce(t, ctx, brokers, append(append(rs[:len(rs):len(rs)], record(t, planted)), garbage))
		g := garbage // the producer set its partition and offset

		var out, errb bytes.Buffer
		code := verify.Main(ctx, []string{"--kafka-brokers", strings.Join(brokers, ",")}, noEnv, &out, &errb)
		if code != verify.ExitBroken {
			t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
		for _, want := range []string{
			fmt.Sprintf("stream %s has 2 different events at version %d: %s (StockReserved) and planted-1 (StockReserved)",
				taken.StreamID, taken.StreamVersion, taken.ID),
			fmt.Sprintf("orderflow.inventory partition %d offset %d: decode event record", g.Partition, g.Offset),
			"BROKEN 1. every stream is linear",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("stdout does not say %q:\n%s", want, out.String())
			}
		}
		if !strings.HasPrefix(taken.StreamID, inventory.StreamID("")) {
			t.Fatalf("planted in %s, want a stock stream", taken.StreamID)
		}
	})
}

// conflicting is another decision at the version of a stock stream where
// the history has a reservation: what a second writer of the stream would
// have published.
func conflicting(evs []events.Event) events.Event {
	i := slices.IndexFunc(evs, func(e events.Event) bool { return e.Type == "StockReserved" && e.StreamVersion > 1 })
	planted := evs[i]
	planted.ID = "planted-1"
	planted.Data = json.RawMessage(fmt.Sprintf(`{"productId":%q,"orderId":"elsewhere","quantity":1}`, commands.StreamKey(planted.StreamID)))
	return planted
}

// TestVerifyKafkaNoDeployment: brokers without orderflow's topics are not a
// history that holds; verify says so and checks nothing (exit 2).
func TestVerifyKafkaNoDeployment(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := verify.Main(ctx, []string{"--kafka-brokers", cluster.ListenAddrs()[0]}, noEnv, &out, &errb)
	if code != verify.ExitUsage || !strings.Contains(errb.String(), "orderflow.orders") || !strings.Contains(errb.String(), "do not exist") {
		t.Fatalf("exit %d, want 2 naming the missing topics; stderr: %s", code, errb.String())
	}
}

func noEnv(string) string { return "" }

func printed(rep verify.Report) string {
	var b bytes.Buffer
	verify.Print(&b, rep, 10, time.Second)
	return b.String()
}
