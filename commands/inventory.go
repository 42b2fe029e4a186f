package commands

import (
	"context"
	"fmt"

	"orderflow/domain/fault"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
)

// inventoryContext declares the inventory context: addStock from the API,
// and the reaction that reserves, releases and commits stock for orders.
var inventoryContext = Context{
	Name:    ContextInventory,
	Streams: inventory.StreamID(""),
	Events: append(current(inventory.StockAdded{}, inventory.StockReserved{}, inventory.StockReleased{},
		inventory.StockCommitted{}), events.Registration{
		Payload: inventory.StockReservationRejected{},
		Version: inventory.StockReservationRejectedVersion,
		Upcasters: map[int]events.Upcaster{
			1: events.UpcastObject(inventory.UpcastStockReservationRejectedV1),
		},
	}),
	Commands:   []CommandName{CmdAddStock},
	Copies:     []string{ContextCatalog},
	ScalesOut:  true,
	Reaction:   &inventoryReaction,
	Check:      order.CheckInventory,
	ReadModels: []string{"products"},
	Snapshot: func(ctx context.Context, h *Handlers, stream string) ([]byte, int64, error) {
		return h.stock.encoded(ctx, h, stream)
	},
}

// ErrUnknownProduct refuses stock for a product the catalog does not know.
var ErrUnknownProduct = fault.NotFoundf("product not found")

// AddStock puts goods on hand for a known product.
func (h *Handlers) AddStock(ctx context.Context, productID string, quantity int, md events.Metadata) (Result, error) {
	if err := inventory.CheckAdd(productID, quantity); err != nil {
		return Result{}, err
	}
	prices, err := h.catalog.Prices(ctx, []string{productID})
	if err != nil {
		return Result{}, err
	}
	if _, ok := prices[productID]; !ok {
		return Result{}, ErrUnknownProduct
	}
	md = newMetadata(md)
	var res Result
	err = retry(ctx, func() error {
		s, version, err := h.loadStock(ctx, productID)
		if err != nil {
			return err
		}
		evs, err := inventory.Add(s, productID, quantity)
		if err != nil {
			return err
		}
		last, err := h.appendAll(ctx, md, pending{inventory.StreamID(productID), version, payloads(evs)})
		res = Result{ID: productID, Position: last.Position, EventID: last.ID}
		return err
	})
	return res, err
}

// inventoryReaction is the inventory context's reaction: it reserves stock
// for placed orders, releases it for failed or cancelled ones and commits it
// for shipped ones. Orders are re-keyed by product (one delivery per line),
// so every decision about a product is taken by the one lane that owns its
// stock stream, against that stock in memory.
var inventoryReaction = Reaction{
	Name:      "inventory",
	Input:     []events.Payload{order.OrderPlaced{}, order.OrderFailed{}, order.OrderCancelled{}, order.OrderShipped{}},
	Route:     byProduct,
	Rekey:     &Rekey{Topic: "orders-by-product", Families: []string{ContextOrders}},
	Validates: true,
	Lane: func(h *Handlers, _ int64) events.BatchHandler {
		return &inventoryLane{h: h, stocks: newLRU[*stockState](laneCacheLimit)}
	},
}

// byProduct is the repartition step: one delivery per order line, keyed by
// the line's product.
func byProduct(_ events.Event, p events.Payload) []events.Routed {
	var lines []order.Line
	switch p := p.(type) {
	case order.OrderPlaced:
		lines = p.Lines
	case order.OrderFailed:
		lines = p.Lines
	case order.OrderCancelled:
		lines = p.Lines
	case order.OrderShipped:
		lines = p.Lines
	}
	out := make([]events.Routed, len(lines))
	for i, l := range lines {
		out[i] = events.Routed{Key: l.ProductID, Item: l}
	}
	return out
}

// inventoryLane owns the stock streams of its products.
type inventoryLane struct {
	h      *Handlers
	stocks *lru[*stockState] // by product id
}

// stockState is a product's stock as its lane holds it.
type stockState struct {
	stock   inventory.Stock
	version int64
	// answered is the position of the last order event the stream has
	// answered. Order events reach the lane in log order, so one at or
	// below it is a redelivery and is answered with nothing.
	answered int64
}

func (l *inventoryLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	redelivered, err := b.decideEach(ctx, batch, l.stocks.remove, func(d events.Delivery) (decision, error) {
		return l.decide(ctx, b, d)
	})
	if err == nil {
		l.stocks.trim()
	}
	return redelivered, err
}

// decide answers one order line against its product's stock.
func (l *inventoryLane) decide(ctx context.Context, b *batch, d events.Delivery) (decision, error) {
	line, ok := d.Item.(order.Line)
	if !ok {
		return decision{}, fmt.Errorf("inventory: delivery of %s at %d without its line", d.Event.Type, d.Event.Position)
	}
	s, err := l.load(ctx, line.ProductID)
	if err != nil {
		return decision{}, err
	}
	// A retried dead letter is older than what the stream answered since,
	// and was never answered itself.
	if l.h.answeredBefore(ContextInventory, d, s.answered) {
		return decision{redelivered: true}, nil
	}
	var evs []inventory.Event
	switch p := d.Payload.(type) {
	case order.OrderPlaced:
		evs = inventory.ReserveLine(s.stock, line.ProductID, p.OrderID, line.Quantity)
	case order.OrderFailed:
		evs = inventory.ReleaseLine(s.stock, line.ProductID, p.OrderID)
	case order.OrderCancelled:
		evs = inventory.ReleaseLine(s.stock, line.ProductID, p.OrderID)
	case order.OrderShipped:
		evs = inventory.CommitLine(s.stock, line.ProductID, p.OrderID)
	}
	if err := b.add(inventory.StreamID(line.ProductID), s.version, d.Event, payloads(evs)); err != nil {
		return decision{key: line.ProductID}, err
	}
	for _, e := range evs {
		s.stock = s.stock.Evolve(e)
	}
	s.version += int64(len(evs))
	s.answered = max(s.answered, d.Event.Origin())
	return decision{key: line.ProductID}, nil
}

// load returns a product's stock, read from the log the first time (or
// again after the lane forgot it).
func (l *inventoryLane) load(ctx context.Context, productID string) (*stockState, error) {
	if s, ok := l.stocks.get(productID); ok {
		return s, nil
	}
	stream := inventory.StreamID(productID)
	st, version, err := l.h.loadStock(ctx, productID)
	if err != nil {
		return nil, err
	}
	answered, err := l.h.store.CausedThrough(ctx, stream)
	if err != nil {
		return nil, err
	}
	s := &stockState{stock: st, version: version, answered: answered}
	l.stocks.put(productID, s)
	return s, nil
}

// loadStock returns the current state and version of a product's stock.
func (h *Handlers) loadStock(ctx context.Context, productID string) (inventory.Stock, int64, error) {
	return h.stock.load(ctx, h, inventory.StreamID(productID))
}
