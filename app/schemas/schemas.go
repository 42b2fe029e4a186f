// Package schemas is `orderflow schemas`: the JSON Schema (2020-12) of the
// data of every event type, at its current schema version, and of the
// arguments of every command, made from the same Go types the code
// encodes them with, for the teams that read orderflow's topics (the value
// of a record whose ce_type names the schema).
package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"orderflow/app/flags"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/events"
)

const usage = `Usage: orderflow schemas [--out DIR]

Writes the JSON Schema (2020-12) of the data of every event type, at its
current schema version, and of the arguments of every command: the value of
a record on orderflow's topics whose ce_type header is the schema's title
(orderflow.OrderPlaced.v1, orderflow.command.PlaceOrder.v1). With --out,
one file each: DIR/events/<Type>.v<N>.json, DIR/commands/<Name>.v1.json and
DIR/reply.v1.json;
without, one JSON object of all of them by ce_type, to stdout.

Flags:
`

// A Schema is one published schema: the ce_type it describes, the file it
// goes to under --out, and the schema itself.
type Schema struct {
	CEType string
	File   string
	Schema map[string]any
}

// All are the schemas of the current event types, the commands and the
// replies, events first, each group by name.
func All() []Schema {
	var out []Schema
	types := commands.Registry().Types()
	slices.SortFunc(types, func(a, b events.Type) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range types {
		ce := kafkabus.CETypeOfEvent(t.Name, t.Version)
		topic := kafkabus.FamilyTopic(commands.TypeContext(t.Name))
		doc := document(ce, fmt.Sprintf("The data of the event %s, schema version %d: the value of a record on %s (and on the topics "+
			"that re-key it) whose ce_type is %s.", t.Name, t.Version, topic, ce), t.GoType)
		if p := t.Personal; p != nil {
			sealPersonal(doc, p)
		}
		out = append(out, Schema{CEType: ce, File: filepath.Join("events", t.Name+".v"+strconv.Itoa(t.Version)+".json"), Schema: doc})
	}
	args := commands.CommandArgs()
	names := make([]commands.CommandName, 0, len(args))
	for name := range args {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ce := kafkabus.CETypeOfCommand(name)
		out = append(out, Schema{CEType: ce, File: filepath.Join("commands", string(name)+".v1.json"),
			Schema: document(ce, fmt.Sprintf("The arguments of the command %s: the value of a record on %s whose ce_type is %s.",
				name, kafkabus.CommandTopic(commands.CommandContext(name)), ce), args[name])})
	}
	out = append(out, Schema{CEType: kafkabus.CETypeOfReply, File: "reply.v1.json",
		Schema: document(kafkabus.CETypeOfReply, fmt.Sprintf("The answer to a command: the value of a record on %s whose ce_type is %s "+
			"and whose ce_subject is the command's ce_id. code is empty on success, else BAD_USER_INPUT, NOT_FOUND, CONFLICT or INTERNAL, "+
			"with message.", kafkabus.RepliesTopic, kafkabus.CETypeOfReply), kafkabus.ReplyType())})
	return out
}

// document is a schema as it is published: with the dialect, an id and a
// title (the ce_type) and a description.
func document(ceType, description string, t reflect.Type) map[string]any {
	s := events.JSONSchema(t)
	s["$schema"] = events.JSONSchemaDialect
	s["$id"] = "urn:orderflow:schema:" + ceType
	s["title"] = ceType
	s["description"] = description
	return s
}

// Encode is a schema's file: indented JSON, keys sorted, a newline at the end.
func Encode(schema map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(schema); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Main runs `orderflow schemas` and returns the exit code.
func Main(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow schemas", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "directory to write one file per schema to (made when missing); stdout when empty (env ORDERFLOW_OUT)")
	if err := flags.Parse(fs, args, getenv); err != nil {
		return flags.Exit("orderflow schemas", err, stdout, stderr)
	}
	all := All()
	if *out == "" {
		byType := make(map[string]any, len(all))
		for _, s := range all {
			byType[s.CEType] = s.Schema
		}
		b, err := Encode(byType)
		if err == nil {
			_, err = stdout.Write(b)
		}
		if err != nil {
			fmt.Fprintln(stderr, "orderflow schemas:", err)
			return 1
		}
		return 0
	}
	for _, s := range all {
		b, err := Encode(s.Schema)
		path := filepath.Join(*out, s.File)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(path), 0o755)
		}
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "orderflow schemas:", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "orderflow schemas: %d schemas written to %s\n", len(all), *out)
	return 0
}

// sealPersonal describes an event type's personal fields as they travel:
// blank in the clear, sealed together in one field under the subject's key
// (see events.Personal), which erasing the subject deletes.
func sealPersonal(doc map[string]any, p *events.Personal) {
	props, _ := doc["properties"].(map[string]any)
	if props == nil {
		return
	}
	props["sealed"] = map[string]any{
		"type": "string",
		"description": fmt.Sprintf("The personal fields %s, sealed with AES-256-GCM under the key of %s<%s> "+
			"(base64); they are blank in the clear. Once the subject is forgotten nobody can open it.",
			strings.Join(p.Fields, ", "), p.Prefix, p.Subject),
	}
	doc["description"] = fmt.Sprint(doc["description"], " Its personal fields (", strings.Join(p.Fields, ", "),
		") are blank here and travel sealed in the field sealed.")
}
