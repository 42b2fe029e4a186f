package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"orderflow/domain/catalog"
	"orderflow/events"
	"orderflow/projections"
)

// refusing is a projection that cannot apply one product's events.
type refusing struct {
	names projections.Names
	bad   string
}

func (r refusing) Apply(ctx context.Context, tx *projections.Tx, e events.Event, p events.Payload) error {
	d, ok := p.(catalog.ProductDefined)
	if !ok {
		return nil
	}
	if d.ProductID == r.bad {
		return errors.New("cannot apply " + d.ProductID)
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+r.names("seen")+` (id) VALUES (?)`, d.ProductID)
	return err
}

// TestAProjectionThatCannotApplyAnEventDoesNotStopTheOthers checks that an
// event one projection keeps failing on becomes a dead letter of that
// projection after its attempts, while every projection (that one too)
// goes on with the events after it; and that an undecodable event is a
// dead letter at once.
func TestAProjectionThatCannotApplyAnEventDoesNotStopTheOthers(t *testing.T) {
	ctx := context.Background()
	fussy := projections.Definition{
		Name: "fussy", Tables: []string{"seen"},
		Schema: func(n projections.Names) string { return `CREATE TABLE ` + n("seen") + ` (id TEXT PRIMARY KEY)` },
		New:    func(n projections.Names) projections.Applier { return refusing{names: n, bad: "p2"} },
	}
	defs := append(projections.All(), fussy)
	f := newFixture(t, defs...)
	db, store, reg, runner := f.db, f.store, f.reg, f.runner

	for i := range 4 {
		id := fmt.Sprintf("p%d", i)
		evs, _ := reg.Encode(events.Metadata{}, catalog.ProductDefined{ProductID: id, Name: id, PriceCents: 100})
		if _, err := store.Append(ctx, events.StreamAppend{StreamID: "product-" + id, Events: evs}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := store.Append(ctx, events.StreamAppend{StreamID: "product-garbled", Events: []events.Event{
				{Type: "ProductDefined", Data: json.RawMessage(`{"productId": 7}`)},
			}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := runner.WaitFor(waitCtx, db.Head()); err != nil {
		t.Fatalf("projections did not get past the events they cannot apply: %v", err)
	}
	views := projections.NewViews(db.Reader())
	for _, id := range []string{"p0", "p1", "p2", "p3"} {
		if p, err := views.Product(ctx, id); err != nil || p == nil {
			t.Errorf("product %s missing from the products read model: %v", id, err)
		}
	}
	var seen int
	if err := db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM seen`).Scan(&seen); err != nil || seen != 3 {
		t.Errorf("fussy saw %d products (%v), want the 3 it can apply", seen, err)
	}
	letters, err := db.DeadLetters(ctx, true, 100)
	if err != nil {
		t.Fatal(err)
	}
	byReader := map[string]int{}
	for _, l := range letters {
		byReader[l.Reader]++
	}
	// fussy: p2 and the garbled event; every other projection: the garbled one.
	if byReader["projection fussy"] != 2 || byReader["projection products"] != 1 || len(byReader) != len(defs) {
		t.Errorf("dead letters by reader %v", byReader)
	}
}
