package order_test

import (
	"testing"
	"time"

	"orderflow/domain/order"
)

func TestExpire(t *testing.T) {
	d := order.Deadlines{Validation: time.Minute, Payment: 24 * time.Hour}
	validatedAt := now.Add(10 * time.Second)
	validated := func(at time.Time) order.Order {
		return in(order.Pending).Evolve(order.OrderValidated{OrderID: "o1", ValidatedAt: at})
	}
	timedOut := []order.Event{order.OrderFailed{OrderID: "o1", Reason: order.ReasonValidationTimeout, Lines: placedLines}}
	unpaid := []order.Event{order.OrderCancelled{OrderID: "o1", Reason: order.ReasonPaymentTimeout, Lines: placedLines}}
	tests := []struct {
		name  string
		state order.Order
		d     order.Deadlines
		now   time.Time
		want  []order.Event
	}{
		{"pending, before its deadline", in(order.Pending), d, now.Add(59 * time.Second), nil},
		{"pending, at its deadline", in(order.Pending), d, now.Add(time.Minute), timedOut},
		{"pending, long past it (the server was down)", in(order.Pending), d, now.Add(72 * time.Hour), timedOut},
		{"pending, validation deadline off", in(order.Pending), order.Deadlines{Payment: time.Hour}, now.Add(72 * time.Hour), nil},
		{"validated, its payment deadline runs from validation", validated(validatedAt), d, now.Add(24 * time.Hour), nil},
		{"validated, at its payment deadline", validated(validatedAt), d, validatedAt.Add(24 * time.Hour), unpaid},
		{"validated, past the validation deadline only", validated(validatedAt), d, now.Add(2 * time.Minute), nil},
		{"validated by a version 1 event: from placement", validated(time.Time{}), d, now.Add(24 * time.Hour), unpaid},
		{"validated, payment deadline off", validated(validatedAt), order.Deadlines{Validation: time.Minute}, now.Add(72 * time.Hour), nil},
		{"never placed", in(""), d, now.Add(72 * time.Hour), nil},
	}
	for _, s := range []order.Status{order.Paid, order.Shipped, order.Failed, order.Cancelled} {
		tests = append(tests, struct {
			name  string
			state order.Order
			d     order.Deadlines
			now   time.Time
			want  []order.Event
		}{"no deadline runs for " + string(s), in(s), d, now.Add(72 * time.Hour), nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := order.Expire(tt.state, tt.d, tt.now)
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestExpireRacesOneOutcome follows a deadline and a payment racing for a
// VALIDATED order: whichever the stream takes first decides, and the other
// then finds nothing to do.
func TestExpireRacesOneOutcome(t *testing.T) {
	d := order.Deadlines{Validation: time.Minute, Payment: time.Hour}
	late := now.Add(2 * time.Hour)
	o := in(order.Pending).Evolve(order.OrderValidated{OrderID: "o1", ValidatedAt: now})

	paidFirst := o
	for _, e := range order.ApplyPayment(paidFirst, "pay1", 2499) {
		paidFirst = paidFirst.Evolve(e)
	}
	if evs := order.Expire(paidFirst, d, late); len(evs) != 0 {
		t.Errorf("expiry after the payment = %#v, want nothing", evs)
	}

	expiredFirst := o
	for _, e := range order.Expire(expiredFirst, d, late) {
		expiredFirst = expiredFirst.Evolve(e)
	}
	if expiredFirst.Status != order.Cancelled {
		t.Fatalf("status after the expiry = %s, want CANCELLED", expiredFirst.Status)
	}
	if evs := order.ApplyPayment(expiredFirst, "pay1", 2499); len(evs) != 0 {
		t.Errorf("payment after the expiry = %#v, want nothing (it is refunded by payments)", evs)
	}
	if err := order.CanBePaid(expiredFirst); err == nil {
		t.Error("payOrder on an expired order is accepted, want CONFLICT")
	}

	// A validation racing the validation deadline: one outcome too.
	pending := in(order.Pending)
	for _, e := range order.Expire(pending, d, now.Add(time.Minute)) {
		pending = pending.Evolve(e)
	}
	all := []order.CheckResult{{Check: order.CheckInventory, ProductID: "p1", Passed: true},
		{Check: order.CheckInventory, ProductID: "p2", Passed: true}, {Check: order.CheckFraud, Passed: true}, {Check: order.CheckCustomer, Passed: true}}
	if evs := order.Evaluate(pending, all, now.Add(time.Minute)); len(evs) != 0 {
		t.Errorf("validation after the validation timeout = %#v, want nothing", evs)
	}
}

func TestValidatedAtIsKept(t *testing.T) {
	o := in(order.Pending).Evolve(order.OrderValidated{OrderID: "o1", ValidatedAt: now})
	if !o.ValidatedAt.Equal(now) {
		t.Errorf("ValidatedAt = %v, want %v", o.ValidatedAt, now)
	}
}
