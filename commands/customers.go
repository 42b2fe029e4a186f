package commands

import (
	"context"

	"orderflow/domain/bounds"
	"orderflow/domain/customer"
	"orderflow/events"
)

// customersContext declares the customers context: who may order, and
// where to.
var customersContext = Context{
	Name:      ContextCustomers,
	Streams:   customer.StreamID(""),
	Events:    current(customer.CustomerRegistered{}, customer.CustomerAddressChanged{}),
	Commands:  []CommandName{CmdRegisterCustomer, CmdUpdateCustomerAddress},
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

func (h *Handlers) updateCustomer(ctx context.Context, id string, md events.Metadata,
	decide func(customer.Customer) ([]customer.Event, error)) (Result, error) {
	if err := bounds.CheckID("customer id", id); err != nil {
		return Result{}, err
	}
	res, err := decideOne(ctx, h, customer.StreamID(id), customer.Customer.Evolve, same(newMetadata(md)), decide)
	res.ID = id
	return res, err
}
