package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/domain/fault"
	"orderflow/graph/access"
)

func TestErrorPresenterCodes(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.DiscardHandler))
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	tests := []struct {
		name     string
		err      error
		code     string
		hideText bool // the message must not be the error's own text
	}{
		{"invalid input", fault.Invalidf("quantity must be at least 1"), CodeBadUserInput, false},
		{"not found", fmt.Errorf("load: %w", fault.NotFoundf("order not found")), CodeNotFound, false},
		{"conflict", fault.Conflictf("order is SHIPPED"), CodeConflict, false},
		{"read models behind", errTimeout, CodeTimeout, false},
		{"overloaded", fmt.Errorf("%w: %w", errOverloaded, context.DeadlineExceeded), CodeOverloaded, true},
		{"cancelled", context.Canceled, CodeTimeout, true},
		{"no token", &access.UnauthenticatedError{Reason: "the token has expired"}, CodeUnauthenticated, false},
		// As gqlgen hands them over: wrapped with the field's path.
		{"not theirs", gqlerror.WrapPath(ast.Path{ast.PathName("payOrder")},
			fmt.Errorf("pay: %w", &access.ForbiddenError{Operation: access.PayOrder, Reason: "it belongs to another customer"})), CodeForbidden, false},
		{"internal", errors.New("sql: database is closed"), CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := present(ctx, tt.err)
			if got.Extensions["code"] != tt.code {
				t.Errorf("code = %v, want %s", got.Extensions["code"], tt.code)
			}
			if tt.hideText && got.Message == tt.err.Error() {
				t.Errorf("message %q shows the error as it is", got.Message)
			}
		})
	}
}
