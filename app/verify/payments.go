package verify

import (
	"fmt"

	"orderflow/domain/order"
	"orderflow/domain/payment"
)

// Invariant 5: every payment received is matched or refunded, as the
// order's outcome calls for. payOrder takes at most one payment per order
// (payment-<orderId>); the order process applies it as OrderPaid once the
// order is VALIDATED (order.ApplyPayment), and the payments reaction gives
// it back, whole and once, when the order ends CANCELLED or FAILED
// (payment.Refund), also when it was PAID before it was cancelled. So, at
// the end: a payment of a CANCELLED or FAILED order is refunded once for
// its amount; a payment of any other order is the order's OrderPaid (same
// payment id and amount) and is not refunded; every OrderPaid names a
// payment received, and every refund one of the stream's payments.

type receivedAt struct {
	at
	payment.PaymentReceived
}

type refundedAt struct {
	at
	payment.PaymentRefunded
}

func (h history) checkPayments(orders orderBook) []Violation {
	var vs []Violation
	receivedIDs := map[string]map[string]bool{} // order id → payment ids received
	for _, s := range h.families[payment.StreamID("")] {
		var received []receivedAt
		var refunds []refundedAt
		for _, e := range s.entries {
			switch p := e.payload.(type) {
			case payment.PaymentReceived:
				received = append(received, receivedAt{atEntry(s.id, e), p})
			case payment.PaymentRefunded:
				refunds = append(refunds, refundedAt{atEntry(s.id, e), p})
			}
		}
		if len(received) == 0 && len(refunds) == 0 {
			continue
		}
		f, placed := orders.placedOrder(s.key)
		if !placed {
			var all []at
			for _, r := range received {
				all = append(all, r.at)
			}
			for _, r := range refunds {
				all = append(all, r.at)
			}
			vs = append(vs, violation(fmt.Sprintf("%s is for order %s, which was never placed: %s", s.id, s.key, joinAt(all)), all...))
			continue
		}
		ids := map[string]bool{}
		receivedIDs[s.key] = ids
		if len(received) > 1 {
			all := make([]at, len(received))
			for i, r := range received {
				all[i] = r.at
			}
			vs = append(vs, violation(fmt.Sprintf("order %s received %d payments (one is taken per order): %s", s.key, len(received), joinAt(all)), all...))
		}
		for _, r := range received {
			ids[r.PaymentID] = true
			vs = append(vs, checkPayment(s.key, f, r, refunds)...)
		}
		for _, rf := range refunds {
			if !ids[rf.PaymentID] {
				vs = append(vs, violation(fmt.Sprintf("order %s: %s refunds payment %s, which was never received", s.key, rf.at, rf.PaymentID), rf.at))
			}
		}
	}
	for _, id := range orders.ids {
		for _, p := range orders.byID[id].paid {
			if !receivedIDs[id][p.PaymentID] {
				vs = append(vs, violation(fmt.Sprintf("order %s: %s names payment %s, which %s never received",
					id, p.at, p.PaymentID, payment.StreamID(id)), p.at))
			}
		}
	}
	return vs
}

// checkPayment checks one payment received against its order's outcome.
func checkPayment(orderID string, f *orderFacts, r receivedAt, refunds []refundedAt) []Violation {
	var vs []Violation
	var mine []refundedAt
	for _, rf := range refunds {
		if rf.PaymentID == r.PaymentID {
			mine = append(mine, rf)
			if rf.AmountCents != r.AmountCents {
				vs = append(vs, violation(fmt.Sprintf("order %s: %s gives back %d cents of payment %s, which took %d (%s)",
					orderID, rf.at, rf.AmountCents, r.PaymentID, r.AmountCents, r.at), r.at, rf.at))
			}
		}
	}
	var paid []paidAt
	for _, p := range f.paid {
		if p.PaymentID == r.PaymentID {
			paid = append(paid, p)
			if p.AmountCents != r.AmountCents {
				vs = append(vs, violation(fmt.Sprintf("order %s: %s says %d cents, but payment %s took %d (%s)",
					orderID, p.at, p.AmountCents, r.PaymentID, r.AmountCents, r.at), r.at, p.at))
			}
		}
	}
	status := f.order.Status
	switch {
	case len(mine) > 1:
		all := []at{r.at}
		for _, rf := range mine {
			all = append(all, rf.at)
		}
		vs = append(vs, violation(fmt.Sprintf("order %s: payment %s refunded %d times: %s", orderID, r.PaymentID, len(mine), joinAt(all[1:])), all...))
	case status == order.Cancelled || status == order.Failed:
		if len(mine) == 0 {
			vs = append(vs, violation(fmt.Sprintf("order %s is %s, but its payment %s (%s) was not refunded",
				orderID, status, r.PaymentID, r.at), f.placed, r.at))
		}
	case len(mine) == 1:
		vs = append(vs, violation(fmt.Sprintf("order %s is %s, but its payment %s (%s) was refunded (%s)",
			orderID, status, r.PaymentID, r.at, mine[0].at), r.at, mine[0].at))
	case len(paid) == 0:
		vs = append(vs, violation(fmt.Sprintf("order %s is %s: its payment %s (%s) is neither its OrderPaid nor refunded",
			orderID, status, r.PaymentID, r.at), f.placed, r.at))
	}
	return vs
}
