package projections

import (
	"context"
	"sync"
)

// catalogFamily is the stream kind of the catalog's events (product-<id>).
const catalogFamily = "product"

// Prices is the orders context's copy of the catalog: the current unit
// price of each product, read from the products read model once and kept
// in memory until a catalog event is applied (the talk's "move the data to
// the code": placing an order asks no database for prices). It stays
// read-your-writes: the runner counts batches holding catalog events after
// their commit and before anyone waiting for them is woken, so a price read
// after upsertProduct returned is never an old one.
type Prices struct {
	views  *Views
	runner *Runner

	mu      sync.Mutex
	version int64
	known   map[string]int64
}

// NewPrices returns a price copy over the products read model.
func NewPrices(views *Views, runner *Runner) *Prices {
	return &Prices{views: views, runner: runner, known: map[string]int64{}}
}

// PricesDefinitions are the read models Prices reads, all a process split
// off without the API keeps.
func PricesDefinitions() []Definition { return []Definition{productsDefinition} }

// Prices returns the unit price of each known product among ids; unknown
// ids are absent.
func (p *Prices) Prices(ctx context.Context, ids []string) (map[string]int64, error) {
	// Read the version first: a change applied after it makes the next
	// call start afresh, whatever the query below saw.
	version := p.runner.catalogChanges.Load()
	out := make(map[string]int64, len(ids))
	var missing []string
	p.mu.Lock()
	if p.version != version {
		clear(p.known)
		p.version = version
	}
	for _, id := range ids {
		if price, ok := p.known[id]; ok {
			out[id] = price
		} else {
			missing = append(missing, id)
		}
	}
	p.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read, err := p.views.Prices(ctx, missing)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, price := range read {
		out[id] = price
		if p.version == version && len(p.known) < maxCachedPrices {
			p.known[id] = price
		}
	}
	return out, nil
}

// maxCachedPrices bounds the copy; past it, prices are read each time.
const maxCachedPrices = 100_000
