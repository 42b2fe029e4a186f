package commands

import (
	"context"

	"orderflow/domain/bounds"
	"orderflow/domain/catalog"
	"orderflow/events"
)

// catalogContext declares the catalog: products, their names and prices.
var catalogContext = Context{
	Name:    ContextCatalog,
	Streams: catalog.StreamID(""),
	Events: current(catalog.ProductDefined{}, catalog.ProductRenamed{}, catalog.ProductRepriced{},
		catalog.ProductWithdrawn{}),
	Commands:  []CommandName{CmdUpsertProduct},
	ScalesOut: true,
	Table:     true,
}

// UpsertProduct defines a product or renames/reprices it.
type UpsertProduct struct {
	ID         string // made when empty
	Name       string
	PriceCents int64
}

// UpsertProduct records only what changed about the product.
func (h *Handlers) UpsertProduct(ctx context.Context, cmd UpsertProduct, md events.Metadata) (Result, error) {
	id := newID(cmd.ID)
	if err := bounds.CheckID("product id", id); err != nil {
		return Result{}, err
	}
	res, err := decideOne(ctx, h, catalog.StreamID(id), catalog.Product.Evolve, same(newMetadata(md)),
		func(p catalog.Product) ([]catalog.Event, error) {
			return catalog.Upsert(p, id, cmd.Name, cmd.PriceCents)
		})
	res.ID = id
	return res, err
}
