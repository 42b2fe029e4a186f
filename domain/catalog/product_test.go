package catalog_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"orderflow/domain/catalog"
	"orderflow/domain/fault"
)

// defined is the state of a product after its ProductDefined event.
func defined(id, name string, priceCents int64) catalog.Product {
	return catalog.Product{}.Evolve(catalog.ProductDefined{ProductID: id, Name: name, PriceCents: priceCents})
}

func sameEvents(got, want []catalog.Event) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

func TestUpsert(t *testing.T) {
	widget := defined("p1", "Widget", 1000)
	tests := []struct {
		name     string
		state    catalog.Product
		id       string
		pname    string
		price    int64
		want     []catalog.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{
			name: "new id defines the product", id: "p1", pname: "Widget", price: 1000,
			want: []catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000}},
		},
		{
			name: "new id with padded name records the trimmed name", id: "p1", pname: "  Widget\t", price: 1000,
			want: []catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000}},
		},
		{
			name: "lowest valid price is 1 cent", id: "p1", pname: "Widget", price: 1,
			want: []catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1}},
		},
		{
			name: "rename only", state: widget, id: "p1", pname: "Gadget", price: 1000,
			want: []catalog.Event{catalog.ProductRenamed{ProductID: "p1", Name: "Gadget"}},
		},
		{
			name: "reprice only", state: widget, id: "p1", pname: "Widget", price: 1250,
			want: []catalog.Event{catalog.ProductRepriced{ProductID: "p1", PriceCents: 1250}},
		},
		{
			name: "reprice down to 1 cent", state: widget, id: "p1", pname: "Widget", price: 1,
			want: []catalog.Event{catalog.ProductRepriced{ProductID: "p1", PriceCents: 1}},
		},
		{
			name: "rename and reprice", state: widget, id: "p1", pname: "Gadget", price: 999,
			want: []catalog.Event{
				catalog.ProductRenamed{ProductID: "p1", Name: "Gadget"},
				catalog.ProductRepriced{ProductID: "p1", PriceCents: 999},
			},
		},
		{
			name: "identical upsert records nothing", state: widget, id: "p1", pname: "Widget", price: 1000,
			want: nil,
		},
		{
			name: "identical after trimming records nothing", state: widget, id: "p1", pname: " Widget ", price: 1000,
			want: nil,
		},
		{
			name: "name differing only in case is a rename", state: widget, id: "p1", pname: "widget", price: 1000,
			want: []catalog.Event{catalog.ProductRenamed{ProductID: "p1", Name: "widget"}},
		},
		{name: "blank name", id: "p1", pname: "", price: 1000, wantErr: catalog.ErrBlankName, wantKind: fault.Invalid},
		{name: "whitespace name", id: "p1", pname: " \t\n", price: 1000, wantErr: catalog.ErrBlankName, wantKind: fault.Invalid},
		{name: "blank name on existing product", state: widget, id: "p1", pname: "", price: 1000, wantErr: catalog.ErrBlankName, wantKind: fault.Invalid},
		{name: "blank id", id: "", pname: "Widget", price: 1000, wantErr: catalog.ErrBlankID, wantKind: fault.Invalid},
		{name: "whitespace id", id: "   ", pname: "Widget", price: 1000, wantErr: catalog.ErrBlankID, wantKind: fault.Invalid},
		{name: "price 0", id: "p1", pname: "Widget", price: 0, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "price -1", id: "p1", pname: "Widget", price: -1, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "price min int64", id: "p1", pname: "Widget", price: math.MinInt64, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "reprice existing to 0", state: widget, id: "p1", pname: "Widget", price: 0, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "reprice existing negative", state: widget, id: "p1", pname: "Gadget", price: -500, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{
			name: "highest price is 1,000,000,000 cents", id: "p1", pname: "Widget", price: catalog.MaxPriceCents,
			want: []catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1_000_000_000}},
		},
		{name: "price one past the highest", id: "p1", pname: "Widget", price: 1_000_000_001, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "price 9e18", id: "p1", pname: "Widget", price: 9_000_000_000_000_000_000, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "price max int64", id: "p1", pname: "Widget", price: math.MaxInt64, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{name: "reprice existing one past the highest", state: widget, id: "p1", pname: "Widget", price: 1_000_000_001, wantErr: catalog.ErrBadPrice, wantKind: fault.Invalid},
		{
			name: "id of 128 bytes", id: strings.Repeat("p", 128), pname: "Widget", price: 1000,
			want: []catalog.Event{catalog.ProductDefined{ProductID: strings.Repeat("p", 128), Name: "Widget", PriceCents: 1000}},
		},
		{name: "id of 129 bytes", id: strings.Repeat("p", 129), pname: "Widget", price: 1000, wantKind: fault.Invalid},
		{name: "id with a line break", id: "p\n1", pname: "Widget", price: 1000, wantKind: fault.Invalid},
		{name: "id not UTF-8", id: "p\xff", pname: "Widget", price: 1000, wantKind: fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := catalog.Upsert(tt.state, tt.id, tt.pname, tt.price)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	tests := []struct {
		name   string
		events []catalog.Event
		want   catalog.Product
	}{
		{"nothing is undefined", nil, catalog.Product{}},
		{
			"defined",
			[]catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000}},
			catalog.Product{ID: "p1", Name: "Widget", PriceCents: 1000},
		},
		{
			"renamed keeps the price",
			[]catalog.Event{
				catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000},
				catalog.ProductRenamed{ProductID: "p1", Name: "Gadget"},
			},
			catalog.Product{ID: "p1", Name: "Gadget", PriceCents: 1000},
		},
		{
			"repriced keeps the name",
			[]catalog.Event{
				catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000},
				catalog.ProductRepriced{ProductID: "p1", PriceCents: 700},
			},
			catalog.Product{ID: "p1", Name: "Widget", PriceCents: 700},
		},
		{
			"last change wins",
			[]catalog.Event{
				catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000},
				catalog.ProductRepriced{ProductID: "p1", PriceCents: 700},
				catalog.ProductRenamed{ProductID: "p1", Name: "Gadget"},
				catalog.ProductRepriced{ProductID: "p1", PriceCents: 800},
			},
			catalog.Product{ID: "p1", Name: "Gadget", PriceCents: 800},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p catalog.Product
			for _, e := range tt.events {
				p = p.Evolve(e)
			}
			if p != tt.want {
				t.Errorf("state = %+v, want %+v", p, tt.want)
			}
			if p.Defined() != (tt.want.ID != "") {
				t.Errorf("Defined() = %v for %+v", p.Defined(), p)
			}
		})
	}
}

// TestUpsertRoundTrip folds what Upsert decided and checks that repeating
// the same upsert then records nothing.
func TestUpsertRoundTrip(t *testing.T) {
	var p catalog.Product
	steps := []struct {
		name  string
		price int64
	}{{"Widget", 1000}, {"Widget", 1000}, {"Gadget", 1000}, {"Gadget", 1200}, {"Gizmo", 1}}
	for i, s := range steps {
		events, err := catalog.Upsert(p, "p1", s.name, s.price)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, e := range events {
			p = p.Evolve(e)
		}
		if want := (catalog.Product{ID: "p1", Name: s.name, PriceCents: s.price}); p != want {
			t.Fatalf("step %d: state = %+v, want %+v", i, p, want)
		}
		again, err := catalog.Upsert(p, "p1", s.name, s.price)
		if err != nil || len(again) != 0 {
			t.Fatalf("step %d: repeated upsert = %#v, %v; want nothing", i, again, err)
		}
	}
}

func TestSentinelKinds(t *testing.T) {
	for _, err := range []error{catalog.ErrBlankName, catalog.ErrBadPrice, catalog.ErrBlankID} {
		if k := fault.KindOf(err); k != fault.Invalid {
			t.Errorf("KindOf(%v) = %v, want Invalid", err, k)
		}
		if k := fault.KindOf(fmt.Errorf("upsert: %w", err)); k != fault.Invalid {
			t.Errorf("KindOf(wrapped %v) = %v, want Invalid", err, k)
		}
	}
}

func TestStreamID(t *testing.T) {
	if got := catalog.StreamID("p1"); got != "product-p1" {
		t.Errorf("StreamID = %q, want product-p1", got)
	}
}

func TestWithdraw(t *testing.T) {
	widget := defined("p1", "Widget", 1000)
	withdrawn := widget.Evolve(catalog.ProductWithdrawn{ProductID: "p1"})
	tests := []struct {
		name    string
		state   catalog.Product
		want    []catalog.Event
		wantErr error
	}{
		{name: "defined product is withdrawn", state: widget, want: []catalog.Event{catalog.ProductWithdrawn{ProductID: "p1"}}},
		{name: "withdrawing again records nothing", state: withdrawn},
		{name: "never defined is not found", wantErr: catalog.ErrUnknownProduct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := catalog.Withdraw(tt.state, "p1")
			if !errors.Is(err, tt.wantErr) || !sameEvents(got, tt.want) {
				t.Fatalf("Withdraw = %#v, %v; want %#v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if withdrawn.Defined() {
		t.Error("a withdrawn product still counts as defined")
	}
	// Upserting a withdrawn product defines it afresh, with the new details.
	got, err := catalog.Upsert(withdrawn, "p1", "Widget", 1000)
	want := []catalog.Event{catalog.ProductDefined{ProductID: "p1", Name: "Widget", PriceCents: 1000}}
	if err != nil || !sameEvents(got, want) {
		t.Fatalf("Upsert after withdrawal = %#v, %v; want %#v", got, err, want)
	}
	if back := withdrawn.Evolve(got[0]); !back.Defined() || back.Withdrawn {
		t.Fatalf("redefined product = %+v, want defined", back)
	}
}
