package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"orderflow/commands"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/domain/fault"
	"orderflow/graph/access"
)

// TestErrorPresenterCodes hands the presenter each error as gqlgen does: a
// resolver's error through the field middleware and wrapped on the field's
// path, an argument gqlgen could not coerce wrapped on the argument's path,
// a panic through Recover.
func TestErrorPresenterCodes(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	present := ErrorPresenter(log)
	base := graphql.WithResponseContext(context.WithValue(context.Background(), requestIDKey{}, "req-42"),
		graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	field := graphql.WithFieldContext(base, &graphql.FieldContext{
		Object: "Mutation", Field: graphql.CollectedField{Field: &ast.Field{Name: "addStock", Alias: "addStock"}},
	})
	fromResolver := func(err error) error {
		_, err = MarkResolverErrors(field, func(context.Context) (any, error) { return nil, err })
		return graphql.ErrorOnPath(field, graphql.AddFieldLocationToError(field, err))
	}
	argument := func(err error) error {
		return graphql.ErrorOnPath(graphql.WithPathContext(field, graphql.NewPathWithField("quantity")), err)
	}
	recovered := func(error) error { return Recover(log)(field, "boom") }
	nullField := func(err error) error { return gqlerror.WrapPath(graphql.GetPath(field), err) }
	operation := func(err error) error { return gqlerror.Wrap(err) } // refused before any resolver ran
	tests := []struct {
		name     string
		cause    error
		via      func(error) error // how gqlgen hands it to the presenter
		code     string
		hideText bool // the message must not show the cause's text
	}{
		{"invalid input", fault.Invalidf("quantity must be at least 1"), fromResolver, CodeBadUserInput, false},
		{"not found", fmt.Errorf("load: %w", fault.NotFoundf("order not found")), fromResolver, CodeNotFound, false},
		{"conflict", fault.Conflictf("order is SHIPPED"), fromResolver, CodeConflict, false},
		{"read models behind", errTimeout, fromResolver, CodeTimeout, false},
		{"outcome not known", fmt.Errorf("the orders service carried out PlaceOrder in a transaction whose end failed (dial: connection refused): %w",
			commands.ErrOutcomeUnknown), fromResolver, CodeTimeout, false},
		{"overloaded", fmt.Errorf("%w: %w", errOverloaded, context.DeadlineExceeded), fromResolver, CodeOverloaded, true},
		{"cancelled", context.Canceled, fromResolver, CodeTimeout, true},
		{"database closed", errors.New("read events: sql: database is closed"), fromResolver, CodeInternal, true},
		{"database damaged", fmt.Errorf("read order: %w", errors.New("database disk image is malformed")), fromResolver, CodeInternal, true},
		{"argument not coerced", errors.New("9999999999 overflows a 32-bit integer"), argument, CodeBadUserInput, false},
		{"panic", errors.New("boom"), recovered, CodeInternal, true},
		{"non-null field resolved to null", errors.New("must not be null"), nullField, CodeInternal, true},
		{"request limit", &limitError{what: "aliases", got: 201, limit: 200}, operation, CodeLimitExceeded, false},
		{"complexity limit", complexityRefusal(), func(err error) error { return err }, CodeLimitExceeded, false},
		{"introspection off", errIntrospectionOff, operation, CodeBadUserInput, false},
		{"no token", &access.UnauthenticatedError{Reason: "the token has expired"}, fromResolver, CodeUnauthenticated, false},
		{"not theirs", fmt.Errorf("pay: %w", &access.ForbiddenError{Operation: access.PayOrder, Reason: "it belongs to another customer"}),
			fromResolver, CodeForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logged.Reset()
			got := present(field, tt.via(tt.cause))
			if got.Extensions["code"] != tt.code {
				t.Errorf("code = %v, want %s", got.Extensions["code"], tt.code)
			}
			if tt.hideText && strings.Contains(got.Message, tt.cause.Error()) {
				t.Errorf("message %q shows the error as it is", got.Message)
			}
			// (A gqlerror without a path calls itself "input: ..." in Error().)
			if !tt.hideText && got.Message != strings.TrimPrefix(tt.cause.Error(), "input: ") {
				t.Errorf("message %q, want the error's own %q", got.Message, tt.cause.Error())
			}
			if tt.code != CodeInternal {
				if _, ok := got.Extensions["requestId"]; ok || logged.Len() > 0 {
					t.Errorf("a %s error carries a request id or was logged: %v, %q", tt.code, got.Extensions, logged.String())
				}
				return
			}
			// INTERNAL: logged with its details and the request id, which
			// the client is given to quote.
			if got.Extensions["requestId"] != "req-42" || !strings.Contains(got.Message, "req-42") {
				t.Errorf("extensions %v, message %q: want requestId req-42 in both", got.Extensions, got.Message)
			}
			if !strings.Contains(logged.String(), "req-42") || !strings.Contains(logged.String(), "level=ERROR") {
				t.Errorf("log %q: want an error line with the request id", logged.String())
			}
		})
	}
}

func TestErrorPresenterKeepsGqlgensOwnCodes(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.DiscardHandler))
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	err := gqlerror.Errorf("Cannot query field \"nosuch\" on type \"Query\".")
	err.Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
	if got := present(ctx, err); got.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("code = %v, want GRAPHQL_VALIDATION_FAILED kept", got.Extensions["code"])
	}
}

// complexityRefusal is the error extension.ComplexityLimit returns.
func complexityRefusal() error {
	err := gqlerror.Errorf("operation has complexity 20001, which exceeds the limit of 10000")
	errcode.Set(err, gqlgenComplexityCode)
	return err
}
