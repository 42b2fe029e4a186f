package events_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"orderflow/events"
)

type inner struct {
	N int `json:"n"`
}

type Embedded struct {
	E string `json:"e"`
}

type sample struct {
	Embedded
	S        string            `json:"s"`
	B        bool              `json:"b"`
	I        int64             `json:"i"`
	F        float64           `json:"f"`
	At       time.Time         `json:"at"`
	List     []inner           `json:"list"`
	Tags     []string          `json:"tags,omitempty"`
	Bytes    []byte            `json:"bytes"`
	Counts   map[string]int    `json:"counts"`
	Ptr      *inner            `json:"ptr"`
	Raw      json.RawMessage   `json:"raw"`
	Skipped  string            `json:"-"`
	Untagged string            // named by the field itself
	Pair     [2]int            `json:"pair"`
	Opt      string            `json:"opt,omitempty"`
	private  string            // not encoded
	Nested   map[string][]bool `json:"nested,omitempty"`
}

func TestJSONSchema(t *testing.T) {
	_ = sample{}.private
	obj := func(props map[string]any, required ...string) map[string]any {
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	innerSchema := obj(map[string]any{"n": map[string]any{"type": "integer"}}, "n")
	nullableInner := obj(map[string]any{"n": map[string]any{"type": "integer"}}, "n")
	nullableInner["type"] = []any{"object", "null"}
	want := obj(map[string]any{
		"e":        map[string]any{"type": "string"},
		"s":        map[string]any{"type": "string"},
		"b":        map[string]any{"type": "boolean"},
		"i":        map[string]any{"type": "integer"},
		"f":        map[string]any{"type": "number"},
		"at":       map[string]any{"type": "string", "format": "date-time"},
		"list":     map[string]any{"type": []any{"array", "null"}, "items": innerSchema},
		"tags":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		"bytes":    map[string]any{"type": "string", "contentEncoding": "base64"},
		"counts":   map[string]any{"type": []any{"object", "null"}, "additionalProperties": map[string]any{"type": "integer"}},
		"ptr":      nullableInner,
		"raw":      map[string]any{},
		"Untagged": map[string]any{"type": "string"},
		"pair":     map[string]any{"type": "array", "items": map[string]any{"type": "integer"}, "minItems": 2, "maxItems": 2},
		"opt":      map[string]any{"type": "string"},
		"nested":   map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "boolean"}}},
	}, "Untagged", "at", "b", "bytes", "counts", "e", "f", "i", "list", "pair", "ptr", "raw", "s")
	got := events.JSONSchema(reflect.TypeFor[sample]())
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("schema\n%s\nwant\n%s", g, w)
	}
}
