package app

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestAMutationAnswersWhatWasSelected: placeOrder, shipOrder and
// cancelOrder answer the id alone without reading the order back when
// nothing else of it is selected, and the order as the read models hold
// it otherwise, through fragments too.
func TestAMutationAnswersWhatWasSelected(t *testing.T) {
	ctx := context.Background()
	a := startTestApp(t, filepath.Join(t.TempDir(), "o.db"), nil, nil)
	defer a.Shutdown(ctx)
	openShop(t, a, "p", 250, 100)
	type line struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	type answer struct {
		ID         string  `json:"id"`
		Typename   string  `json:"__typename"`
		Status     *string `json:"status"`
		TotalCents *int    `json:"totalCents"`
		Lines      []line  `json:"lines"`
	}
	for i, tc := range []struct {
		selection string
		full      bool
	}{
		{"{ id }", false},
		{"{ __typename id }", false},
		{"{ ...Id } } fragment Id on Order { id", false},
		{"{ id status totalCents lines { productId quantity } }", true},
		{"{ ...Full } } fragment Full on Order { id status totalCents lines { productId quantity }", true},
		{"{ id ... on Order { status totalCents lines { productId quantity } } }", true},
	} {
		id := fmt.Sprintf("o-%d", i)
		var out struct{ PlaceOrder answer }
		if errs := gql(t, a, fmt.Sprintf(`mutation { placeOrder(input: {id: %q, customerId: "c", lines: [{productId: "p", quantity: 2}]}) %s }`, id, tc.selection), &out); len(errs) > 0 {
			t.Fatalf("%s: %v", tc.selection, errs)
		}
		got := out.PlaceOrder
		if got.ID != id {
			t.Fatalf("%s: answered id %q, want %q", tc.selection, got.ID, id)
		}
		if !tc.full {
			if got.Status != nil || got.Lines != nil {
				t.Fatalf("%s: answered %+v, want only the id", tc.selection, got)
			}
			continue
		}
		if got.Status == nil || *got.Status == "" || got.TotalCents == nil || *got.TotalCents != 500 ||
			len(got.Lines) != 1 || got.Lines[0] != (line{"p", 2}) {
			t.Fatalf("%s: answered %+v, want the order as placed", tc.selection, got)
		}
	}
	var cancelled struct{ CancelOrder answer }
	if errs := gql(t, a, `mutation { cancelOrder(orderId: "o-0", reason: "changed my mind") { id status } }`, &cancelled); len(errs) > 0 {
		t.Fatal(errs)
	}
	if cancelled.CancelOrder.ID != "o-0" || cancelled.CancelOrder.Status == nil || *cancelled.CancelOrder.Status != "CANCELLED" {
		t.Fatalf("cancelOrder { id status }: %+v", cancelled.CancelOrder)
	}
	if errs := gql(t, a, `mutation { cancelOrder(orderId: "o-1") { id } }`, &cancelled); len(errs) > 0 || cancelled.CancelOrder.ID != "o-1" {
		t.Fatalf("cancelOrder { id }: %+v, %v", cancelled.CancelOrder, errs)
	}
	var order struct{ Order answer }
	if errs := gql(t, a, `{ order(id: "o-1") { id status } }`, &order); len(errs) > 0 || order.Order.Status == nil || *order.Order.Status != "CANCELLED" {
		t.Fatalf("the order cancelled with an id-only answer: %+v, %v", order.Order, errs)
	}
}
