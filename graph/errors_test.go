package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"orderflow/domain/fault"
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
		{"internal", errors.New("sql: database is closed"), CodeInternal, true},
		{"request limit", gqlerror.Wrap(&limitError{what: "aliases", got: 201, limit: 200}), CodeLimitExceeded, false},
		{"complexity limit", complexityRefusal(), CodeLimitExceeded, false},
		{"introspection off", gqlerror.Wrap(errIntrospectionOff), CodeBadUserInput, false},
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

// complexityRefusal is the error extension.ComplexityLimit returns.
func complexityRefusal() error {
	err := gqlerror.Errorf("operation has complexity 20001, which exceeds the limit of 10000")
	errcode.Set(err, gqlgenComplexityCode)
	return err
}
