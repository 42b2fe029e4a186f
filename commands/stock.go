package commands

import (
	"context"
	"sort"

	"orderflow/domain/fault"
	"orderflow/domain/order"
	"orderflow/domain/stock"
	"orderflow/events"
)

// ErrUnknownProduct refuses stock for a product the catalog does not know.
var ErrUnknownProduct = fault.NotFoundf("product not found")

// AddStock puts goods on hand for a known product.
func (h *Handlers) AddStock(ctx context.Context, productID string, quantity int, md events.Metadata) (Result, error) {
	if quantity < 1 {
		return Result{}, stock.ErrBadQuantity
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
		evs, err := stock.Add(s, productID, quantity)
		if err != nil {
			return err
		}
		pos, err := h.appendAll(ctx, md, pending{stock.StreamID(productID), version, payloads(evs)})
		res = Result{ID: productID, Position: pos}
		return err
	})
	return res, err
}

// ReserveStock is the inventory validation of a placed order: all lines
// reserved in one transaction over all their stock streams, or a rejection.
func (h *Handlers) ReserveStock(ctx context.Context, trigger events.Event, placed order.OrderPlaced) error {
	lines := make([]stock.Line, len(placed.Lines))
	for i, l := range placed.Lines {
		lines[i] = stock.Line{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	// Whether inventory already answered is read from the log, not kept in
	// the stock state: that would grow with every order ever placed.
	answered, err := h.inventoryAnswered(ctx, trigger.CorrelationID, placed.OrderID)
	if err != nil {
		return err
	}
	return h.changeStock(ctx, trigger, placed.Lines, func(s map[string]stock.Stock) map[string][]stock.Event {
		return stock.Reserve(s, placed.OrderID, lines, answered)
	})
}

// ReleaseStock gives back what is held for an order that failed or was cancelled.
func (h *Handlers) ReleaseStock(ctx context.Context, trigger events.Event, orderID string, lines []order.Line) error {
	return h.changeStock(ctx, trigger, lines, func(s map[string]stock.Stock) map[string][]stock.Event {
		return stock.Release(s, orderID)
	})
}

// CommitStock turns what is held for a shipped order into goods gone.
func (h *Handlers) CommitStock(ctx context.Context, trigger events.Event, orderID string, lines []order.Line) error {
	return h.changeStock(ctx, trigger, lines, func(s map[string]stock.Stock) map[string][]stock.Event {
		return stock.Commit(s, orderID)
	})
}

// changeStock loads the stock streams of the lines' products, decides, and
// appends to all touched streams atomically, each with its loaded version.
func (h *Handlers) changeStock(ctx context.Context, trigger events.Event, lines []order.Line,
	decide func(map[string]stock.Stock) map[string][]stock.Event) error {
	md := causedBy(trigger)
	return retry(ctx, func() error {
		states := make(map[string]stock.Stock, len(lines))
		versions := make(map[string]int64, len(lines))
		for _, l := range lines {
			s, version, err := h.loadStock(ctx, l.ProductID)
			if err != nil {
				return err
			}
			states[l.ProductID], versions[l.ProductID] = s, version
		}
		decision := decide(states)
		ids := make([]string, 0, len(decision))
		for id := range decision {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		writes := make([]pending, 0, len(ids))
		for _, id := range ids {
			writes = append(writes, pending{stock.StreamID(id), versions[id], payloads(decision[id])})
		}
		_, err := h.appendAll(ctx, md, writes...)
		return err
	})
}
