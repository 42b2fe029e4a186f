package access_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"orderflow/graph"
	"orderflow/graph/access"
	"orderflow/graph/generated"
)

// outcome of one call in the table below.
type outcome string

const (
	allowed         outcome = "allowed"
	unauthenticated outcome = "UNAUTHENTICATED"
	forbidden       outcome = "FORBIDDEN"
)

// The callers of the table: ada owns the data every call touches.
var (
	ada   = access.Caller{Subject: "ada", Role: access.RoleCustomer}
	bob   = access.Caller{Subject: "bob", Role: access.RoleCustomer}
	admin = access.Caller{Subject: "root", Role: access.RoleAdmin}
)

// policyTable is DOMAIN.md "Access", one row per root field of the schema:
// what an anonymous caller, the owning customer, another customer and an
// admin get when the operation touches ada's data.
var policyTable = []struct {
	op                         access.Operation
	anonymous, owner, other, a outcome
}{
	// Catalog and stock: every signed-in caller reads them; writes are admin's.
	{access.Product, unauthenticated, allowed, allowed, allowed},
	{access.Products, unauthenticated, allowed, allowed, allowed},
	{access.Stock, unauthenticated, allowed, allowed, allowed},
	{access.UpsertProduct, unauthenticated, forbidden, forbidden, allowed},
	{access.AddStock, unauthenticated, forbidden, forbidden, allowed},
	// A customer's own record.
	{access.RegisterCustomer, unauthenticated, allowed, forbidden, allowed},
	{access.Customer, unauthenticated, allowed, forbidden, allowed},
	// Every customer's record: a list of them is no customer's own.
	{access.Customers, unauthenticated, forbidden, forbidden, allowed},
	{access.UpdateCustomerAddress, unauthenticated, allowed, forbidden, allowed},
	// Erasure is an admin's, on the customer's request.
	{access.ForgetCustomer, unauthenticated, forbidden, forbidden, allowed},
	// Its orders, their story and what was sent about them.
	{access.PlaceOrder, unauthenticated, allowed, forbidden, allowed},
	{access.PayOrder, unauthenticated, allowed, forbidden, allowed},
	{access.CancelOrder, unauthenticated, allowed, forbidden, allowed},
	{access.Order, unauthenticated, allowed, forbidden, allowed},
	{access.OrderAt, unauthenticated, allowed, forbidden, allowed},
	{access.Orders, unauthenticated, allowed, forbidden, allowed},
	{access.OrderUpdated, unauthenticated, allowed, forbidden, allowed},
	{access.Events, unauthenticated, allowed, forbidden, allowed},
	{access.Notifications, unauthenticated, allowed, forbidden, allowed},
	// Running the shop.
	{access.ShipOrder, unauthenticated, forbidden, forbidden, allowed},
	{access.RebuildProjection, unauthenticated, forbidden, forbidden, allowed},
	{access.Projections, unauthenticated, forbidden, forbidden, allowed},
	{access.Stats, unauthenticated, forbidden, forbidden, allowed},
	{access.DeadLetters, unauthenticated, forbidden, forbidden, allowed},
	{access.RetryDeadLetter, unauthenticated, forbidden, forbidden, allowed},
}

func TestPolicyEveryOperationByRole(t *testing.T) {
	for _, row := range policyTable {
		for _, c := range []struct {
			name string
			ctx  context.Context
			want outcome
		}{
			{"anonymous", context.Background(), row.anonymous},
			{"owner", access.WithCaller(context.Background(), ada), row.owner},
			{"other customer", access.WithCaller(context.Background(), bob), row.other},
			{"admin", access.WithCaller(context.Background(), admin), row.a},
		} {
			t.Run(string(row.op)+"/"+c.name, func(t *testing.T) {
				if got := outcomeOf(access.Allow(c.ctx, row.op, access.OwnedBy("ada"))); got != c.want {
					t.Errorf("Allow = %s, want %s", got, c.want)
				}
				// The same through a lookup of the owner, as for an order id.
				lookup := func(context.Context) (access.Owner, error) { return access.OwnedBy("ada"), nil }
				if got := outcomeOf(access.AllowLookup(c.ctx, row.op, lookup)); got != c.want {
					t.Errorf("AllowLookup = %s, want %s", got, c.want)
				}
			})
		}
	}
}

// TestPolicyCoversTheSchema fails when the schema gains a root field the
// table has no row for: a new operation must be given a rule on purpose.
func TestPolicyCoversTheSchema(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	var fields []string
	for _, root := range []string{"Query", "Mutation", "Subscription"} {
		for _, f := range schema.Types[root].Fields {
			if len(f.Name) < 2 || f.Name[:2] != "__" {
				fields = append(fields, f.Name)
			}
		}
	}
	var rows []string
	for _, row := range policyTable {
		rows = append(rows, string(row.op))
	}
	slices.Sort(fields)
	slices.Sort(rows)
	if !slices.Equal(fields, rows) {
		t.Errorf("the policy table names %v,\nthe schema's root fields are %v", rows, fields)
	}
}

// An operation the policy does not know is refused to customers.
func TestPolicyUnknownOperationIsAdmins(t *testing.T) {
	if got := outcomeOf(access.Decide(ada, "deleteEverything", access.OwnedBy("ada"))); got != forbidden {
		t.Errorf("customer: %s, want FORBIDDEN", got)
	}
	if got := outcomeOf(access.Decide(admin, "deleteEverything", access.Everyone())); got != allowed {
		t.Errorf("admin: %s, want allowed", got)
	}
}

// Whose data it is decides for customers: their own, everyone's (the whole
// log, every order) or data that is not there.
func TestPolicyOwners(t *testing.T) {
	tests := []struct {
		name  string
		owner access.Owner
		want  outcome
	}{
		{"own", access.OwnedBy("ada"), allowed},
		{"another's", access.OwnedBy("bob"), forbidden},
		{"everyone's", access.Everyone(), forbidden},
		{"no customer named is everyone's", access.OwnedBy(""), forbidden},
		{"the zero owner is everyone's", access.Owner{}, forbidden},
		{"nothing there", access.Nobody(), allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(access.Decide(ada, access.Orders, tt.owner)); got != tt.want {
				t.Errorf("customer ada: %s, want %s", got, tt.want)
			}
			if got := outcomeOf(access.Decide(admin, access.Orders, tt.owner)); got != allowed {
				t.Errorf("admin: %s, want allowed", got)
			}
		})
	}
	if got := outcomeOf(access.Decide(access.Caller{Subject: "ada", Role: "superuser"}, access.Product, access.Everyone())); got != forbidden {
		t.Errorf("unknown role reading a product: %s, want FORBIDDEN", got)
	}
}

// The owner is looked up only when the answer depends on it, and a failed
// lookup (an order that is not there) is the answer.
func TestAllowLookup(t *testing.T) {
	calls := 0
	notThere := errors.New("order not found")
	lookup := func(context.Context) (access.Owner, error) { calls++; return access.Owner{}, notThere }
	for _, c := range []access.Caller{admin, access.Open()} {
		if err := access.AllowLookup(access.WithCaller(context.Background(), c), access.PayOrder, lookup); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
	if err := access.AllowLookup(access.WithCaller(context.Background(), ada), access.Product, lookup); err != nil {
		t.Errorf("customer reading a product: %v", err)
	}
	if err := access.AllowLookup(context.Background(), access.PayOrder, lookup); outcomeOf(err) != unauthenticated {
		t.Errorf("anonymous: %v, want UNAUTHENTICATED", err)
	}
	if calls != 0 {
		t.Errorf("the owner was looked up %d times where it decides nothing", calls)
	}
	if err := access.AllowLookup(access.WithCaller(context.Background(), ada), access.PayOrder, lookup); !errors.Is(err, notThere) {
		t.Errorf("customer paying an order that is not there: %v, want the lookup's error", err)
	}
}

func TestScope(t *testing.T) {
	named := "bob"
	tests := []struct {
		name string
		ctx  context.Context
		arg  *string
		want string
	}{
		{"a customer naming nobody means itself", access.WithCaller(context.Background(), ada), nil, "ada"},
		{"a customer naming another keeps it (then refused)", access.WithCaller(context.Background(), ada), &named, "bob"},
		{"an admin naming nobody means everyone", access.WithCaller(context.Background(), admin), nil, ""},
		{"anonymous", context.Background(), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := access.Scope(tt.ctx, tt.arg); got != tt.want {
				t.Errorf("Scope = %q, want %q", got, tt.want)
			}
		})
	}
}

func outcomeOf(err error) outcome {
	var u *access.UnauthenticatedError
	var f *access.ForbiddenError
	switch {
	case err == nil:
		return allowed
	case errors.As(err, &u):
		return unauthenticated
	case errors.As(err, &f):
		return forbidden
	}
	return outcome("other: " + err.Error())
}
