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

func (CustomerRegistered) EventType() string     { return "CustomerRegistered" }
func (CustomerAddressChanged) EventType() string { return "CustomerAddressChanged" }

// Event is any event of a customer stream.
type Event interface{ EventType() string }

// Customer is one customer's state.
type Customer struct {
	ID      string
	Name    string
	Email   string
	Address string
}

// Registered reports whether the customer exists.
func (c Customer) Registered() bool { return c.ID != "" }

// Evolve applies one event.
func (c Customer) Evolve(e Event) Customer {
	switch e := e.(type) {
	case CustomerRegistered:
		c.ID, c.Name, c.Email, c.Address = e.CustomerID, e.Name, e.Email, e.Address
	case CustomerAddressChanged:
		c.Address = e.Address
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
	case address == "":
		return nil, ErrBlankAddress
	case address == c.Address:
		return nil, nil
	}
	return []Event{CustomerAddressChanged{CustomerID: c.ID, Address: address}}, nil
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
