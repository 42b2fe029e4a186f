// Package catalog owns products: their names and prices. A product's stream
// is product-<id>; only the catalog decides what goes into it.
package catalog

import (
	"strings"

	"orderflow/domain/bounds"
	"orderflow/domain/fault"
)

// Bounds of a price, in cents: ten million in money at most, so that an
// order of MaxLines lines of MaxQuantity units each still has a total far
// inside an int64.
const (
	MinPriceCents int64 = 1
	MaxPriceCents int64 = 1_000_000_000
)

var (
	ErrBlankName = fault.Invalidf("product name must not be blank")
	ErrBadPrice  = fault.Invalidf("priceCents must be between %d and %d", MinPriceCents, MaxPriceCents)
	ErrBlankID   = fault.Invalidf("product id must not be blank")
	// ErrUnknownProduct refuses withdrawing a product that was never defined.
	ErrUnknownProduct = fault.NotFoundf("product not found")
)

// StreamID is the stream that holds a product's events.
func StreamID(productID string) string { return "product-" + productID }

// ProductDefined is recorded when a product id is first used.
type ProductDefined struct {
	ProductID  string `json:"productId"`
	Name       string `json:"name"`
	PriceCents int64  `json:"priceCents"`
}

// ProductRenamed is recorded when an existing product gets a new name.
type ProductRenamed struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
}

// ProductRepriced is recorded when an existing product gets a new price.
// Orders already placed keep the price they were placed at.
type ProductRepriced struct {
	ProductID  string `json:"productId"`
	PriceCents int64  `json:"priceCents"`
}

// ProductWithdrawn is recorded when a product leaves the catalog (its row
// was deleted in the legacy database). Orders for it are refused as for an
// unknown product; orders already placed keep their lines. Defining the
// same id again brings it back.
type ProductWithdrawn struct {
	ProductID string `json:"productId"`
}

func (ProductDefined) EventType() string   { return "ProductDefined" }
func (ProductRenamed) EventType() string   { return "ProductRenamed" }
func (ProductRepriced) EventType() string  { return "ProductRepriced" }
func (ProductWithdrawn) EventType() string { return "ProductWithdrawn" }

// Event is any event of a product stream.
type Event interface{ EventType() string }

// Product is the state of one product, rebuilt from its events.
type Product struct {
	ID         string
	Name       string
	PriceCents int64
	Withdrawn  bool
}

// Defined reports whether the product exists and is not withdrawn.
func (p Product) Defined() bool { return p.ID != "" && !p.Withdrawn }

// Evolve applies one event.
func (p Product) Evolve(e Event) Product {
	switch e := e.(type) {
	case ProductDefined:
		p.ID, p.Name, p.PriceCents, p.Withdrawn = e.ProductID, e.Name, e.PriceCents, false
	case ProductRenamed:
		p.Name = e.Name
	case ProductRepriced:
		p.PriceCents = e.PriceCents
	case ProductWithdrawn:
		p.Withdrawn = true
	}
	return p
}

// Upsert defines the product, or renames and reprices it: only what changed
// is recorded, so an identical upsert records nothing. A withdrawn product
// is defined afresh.
func Upsert(p Product, id, name string, priceCents int64) ([]Event, error) {
	name = strings.TrimSpace(name)
	if strings.TrimSpace(id) == "" {
		return nil, ErrBlankID
	}
	if err := bounds.CheckID("product id", id); err != nil {
		return nil, err
	}
	switch {
	case name == "":
		return nil, ErrBlankName
	case priceCents < MinPriceCents || priceCents > MaxPriceCents:
		return nil, ErrBadPrice
	}
	if !p.Defined() {
		return []Event{ProductDefined{ProductID: id, Name: name, PriceCents: priceCents}}, nil
	}
	var out []Event
	if name != p.Name {
		out = append(out, ProductRenamed{ProductID: id, Name: name})
	}
	if priceCents != p.PriceCents {
		out = append(out, ProductRepriced{ProductID: id, PriceCents: priceCents})
	}
	return out, nil
}

// Withdraw takes a defined product out of the catalog. Withdrawing a product
// already withdrawn records nothing (a safe retry); one never defined is not
// found.
func Withdraw(p Product, id string) ([]Event, error) {
	switch {
	case p.ID == "":
		return nil, ErrUnknownProduct
	case p.Withdrawn:
		return nil, nil
	}
	return []Event{ProductWithdrawn{ProductID: id}}, nil
}
