package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"orderflow/domain/bounds"
	"orderflow/domain/customer"
	"orderflow/events"
)

// customersContext declares the customers context: who may order, and
// where to.
var customersContext = Context{
	Name:    ContextCustomers,
	Streams: customer.StreamID(""),
	Events: []events.Registration{
		sealed(customer.CustomerRegistered{}, "name", "email", "address"),
		sealed(customer.CustomerAddressChanged{}, "address"),
		{Payload: customer.CustomerForgotten{}},
	},
	Commands:  []CommandName{CmdRegisterCustomer, CmdUpdateCustomerAddress, CmdForgetCustomer},
	ScalesOut: true,
	Table:     true,
}

// RegisterCustomer registers a customer (a safe retry when identical).
type RegisterCustomer struct {
	ID      string // made when empty
	Name    string
	Email   string
	Address string
}

// RegisterCustomer records CustomerRegistered.
func (h *Handlers) RegisterCustomer(ctx context.Context, cmd RegisterCustomer, md events.Metadata) (Result, error) {
	id := newID(cmd.ID)
	return h.updateCustomer(ctx, id, md, func(c customer.Customer) ([]customer.Event, error) {
		return customer.Register(c, id, cmd.Name, cmd.Email, cmd.Address)
	})
}

// UpdateCustomerAddress records the customer's new address.
func (h *Handlers) UpdateCustomerAddress(ctx context.Context, customerID, address string, md events.Metadata) (Result, error) {
	return h.updateCustomer(ctx, customerID, md, func(c customer.Customer) ([]customer.Event, error) {
		return customer.ChangeAddress(c, address)
	})
}

// ForgetCustomer erases a customer's personal data: their key is deleted
// (every sealed copy of their name, email and address, in this log, in
// backups taken from now on and in the topics, can no longer be opened),
// what an older version stored of them in the clear is blanked in place,
// and CustomerForgotten is recorded, on which the read models blank them
// too. The key goes first: a crash between the two leaves the customer
// unreadable, and forgetting them again records the event. Forgetting a
// forgotten customer records nothing.
func (h *Handlers) ForgetCustomer(ctx context.Context, customerID string, md events.Metadata) (Result, error) {
	if err := bounds.CheckID("customer id", customerID); err != nil {
		return Result{}, err
	}
	var c customer.Customer
	if _, err := h.load(ctx, customer.StreamID(customerID), func(p events.Payload) {
		if e, ok := p.(customer.Event); ok {
			c = c.Evolve(e)
		}
	}); err != nil {
		return Result{}, err
	}
	if _, err := customer.Forget(c); err != nil {
		return Result{}, err
	}
	keys := h.reg.Keys()
	if keys == nil {
		return Result{}, errors.New("forget a customer: no keyring")
	}
	subject := customer.StreamID(customerID)
	plain, err := h.reg.PlaintextEvents(ctx, h.store.DB(), subject)
	if err != nil {
		return Result{}, fmt.Errorf("forget %s: %w", customerID, err)
	}
	if err := keys.Forget(ctx, subject, func(tx *sql.Tx) error { return h.reg.BlankInPlace(tx, plain) }); err != nil {
		return Result{}, err
	}
	res, err := h.updateCustomer(ctx, customerID, md, customer.Forget)
	if err != nil {
		return res, err
	}
	// The key's row was overwritten with zeros in the file; the write-ahead
	// log may still hold the page as it was.
	return res, h.store.DB().Scrub(ctx)
}

// sealed registers a customer event whose given fields are personal: they
// are stored sealed under the customer's key since schema version 2, and
// in the clear in version 1 (read as they are, blanked in place when the
// customer is forgotten).
func sealed(p events.Payload, fields ...string) events.Registration {
	return events.Registration{Payload: p, Version: 2,
		Upcasters: map[int]events.Upcaster{1: func(v1 json.RawMessage) (json.RawMessage, error) { return v1, nil }},
		Personal:  &events.Personal{Subject: "customerId", Prefix: customer.StreamID(""), Fields: fields}}
}

func (h *Handlers) updateCustomer(ctx context.Context, id string, md events.Metadata,
	decide func(customer.Customer) ([]customer.Event, error)) (Result, error) {
	if err := bounds.CheckID("customer id", id); err != nil {
		return Result{}, err
	}
	res, err := decideOne(ctx, h, customer.StreamID(id), customer.Customer.Evolve, same(newMetadata(md)), decide)
	if errors.Is(err, events.ErrForgotten) {
		// Forgotten after this decision was made: its key is gone.
		err = customer.ErrForgotten
	}
	res.ID = id
	return res, err
}

// forgotten says whether the customer was forgotten, as this database's
// keyring knows: their key is deleted before CustomerForgotten is recorded,
// so the keyring knows first.
func (h *Handlers) forgotten(customerID string) (bool, error) {
	keys := h.reg.Keys()
	if keys == nil {
		return false, nil
	}
	return keys.Forgotten(customer.StreamID(customerID))
}
