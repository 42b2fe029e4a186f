// Package bounds holds the limits every context shares: what an id may be,
// and integer arithmetic that cannot wrap. The limits of one context's own
// numbers (a price, a quantity, stock on hand) live in that context.
//
// Events are never rewritten, so a log may hold values recorded before the
// bounds existed. Deciders and projections fold them with the saturating
// functions here: a sum that would wrap stops at the largest int64 instead,
// which every bound then refuses.
package bounds

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"orderflow/domain/fault"
)

// MaxIDBytes is the longest id, in bytes of UTF-8. Ids are copied into
// stream ids, keys and read-model rows, so they must stay small.
const MaxIDBytes = 128

// CheckID refuses an id that is blank, longer than MaxIDBytes, not valid
// UTF-8 or holding a character that does not print (a control character,
// a line break, a format character). what names the id in the message.
func CheckID(what, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return fault.Invalidf("%s must not be blank", what)
	case len(id) > MaxIDBytes:
		return fault.Invalidf("%s must be at most %d bytes, got %d", what, MaxIDBytes, len(id))
	case !utf8.ValidString(id):
		return fault.Invalidf("%s must be valid UTF-8", what)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return fault.Invalidf("%s must be printable: it holds %U", what, r)
		}
	}
	return nil
}

// Add returns a+b and true, or false when the sum does not fit an int64.
func Add(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// Mul returns a×b and true, or false when the product does not fit an int64.
func Mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// SaturatingAdd returns a+b, or math.MaxInt64 / math.MinInt64 when the sum
// is beyond them.
func SaturatingAdd(a, b int64) int64 {
	if s, ok := Add(a, b); ok {
		return s
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// SaturatingSub returns a-b, or math.MaxInt64 / math.MinInt64 when the
// difference is beyond them.
func SaturatingSub(a, b int64) int64 {
	if b == math.MinInt64 {
		if a >= 0 {
			return math.MaxInt64
		}
		return a - b
	}
	return SaturatingAdd(a, -b)
}
