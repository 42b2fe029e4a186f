package access

import "context"

// Operation is a root field of the GraphQL schema. Fields below a root
// (an order's history and timeline, a product's stock) are reached only
// through a root the caller was allowed, and need no rule of their own.
type Operation string

// Every root field of the schema (policy_test.go checks the list against it).
const (
	Order         Operation = "order"
	OrderAt       Operation = "orderAt"
	Orders        Operation = "orders"
	Product       Operation = "product"
	Products      Operation = "products"
	Customer      Operation = "customer"
	Customers     Operation = "customers"
	Stock         Operation = "stock"
	Events        Operation = "events"
	Notifications Operation = "notifications"
	Projections   Operation = "projections"
	DeadLetters   Operation = "deadLetters"
	Stats         Operation = "stats"

	RegisterCustomer      Operation = "registerCustomer"
	UpdateCustomerAddress Operation = "updateCustomerAddress"
	ForgetCustomer        Operation = "forgetCustomer"
	UpsertProduct         Operation = "upsertProduct"
	AddStock              Operation = "addStock"
	PlaceOrder            Operation = "placeOrder"
	PayOrder              Operation = "payOrder"
	ShipOrder             Operation = "shipOrder"
	CancelOrder           Operation = "cancelOrder"
	RebuildProjection     Operation = "rebuildProjection"
	RetryDeadLetter       Operation = "retryDeadLetter"

	OrderUpdated Operation = "orderUpdated"
)

// rule is who may call an operation.
type rule int

const (
	// adminOnly is the zero rule, so an operation nobody gave a rule is
	// refused to customers rather than opened by mistake.
	adminOnly rule = iota
	// signedIn lets every signed-in caller: the catalog and stock.
	signedIn
	// ownData lets an admin, and a customer when the data is its own.
	ownData
)

// ruleOf is the policy, one line per operation. known is false for a name
// that is not an operation of the schema.
func ruleOf(op Operation) (r rule, known bool) {
	switch op {
	case Product, Products, Stock:
		return signedIn, true
	case Order, OrderAt, Orders, Customer, Events, Notifications, OrderUpdated,
		RegisterCustomer, UpdateCustomerAddress, PlaceOrder, PayOrder, CancelOrder:
		return ownData, true
	case Customers, Projections, Stats, ForgetCustomer, UpsertProduct, AddStock, ShipOrder, RebuildProjection, DeadLetters, RetryDeadLetter:
		return adminOnly, true
	}
	return adminOnly, false
}

type ownerKind int

const (
	everyone ownerKind = iota
	oneCustomer
	nobody
)

// Owner says whose data an operation touches. The zero Owner is everyone's
// (the whole log, every order): a customer may not see that.
type Owner struct {
	kind       ownerKind
	customerID string
}

// OwnedBy is data of one customer; an empty id means everyone's.
func OwnedBy(customerID string) Owner {
	if customerID == "" {
		return Everyone()
	}
	return Owner{kind: oneCustomer, customerID: customerID}
}

// Everyone is data of every customer: an unfiltered list, the whole log.
func Everyone() Owner { return Owner{kind: everyone} }

// Nobody is data that does not exist (an order id nobody placed, read
// after the fact): any signed-in caller may learn that it is not there.
func Nobody() Owner { return Owner{kind: nobody} }

// Decide is the policy for one call: nil when c may call op on owner's data,
// a *ForbiddenError otherwise. It is pure; Allow adds who is calling.
func Decide(c Caller, op Operation, owner Owner) error {
	r, _ := ruleOf(op)
	if c.Role == RoleAdmin {
		return nil
	}
	if c.Role != RoleCustomer {
		return &ForbiddenError{Operation: op, Reason: "unknown role " + string(c.Role)}
	}
	switch r {
	case signedIn:
		return nil
	case ownData:
		switch {
		case owner.kind == nobody:
			return nil
		case owner.kind == oneCustomer && owner.customerID == c.Subject:
			return nil
		case owner.kind == oneCustomer:
			return &ForbiddenError{Operation: op, Reason: "it belongs to another customer"}
		}
		return &ForbiddenError{Operation: op, Reason: "a customer sees only its own data; give your customer id"}
	}
	return &ForbiddenError{Operation: op, Reason: "it is for administrators"}
}

// Allow decides the call of op on owner's data by the request's caller:
// nil, an *UnauthenticatedError or a *ForbiddenError.
func Allow(ctx context.Context, op Operation, owner Owner) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	return Decide(c, op, owner)
}

// AllowLookup is Allow for data whose owner has to be looked up (the
// customer of an order). The lookup runs only when the answer depends on
// it, so administrators, and every request when access control is off,
// pay nothing for it. Its error (say, not found) is returned as it is.
func AllowLookup(ctx context.Context, op Operation, lookup func(context.Context) (Owner, error)) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	if r, _ := ruleOf(op); r != ownData || c.Role != RoleCustomer {
		return Decide(c, op, Everyone())
	}
	owner, err := lookup(ctx)
	if err != nil {
		return err
	}
	return Decide(c, op, owner)
}

// Scope is the customer a list or a registration is about: the one the
// caller named, or else, for a customer, itself (a customer's orders()
// lists its own orders). Empty means every customer's, or a new id.
func Scope(ctx context.Context, customerID *string) string {
	if customerID != nil {
		return *customerID
	}
	if c, err := CallerFrom(ctx); err == nil && c.Role == RoleCustomer {
		return c.Subject
	}
	return ""
}
