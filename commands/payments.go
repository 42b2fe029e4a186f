package commands

import (
	"context"

	"orderflow/domain/bounds"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// PayOrder records a payment for an order. The order must exist and may be
// PENDING (the payment is held until it validates) or VALIDATED; the amount
// must equal its total. The orders context turns it into OrderPaid.
func (h *Handlers) PayOrder(ctx context.Context, orderID string, amountCents int64, md events.Metadata) (Result, error) {
	if err := bounds.CheckID("orderId", orderID); err != nil {
		return Result{}, err
	}
	var res Result
	err := retry(ctx, func() error {
		o, ol, err := h.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if err := order.CanBePaid(o); err != nil {
			return err
		}
		p, pl, err := h.loadPayment(ctx, orderID)
		if err != nil {
			return err
		}
		evs, err := payment.Receive(p, events.NewID(), orderID, o.TotalCents, amountCents)
		if err != nil {
			return err
		}
		last, err := h.appendAll(ctx, withCorrelation(md, ol.correlation), pending{payment.StreamID(orderID), pl.version, payloads(evs)})
		res = Result{ID: orderID, Position: last.Position, EventID: last.ID}
		return err
	})
	return res, err
}

func (h *Handlers) loadPayment(ctx context.Context, orderID string) (payment.Payment, loaded, error) {
	var p payment.Payment
	l, err := h.load(ctx, payment.StreamID(orderID), func(e events.Payload) { p = p.Evolve(e) })
	return p, l, err
}

// paymentsContext declares the payments context: the money of an order.
var paymentsContext = Context{
	Name:     ContextPayments,
	Streams:  payment.StreamID(""),
	Events:   current(payment.PaymentReceived{}, payment.PaymentRefunded{}),
	Commands: []CommandName{CmdPayOrder},
	// payOrder reads the order it pays: split, from this context's copy,
	// caught up before the command is carried out.
	Copies:    []string{ContextOrders},
	ScalesOut: true,
	Reaction:  &paymentsReaction,
}

// paymentsReaction is the payments context's reaction, the single writer of
// payment-<orderId> in the asynchronous flow: the money of an order that
// ended unfulfilled goes back. Keyed by order, so one lane sees an order's
// cancellation or failure and its payment in log order, whichever came
// first: a payment that raced cancelOrder (payOrder checked the order, then
// the cancel was appended before the order process could apply the
// payment) is refunded when it arrives, and a PAID order cancelled later is
// refunded when the cancellation arrives. The outcome is the order
// stream's: both the cancel and OrderPaid are appended to it with expected
// versions, so exactly one story of the order is told there.
var paymentsReaction = Reaction{
	Name:  "payments",
	Input: []events.Payload{order.OrderPlaced{}, order.OrderCancelled{}, order.OrderFailed{}, payment.PaymentReceived{}},
	Route: byOrder,
	Lane: func(h *Handlers, startHead int64) events.BatchHandler {
		return &paymentLane{h: h, startHead: startHead, orders: newLRU[*paymentState](laneCacheLimit)}
	},
}

// paymentLane owns the payment streams of its orders in the asynchronous flow.
type paymentLane struct {
	h         *Handlers
	startHead int64
	orders    *lru[*paymentState]
}

// paymentState is what the payments context knows of one order.
type paymentState struct {
	payment payment.Payment
	version int64 // of the payment stream
	outcome payment.OrderOutcome
	// answered is the position of the event that caused the stream's last
	// refund: deliveries reach the lane in log order, so one at or below
	// it was answered already.
	answered int64
}

func (l *paymentLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	redelivered, err := b.decideEach(ctx, batch, l.orders.remove, func(d events.Delivery) (decision, error) {
		return l.decide(ctx, b, d)
	})
	if err == nil {
		l.orders.trim()
	}
	return redelivered, err
}

// decide refunds what an order's outcome calls for, once.
func (l *paymentLane) decide(ctx context.Context, b *batch, d events.Delivery) (decision, error) {
	id, ok := order.IDOf(d.Payload)
	if !ok {
		return decision{}, nil
	}
	s, err := l.load(ctx, id, d)
	if err != nil || s == nil { // nil: a placement from before this run, nothing to know yet
		return decision{}, err
	}
	// A retried dead letter was never answered, however old it is.
	if l.h.answeredBefore(ContextPayments, d, s.answered) {
		return decision{key: id, redelivered: true}, nil
	}
	// Each fact is applied so that applying it again is harmless: a
	// state read from the log may already hold it.
	switch e := d.Payload.(type) {
	case order.OrderCancelled:
		s.outcome = payment.OrderCancelled
	case order.OrderFailed:
		if s.outcome == payment.OrderOpen {
			s.outcome = payment.OrderFailed
		}
	case payment.PaymentReceived:
		s.payment = s.payment.Evolve(e)
		s.version = max(s.version, d.Event.StreamVersion)
	}
	evs := payment.Refund(s.payment, id, s.outcome)
	if len(evs) == 0 {
		return decision{key: id}, nil
	}
	if err := b.add(payment.StreamID(id), s.version, d.Event, payloads(evs)); err != nil {
		return decision{key: id}, err
	}
	for _, e := range evs {
		s.payment = s.payment.Evolve(e)
	}
	s.version += int64(len(evs))
	s.answered = max(s.answered, d.Event.Origin())
	return decision{key: id}, nil
}

// load returns what the lane knows of an order. A placement after the start
// of this run introduces the order with nothing known (a payment needs the
// order to exist, so none can precede it in the log); one from before
// returns nil, the order being read from the log only if something happens
// to it. Otherwise the order's outcome and its payment are read from the
// log.
func (l *paymentLane) load(ctx context.Context, orderID string, d events.Delivery) (*paymentState, error) {
	if s, ok := l.orders.get(orderID); ok {
		return s, nil
	}
	if _, ok := d.Payload.(order.OrderPlaced); ok {
		if d.Event.Position <= l.startHead {
			return nil, nil
		}
		s := &paymentState{}
		l.orders.put(orderID, s)
		return s, nil
	}
	o, _, err := l.h.loadOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	p, pl, err := l.h.loadPayment(ctx, orderID)
	if err != nil {
		return nil, err
	}
	answered, err := l.h.store.CausedThrough(ctx, payment.StreamID(orderID))
	if err != nil {
		return nil, err
	}
	s := &paymentState{payment: p, version: pl.version, outcome: outcomeOf(o), answered: answered}
	l.orders.put(orderID, s)
	return s, nil
}

// outcomeOf is what payments care about of an order's status.
func outcomeOf(o order.Order) payment.OrderOutcome {
	switch o.Status {
	case order.Cancelled:
		return payment.OrderCancelled
	case order.Failed:
		return payment.OrderFailed
	}
	return payment.OrderOpen
}
