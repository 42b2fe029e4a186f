package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"orderflow/domain/fault"
)

func TestKindOf(t *testing.T) {
	invalid := fault.Invalidf("bad input")
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"nil is not a refusal", nil, fault.Unknown},
		{"plain error is not a refusal", errors.New("disk on fire"), fault.Unknown},
		{"Invalidf", fault.Invalidf("x"), fault.Invalid},
		{"NotFoundf", fault.NotFoundf("x"), fault.NotFound},
		{"Conflictf", fault.Conflictf("x"), fault.Conflict},
		{"wrapped once", fmt.Errorf("placing order: %w", invalid), fault.Invalid},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", fault.Conflictf("x"))), fault.Conflict},
		{"joined with a plain error", errors.Join(errors.New("other"), fault.NotFoundf("x")), fault.NotFound},
		{"formatted without %w loses the kind", fmt.Errorf("no wrap: %v", invalid), fault.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	sentinel := fault.Conflictf("already there")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same value", sentinel, sentinel, true},
		{"wrapped sentinel", fmt.Errorf("ctx: %w", sentinel), sentinel, true},
		{"equal kind and message, different pointer", fault.Conflictf("already there"), sentinel, true},
		{"same message, different kind", fault.Invalidf("already there"), sentinel, false},
		{"same kind, different message", fault.Conflictf("something else"), sentinel, false},
		{"plain error with the same text", errors.New("already there"), sentinel, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	if got := fault.NotFoundf("order not found").Error(); got != "order not found" {
		t.Errorf("Error() = %q, want %q", got, "order not found")
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		kind fault.Kind
		code fault.Code
	}{
		{fault.Unknown, fault.CodeInternal},
		{fault.Invalid, fault.CodeBadUserInput},
		{fault.NotFound, fault.CodeNotFound},
		{fault.Conflict, fault.CodeConflict},
	}
	for _, tt := range tests {
		if got := tt.kind.Code(); got != tt.code {
			t.Errorf("%v.Code() = %q, want %q", tt.kind, got, tt.code)
		}
		if got := fault.KindOfCode(tt.code); got != tt.kind {
			t.Errorf("KindOfCode(%q) = %v, want %v", tt.code, got, tt.kind)
		}
	}
	if got := fault.KindOfCode("TIMEOUT"); got != fault.Unknown {
		t.Errorf("KindOfCode(TIMEOUT) = %v, want Unknown: only refusals have a kind", got)
	}
}

func TestFormatted(t *testing.T) {
	err := fault.Invalidf("line %d: quantity must be between %d and %d", 2, 1, 1000)
	if err.Error() != "line 2: quantity must be between 1 and 1000" || err.Kind != fault.Invalid {
		t.Errorf("Invalidf = %v (%v)", err, err.Kind)
	}
	if got := fault.New(fault.Conflict, "100% taken"); got.Error() != "100% taken" || got.Kind != fault.Conflict {
		t.Errorf("New keeps a finished message as it is, got %q", got.Error())
	}
}
