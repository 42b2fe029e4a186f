package commands_test

import (
	"context"
	"math"
	"testing"

	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// TestLanesForgetAnAbortedTransaction: a context that decides in Kafka
// transactions stages its lanes' decisions in an outbox; when the
// transaction aborts they are dropped, ForgetLanes is called and the
// records come again. Every lane must then decide them again from the log,
// not answer from what it held in memory (which holds the dropped
// decisions): an order stayed PENDING after a broker outage because the
// order process did.
func TestLanesForgetAnAbortedTransaction(t *testing.T) {
	lines := []order.Line{{ProductID: "p", Quantity: 1, UnitPriceCents: 100}}
	placed := order.OrderPlaced{OrderID: "o1", CustomerID: "c", Lines: lines, TotalCents: 100}
	for _, tt := range []struct {
		context string
		log     []logged // in the log; the last one is delivered
		staged  string   // the stream the lane stages on
		want    string   // the type the lane stages, each time
	}{
		{
			context: commands.ContextOrders,
			log: []logged{
				{order.StreamID("o1"), placed},
				{inventory.StreamID("p"), inventory.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 1}},
				{fraud.StreamID("c"), fraud.FraudCheckPassed{CustomerID: "c", OrderID: "o1", TotalCents: 100}},
				{customercheck.StreamID("o1"), customercheck.CustomerCheckPassed{OrderID: "o1", CustomerID: "c"}},
			},
			staged: order.StreamID("o1"),
			want:   "OrderValidated",
		},
		{
			context: commands.ContextPayments,
			log: []logged{
				{order.StreamID("o1"), placed},
				{payment.StreamID("o1"), payment.PaymentReceived{PaymentID: "pay", OrderID: "o1", AmountCents: 100}},
				{order.StreamID("o1"), order.OrderCancelled{OrderID: "o1", Lines: lines}},
			},
			staged: payment.StreamID("o1"),
			want:   "PaymentRefunded",
		},
	} {
		t.Run(tt.context, func(t *testing.T) {
			ctx := context.Background()
			_, store, reg := commands.OpenTestStore(t)
			h := commands.New(store, reg, nil, commands.Config{})
			var last events.Delivery
			for _, l := range tt.log {
				evs, err := reg.Encode(events.Metadata{CorrelationID: "o1"}, l.payload)
				if err != nil {
					t.Fatal(err)
				}
				stored, err := store.Append(ctx, events.StreamAppend{StreamID: l.stream, ExpectedVersion: events.AnyVersion, Events: evs})
				if err != nil {
					t.Fatal(err)
				}
				last = events.Delivery{Event: stored[0], Payload: l.payload, Key: "o1"}
			}
			var lane events.BatchHandler // as the consumer runs it
			for _, spec := range h.Consumers() {
				if spec.Name == string(commands.Lookup(tt.context).Reaction.Name) {
					lane = spec.NewLane(0, math.MaxInt64)
				}
			}
			for round := 1; round <= 2; round++ {
				// A fresh outbox each round: the first round's transaction
				// aborted and its decisions are gone.
				stage := kafkabus.NewStage(tt.context, store)
				h.UseOutbox(tt.context, stage)
				if _, err := lane.HandleBatch(ctx, []events.Delivery{last}); err != nil {
					t.Fatal(err)
				}
				staged := stage.Pending(tt.staged, 0)
				if len(staged) != 1 || staged[0].Type != tt.want {
					t.Fatalf("round %d: staged %v, want one %s", round, staged, tt.want)
				}
				h.ForgetLanes()
			}
		})
	}
}

// logged is an event of a test's log: its stream and payload.
type logged struct {
	stream  string
	payload events.Payload
}
