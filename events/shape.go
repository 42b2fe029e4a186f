package events

import (
	"reflect"
	"strings"
	"time"
)

// Shape describes the JSON a Go payload type produces: field names mapped
// to "string", "number", "bool", "time", nested objects or one-element
// arrays. Comparing a type's shape with the one stored for its schema
// version is our schema-registry compatibility check: a payload whose JSON
// changed needs a new schema version and an upcaster.
func Shape(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Time{}) {
		return "time"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return []any{Shape(t.Elem())}
	case reflect.Map:
		return map[string]any{"*": Shape(t.Elem())}
	case reflect.Struct:
		out := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := Shape(f.Type)
			if strings.Contains(opts, "omitempty") {
				s = map[string]any{"optional": s}
			}
			out[name] = s
		}
		return out
	}
	return t.Kind().String()
}
