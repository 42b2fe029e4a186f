package schemas_test

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orderflow/app/schemas"
	"orderflow/commands"
)

var update = flag.Bool("update", false, "write testdata/ from the code's types")

// TestSchemasAreGolden: the published schemas are the ones recorded in
// testdata/ (events/ and commands/), so a change of what orderflow puts on
// its topics shows in review; every type and command has one, and nothing
// is recorded that is no longer published. Run with -update to record a
// change on purpose (a changed event needs a new schema version first:
// commands.TestEventSchemasAreCompatible).
func TestSchemasAreGolden(t *testing.T) {
	all := schemas.All()
	if want := len(commands.Registry().Types()) + len(commands.CommandArgs()) + 1; len(all) != want {
		t.Fatalf("%d schemas, want one per event type and command and the replies' (%d)", len(all), want)
	}
	published := map[string]bool{}
	for _, s := range all {
		published[filepath.ToSlash(s.File)] = true
		got, err := schemas.Encode(s.Schema)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", s.File)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no recorded schema (%v); run go test ./app/schemas -update", s.CEType, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", s.CEType, path, got)
		}
		if s.Schema["title"] != s.CEType || !strings.HasPrefix(s.CEType, "orderflow.") {
			t.Errorf("%s: title %v", s.CEType, s.Schema["title"])
		}
	}
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if rel, _ := filepath.Rel("testdata", path); !published[filepath.ToSlash(rel)] {
			t.Errorf("%s is recorded but no longer published", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEveryCommandHasItsArguments: each command a context declares has the
// type of its arguments listed, so it has a schema.
func TestEveryCommandHasItsArguments(t *testing.T) {
	args := commands.CommandArgs()
	for _, c := range commands.Declared() {
		for _, name := range c.Commands {
			if args[name] == nil {
				t.Errorf("command %s of %s has no arguments type in commands.CommandArgs", name, c.Name)
			}
		}
	}
}
