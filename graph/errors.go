package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/domain/fault"
	"orderflow/graph/access"
)

// Error codes in extensions.code.
const (
	CodeBadUserInput = "BAD_USER_INPUT"
	CodeNotFound     = "NOT_FOUND"
	CodeConflict     = "CONFLICT"
	CodeTimeout      = "TIMEOUT"
	CodeInternal     = "INTERNAL"
	CodeOverloaded   = "OVERLOADED"
	// CodeUnauthenticated: access control is on and the request has no
	// valid token.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden: the caller may not do this, or the data is not theirs.
	CodeForbidden = "FORBIDDEN"
)

// errTimeout is returned when a change was recorded but the read models did
// not show it within the wait timeout.
var errTimeout = errors.New("the change was recorded, but the read models did not catch up within the wait timeout; query again shortly")

// errOverloaded is returned when an order was not accepted because the
// validation of earlier orders lagged beyond its bound for the whole wait
// timeout. Nothing was written; the client may retry.
var errOverloaded = errors.New("the shop is busy validating earlier orders; nothing was recorded, try again shortly")

func badInput(msg string) error { return fault.Invalidf(msg) }

func notFound(msg string) error { return fault.NotFoundf(msg) }

// ErrorPresenter maps every error a resolver returns to a GraphQL error with
// extensions.code, in this one place. Errors that are not refusals by a rule
// are logged and shown as INTERNAL without their details.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		if _, coded := out.Extensions["code"]; coded {
			return out // parse and validation errors of gqlgen itself
		}
		var gqlErr *gqlerror.Error
		var unauthenticated *access.UnauthenticatedError
		var forbidden *access.ForbiddenError
		code := ""
		switch {
		case errors.As(err, &unauthenticated):
			code = CodeUnauthenticated
		case errors.As(err, &forbidden):
			code = CodeForbidden
		case errors.As(err, &gqlErr) && fault.KindOf(err) == fault.Unknown:
			// gqlgen reports arguments it could not coerce (say, an Int out
			// of range) as *gqlerror.Error; resolvers never return one.
			code = CodeBadUserInput
		case errors.Is(err, errTimeout):
			code = CodeTimeout
		case errors.Is(err, errOverloaded):
			code = CodeOverloaded
			out.Message = errOverloaded.Error()
		case fault.KindOf(err) == fault.Invalid:
			code = CodeBadUserInput
		case fault.KindOf(err) == fault.NotFound:
			code = CodeNotFound
		case fault.KindOf(err) == fault.Conflict:
			code = CodeConflict
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			code = CodeTimeout
			out.Message = "the request was cancelled or timed out"
		default:
			code = CodeInternal
			log.Error("internal error", "path", out.Path, "err", err)
			out.Message = "internal error"
		}
		if out.Extensions == nil {
			out.Extensions = map[string]any{}
		}
		out.Extensions["code"] = code
		return out
	}
}

// Recover turns a panic in a resolver into an INTERNAL error instead of a
// crashed request.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.Error("panic in resolver", "panic", fmt.Sprint(p))
		return errors.New("panic")
	}
}
