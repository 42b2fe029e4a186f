package model

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"orderflow/domain/fault"
)

// The API's integer scalars. Int is 32-bit, as the GraphQL spec says: a
// value outside it is refused as bad input on the way in, and never sent
// on the way out. Int64 carries amounts that may not fit (money in cents,
// stock, log positions); it is sent as a JSON number and accepted as a
// JSON number, an integer literal, or a string of digits. Both refuse
// fractions, exponents and values out of range with BAD_USER_INPUT (the
// refusal is a fault.Invalid, which graph/errors.go maps).

// MarshalInt writes a 32-bit Int. A larger value is an error of the
// server, not something to send: the schema promised 32 bits.
func MarshalInt(i int) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if i < math.MinInt32 || i > math.MaxInt32 {
			return fmt.Errorf("Int %d does not fit 32 bits", i)
		}
		_, err := io.WriteString(w, strconv.Itoa(i))
		return err
	})
}

// UnmarshalInt reads a 32-bit Int.
func UnmarshalInt(_ context.Context, v any) (int, error) {
	n, err := toInt64("Int", v)
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fault.Invalidf("Int must be a 32-bit integer (%d..%d), got %d; amounts that may be larger are Int64", math.MinInt32, math.MaxInt32, n)
	}
	return int(n), nil
}

// MarshalInt64 writes an Int64 as a JSON number.
func MarshalInt64(i int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.FormatInt(i, 10))
	})
}

// UnmarshalInt64 reads an Int64 from a JSON number, an integer literal or
// a string of digits.
func UnmarshalInt64(v any) (int64, error) {
	return toInt64("Int64", v)
}

// maxExactFloat is the largest integer a float64 holds exactly (2^53).
const maxExactFloat = 1 << 53

func toInt64(scalar string, v any) (int64, error) {
	var raw string
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case json.Number:
		raw = string(v)
	case string:
		raw = v
	case float64:
		// Only a decoder without UseNumber produces these; take a whole
		// number that the float holds exactly, nothing else.
		if v != math.Trunc(v) || math.Abs(v) > maxExactFloat {
			return 0, fault.Invalidf("%s must be an integer, got %v", scalar, v)
		}
		return int64(v), nil
	default:
		return 0, fault.Invalidf("%s must be an integer, got %T", scalar, v)
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fault.Invalidf("%s %s is out of range (%d..%d)", scalar, raw, int64(math.MinInt64), int64(math.MaxInt64))
		}
		return 0, fault.Invalidf("%s must be an integer, got %.40q", scalar, raw)
	}
	return n, nil
}
