package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/graph/access"
)

// Error codes in extensions.code.
const (
	CodeBadUserInput = string(fault.CodeBadUserInput)
	CodeNotFound     = string(fault.CodeNotFound)
	CodeConflict     = string(fault.CodeConflict)
	CodeInternal     = string(fault.CodeInternal)
	CodeTimeout      = "TIMEOUT"
	CodeOverloaded   = "OVERLOADED"
	// CodeLimitExceeded refuses a request that asks more than the server's
	// request limits allow (body size, complexity, aliases, mutations).
	// Nothing of it ran.
	CodeLimitExceeded = "LIMIT_EXCEEDED"
	// CodeUnauthenticated: access control is on and the request has no
	// valid token.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden: the caller may not do this, or the data is not theirs.
	CodeForbidden = "FORBIDDEN"
)

// gqlgenComplexityCode is the code extension.ComplexityLimit gives its
// refusal; it is answered as LIMIT_EXCEEDED like the other limits.
const gqlgenComplexityCode = "COMPLEXITY_LIMIT_EXCEEDED"

// errTimeout is returned when a change was recorded but the read models did
// not show it within the wait timeout.
var errTimeout = errors.New("the change was recorded, but the read models did not catch up within the wait timeout; query again shortly")

// errOverloaded is returned when an order was not accepted because the
// validation of earlier orders lagged beyond its bound for the whole wait
// timeout. Nothing was written; the client may retry.
var errOverloaded = errors.New("the shop is busy validating earlier orders; nothing was recorded, try again shortly")

func badInput(msg string) error { return fault.New(fault.Invalid, msg) }

func notFound(msg string) error { return fault.New(fault.NotFound, msg) }

// errPanic stands for a panic in a resolver (Recover logged it).
var errPanic = errors.New("panic in resolver")

// resolverError marks an error a resolver returned, as opposed to one gqlgen
// made itself. gqlgen wraps both in *gqlerror.Error before the presenter
// sees them, so the wrapper alone cannot tell a refused argument from a
// database failure; MarkResolverErrors puts this mark on the first kind.
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// MarkResolverErrors is a field middleware (handler.AroundFields) that marks
// every error a resolver returns, for ErrorPresenter.
func MarkResolverErrors(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		err = &resolverError{err}
	}
	return res, err
}

// ErrorPresenter maps every error to a GraphQL error with extensions.code,
// in this one place, by what the error wraps. Errors that are not refusals
// (by a rule, of an argument, or a timeout) are INTERNAL: logged with the
// request id, and shown without their details, with that id in
// extensions.requestId.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		if out.Extensions["code"] == gqlgenComplexityCode {
			out.Extensions["code"] = CodeLimitExceeded
		}
		if _, coded := out.Extensions["code"]; coded {
			return out // parse and validation errors of gqlgen itself
		}
		var fromResolver *resolverError
		var limitErr *limitError
		var unauthenticated *access.UnauthenticatedError
		var forbidden *access.ForbiddenError
		code := CodeInternal
		switch {
		case errors.As(err, &unauthenticated):
			code = CodeUnauthenticated
		case errors.As(err, &forbidden):
			code = CodeForbidden
		case errors.As(err, &limitErr):
			code = CodeLimitExceeded
		case errors.Is(err, errPanic):
		case !errors.As(err, &fromResolver) && fault.KindOf(err) == fault.Invalid:
			// A refusal of the request as a whole, before any resolver ran
			// (introspection turned off).
			code = CodeBadUserInput
		case !errors.As(err, &fromResolver):
			if isArgumentError(ctx, out) {
				code = CodeBadUserInput
			}
		case errors.Is(err, errTimeout), errors.Is(err, commands.ErrOutcomeUnknown):
			code = CodeTimeout
		case errors.Is(err, errOverloaded):
			code = CodeOverloaded
			out.Message = errOverloaded.Error()
		case fault.KindOf(err) != fault.Unknown:
			code = string(fault.KindOf(err).Code())
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			code = CodeTimeout
			out.Message = "the request was cancelled or timed out"
		}
		if out.Extensions == nil {
			out.Extensions = map[string]any{}
		}
		if code == CodeInternal {
			id := requestID(ctx)
			log.Error("internal error", "requestId", id, "path", out.Path, "err", err)
			out.Message = "internal error (request " + id + ")"
			out.Extensions["requestId"] = id
		}
		out.Extensions["code"] = code
		return out
	}
}

// isArgumentError says gqlgen reported an argument of the field it could not
// coerce (say, an Int out of range): its path goes below the field's, to the
// argument. gqlgen's other errors of its own (a non-null field resolved to
// null) are the server's fault.
func isArgumentError(ctx context.Context, e *gqlerror.Error) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && len(e.Path) > len(fc.Path())
}

// Recover turns a panic in a resolver into an INTERNAL error instead of a
// crashed request.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.Error("panic in resolver", "requestId", requestID(ctx), "panic", fmt.Sprint(p))
		return errPanic
	}
}
