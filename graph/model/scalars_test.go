package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"

	"orderflow/domain/fault"
	"orderflow/graph/model"
)

func TestUnmarshalInt64(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int64
		ok   bool
	}{
		{"JSON number", json.Number("1000000000000"), 1_000_000_000_000, true},
		{"JSON number MaxInt64", json.Number("9223372036854775807"), math.MaxInt64, true},
		{"JSON number MinInt64", json.Number("-9223372036854775808"), math.MinInt64, true},
		{"JSON number past MaxInt64", json.Number("9223372036854775808"), 0, false},
		{"JSON number with a fraction", json.Number("1.5"), 0, false},
		{"JSON number with an exponent", json.Number("1e3"), 0, false},
		{"literal", int64(42), 42, true},
		{"string of digits", "1800000000000000000", 1_800_000_000_000_000_000, true},
		{"string that is not a number", "many", 0, false},
		{"whole float", float64(1 << 40), 1 << 40, true},
		{"fractional float", 2.5, 0, false},
		{"float beyond exact integers", float64(1 << 60), 0, false},
		{"boolean", true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := model.UnmarshalInt64(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("UnmarshalInt64(%v) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && fault.KindOf(err) != fault.Invalid {
				t.Fatalf("refusal %v is not Invalid (BAD_USER_INPUT)", err)
			}
		})
	}
}

func TestUnmarshalIntIs32Bit(t *testing.T) {
	tests := []struct {
		in   any
		want int
		ok   bool
	}{
		{json.Number("2147483647"), math.MaxInt32, true},
		{json.Number("2147483648"), 0, false},
		{json.Number("-2147483648"), math.MinInt32, true},
		{json.Number("-2147483649"), 0, false},
		{json.Number("9223372036854775807"), 0, false},
		{int64(1000), 1000, true},
		{json.Number("1.0"), 0, false},
	}
	for _, tt := range tests {
		got, err := model.UnmarshalInt(context.Background(), tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("UnmarshalInt(%v) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("refusal %v is not Invalid (BAD_USER_INPUT)", err)
		}
	}
}

func TestMarshal(t *testing.T) {
	var b bytes.Buffer
	model.MarshalInt64(math.MaxInt64).MarshalGQL(&b)
	if b.String() != "9223372036854775807" {
		t.Errorf("MarshalInt64(MaxInt64) wrote %q", b.String())
	}
	b.Reset()
	if err := model.MarshalInt(math.MaxInt32).MarshalGQLContext(context.Background(), &b); err != nil || b.String() != "2147483647" {
		t.Errorf("MarshalInt(MaxInt32) wrote %q, %v", b.String(), err)
	}
	b.Reset()
	if err := model.MarshalInt(math.MaxInt32+1).MarshalGQLContext(context.Background(), &b); err == nil {
		t.Errorf("MarshalInt(MaxInt32+1) wrote %q: an Int must stay 32-bit", b.String())
	}
}
