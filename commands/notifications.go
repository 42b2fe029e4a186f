package commands

import (
	"context"
	"time"

	"orderflow/domain/customer"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// notificationsContext declares the notifications context, the talk's email
// service.
var notificationsContext = Context{
	Name:    ContextNotifications,
	Streams: notification.StreamID(""),
	// The email and address a confirmation went to are the customer's
	// personal data, sealed under their key.
	Events:    []events.Registration{sealed(notification.NotificationSent{}, "email", "address")},
	Copies:    []string{ContextCustomers, ContextOrders, ContextPayments},
	ScalesOut: true,
	Reaction:  &notificationsReaction,
}

// notificationsReaction is the notifications context (the talk's email
// service): once an order has both OrderValidated and a matching
// PaymentReceived within the join window, in either order, it records
// ORDER_CONFIRMED to the customer's email and address as they stand then.
// Keyed by order, so one lane joins an order's two events and writes its
// notification stream once.
var notificationsReaction = Reaction{
	Name:  "notifications",
	Input: []events.Payload{order.OrderPlaced{}, order.OrderValidated{}, payment.PaymentReceived{}},
	Route: byOrder,
	Lane: func(h *Handlers, startHead int64) events.BatchHandler {
		return &notificationLane{h: h, startHead: startHead, orders: newLRU[*confirmation](laneCacheLimit)}
	},
}

type notificationLane struct {
	h         *Handlers
	startHead int64
	orders    *lru[*confirmation] // by order id
}

// confirmation is what the join of one order knows so far.
type confirmation struct {
	customerID  string
	totalCents  int64
	validatedAt *time.Time
	paidAt      *time.Time
	paidCents   int64
	sent        bool
}

func (l *notificationLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	redelivered, err := b.decideEach(ctx, batch, l.orders.remove, func(d events.Delivery) (decision, error) {
		return l.decide(ctx, b, d)
	})
	if err == nil {
		l.orders.trim() // forgotten orders are read from the log if seen again
	}
	return redelivered, err
}

// decide joins one event of an order into its confirmation, and sends the
// confirmation once both halves are there.
func (l *notificationLane) decide(ctx context.Context, b *batch, d events.Delivery) (decision, error) {
	id, ok := order.IDOf(d.Payload)
	if !ok {
		return decision{}, nil
	}
	c, err := l.load(ctx, id, d)
	if err != nil {
		return decision{}, err
	}
	dec := decision{key: id}
	at := d.Event.OccurredAt
	switch e := d.Payload.(type) {
	case order.OrderPlaced:
		// Split into services, the placement may come after the payment
		// (they travel on different topics): it still says who and how much.
		c.customerID, c.totalCents = e.CustomerID, e.TotalCents
		return dec, nil
	case order.OrderValidated:
		c.validatedAt = &at
	case payment.PaymentReceived:
		c.paidAt, c.paidCents = &at, e.AmountCents
	}
	if c.sent {
		dec.redelivered = true
		return dec, nil
	}
	facts := notification.Facts{ValidatedAt: c.validatedAt, PaidAt: c.paidAt, PaymentMatches: c.paidCents == c.totalCents}
	if facts.ValidatedAt == nil || facts.PaidAt == nil {
		return dec, nil
	}
	// The customer as they stand now: an address changed after the order
	// was placed is where the confirmation goes.
	var cu customer.Customer
	if _, err := l.h.load(ctx, customer.StreamID(c.customerID), func(p events.Payload) { cu = cu.Evolve(p) }); err != nil {
		return dec, err
	}
	gone, err := l.h.forgotten(c.customerID)
	if err != nil {
		return dec, err
	}
	// A forgotten customer is sent nothing: there is no one to send it to.
	if cu.Registered() && !cu.Forgotten && !gone {
		facts.Recipient = &notification.Recipient{CustomerID: cu.ID, Email: cu.Email, Address: cu.Address}
	}
	evs := notification.ConfirmOrder(id, facts, l.h.joinWindow, l.h.now())
	if err := b.add(notification.StreamID(id), 0, d.Event, payloads(evs)); err != nil {
		return dec, err
	}
	c.sent = len(evs) > 0
	return dec, nil
}

// load returns what the join knows of an order: a placement after the start
// of this run introduces it with nothing else known; otherwise its order,
// payment and notification streams are read from the log, in one query.
func (l *notificationLane) load(ctx context.Context, orderID string, d events.Delivery) (*confirmation, error) {
	if c, ok := l.orders.get(orderID); ok {
		return c, nil
	}
	c := &confirmation{}
	if placed, ok := d.Payload.(order.OrderPlaced); ok && d.Event.Position > l.startHead {
		c.customerID, c.totalCents = placed.CustomerID, placed.TotalCents
		l.orders.put(orderID, c)
		return c, nil
	}
	evs, err := l.h.readStreams(ctx, order.StreamID(orderID), payment.StreamID(orderID), notification.StreamID(orderID))
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		p, err := l.h.reg.Decode(e)
		if err != nil {
			return nil, err
		}
		at := e.OccurredAt
		switch p := p.(type) {
		case order.OrderPlaced:
			c.customerID, c.totalCents = p.CustomerID, p.TotalCents
		case order.OrderValidated:
			c.validatedAt = &at
		case payment.PaymentReceived:
			c.paidAt, c.paidCents = &at, p.AmountCents
		case notification.NotificationSent:
			c.sent = true
		}
	}
	l.orders.put(orderID, c)
	return c, nil
}
