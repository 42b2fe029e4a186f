package commands

import (
	"context"
	"sync"

	"orderflow/domain/order"
	"orderflow/domain/stock"
)

// stockCache keeps the last state the handlers folded for each stock
// stream, so a command reads only the events appended since: a product's
// stock stream grows with every order that touches it. An entry is only ever
// a fold of committed events up to its version, and is copied in and out,
// so the log stays the truth and a stale entry just means a longer read.
type stockCache struct {
	mu sync.Mutex
	m  map[string]stockEntry
}

type stockEntry struct {
	state   stock.Stock
	version int64
}

// loadStock returns the current state and version of a product's stock.
func (h *Handlers) loadStock(ctx context.Context, productID string) (stock.Stock, int64, error) {
	stream := stock.StreamID(productID)
	h.stock.mu.Lock()
	e := h.stock.m[stream]
	h.stock.mu.Unlock()
	s := e.state.Clone()
	evs, err := h.store.ReadStream(ctx, stream, e.version)
	if err != nil {
		return stock.Stock{}, 0, err
	}
	for _, ev := range evs {
		p, err := h.reg.Decode(ev)
		if err != nil {
			return stock.Stock{}, 0, err
		}
		s = s.Evolve(p)
		e.version = ev.StreamVersion
	}
	if len(evs) > 0 {
		h.stock.mu.Lock()
		if h.stock.m[stream].version < e.version {
			h.stock.m[stream] = stockEntry{state: s.Clone(), version: e.version}
		}
		h.stock.mu.Unlock()
	}
	return s, e.version, nil
}

// inventoryAnswered reports whether inventory already answered the order:
// a reservation or a rejection for it carries its correlation id.
func (h *Handlers) inventoryAnswered(ctx context.Context, correlationID, orderID string) (bool, error) {
	related, err := h.store.ReadCorrelated(ctx, correlationID)
	if err != nil {
		return false, err
	}
	for _, e := range related {
		if e.Type != (stock.StockReserved{}).EventType() && e.Type != (stock.StockReservationRejected{}).EventType() {
			continue
		}
		p, err := h.reg.Decode(e)
		if err != nil {
			return false, err
		}
		if id, r, ok := validationResult(p); ok && id == orderID && r.Check == order.CheckInventory {
			return true, nil
		}
	}
	return false, nil
}
