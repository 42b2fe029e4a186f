package projections_test

import (
	"context"
	"testing"
	"time"

	"orderflow/domain/customer"
	"orderflow/domain/notification"
	"orderflow/projections"
)

// TestForgottenCustomerReadModels: CustomerForgotten blanks the customer and
// the confirmations sent to them, and a rebuild from the log (their key
// deleted) gives the same rows, while another customer's stay as they were.
func TestForgottenCustomerReadModels(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, projections.All()...)
	views := projections.NewViews(f.db.Reader())
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []customer.CustomerRegistered{
		{CustomerID: "c1", Name: "Ann", Email: "ann@example.com", Address: "1 Main St"},
		{CustomerID: "c2", Name: "Bob", Email: "bob@example.com", Address: "2 Side Rd"},
	} {
		f.write(t, customer.StreamID(c.CustomerID), c)
		f.write(t, notification.StreamID("o-"+c.CustomerID), notification.NotificationSent{OrderID: "o-" + c.CustomerID,
			CustomerID: c.CustomerID, Kind: notification.KindOrderConfirmed, Email: c.Email, Address: c.Address, SentAt: sent})
	}
	f.write(t, customer.StreamID("c1"), customer.CustomerAddressChanged{CustomerID: "c1", Address: "3 New St"})
	if err := f.reg.Keys().Forget(ctx, customer.StreamID("c1"), nil); err != nil {
		t.Fatal(err)
	}
	f.write(t, customer.StreamID("c1"), customer.CustomerForgotten{CustomerID: "c1"})

	check := func(when string) {
		t.Helper()
		tests := []struct {
			id                  string
			want                projections.Customer
			wantEmail, wantAddr string
		}{
			{"c1", projections.Customer{ID: "c1", Forgotten: true}, "", ""},
			{"c2", projections.Customer{ID: "c2", Name: "Bob", Email: "bob@example.com", Address: "2 Side Rd"}, "bob@example.com", "2 Side Rd"},
		}
		for _, tt := range tests {
			got, err := views.Customer(ctx, tt.id)
			if err != nil || got == nil || *got != tt.want {
				t.Errorf("%s: customer %s = %+v, %v; want %+v", when, tt.id, got, err, tt.want)
			}
			ns, err := views.Notifications(ctx, "", tt.id, 10)
			if err != nil || len(ns) != 1 || ns[0].Email != tt.wantEmail || ns[0].Address != tt.wantAddr || ns[0].OrderID != "o-"+tt.id {
				t.Errorf("%s: notifications of %s = %+v, %v; want one to %q at %q", when, tt.id, ns, err, tt.wantEmail, tt.wantAddr)
			}
		}
	}
	check("applied live")
	if err := f.runner.Rebuild(ctx, []string{"customers", "notifications"}, nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}
