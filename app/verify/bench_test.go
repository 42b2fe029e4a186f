package verify_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/app/verify"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
)

// BenchmarkCheck checks a realistic history of 200,000 events (a shop's
// day decided by the domain, see realisticHistory) and reports events/s:
// payload decoding, the folds and the five invariants.
//
//	go test -run xxx -bench Check -benchtime 5x ./app/verify/
func BenchmarkCheck(b *testing.B) {
	evs := realisticHistory(b, 200_000, 42)
	reg := commands.Registry()
	b.ReportAllocs()
	for b.Loop() {
		if rep := verify.Check(evs, reg); !rep.Holds() {
			b.Fatalf("the history breaks %d invariants", rep.Broken())
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadKafka reads the same 200,000-event history from the family
// topics of an in-process kfake broker, in the relay's wire format, and
// checks it: the whole Kafka path of `orderflow verify --kafka-brokers`
// (fetching, decoding the envelopes and the payloads, the invariants).
//
//	go test -run xxx -bench ReadKafka -benchtime 3x ./app/verify/
func BenchmarkReadKafka(b *testing.B) {
	ctx := context.Background()
	evs := realisticHistory(b, 200_000, 42)
	brokers := startBroker(b, ctx)
	rs := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		rs[i] = record(b, e)
	}
	produce(b, ctx, brokers, rs)
	reg := commands.Registry()
	for b.Loop() {
		c := verify.NewChecker(reg)
		n, err := verify.ReadKafka(ctx, kafkabus.Plaintext(brokers...), c)
		if err != nil {
			b.Fatal(err)
		}
		if rep := c.Report(); n != int64(len(evs)) || !rep.Holds() {
			b.Fatalf("read %d records of %d, holds %v", n, len(evs), rep.Holds())
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
