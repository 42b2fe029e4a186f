package verify

import (
	"fmt"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
)

// Invariant 1: every stream is linear. Each stream has a single writer
// appending with expected versions, so its events are numbered 1..n, one
// event per number. Two different events at one version mean two writers
// decided on the same state (a stream that diverged); a missing version
// means an event was lost on its way (or a topic lost its beginning).

// readsPayload says whether the invariants after the first read the
// payloads of a stream's events; the others are checked for linearity only.
func readsPayload(streamID string) bool {
	switch prefix, _ := family(streamID); prefix {
	case order.StreamID(""), inventory.StreamID(""), fraud.StreamID(""), customercheck.StreamID(""), payment.StreamID(""):
		return true
	}
	return false
}

// linearize takes a stream's events in version order and returns one per
// version (the first to arrive), with what breaks linearity: a version
// holding two different events, a gap.
func linearize(streamID string, entries []entry) ([]entry, []Violation) {
	var vs []Violation
	one := entries[:0:0]
	next := int64(1)
	for i := 0; i < len(entries); {
		v := entries[i].version
		j := i + 1
		for j < len(entries) && entries[j].version == v {
			j++
		}
		if v > next {
			vs = append(vs, gap(streamID, next, v-1, entries[i]))
		}
		if j-i > 1 {
			ids := make([]string, 0, j-i)
			desc := ""
			for k, e := range entries[i:j] {
				ids = append(ids, e.id)
				if k > 0 {
					desc += " and "
				}
				desc += fmt.Sprintf("%s (%s)", e.id, e.typ)
			}
			vs = append(vs, Violation{
				Message: fmt.Sprintf("stream %s has %d different events at version %d: %s", streamID, j-i, v, desc),
				Streams: []string{streamID}, Events: ids,
			})
		}
		one = append(one, entries[i])
		next = v + 1
		i = j
	}
	return one, vs
}

func gap(streamID string, from, to int64, after entry) Violation {
	missing := fmt.Sprintf("version %d is missing", from)
	if to > from {
		missing = fmt.Sprintf("versions %d..%d are missing", from, to)
	}
	return Violation{
		Message: fmt.Sprintf("stream %s: %s (the next event present is %s at version %d)", streamID, missing, after.id, after.version),
		Streams: []string{streamID}, Events: []string{after.id},
	}
}
