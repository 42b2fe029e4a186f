package commands

import (
	"context"

	"orderflow/domain/order"
	"orderflow/domain/stock"
)

// loadStock returns the current state and version of a product's stock.
func (h *Handlers) loadStock(ctx context.Context, productID string) (stock.Stock, int64, error) {
	return h.stock.load(ctx, h, stock.StreamID(productID))
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
