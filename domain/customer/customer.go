// Package customer owns customer registrations and addresses. A customer's
// stream is customer-<id>.
package customer

import (
	"net/mail"
	"strings"

	"orderflow/domain/bounds"
	"orderflow/domain/fault"
)

var (
	ErrBlankID         = fault.Invalidf("customer id must not be blank")
	ErrBlankName       = fault.Invalidf("customer name must not be blank")
	ErrBlankAddress    = fault.Invalidf("address must not be blank")
	ErrBadEmail        = fault.Invalidf("email is not a well-formed address")
	ErrAlreadyExists   = fault.Conflictf("customer id is already registered with different details")
	ErrUnknownCustomer = fault.NotFoundf("customer not found")
	ErrForgotten       = fault.Conflictf("customer was forgotten: their personal data is erased and cannot be recorded again")
)

// StreamID is the stream that holds a customer's events.
func StreamID(customerID string) string { return "customer-" + customerID }

// CustomerRegistered is recorded once per customer.
type CustomerRegistered struct {
	CustomerID string `json:"customerId"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Address    string `json:"address"`
}

// CustomerAddressChanged is recorded when a customer moves.
type CustomerAddressChanged struct {
	CustomerID string `json:"customerId"`
	Address    string `json:"address"`
}

// CustomerForgotten is recorded when a customer asks to be forgotten. It
// holds nothing personal: the customer's name, email and address, sealed in
// the events before it, are erased by deleting their key.
type CustomerForgotten struct {
	CustomerID string `json:"customerId"`
}

func (CustomerRegistered) EventType() string     { return "CustomerRegistered" }
func (CustomerAddressChanged) EventType() string { return "CustomerAddressChanged" }
func (CustomerForgotten) EventType() string      { return "CustomerForgotten" }

// Event is any event of a customer stream.
type Event interface{ EventType() string }

// Customer is one customer's state.
type Customer struct {
	ID      string
	Name    string
	Email   string
	Address string
	// Forgotten says the customer asked to be forgotten: the record stays
	// (their orders point to it) with its personal fields blank.
	Forgotten bool
}

// Registered reports whether the customer exists.
func (c Customer) Registered() bool { return c.ID != "" }

// MayOrder reports whether orders may be placed for the customer: they are
// registered and were not forgotten.
func (c Customer) MayOrder() bool { return c.Registered() && !c.Forgotten }

// Evolve applies one event.
func (c Customer) Evolve(e Event) Customer {
	switch e := e.(type) {
	case CustomerRegistered:
		c.ID, c.Name, c.Email, c.Address = e.CustomerID, e.Name, e.Email, e.Address
	case CustomerAddressChanged:
		c.Address = e.Address
	case CustomerForgotten:
		c.ID = e.CustomerID
		c.Name, c.Email, c.Address, c.Forgotten = "", "", "", true
	}
	return c
}

// Register records a new customer. Registering the same id again with the
// same details is a safe retry and records nothing.
func Register(c Customer, id, name, email, address string) ([]Event, error) {
	name, email, address = strings.TrimSpace(name), strings.TrimSpace(email), strings.TrimSpace(address)
	if strings.TrimSpace(id) == "" {
		return nil, ErrBlankID
	}
	if err := bounds.CheckID("customer id", id); err != nil {
		return nil, err
	}
	switch {
	case name == "":
		return nil, ErrBlankName
	case address == "":
		return nil, ErrBlankAddress
	case !wellFormedEmail(email):
		return nil, ErrBadEmail
	}
	if c.Forgotten {
		return nil, ErrForgotten
	}
	if c.Registered() {
		if c.Name == name && c.Email == email && c.Address == address {
			return nil, nil
		}
		return nil, ErrAlreadyExists
	}
	return []Event{CustomerRegistered{CustomerID: id, Name: name, Email: email, Address: address}}, nil
}

// ChangeAddress moves a registered customer. The same address records nothing.
func ChangeAddress(c Customer, address string) ([]Event, error) {
	address = strings.TrimSpace(address)
	switch {
	case !c.Registered():
		return nil, ErrUnknownCustomer
	case c.Forgotten:
		return nil, ErrForgotten
	case address == "":
		return nil, ErrBlankAddress
	case address == c.Address:
		return nil, nil
	}
	return []Event{CustomerAddressChanged{CustomerID: c.ID, Address: address}}, nil
}

// Forget erases a registered customer: it records CustomerForgotten, on
// which their key is deleted and the read models blanked. Forgetting a
// forgotten customer records nothing (a safe retry).
func Forget(c Customer) ([]Event, error) {
	switch {
	case !c.Registered():
		return nil, ErrUnknownCustomer
	case c.Forgotten:
		return nil, nil
	}
	return []Event{CustomerForgotten{CustomerID: c.ID}}, nil
}

// wellFormedEmail accepts a bare address (no display name) with a local part
// and a domain that has a dot in it.
func wellFormedEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
