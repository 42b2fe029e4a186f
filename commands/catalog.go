package commands

import (
	"context"

	"orderflow/domain/catalog"
	"orderflow/events"
)

// UpsertProduct defines a product or renames/reprices it.
type UpsertProduct struct {
	ID         string // made when empty
	Name       string
	PriceCents int64
}

// UpsertProduct records only what changed about the product.
func (h *Handlers) UpsertProduct(ctx context.Context, cmd UpsertProduct, md events.Metadata) (Result, error) {
	id := newID(cmd.ID)
	md = newMetadata(md)
	var res Result
	err := retry(ctx, func() error {
		var p catalog.Product
		l, err := h.load(ctx, catalog.StreamID(id), func(e events.Payload) { p = p.Evolve(e) })
		if err != nil {
			return err
		}
		evs, err := catalog.Upsert(p, id, cmd.Name, cmd.PriceCents)
		if err != nil {
			return err
		}
		pos, err := h.appendAll(ctx, md, pending{catalog.StreamID(id), l.version, payloads(evs)})
		res = Result{ID: id, Position: positionOr(pos, l.position)}
		return err
	})
	return res, err
}
