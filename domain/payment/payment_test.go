package payment_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"orderflow/domain/fault"
	"orderflow/domain/order"
	"orderflow/domain/payment"
)

func TestReceive(t *testing.T) {
	paid := payment.Payment{}.Evolve(payment.PaymentReceived{PaymentID: "pay1", OrderID: "o1", AmountCents: 2499})
	tests := []struct {
		name     string
		state    payment.Payment
		total    int64
		amount   int64
		want     []payment.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{
			name: "amount equals the total", total: 2499, amount: 2499,
			want: []payment.Event{payment.PaymentReceived{PaymentID: "pay2", OrderID: "o1", AmountCents: 2499}},
		},
		{name: "one cent short", total: 2499, amount: 2498, wantKind: fault.Invalid},
		{name: "one cent over", total: 2499, amount: 2500, wantKind: fault.Invalid},
		{name: "zero", total: 2499, amount: 0, wantKind: fault.Invalid},
		{name: "negative", total: 2499, amount: -2499, wantKind: fault.Invalid},
		{
			name: "the highest amount", total: payment.MaxAmountCents, amount: payment.MaxAmountCents,
			want: []payment.Event{payment.PaymentReceived{PaymentID: "pay2", OrderID: "o1", AmountCents: payment.MaxAmountCents}},
		},
		{name: "one cent past the highest, equal to an old total", total: payment.MaxAmountCents + 1, amount: payment.MaxAmountCents + 1, wantErr: payment.ErrBadAmount, wantKind: fault.Invalid},
		{name: "negative, equal to a total that wrapped", total: -446744073709551616, amount: -446744073709551616, wantErr: payment.ErrBadAmount, wantKind: fault.Invalid},
		{name: "zero, equal to the total", total: 0, amount: 0, wantErr: payment.ErrBadAmount, wantKind: fault.Invalid},
		{
			name: "the lowest amount", total: 1, amount: 1,
			want: []payment.Event{payment.PaymentReceived{PaymentID: "pay2", OrderID: "o1", AmountCents: 1}},
		},
		{name: "already received", state: paid, total: 2499, amount: 2499, wantErr: payment.ErrAlreadyPaid, wantKind: fault.Conflict},
		{name: "already received, wrong amount too", state: paid, total: 2499, amount: 1, wantErr: payment.ErrAlreadyPaid, wantKind: fault.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := payment.Receive(tt.state, "pay2", "o1", tt.total, tt.amount)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !(len(got) == 0 && len(tt.want) == 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestReceiveThenEvolve(t *testing.T) {
	var p payment.Payment
	events, err := payment.Receive(p, "pay1", "o1", 700, 700)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		p = p.Evolve(e)
	}
	if want := (payment.Payment{Received: true, PaymentID: "pay1", AmountCents: 700}); p != want {
		t.Fatalf("state = %+v, want %+v", p, want)
	}
	if _, err := payment.Receive(p, "pay2", "o1", 700, 700); !errors.Is(err, payment.ErrAlreadyPaid) {
		t.Errorf("second payment: err %v, want ErrAlreadyPaid", err)
	}
}

func TestSentinelKinds(t *testing.T) {
	if k := fault.KindOf(payment.ErrAlreadyPaid); k != fault.Conflict {
		t.Errorf("KindOf(ErrAlreadyPaid) = %v, want Conflict", k)
	}
	if k := fault.KindOf(fmt.Errorf("pay: %w", payment.ErrAlreadyPaid)); k != fault.Conflict {
		t.Errorf("KindOf(wrapped ErrAlreadyPaid) = %v, want Conflict", k)
	}
	if payment.MaxAmountCents != order.MaxTotalCents {
		t.Errorf("MaxAmountCents = %d, want the highest order total %d", payment.MaxAmountCents, order.MaxTotalCents)
	}
	if got := payment.StreamID("o1"); got != "payment-o1" {
		t.Errorf("StreamID = %q, want payment-o1", got)
	}
}

func TestRefund(t *testing.T) {
	received := payment.Payment{}.Evolve(payment.PaymentReceived{PaymentID: "pay1", OrderID: "o1", AmountCents: 2499})
	refunded := received.Evolve(payment.PaymentRefunded{PaymentID: "pay1", OrderID: "o1", AmountCents: 2499, Reason: "ORDER_CANCELLED"})
	tests := []struct {
		name    string
		state   payment.Payment
		outcome payment.OrderOutcome
		want    []payment.Event
	}{
		{name: "paid order cancelled", state: received, outcome: payment.OrderCancelled,
			want: []payment.Event{payment.PaymentRefunded{PaymentID: "pay1", OrderID: "o1", AmountCents: 2499, Reason: "ORDER_CANCELLED"}}},
		{name: "payment held for an order that failed", state: received, outcome: payment.OrderFailed,
			want: []payment.Event{payment.PaymentRefunded{PaymentID: "pay1", OrderID: "o1", AmountCents: 2499, Reason: "ORDER_FAILED"}}},
		{name: "order still open", state: received, outcome: payment.OrderOpen},
		{name: "cancelled, never paid", state: payment.Payment{}, outcome: payment.OrderCancelled},
		{name: "failed, never paid", state: payment.Payment{}, outcome: payment.OrderFailed},
		{name: "already refunded", state: refunded, outcome: payment.OrderCancelled},
		{name: "already refunded, told of the failure too", state: refunded, outcome: payment.OrderFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := payment.Refund(tt.state, "o1", tt.outcome)
			if !(len(got) == 0 && len(tt.want) == 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestRefundOnce follows a refund into the state: the money goes back once,
// a second decision records nothing, and a new payment is still refused.
func TestRefundOnce(t *testing.T) {
	p := payment.Payment{}.Evolve(payment.PaymentReceived{PaymentID: "pay1", OrderID: "o1", AmountCents: 700})
	evs := payment.Refund(p, "o1", payment.OrderCancelled)
	if len(evs) != 1 {
		t.Fatalf("refund = %#v, want one PaymentRefunded", evs)
	}
	for _, e := range evs {
		p = p.Evolve(e)
	}
	if want := (payment.Payment{Received: true, PaymentID: "pay1", AmountCents: 700, Refunded: true, RefundedCents: 700}); p != want {
		t.Fatalf("state = %+v, want %+v", p, want)
	}
	if again := payment.Refund(p.Evolve(evs[0]), "o1", payment.OrderCancelled); len(again) != 0 {
		t.Errorf("second refund = %#v, want nothing", again)
	}
	if _, err := payment.Receive(p, "pay2", "o1", 700, 700); !errors.Is(err, payment.ErrAlreadyPaid) {
		t.Errorf("payment after the refund: err %v, want ErrAlreadyPaid", err)
	}
}
