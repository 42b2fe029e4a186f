// Package access decides who may call which GraphQL operation: who the
// caller is (a signed JWT, see token.go), and the rules of DOMAIN.md
// "Access" in one table (policy.go). Resolvers ask it once per operation;
// nothing else in the API knows a rule.
package access

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Role is what a caller may do in general; ownership narrows a customer.
type Role string

// Roles a token may carry.
const (
	RoleCustomer Role = "customer"
	RoleAdmin    Role = "admin"
)

// Caller is who sent a request. A customer's Subject is its customer id.
type Caller struct {
	Subject string
	Role    Role
}

// Open is the caller of every request when access control is off (no
// secret): an administrator, so that development needs no tokens.
func Open() Caller { return Caller{Subject: "open", Role: RoleAdmin} }

// UnauthenticatedError refuses a request without a valid token.
type UnauthenticatedError struct{ Reason string }

func (e *UnauthenticatedError) Error() string {
	return "not signed in: " + e.Reason
}

// ForbiddenError refuses a signed-in caller what is not theirs to do or see.
type ForbiddenError struct {
	Operation Operation
	Reason    string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s is not allowed: %s", e.Operation, e.Reason)
}

type callerKey struct{}

// identity is what the context says about the caller: who, or why nobody.
type identity struct {
	caller  Caller
	expires time.Time // zero: does not expire
	err     error
}

// WithCaller returns ctx carrying an authenticated caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, identity{caller: c})
}

// withToken returns ctx carrying a caller whose token expires at exp.
func withToken(ctx context.Context, c Caller, exp time.Time) context.Context {
	return context.WithValue(ctx, callerKey{}, identity{caller: c, expires: exp})
}

// Expires is when the request's token expires; zero when it has none or
// access control is off. A WebSocket connection ends then.
func Expires(ctx context.Context) time.Time {
	id, _ := ctx.Value(callerKey{}).(identity)
	return id.expires
}

// WithRefusal returns ctx carrying why the request has no caller (a token
// that failed verification); operations then answer with that reason.
func WithRefusal(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, callerKey{}, identity{err: err})
}

// CallerFrom returns the request's caller, or an *UnauthenticatedError
// saying why there is none.
func CallerFrom(ctx context.Context) (Caller, error) {
	id, ok := ctx.Value(callerKey{}).(identity)
	switch {
	case !ok:
		return Caller{}, &UnauthenticatedError{Reason: "send a token in the Authorization header as Bearer <token>"}
	case id.err != nil:
		var u *UnauthenticatedError
		if errors.As(id.err, &u) {
			return Caller{}, id.err
		}
		return Caller{}, &UnauthenticatedError{Reason: id.err.Error()}
	}
	return id.caller, nil
}
