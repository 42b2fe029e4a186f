package events

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
)

// JSONSchemaDialect is the JSON Schema version JSONSchema writes.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// JSONSchema is the JSON Schema (2020-12) of the JSON encoding/json makes
// of a Go type: what a payload of that type looks like on the wire, for
// readers outside orderflow. Objects list their fields as properties;
// those without omitempty are required, and no others are allowed (a new
// field is a new schema version). A slice or map without omitempty may be
// null (a nil one encodes so); times are RFC 3339 strings; integers are
// integers. The root carries no $schema: the caller adds it with an $id.
func JSONSchema(t reflect.Type) map[string]any {
	return jsonSchema(t, false)
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

func jsonSchema(t reflect.Type, nullable bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	typed := func(name string, more ...any) map[string]any {
		s := map[string]any{"type": name}
		if nullable {
			s["type"] = []any{name, "null"}
		}
		for i := 0; i+1 < len(more); i += 2 {
			s[more[i].(string)] = more[i+1]
		}
		return s
	}
	switch {
	case t == timeType:
		return typed("string", "format", "date-time")
	case t == rawType || t.Kind() == reflect.Interface:
		return map[string]any{} // any JSON
	}
	switch t.Kind() {
	case reflect.String:
		return typed("string")
	case reflect.Bool:
		return typed("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return typed("integer")
	case reflect.Float32, reflect.Float64:
		return typed("number")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return typed("string", "contentEncoding", "base64") // []byte
		}
		return typed("array", "items", jsonSchema(t.Elem(), false))
	case reflect.Array:
		return typed("array", "items", jsonSchema(t.Elem(), false), "minItems", t.Len(), "maxItems", t.Len())
	case reflect.Map:
		return typed("object", "additionalProperties", jsonSchema(t.Elem(), false))
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		fields(t, func(name string, f reflect.StructField, omitempty bool) {
			kind := f.Type.Kind()
			// A nil slice or map encodes as null unless it is left out.
			props[name] = jsonSchema(f.Type, !omitempty && (kind == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 || kind == reflect.Map))
			if !omitempty {
				required = append(required, name)
			}
		})
		s := typed("object", "properties", props, "additionalProperties", false)
		if len(required) > 0 {
			slices.Sort(required)
			s["required"] = required
		}
		return s
	}
	return map[string]any{} // channels and functions do not encode; nothing to say
}

// fields calls fn for each field encoding/json writes of a struct type,
// with its JSON name, the fields of embedded structs in their place.
func fields(t reflect.Type, fn func(name string, f reflect.StructField, omitempty bool)) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				fields(et, fn)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fn(name, f, strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,"))
	}
}
