package commands_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/projections"
)

// TestSourceChangesApplyOnce replays legacy changes as change data capture
// does after a crash (everything after the last confirmed position comes
// again) and checks each is recorded once: without the check on the change's
// LSN, the replayed reprice to 1200 would be recorded a second time.
func TestSourceChangesApplyOnce(t *testing.T) {
	ctx := context.Background()
	db, store, reg := commands.OpenTestStore(t)
	h := commands.New(store, reg, projections.NewViews(db.Reader()), commands.Config{})
	at := func(lsn uint64, seq uint32) commands.SourceChange {
		return commands.SourceChange{Source: "sys1", LSN: lsn, Seq: seq}
	}
	widget := func(price int64) commands.LegacyProduct {
		return commands.LegacyProduct{ID: "p1", Name: "Widget", PriceCents: price}
	}
	steps := []struct {
		name    string
		apply   func() (bool, error)
		applied bool
	}{
		{"snapshot row", func() (bool, error) { return h.SyncProduct(ctx, at(0x100, 0), widget(1000)) }, true},
		{"reprice", func() (bool, error) { return h.SyncProduct(ctx, at(0x200, 1), widget(1200)) }, true},
		{"reprice back", func() (bool, error) { return h.SyncProduct(ctx, at(0x300, 2), widget(1000)) }, true},
		{"replayed snapshot row", func() (bool, error) { return h.SyncProduct(ctx, at(0x100, 0), widget(1000)) }, false},
		{"replayed reprice", func() (bool, error) { return h.SyncProduct(ctx, at(0x200, 1), widget(1200)) }, false},
		{"replayed reprice back", func() (bool, error) { return h.SyncProduct(ctx, at(0x300, 2), widget(1000)) }, false},
		{"later change in the same transaction", func() (bool, error) { return h.SyncProduct(ctx, at(0x300, 3), widget(900)) }, true},
		{"withdrawal", func() (bool, error) { return h.WithdrawProduct(ctx, at(0x400, 1), "p1") }, true},
		{"replayed withdrawal", func() (bool, error) { return h.WithdrawProduct(ctx, at(0x400, 1), "p1") }, false},
		{"defined again", func() (bool, error) { return h.SyncProduct(ctx, at(0x500, 1), widget(800)) }, true},
		{"another source is not compared", func() (bool, error) {
			return h.SyncProduct(ctx, commands.SourceChange{Source: "sys2", LSN: 1}, widget(700))
		}, true},
	}
	for _, s := range steps {
		applied, err := s.apply()
		if err != nil || applied != s.applied {
			t.Fatalf("%s: applied = %v, %v; want %v", s.name, applied, err, s.applied)
		}
	}
	evs, err := store.ReadStream(ctx, "product-p1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Type)
	}
	want := []string{"ProductDefined", "ProductRepriced", "ProductRepriced", "ProductRepriced",
		"ProductWithdrawn", "ProductDefined", "ProductRepriced"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}

	// Customers: registered, then moved; a replay records nothing more.
	c := commands.LegacyCustomer{ID: "c1", Name: "Ada", Email: "ada@example.com", Address: "1 Road"}
	for i, ch := range []commands.SourceChange{at(0x100, 0), at(0x100, 0)} {
		if res, err := h.SyncCustomer(ctx, ch, c); err != nil || res.Applied != (i == 0) || res.Recorded != (i == 0) {
			t.Fatalf("customer %d: %+v, %v", i, res, err)
		}
	}
	c.Address = "2 Street"
	if res, err := h.SyncCustomer(ctx, at(0x600, 1), c); err != nil || !res.Recorded || len(res.Ignored) != 0 {
		t.Fatalf("address change: %+v, %v", res, err)
	}
	if res, _ := h.SyncCustomer(ctx, at(0x600, 1), c); res.Applied {
		t.Fatal("replayed address change applied again")
	}
	// A new name and email are not recorded by the customer context: they
	// are reported as ignored, beside the address change that is recorded.
	c.Name, c.Email, c.Address = "Ada L.", "ada@new.example.com", "3 Lane"
	res, err := h.SyncCustomer(ctx, at(0x700, 1), c)
	if err != nil || !res.Applied || !res.Recorded || !reflect.DeepEqual(res.Ignored, []string{"name", "email"}) {
		t.Fatalf("name, email and address change: %+v, %v", res, err)
	}
	c.Name = "Ada Lovelace"
	res, err = h.SyncCustomer(ctx, at(0x800, 1), c)
	if err != nil || !res.Applied || res.Recorded || !reflect.DeepEqual(res.Ignored, []string{"name", "email"}) {
		t.Fatalf("name change only: %+v, %v", res, err)
	}
	evs, _ = store.ReadStream(ctx, "customer-c1", 0)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if want := []string{"CustomerRegistered", "CustomerAddressChanged", "CustomerAddressChanged"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("customer events = %v, want %v", types, want)
	}

	// A customer imported from the legacy table is forgotten like any
	// other; later changes of their row record nothing of them.
	if _, err := h.ForgetCustomer(ctx, "c1", events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	c.Address = "4 Moved On"
	res, err = h.SyncCustomer(ctx, at(0x900, 1), c)
	if err != nil || !res.Forgotten || res.Recorded {
		t.Fatalf("a forgotten customer's row changed: %+v, %v; want nothing recorded", res, err)
	}
	evs, _ = store.ReadStream(ctx, "customer-c1", 0)
	if last := evs[len(evs)-1].Type; len(evs) != 4 || last != "CustomerForgotten" {
		t.Fatalf("after forgetting, %d customer events ending with %s", len(evs), last)
	}
	for _, e := range evs {
		for _, plain := range []string{"Ada", "ada@", "Road", "Street", "Lane"} {
			if strings.Contains(string(e.Data), plain) {
				t.Errorf("stored %s %s holds %q", e.Type, e.Data, plain)
			}
		}
	}
}
