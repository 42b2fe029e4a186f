package bounds_test

import (
	"math"
	"strings"
	"testing"

	"orderflow/domain/bounds"
	"orderflow/domain/fault"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"one byte", "a", true},
		{"128 bytes", strings.Repeat("a", 128), true},
		{"129 bytes", strings.Repeat("a", 129), false},
		{"one megabyte", strings.Repeat("a", 1<<20), false},
		{"128 bytes of two-byte runes", strings.Repeat("é", 64), true},
		{"130 bytes of two-byte runes", strings.Repeat("é", 65), false},
		{"inner space prints", "ada lovelace", true},
		{"empty", "", false},
		{"blank", "   ", false},
		{"invalid UTF-8", "ada\xff", false},
		{"line break", "ada\nlovelace", false},
		{"NUL", "ada\x00", false},
		{"tab", "ada\tx", false},
		{"zero-width format character", "ada\u200b", false},
		{"emoji prints", "ada-🚀", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bounds.CheckID("customerId", tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckID(%.20q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
			if err != nil && fault.KindOf(err) != fault.Invalid {
				t.Fatalf("kind %v, want Invalid", fault.KindOf(err))
			}
			if err != nil && !strings.Contains(err.Error(), "customerId") {
				t.Fatalf("message %q does not name the id", err)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		a, b, want int64
		ok         bool
	}{
		{1, 2, 3, true},
		{math.MaxInt64 - 1, 1, math.MaxInt64, true},
		{math.MaxInt64, 1, 0, false},
		{math.MaxInt64, math.MaxInt64, 0, false},
		{math.MinInt64 + 1, -1, math.MinInt64, true},
		{math.MinInt64, -1, 0, false},
		{math.MaxInt64, math.MinInt64, -1, true},
	}
	for _, tt := range tests {
		got, ok := bounds.Add(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Add(%d, %d) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMul(t *testing.T) {
	tests := []struct {
		a, b, want int64
		ok         bool
	}{
		{0, math.MaxInt64, 0, true},
		{1000, 1_000_000_000, 1_000_000_000_000, true},
		{2, 9_000_000_000_000_000_000 / 2, 9_000_000_000_000_000_000, true},
		{2, 9_000_000_000_000_000_000, 0, false},
		{math.MaxInt64, 2, 0, false},
		{-1, math.MinInt64, 0, false},
		{math.MinInt64, -1, 0, false},
		{-3, 4, -12, true},
	}
	for _, tt := range tests {
		got, ok := bounds.Mul(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Mul(%d, %d) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSaturating(t *testing.T) {
	tests := []struct {
		name string
		got  int64
		want int64
	}{
		{"add in range", bounds.SaturatingAdd(2, 3), 5},
		{"add MaxInt64 twice stops at MaxInt64", bounds.SaturatingAdd(math.MaxInt64, math.MaxInt64), math.MaxInt64},
		{"add below MinInt64 stops there", bounds.SaturatingAdd(math.MinInt64, -1), math.MinInt64},
		{"sub in range", bounds.SaturatingSub(5, 3), 2},
		{"sub below MinInt64 stops there", bounds.SaturatingSub(math.MinInt64, 1), math.MinInt64},
		{"sub of MinInt64 from 0 stops at MaxInt64", bounds.SaturatingSub(0, math.MinInt64), math.MaxInt64},
		{"sub of MinInt64 from -1", bounds.SaturatingSub(-1, math.MinInt64), math.MaxInt64},
		{"sub from MaxInt64", bounds.SaturatingSub(math.MaxInt64, 1000), math.MaxInt64 - 1000},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
