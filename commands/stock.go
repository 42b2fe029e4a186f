package commands

import (
	"context"

	"orderflow/domain/fault"
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
