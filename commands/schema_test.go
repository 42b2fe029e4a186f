package commands_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"orderflow/commands"
	"orderflow/events"
)

var updateSchemas = flag.Bool("update-schemas", false, "write testdata/schemas for new schema versions")

// TestEventSchemasAreCompatible is our schema registry: every registered
// event type's JSON shape must equal the golden shape stored for its current
// schema version. Changing a payload's JSON without a new version (and an
// upcaster from the old one) fails here. Golden files of older versions stay,
// as the record of what is stored.
func TestEventSchemasAreCompatible(t *testing.T) {
	for _, typ := range commands.Registry().Types() {
		t.Run(typ.Name, func(t *testing.T) {
			path := filepath.Join("testdata", "schemas", fmt.Sprintf("%s.v%d.json", typ.Name, typ.Version))
			got, err := json.MarshalIndent(events.Shape(typ.GoType), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			want, err := os.ReadFile(path)
			if os.IsNotExist(err) && *updateSchemas {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatalf("no golden shape for %s v%d (%v): a new event type or version needs one; "+
					"run go test ./commands -run TestEventSchemas -update-schemas", typ.Name, typ.Version, err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s changed its JSON shape without a new schema version.\n"+
					"Bump its version, register an upcaster from v%d, and record the new shape.\ngot:\n%s\nstored (%s):\n%s",
					typ.Name, typ.Version, got, path, want)
			}
			for v := 1; v < typ.Version; v++ {
				if _, err := os.Stat(filepath.Join("testdata", "schemas", fmt.Sprintf("%s.v%d.json", typ.Name, v))); err != nil {
					t.Errorf("the shape of %s v%d is no longer recorded: %v", typ.Name, v, err)
				}
			}
		})
	}
}

// TestUpcastersProduceTheCurrentShape runs every stored sample of an older
// version (testdata/samples/<Type>.v<N>.json) through the registry and
// checks the result decodes strictly into the current type.
func TestUpcastersProduceTheCurrentShape(t *testing.T) {
	reg := commands.Registry()
	for _, typ := range reg.Types() {
		for v := 1; v < typ.Version; v++ {
			path := filepath.Join("testdata", "samples", fmt.Sprintf("%s.v%d.json", typ.Name, v))
			old, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s v%d: a sample of every older version is needed to test its upcaster: %v", typ.Name, v, err)
				continue
			}
			up, err := reg.Upcast(events.Event{Type: typ.Name, SchemaVersion: v, Data: old})
			if err != nil {
				t.Errorf("%s v%d: %v", typ.Name, v, err)
				continue
			}
			var fields map[string]any
			if err := json.Unmarshal(up, &fields); err != nil {
				t.Fatal(err)
			}
			shape := events.Shape(typ.GoType).(map[string]any)
			for name, s := range shape {
				if m, ok := s.(map[string]any); ok && m["optional"] != nil {
					continue
				}
				if _, ok := fields[name]; !ok {
					t.Errorf("%s v%d upcast lacks field %q of v%d", typ.Name, v, name, typ.Version)
				}
			}
			if _, err := reg.Decode(events.Event{Type: typ.Name, SchemaVersion: v, Data: old}); err != nil {
				t.Errorf("%s v%d: %v", typ.Name, v, err)
			}
		}
	}
}
