package cdc

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"

	"orderflow/app/flags"
	"orderflow/events"
)

// Table maps a legacy table onto what orderflow needs of it: its name
// (schema-qualified or not) and the columns holding, in order, what the
// mapping names (id, name, price_cents for products; id, name, email,
// address for customers). The id column is the table's primary key, or
// the table's replica identity holds it (REPLICA IDENTITY FULL, or USING
// INDEX on it): a run refuses to start otherwise, since deletions would
// reach it without an id.
type Table struct {
	Schema  string
	Name    string
	Columns []string
}

// String is the mapping as the flag takes it: schema.table(col,col,…).
func (t Table) String() string {
	return fmt.Sprintf("%s.%s(%s)", t.Schema, t.Name, strings.Join(t.Columns, ","))
}

var tableSyntax = regexp.MustCompile(`^\s*(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)\s*\(([^()]*)\)\s*$`)

// parseTable reads a mapping "[schema.]table(col1,col2,…)" of want columns.
func parseTable(s string, want int) (Table, error) {
	m := tableSyntax.FindStringSubmatch(s)
	if m == nil {
		return Table{}, fmt.Errorf("%q: want [schema.]table(column,…)", s)
	}
	t := Table{Schema: m[1], Name: m[2]}
	if t.Schema == "" {
		t.Schema = "public"
	}
	for _, c := range strings.Split(m[3], ",") {
		if c = strings.TrimSpace(c); c != "" {
			t.Columns = append(t.Columns, c)
		}
	}
	if len(t.Columns) != want {
		return Table{}, fmt.Errorf("%q: want %d columns, got %d", s, want, len(t.Columns))
	}
	return t, nil
}

type tableFlag struct {
	t    *Table
	want int
}

func (f tableFlag) String() string {
	if f.t == nil || f.t.Name == "" {
		return ""
	}
	return f.t.String()
}

func (f tableFlag) Set(s string) error {
	t, err := parseTable(s, f.want)
	if err == nil {
		*f.t = t
	}
	return err
}

// Source is what a follower follows in the legacy database and how its
// tables map onto orderflow's. `orderflow cdc` and `orderflow serve
// --cdc-pg` take it from the same flags (SourceFlags).
type Source struct {
	// Slot and Publication are the logical replication slot and the
	// publication it follows; both are made when missing.
	Slot, Publication   string
	Products, Customers Table
}

// DefaultSource is the legacy layout the issue describes: slot and
// publication orderflow, tables products(id, name, price_cents) and
// customers(id, name, email, address).
func DefaultSource() Source {
	return Source{
		Slot:        "orderflow",
		Publication: "orderflow",
		Products:    Table{Schema: "public", Name: "products", Columns: []string{"id", "name", "price_cents"}},
		Customers:   Table{Schema: "public", Name: "customers", Columns: []string{"id", "name", "email", "address"}},
	}
}

// SourceFlags defines the flags of a Source on fs, with the same names
// and environment fallbacks (ORDERFLOW_SLOT, ORDERFLOW_PUBLICATION,
// ORDERFLOW_PRODUCTS, ORDERFLOW_CUSTOMERS) wherever they are taken. note,
// when not empty, ends each flag's help (say, which flag they go with).
func SourceFlags(fs *flag.FlagSet, src *Source, note string) {
	help := func(s, env string) string {
		if note != "" {
			s += "; " + note
		}
		return s + " (env " + env + ")"
	}
	fs.StringVar(&src.Slot, "slot", src.Slot, help("logical replication slot, made when missing", "ORDERFLOW_SLOT"))
	fs.StringVar(&src.Publication, "publication", src.Publication, help("publication, made when missing", "ORDERFLOW_PUBLICATION"))
	fs.Var(tableFlag{&src.Products, 3}, "products",
		help("legacy products table and its id, name and price-in-cents columns", "ORDERFLOW_PRODUCTS"))
	fs.Var(tableFlag{&src.Customers, 4}, "customers",
		help("legacy customers table and its id, name, email and address columns", "ORDERFLOW_CUSTOMERS"))
}

// Validate refuses a slot or publication name PostgreSQL would not take
// as it is.
func (s Source) Validate() error {
	switch {
	case !identifier.MatchString(s.Slot):
		// Slot names are lower-case letters, digits and underscores (PostgreSQL's rule).
		return fmt.Errorf("--slot %q: use lower-case letters, digits and underscores", s.Slot)
	case !identifier.MatchString(s.Publication):
		return fmt.Errorf("--publication %q: use lower-case letters, digits and underscores", s.Publication)
	}
	return nil
}

// Config is what one run of `orderflow cdc` was told.
type Config struct {
	// DSN is the legacy PostgreSQL database, as a URL or key=value string.
	// Without a password in it, pgconn takes one from PGPASSWORD or the
	// password file (~/.pgpass, or PGPASSFILE), as libpq does.
	DSN string
	// DBPath is the orderflow SQLite store the commands are written to.
	DBPath     string
	Durability events.Durability
	// Source is the slot, the publication and the mapped tables.
	Source
	// MetricsAddr serves /metrics there when not empty.
	MetricsAddr string
	// StatusInterval is how often the applied position is confirmed to
	// the source (and at most how long a confirmation waits).
	StatusInterval time.Duration
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnections.
	MinBackoff, MaxBackoff time.Duration
	// Drop drops the slot and the publication instead of following (see Drop).
	Drop bool
}

// DefaultConfig is the legacy layout the issue describes.
func DefaultConfig() Config {
	return Config{
		DBPath:           "orderflow.db",
		Durability:       events.DurabilityFull,
		Source:           DefaultSource(),
		StatusInterval:   time.Second,
		ProgressInterval: 10 * time.Second,
		MinBackoff:       200 * time.Millisecond,
		MaxBackoff:       10 * time.Second,
	}
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// ParseFlags reads the flags of `orderflow cdc`; each has an ORDERFLOW_*
// environment fallback, as the server's flags do.
func ParseFlags(args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("orderflow cdc", flag.ContinueOnError)
	fs.StringVar(&cfg.DSN, "pg", cfg.DSN,
		"legacy PostgreSQL database, e.g. postgres://orderflow_cdc@db:5432/shop; leave the password out (in --pg it shows in ps): "+
			"without one it is read, as libpq does, from PGPASSWORD or else ~/.pgpass (or the file PGPASSFILE names) (env ORDERFLOW_PG)")
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "orderflow SQLite database file the commands are written to (env ORDERFLOW_DB)")
	fs.Var(&cfg.Durability, "durability", "full or normal, as for the server (env ORDERFLOW_DURABILITY)")
	SourceFlags(fs, &cfg.Source, "")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr,
		"serve progress at /metrics and readiness at /readyz on this address, e.g. 127.0.0.1:9464; off when empty (env ORDERFLOW_METRICS_ADDR)")
	fs.DurationVar(&cfg.StatusInterval, "status-interval", cfg.StatusInterval,
		"how often the applied position is confirmed to PostgreSQL (env ORDERFLOW_STATUS_INTERVAL)")
	fs.DurationVar(&cfg.ProgressInterval, "progress-interval", cfg.ProgressInterval,
		"how often progress is logged (env ORDERFLOW_PROGRESS_INTERVAL)")
	fs.DurationVar(&cfg.MaxBackoff, "max-backoff", cfg.MaxBackoff,
		"longest wait between reconnections to PostgreSQL (env ORDERFLOW_MAX_BACKOFF)")
	fs.BoolVar(&cfg.Drop, "drop", cfg.Drop,
		"drop the replication slot and the publication from PostgreSQL and exit: how to stop using cdc (command line only)")
	if err := flags.Parse(fs, args, getenv); err != nil {
		return Config{}, err
	}
	// --drop destroys the slot: it is taken from the command line only, so
	// a variable left in a deployment's environment cannot drop the slot
	// at every start.
	onCommandLine := false
	fs.Visit(func(f *flag.Flag) { onCommandLine = onCommandLine || f.Name == "drop" })
	cfg.Drop = cfg.Drop && onCommandLine
	return cfg, cfg.Validate()
}

// Validate refuses settings cdc cannot run with.
func (c Config) Validate() error {
	switch {
	case c.DSN == "":
		return errors.New("--pg is required: the legacy PostgreSQL database to follow")
	case c.DBPath == "":
		return errors.New("--db must not be empty")
	case c.StatusInterval <= 0 || c.ProgressInterval <= 0 || c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return errors.New("intervals and backoffs must be positive")
	}
	return c.Source.Validate()
}
