package customer_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"orderflow/domain/customer"
	"orderflow/domain/fault"
)

func registered(id, name, email, address string) customer.Customer {
	return customer.Customer{}.Evolve(customer.CustomerRegistered{CustomerID: id, Name: name, Email: email, Address: address})
}

func sameEvents(got, want []customer.Event) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

func TestRegister(t *testing.T) {
	ann := registered("c1", "Ann", "ann@example.com", "1 Main St")
	annRegistered := []customer.Event{customer.CustomerRegistered{CustomerID: "c1", Name: "Ann", Email: "ann@example.com", Address: "1 Main St"}}
	tests := []struct {
		name                  string
		state                 customer.Customer
		id, cname, email, adr string
		want                  []customer.Event
		wantErr               error
		wantKind              fault.Kind
	}{
		{name: "new customer", id: "c1", cname: "Ann", email: "ann@example.com", adr: "1 Main St", want: annRegistered},
		{name: "new customer, inputs trimmed", id: "c1", cname: "  Ann ", email: " ann@example.com\t", adr: "\n1 Main St ", want: annRegistered},
		{name: "identical retry records nothing", state: ann, id: "c1", cname: "Ann", email: "ann@example.com", adr: "1 Main St"},
		{name: "identical retry after trimming records nothing", state: ann, id: "c1", cname: " Ann", email: "ann@example.com ", adr: " 1 Main St"},
		{name: "different name", state: ann, id: "c1", cname: "Anne", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrAlreadyExists, wantKind: fault.Conflict},
		{name: "different email", state: ann, id: "c1", cname: "Ann", email: "ann@example.org", adr: "1 Main St", wantErr: customer.ErrAlreadyExists, wantKind: fault.Conflict},
		{name: "different address", state: ann, id: "c1", cname: "Ann", email: "ann@example.com", adr: "2 Main St", wantErr: customer.ErrAlreadyExists, wantKind: fault.Conflict},
		{name: "blank id", id: "", cname: "Ann", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrBlankID, wantKind: fault.Invalid},
		{
			name: "id of 128 bytes", id: strings.Repeat("c", 128), cname: "Ann", email: "ann@example.com", adr: "1 Main St",
			want: []customer.Event{customer.CustomerRegistered{CustomerID: strings.Repeat("c", 128), Name: "Ann", Email: "ann@example.com", Address: "1 Main St"}},
		},
		{name: "id of 129 bytes", id: strings.Repeat("c", 129), cname: "Ann", email: "ann@example.com", adr: "1 Main St", wantKind: fault.Invalid},
		{name: "id of 1 MB", id: strings.Repeat("c", 1<<20), cname: "Ann", email: "ann@example.com", adr: "1 Main St", wantKind: fault.Invalid},
		{name: "id with a line break", id: "c\n1", cname: "Ann", email: "ann@example.com", adr: "1 Main St", wantKind: fault.Invalid},
		{name: "whitespace id", id: "  ", cname: "Ann", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrBlankID, wantKind: fault.Invalid},
		{name: "blank name", id: "c1", cname: "", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrBlankName, wantKind: fault.Invalid},
		{name: "whitespace name", id: "c1", cname: " \t ", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrBlankName, wantKind: fault.Invalid},
		{name: "blank address", id: "c1", cname: "Ann", email: "ann@example.com", adr: "", wantErr: customer.ErrBlankAddress, wantKind: fault.Invalid},
		{name: "whitespace address", id: "c1", cname: "Ann", email: "ann@example.com", adr: "   ", wantErr: customer.ErrBlankAddress, wantKind: fault.Invalid},
		{name: "invalid input on a registered id is still invalid", state: ann, id: "c1", cname: "", email: "ann@example.com", adr: "1 Main St", wantErr: customer.ErrBlankName, wantKind: fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := customer.Register(tt.state, tt.id, tt.cname, tt.email, tt.adr)
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

func TestRegisterEmail(t *testing.T) {
	tests := []struct {
		email string
		ok    bool
	}{
		{"ann@example.com", true},
		{"a@b.c", true},
		{"ann.lee+orders@mail.example.co.uk", true},
		{"ANN@EXAMPLE.COM", true},
		{"", false},
		{"ann", false},
		{"ann.example.com", false},           // no @
		{"ann@example", false},               // no dot in the domain
		{"ann@localhost", false},             // no dot in the domain
		{"Ann <ann@example.com>", false},     // display name form
		{"\"Ann\" <ann@example.com>", false}, // quoted display name form
		{"<ann@example.com>", false},         // angle brackets without a name
		{"ann lee@example.com", false},       // space in the local part
		{"ann@exa mple.com", false},          // space in the domain
		{"ann@ example.com", false},          // space after @
		{"@example.com", false},              // no local part
		{"ann@", false},                      // no domain
		{"ann@.com", false},                  // domain starts with a dot
		{"ann@example.", false},              // domain ends with a dot
		{"ann@@example.com", false},
		{"ann@example.com, bob@example.com", false}, // a list, not an address
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			got, err := customer.Register(customer.Customer{}, "c1", "Ann", tt.email, "1 Main St")
			if tt.ok {
				want := []customer.Event{customer.CustomerRegistered{CustomerID: "c1", Name: "Ann", Email: tt.email, Address: "1 Main St"}}
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("Register = %#v, %v; want %#v, nil", got, err, want)
				}
				return
			}
			if !errors.Is(err, customer.ErrBadEmail) || fault.KindOf(err) != fault.Invalid {
				t.Fatalf("Register error = %v (kind %v), want ErrBadEmail (Invalid)", err, fault.KindOf(err))
			}
			if len(got) != 0 {
				t.Errorf("events = %#v, want none", got)
			}
		})
	}
}

func TestChangeAddress(t *testing.T) {
	ann := registered("c1", "Ann", "ann@example.com", "1 Main St")
	tests := []struct {
		name     string
		state    customer.Customer
		address  string
		want     []customer.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{name: "unknown customer", address: "2 Main St", wantErr: customer.ErrUnknownCustomer, wantKind: fault.NotFound},
		{name: "unknown customer with blank address is still not found", address: "", wantErr: customer.ErrUnknownCustomer, wantKind: fault.NotFound},
		{name: "blank address", state: ann, address: "", wantErr: customer.ErrBlankAddress, wantKind: fault.Invalid},
		{name: "whitespace address", state: ann, address: " \t", wantErr: customer.ErrBlankAddress, wantKind: fault.Invalid},
		{name: "same address records nothing", state: ann, address: "1 Main St"},
		{name: "same address after trimming records nothing", state: ann, address: "  1 Main St "},
		{
			name: "new address", state: ann, address: "2 Side Rd",
			want: []customer.Event{customer.CustomerAddressChanged{CustomerID: "c1", Address: "2 Side Rd"}},
		},
		{
			name: "new address trimmed", state: ann, address: " 2 Side Rd\n",
			want: []customer.Event{customer.CustomerAddressChanged{CustomerID: "c1", Address: "2 Side Rd"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := customer.ChangeAddress(tt.state, tt.address)
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
	c := customer.Customer{}
	if c.Registered() {
		t.Fatal("zero customer reports Registered")
	}
	c = c.Evolve(customer.CustomerRegistered{CustomerID: "c1", Name: "Ann", Email: "ann@example.com", Address: "1 Main St"})
	c = c.Evolve(customer.CustomerAddressChanged{CustomerID: "c1", Address: "2 Side Rd"})
	want := customer.Customer{ID: "c1", Name: "Ann", Email: "ann@example.com", Address: "2 Side Rd"}
	if c != want || !c.Registered() {
		t.Fatalf("state = %+v (registered %v), want %+v", c, c.Registered(), want)
	}
	// After the move, registering with the old address is different input.
	if _, err := customer.Register(c, "c1", "Ann", "ann@example.com", "1 Main St"); fault.KindOf(err) != fault.Conflict {
		t.Errorf("Register with the old address: err %v, want Conflict", err)
	}
	if events, err := customer.Register(c, "c1", "Ann", "ann@example.com", "2 Side Rd"); err != nil || len(events) != 0 {
		t.Errorf("Register with the current details = %#v, %v; want nothing", events, err)
	}
}

func TestSentinelKinds(t *testing.T) {
	tests := []struct {
		err  error
		want fault.Kind
	}{
		{customer.ErrBlankID, fault.Invalid},
		{customer.ErrBlankName, fault.Invalid},
		{customer.ErrBlankAddress, fault.Invalid},
		{customer.ErrBadEmail, fault.Invalid},
		{customer.ErrAlreadyExists, fault.Conflict},
		{customer.ErrUnknownCustomer, fault.NotFound},
	}
	for _, tt := range tests {
		if k := fault.KindOf(tt.err); k != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, k, tt.want)
		}
		if k := fault.KindOf(fmt.Errorf("ctx: %w", tt.err)); k != tt.want {
			t.Errorf("KindOf(wrapped %v) = %v, want %v", tt.err, k, tt.want)
		}
	}
}

func TestStreamID(t *testing.T) {
	if got := customer.StreamID("c1"); got != "customer-c1" {
		t.Errorf("StreamID = %q, want customer-c1", got)
	}
}

func TestForget(t *testing.T) {
	ann := registered("c1", "Ann", "ann@example.com", "1 Main St")
	gone := ann.Evolve(customer.CustomerForgotten{CustomerID: "c1"})
	tests := []struct {
		name     string
		decide   func() ([]customer.Event, error)
		want     []customer.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{name: "forget a registered customer", decide: func() ([]customer.Event, error) { return customer.Forget(ann) },
			want: []customer.Event{customer.CustomerForgotten{CustomerID: "c1"}}},
		{name: "forget again records nothing", decide: func() ([]customer.Event, error) { return customer.Forget(gone) }},
		{name: "forget an unknown customer", decide: func() ([]customer.Event, error) { return customer.Forget(customer.Customer{}) },
			wantErr: customer.ErrUnknownCustomer, wantKind: fault.NotFound},
		{name: "register a forgotten id again, same details", decide: func() ([]customer.Event, error) {
			return customer.Register(gone, "c1", "Ann", "ann@example.com", "1 Main St")
		}, wantErr: customer.ErrForgotten, wantKind: fault.Conflict},
		{name: "register a forgotten id with blank details is still refused for its input", decide: func() ([]customer.Event, error) {
			return customer.Register(gone, "c1", "", "ann@example.com", "1 Main St")
		}, wantErr: customer.ErrBlankName, wantKind: fault.Invalid},
		{name: "move a forgotten customer", decide: func() ([]customer.Event, error) { return customer.ChangeAddress(gone, "2 Side Rd") },
			wantErr: customer.ErrForgotten, wantKind: fault.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decide()
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

func TestEvolveForgotten(t *testing.T) {
	c := registered("c1", "Ann", "ann@example.com", "1 Main St").Evolve(customer.CustomerForgotten{CustomerID: "c1"})
	want := customer.Customer{ID: "c1", Forgotten: true}
	if c != want {
		t.Fatalf("state = %+v, want %+v", c, want)
	}
	if !c.Registered() || c.MayOrder() {
		t.Errorf("forgotten customer: registered %v (want true: their orders point to it), may order %v (want false)", c.Registered(), c.MayOrder())
	}
	if !registered("c1", "Ann", "ann@example.com", "1 Main St").MayOrder() {
		t.Error("a registered customer may not order")
	}
}
