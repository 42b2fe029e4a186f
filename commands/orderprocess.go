package commands

import (
	"context"
	"time"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// orderProcessReaction is the process manager of an order, the single
// writer of its stream in the asynchronous flow: it gathers the validation
// results (one per line from inventory, one each from fraud and the customer
// check), validates or fails the order, and applies a payment once the
// order is validated. Everything is keyed by order, so one lane sees an
// order's placement, results and payment in log order.
var orderProcessReaction = Reaction{
	Name: "order-process",
	Input: []events.Payload{order.OrderPlaced{},
		inventory.StockReserved{}, inventory.StockReservationRejected{},
		fraud.FraudCheckPassed{}, fraud.FraudCheckFailed{},
		customercheck.CustomerCheckPassed{}, customercheck.CustomerCheckFailed{},
		payment.PaymentReceived{}},
	Route: byOrder,
	// The talk's order-validations topic: the results keyed by order, so
	// that the member of the orders group that owns an order sees them all.
	Rekey:     &Rekey{Topic: "order-validations", Families: []string{ContextInventory, ContextFraud, ContextCustomerCheck}},
	Validates: true,
	Lane: func(h *Handlers, startHead int64) events.BatchHandler {
		return &orderLane{h: h, startHead: startHead, orders: newLRU[*orderProcess](laneCacheLimit)}
	},
}

// orderLane owns the order streams of its orders in the asynchronous flow.
type orderLane struct {
	h         *Handlers
	startHead int64
	orders    *lru[*orderProcess] // by order id
}

// orderProcess is what the process knows of one order.
type orderProcess struct {
	order   order.Order
	version int64
	results []order.CheckResult
	payment payment.Payment
}

// has reports whether the result was recorded already.
func (p *orderProcess) has(r order.CheckResult) bool {
	for _, x := range p.results {
		if x == r {
			return true
		}
	}
	return false
}

func (l *orderLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	var validated []time.Time // placement times of the orders this batch validates
	redelivered, err := b.decideEach(ctx, batch, l.orders.remove, func(d events.Delivery) (decision, error) {
		return l.decide(ctx, b, d, &validated)
	})
	if err != nil {
		return 0, err
	}
	if l.h.observeValidated != nil {
		now := l.h.now()
		for _, at := range validated {
			l.h.observeValidated(now.Sub(at))
		}
	}
	l.orders.trim()
	return redelivered, nil
}

// decide lets an order take in one result or payment, and then decide.
func (l *orderLane) decide(ctx context.Context, b *batch, d events.Delivery, validated *[]time.Time) (decision, error) {
	id, ok := order.IDOf(d.Payload)
	if !ok {
		return decision{}, nil
	}
	p, err := l.load(ctx, id, d)
	if err != nil {
		return decision{}, err
	}
	dec := decision{key: id}
	switch e := d.Payload.(type) {
	case order.OrderPlaced:
		if p.order.Exists() {
			return dec, nil // it only introduces the order
		}
		// Split into services, results may reach the lane before the
		// placement they answer (another topic, another partition's pace):
		// the order they waited for is here now.
		p.order, p.version = p.order.Evolve(e), d.Event.StreamVersion
	case payment.PaymentReceived:
		dec.redelivered = p.payment.Received
		p.payment = p.payment.Evolve(e)
	default:
		// A result already known (read from the log with the order, or
		// redelivered) still lets the order decide: loading may have
		// brought results this lane had not handled yet.
		if _, r, ok := order.ResultOf(e); ok {
			if p.has(r) {
				dec.redelivered = true
			} else {
				p.results = append(p.results, r)
			}
		}
	}
	evs := order.Evaluate(p.order, p.results, l.h.now())
	p.apply(evs)
	if p.order.Status == order.Validated && len(evs) > 0 {
		*validated = append(*validated, p.order.PlacedAt)
	}
	if p.payment.Received {
		paid := order.ApplyPayment(p.order, p.payment.PaymentID, p.payment.AmountCents)
		p.apply(paid)
		evs = append(evs, paid...)
	}
	return dec, b.add(order.StreamID(id), p.version-int64(len(evs)), d.Event, payloads(evs))
}

func (p *orderProcess) apply(evs []order.Event) {
	for _, e := range evs {
		p.order = p.order.Evolve(e)
	}
	p.version += int64(len(evs))
}

// load returns what the process knows of an order. A placement after the
// start of this run introduces a new order: nothing else can be known of it
// yet. Otherwise (an order from before, or one forgotten) the order's
// events, its results and its payment are read from the log; they all carry
// the order's correlation id.
func (l *orderLane) load(ctx context.Context, orderID string, d events.Delivery) (*orderProcess, error) {
	if p, ok := l.orders.get(orderID); ok {
		return p, nil
	}
	p := &orderProcess{}
	if placed, ok := d.Payload.(order.OrderPlaced); ok && d.Event.Position > l.startHead {
		p.order = p.order.Evolve(placed)
		p.version = d.Event.StreamVersion
		l.orders.put(orderID, p)
		return p, nil
	}
	related, err := l.h.store.ReadCorrelated(ctx, d.Event.CorrelationID)
	if err != nil {
		return nil, err
	}
	stream := order.StreamID(orderID)
	for _, e := range related {
		pl, err := l.h.reg.Decode(e)
		if err != nil {
			return nil, err
		}
		switch {
		case e.StreamID == stream:
			p.order = p.order.Evolve(pl)
			p.version = e.StreamVersion
		case e.StreamID == payment.StreamID(orderID):
			p.payment = p.payment.Evolve(pl)
		default:
			if id, r, ok := order.ResultOf(pl); ok && id == orderID {
				p.results = append(p.results, r)
			}
		}
	}
	l.orders.put(orderID, p)
	return p, nil
}
