package commands_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"orderflow/commands"
	"orderflow/events"
)

// FuzzDecodeEvent feeds stored events of every registered type, at any
// schema version and with any bytes as payload, to the registry: decoding
// (with upcasting of older versions) must never panic, and whatever decodes
// must encode to a payload that decodes to the same JSON again. Personal
// fields are sealed under a fresh nonce each time, so it is their opened
// JSON that must be the same; a personal event without a subject (whose
// key would seal it?) must not encode.
func FuzzDecodeEvent(f *testing.F) {
	_, _, reg := commands.OpenTestStore(f)
	types := reg.Types()
	f.Add(0, 1, []byte(`{}`))
	f.Add(1, 1, []byte(`{"orderId":"o1","customerId":"c1","lines":[{"productId":"p1","quantity":2,"unitPriceCents":250}],"totalCents":500,"placedAt":"2026-01-01T00:00:00Z"}`))
	f.Add(2, 1, []byte(`{"productId":"p1","orderId":"o1","requested":5,"available":2,"reason":"INSUFFICIENT_STOCK"}`))
	f.Add(3, 2, []byte(`null`))
	f.Add(4, 0, []byte(`{"requested":1e308,"available":-1e308}`))
	f.Fuzz(func(t *testing.T, typeIndex, version int, data []byte) {
		if typeIndex < 0 {
			typeIndex = -typeIndex
		}
		typ := types[typeIndex%len(types)]
		p, err := reg.Decode(events.Event{Type: typ.Name, SchemaVersion: version, Data: data})
		if err != nil {
			return
		}
		once, err := reg.Encode(events.Metadata{}, p)
		if err != nil && typ.Personal != nil && strings.Contains(err.Error(), "without a subject") {
			return
		}
		if err != nil {
			t.Fatalf("%s decoded from %q does not encode: %v", typ.Name, data, err)
		}
		again, err := reg.Decode(once[0])
		if err != nil {
			t.Fatalf("%s encoded as %s does not decode: %v", typ.Name, once[0].Data, err)
		}
		twice, err := reg.Encode(events.Metadata{}, again)
		if err != nil {
			t.Fatalf("%s: %s does not encode again: %v", typ.Name, once[0].Data, err)
		}
		first, err1 := reg.Upcast(once[0])
		second, err2 := reg.Upcast(twice[0])
		if err1 != nil || err2 != nil || !bytes.Equal(first, second) {
			t.Fatalf("%s: %s then %s (%v, %v)", typ.Name, first, second, err1, err2)
		}
		if typ.Personal != nil && bytes.Equal(once[0].Data, twice[0].Data) {
			t.Fatalf("%s: sealed twice to the same bytes %s: a nonce was reused", typ.Name, once[0].Data)
		}
	})
}

// FuzzDecodeMatchesEncodingJSON holds the registry's decoder to
// encoding/json: for every registered type and any payload, it fails
// exactly when encoding/json fails, and otherwise decodes the same value.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	reg := commands.Registry()
	types := reg.Types()
	f.Add(0, []byte(`{}`))
	f.Add(1, []byte(`{"orderId":"o1","customerId":"c1","lines":[{"productId":"p1","quantity":2,"unitPriceCents":250}],"totalCents":500,"placedAt":"2026-01-01T00:00:00Z"}`))
	f.Add(1, []byte(`{"ORDERID":"o1","orderId":"o2","lines":null,"totalCents":5e2,"placedAt":"2026-01-01T00:00:00.123456789+02:00"}`))
	f.Add(2, []byte(`{"productId":"p\xff1","orderId":"o1","requested":5,"available":2,"reason":"\u00e9"}`))
	f.Add(3, []byte(`null`))
	f.Add(4, []byte(`{"requested":1e308,"available":-1e308}`))
	f.Add(5, []byte(`{"quantity":"3","unknown":{"a":[1,2]}}`))
	f.Add(6, []byte(`[]`))
	f.Fuzz(func(t *testing.T, typeIndex int, data []byte) {
		if typeIndex < 0 {
			typeIndex = -typeIndex
		}
		typ := types[typeIndex%len(types)]
		got, err := reg.Decode(events.Event{Type: typ.Name, SchemaVersion: typ.Version, Data: data})
		want := reflect.New(typ.GoType)
		wantErr := json.Unmarshal(data, want.Interface())
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%s from %q: error %v, encoding/json: %v", typ.Name, data, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want.Elem().Interface()) {
			t.Fatalf("%s from %q: %#v, encoding/json: %#v", typ.Name, data, got, want.Elem().Interface())
		}
	})
}
