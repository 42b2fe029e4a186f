package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"
	"time"
)

// validate checks a decoded JSON document against a JSON Schema (2020-12), for the keywords
// `orderflow schemas` writes: type (one or a list), properties, required, additionalProperties
// (false or a schema), items, minItems, maxItems and format date-time. A keyword it does not
// know fails the check, so a schema it cannot judge is never passed.
func validate(schema map[string]any, doc any, at string) error {
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "$schema", "$id", "title", "description", "properties", "additionalProperties", "contentEncoding":
		case "type":
			var types []any
			switch t := schema["type"].(type) {
			case string:
				types = []any{t}
			case []any:
				types = t
			}
			if !slices.ContainsFunc(types, func(t any) bool { return isType(doc, t.(string)) }) {
				return fmt.Errorf("%s: %v is not of type %v", at, doc, schema["type"])
			}
		case "required":
			obj, ok := doc.(map[string]any)
			if !ok {
				continue
			}
			for _, name := range schema["required"].([]any) {
				if _, ok := obj[name.(string)]; !ok {
					return fmt.Errorf("%s: required %q is missing", at, name)
				}
			}
		case "items":
			list, _ := doc.([]any)
			for i, item := range list {
				if err := validate(schema["items"].(map[string]any), item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		case "minItems", "maxItems":
			if list, ok := doc.([]any); ok {
				n := int(schema[k].(float64))
				if (k == "minItems" && len(list) < n) || (k == "maxItems" && len(list) > n) {
					return fmt.Errorf("%s: %d items, %s %d", at, len(list), k, n)
				}
			}
		case "format":
			if s, ok := doc.(string); ok && schema["format"] == "date-time" {
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					return fmt.Errorf("%s: %q is not a date-time: %v", at, s, err)
				}
			}
		default:
			return fmt.Errorf("%s: the schema's keyword %q is not one this check knows", at, k)
		}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	props, _ := schema["properties"].(map[string]any)
	for name, v := range obj {
		if p, ok := props[name]; ok {
			if err := validate(p.(map[string]any), v, at+"."+name); err != nil {
				return err
			}
			continue
		}
		switch extra := schema["additionalProperties"].(type) {
		case bool:
			if !extra {
				return fmt.Errorf("%s: %q is not allowed", at, name)
			}
		case map[string]any:
			if err := validate(extra, v, at+"."+name); err != nil {
				return err
			}
		}
	}
	return nil
}

func isType(doc any, t string) bool {
	switch t {
	case "null":
		return doc == nil
	case "string":
		_, ok := doc.(string)
		return ok
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "number":
		_, ok := doc.(float64)
		return ok
	case "integer":
		f, ok := doc.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := doc.([]any)
		return ok
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	}
	return false
}

// TestValidateRefuses: the check of records against their schemas fails what does not match.
func TestValidateRefuses(t *testing.T) {
	schema := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"id", "at"},
		"properties": map[string]any{
			"id":    map[string]any{"type": "string"},
			"at":    map[string]any{"type": "string", "format": "date-time"},
			"n":     map[string]any{"type": "integer"},
			"lines": map[string]any{"type": []any{"array", "null"}, "items": map[string]any{"type": "string"}},
		}}
	for doc, ok := range map[string]bool{
		`{"id":"a","at":"2026-12-03T18:00:00Z"}`:                    true,
		`{"id":"a","at":"2026-12-03T18:00:00Z","lines":null,"n":3}`: true,
		`{"id":"a"}`:                                          false,
		`{"id":1,"at":"2026-12-03T18:00:00Z"}`:                false,
		`{"id":"a","at":"yesterday"}`:                         false,
		`{"id":"a","at":"2026-12-03T18:00:00Z","n":1.5}`:      false,
		`{"id":"a","at":"2026-12-03T18:00:00Z","lines":[1]}`:  false,
		`{"id":"a","at":"2026-12-03T18:00:00Z","extra":true}`: false,
		`["not","an","object"]`:                               false,
	} {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := validate(schema, v, "doc"); (err == nil) != ok {
			t.Errorf("validate(%s) = %v, want ok %v", doc, err, ok)
		}
	}
	if err := validate(map[string]any{"oneOf": []any{}}, "x", "doc"); err == nil {
		t.Error("a keyword the check does not know passed")
	}
}
