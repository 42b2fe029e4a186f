package commands

import (
	"context"
	"fmt"
	"strings"

	"orderflow/domain/bounds"
	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/events"
)

// SourceChange names one change of a legacy database row, as change data
// capture read it: the database it came from, the LSN of the commit of its
// transaction, and its place in that transaction (0 for a row read by the
// initial snapshot, which is consistent at the LSN its slot was made at, and
// 1, 2, … for the changes streamed after it).
//
// The commands below are idempotent on the row and the change: each one
// records its change as the causation id of the events it appends, in the
// same append, and a change at or before the last one recorded on the row's
// stream is skipped. So a change delivered again after a crash (the source
// resends everything after the position last confirmed to it) is applied at
// most once, without a second table to keep in step with the log.
type SourceChange struct {
	Source string // the source database's system identifier
	LSN    uint64
	Seq    uint32
}

// causation is the change as recorded on the events it caused: fixed-width
// hexadecimal, so that the order of the strings is the order of the changes.
func (c SourceChange) causation() string {
	return fmt.Sprintf("%s%016X.%08X", c.prefix(), c.LSN, c.Seq)
}

func (c SourceChange) prefix() string { return "cdc:" + c.Source + ":" }

// Legacy product and customer rows, by their primary key.
type (
	LegacyProduct struct {
		ID, Name   string
		PriceCents int64
	}
	LegacyCustomer struct{ ID, Name, Email, Address string }
)

// SyncProduct applies an inserted or updated legacy product row: it defines
// the product, renames or reprices it (only what changed is recorded). It
// reports false when the change had been applied before.
func (h *Handlers) SyncProduct(ctx context.Context, ch SourceChange, row LegacyProduct) (bool, error) {
	if err := bounds.CheckID("product id", row.ID); err != nil {
		return false, err
	}
	return decideFromSource(ctx, h, catalog.StreamID(row.ID), catalog.Product.Evolve, ch,
		func(p catalog.Product) ([]catalog.Event, error) {
			return catalog.Upsert(p, row.ID, row.Name, row.PriceCents)
		})
}

// WithdrawProduct applies a deleted legacy product row: the product leaves
// the catalog.
func (h *Handlers) WithdrawProduct(ctx context.Context, ch SourceChange, productID string) (bool, error) {
	if err := bounds.CheckID("product id", productID); err != nil {
		return false, err
	}
	return decideFromSource(ctx, h, catalog.StreamID(productID), catalog.Product.Evolve, ch,
		func(p catalog.Product) ([]catalog.Event, error) { return catalog.Withdraw(p, productID) })
}

// CustomerSync is what SyncCustomer made of a row.
type CustomerSync struct {
	// Applied is false when the change had been applied before.
	Applied bool
	// Recorded is whether it recorded an event (a registration, a move).
	Recorded bool
	// Ignored names what changed that the customer context does not
	// record ("name", "email"), so that the caller can say it was dropped.
	Ignored []string
	// Forgotten says the customer was forgotten here: nothing of the row
	// is recorded (their data stays erased, whatever the legacy table
	// still holds).
	Forgotten bool
}

// SyncCustomer applies an inserted or updated legacy customer row: a new
// customer is registered, a known one moved when the address changed. The
// customer context records no change of name or email, so those are not
// carried over once a customer is registered: they are reported in Ignored.
func (h *Handlers) SyncCustomer(ctx context.Context, ch SourceChange, row LegacyCustomer) (CustomerSync, error) {
	if err := bounds.CheckID("customer id", row.ID); err != nil {
		return CustomerSync{}, err
	}
	var out CustomerSync
	applied, err := decideFromSource(ctx, h, customer.StreamID(row.ID), customer.Customer.Evolve, ch,
		func(c customer.Customer) ([]customer.Event, error) {
			out = CustomerSync{} // decide runs again after a version conflict
			if c.Forgotten {
				out.Forgotten = true
				return nil, nil
			}
			if !c.Registered() {
				evs, err := customer.Register(c, row.ID, row.Name, row.Email, row.Address)
				out.Recorded = len(evs) > 0
				return evs, err
			}
			if strings.TrimSpace(row.Name) != c.Name {
				out.Ignored = append(out.Ignored, "name")
			}
			if strings.TrimSpace(row.Email) != c.Email {
				out.Ignored = append(out.Ignored, "email")
			}
			evs, err := customer.ChangeAddress(c, row.Address)
			out.Recorded = len(evs) > 0
			return evs, err
		})
	if err != nil || !applied {
		return CustomerSync{}, err
	}
	out.Applied = true
	return out, nil
}

// decideFromSource is load-decide-append on one stream for a source change:
// like decideOne, but it skips (false, nil) a change at or before the last
// one of the same source recorded on the stream, and records the change as
// the causation id of what it appends.
func decideFromSource[S any, E events.Payload](ctx context.Context, h *Handlers, streamID string,
	fold func(S, E) S, ch SourceChange, decide func(S) ([]E, error)) (bool, error) {
	mark, prefix := ch.causation(), ch.prefix()
	applied := false
	err := retry(ctx, func() error {
		evs, err := h.store.ReadStream(ctx, streamID, 0)
		if err != nil {
			return err
		}
		var s S
		var version int64
		last := ""
		for _, e := range evs {
			p, err := h.reg.Decode(e)
			if err != nil {
				return err
			}
			if e, ok := p.(E); ok {
				s = fold(s, e)
			}
			if strings.HasPrefix(e.CausationID, prefix) && e.CausationID > last {
				last = e.CausationID
			}
			version = e.StreamVersion
		}
		if last >= mark {
			applied = false
			return nil
		}
		out, err := decide(s)
		if err != nil {
			return err
		}
		applied = true
		_, err = h.appendAll(ctx, events.Metadata{CorrelationID: events.NewID(), CausationID: mark},
			pending{streamID, version, payloads(out)})
		return err
	})
	return applied, err
}
