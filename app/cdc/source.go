package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/events"
)

// snapshotCheckpoint names the checkpoint that records, in the store, that
// the snapshot of the slot's tables was applied whole (its value is the LSN
// the snapshot is consistent at). A slot without it was made by a run that
// died before its snapshot was done: it is made again, with a new snapshot.
func snapshotCheckpoint(slot string) string { return "cdc-snapshot:" + slot }

// session is one connection to the source: check it, make what is missing,
// snapshot when needed, and stream until an error.
func (r *runner) session(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, r.cfg.DSN)
	if err != nil {
		return classify(err, "connect")
	}
	defer conn.Close(context.Background())
	r.stats.reached()
	if err := r.check(ctx, conn); err != nil {
		return err
	}
	if err := r.ensurePublication(ctx, conn); err != nil {
		return err
	}

	rcfg, err := pgconn.ParseConfig(r.cfg.DSN)
	if err != nil {
		return permanent("--pg: %v", err)
	}
	rcfg.RuntimeParams["replication"] = "database"
	repl, err := pgconn.ConnectConfig(ctx, rcfg)
	if err != nil {
		return classify(err, "open a replication connection")
	}
	defer repl.Close(context.Background())
	sys, err := pglogrepl.IdentifySystem(ctx, repl)
	if err != nil {
		return classify(err, "identify the source")
	}

	var confirmed sql.NullString
	var slotExists bool
	err = conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`,
		r.cfg.Slot).Scan(&confirmed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return classify(err, "read the replication slot")
	default:
		slotExists = true
	}
	snapshotAt, err := r.db.Checkpoint(ctx, snapshotCheckpoint(r.cfg.Slot))
	if err != nil {
		return permanent("read the store: %v", err)
	}

	var start pglogrepl.LSN
	if slotExists && snapshotAt > 0 {
		if start, err = pglogrepl.ParseLSN(confirmed.String); err != nil {
			return fmt.Errorf("slot %s: confirmed position %q: %w", r.cfg.Slot, confirmed.String, err)
		}
		r.log.Info("cdc: resuming", "slot", r.cfg.Slot, "from", start.String())
	} else {
		if slotExists {
			// The slot's snapshot never finished (or belongs to another
			// store): start over with a new slot and a new snapshot.
			r.log.Warn("cdc: slot has no finished snapshot in this store; making it again", "slot", r.cfg.Slot)
			if err := pglogrepl.DropReplicationSlot(ctx, repl, r.cfg.Slot, pglogrepl.DropReplicationSlotOptions{}); err != nil {
				return classify(err, "drop slot "+r.cfg.Slot)
			}
		}
		if start, err = r.snapshot(ctx, repl, sys.SystemID); err != nil {
			return err
		}
	}
	r.stats.AppliedLSN.Store(uint64(start))
	return r.stream(ctx, repl, sys.SystemID, start)
}

// check says clearly what is wrong with the source before anything is made.
func (r *runner) check(ctx context.Context, conn *pgx.Conn) error {
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return classify(err, "read wal_level")
	}
	if level != "logical" {
		return permanent("the source's wal_level is %q, logical replication needs \"logical\": "+
			"run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL", level)
	}
	var problems []string
	for _, t := range []Table{r.cfg.Products, r.cfg.Customers} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoted(t)).Scan(&exists); err != nil {
			return classify(err, "look up table "+t.Schema+"."+t.Name)
		}
		if !exists {
			return permanent("table %s.%s does not exist in the source database (map another with --products/--customers)",
				t.Schema, t.Name)
		}
		rows, err := conn.Query(ctx, selectColumns(t)+" LIMIT 0")
		if err == nil {
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return classify(err, "read table "+t.String())
		}
		problem, err := replicaIdentityProblem(ctx, conn, t)
		if err != nil {
			return err
		}
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	if len(problems) > 0 {
		return permanent("%s", strings.Join(problems, "; "))
	}
	return nil
}

// replicaIdentityProblem says what is wrong when a deleted or updated row
// of t would not reach cdc with its id column: PostgreSQL sends the old
// row's replica identity (by default the primary key) and nothing else, so
// when the id column is not that key a deletion arrives without an id (a
// deleted product would stay on sale) and, once the publication exists, the
// legacy application's own UPDATEs and DELETEs of a table without any
// replica identity fail. It returns "" when the table is fine, and else a
// message with the SQL that mends it.
func replicaIdentityProblem(ctx context.Context, conn *pgx.Conn, t Table) (string, error) {
	var ident string
	var keyCols []string
	err := conn.QueryRow(ctx, `SELECT c.relreplident::text,
		COALESCE((SELECT array_agg(a.attname::text) FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary)
				OR (c.relreplident = 'i' AND i.indisreplident))), '{}')
		FROM pg_class c WHERE c.oid = $1::regclass`, quoted(t)).Scan(&ident, &keyCols)
	if err != nil {
		return "", classify(err, "read the replica identity of "+t.Schema+"."+t.Name)
	}
	id := t.Columns[0]
	if ident == "f" || slices.Contains(keyCols, id) {
		return "", nil
	}
	var has string
	switch {
	case ident == "n":
		has = "has REPLICA IDENTITY NOTHING"
	case len(keyCols) == 0:
		has = "has no primary key"
	case ident == "i":
		has = fmt.Sprintf("has a replica identity index on (%s)", strings.Join(keyCols, ", "))
	default:
		has = fmt.Sprintf("has the primary key (%s)", strings.Join(keyCols, ", "))
	}
	idx := pgx.Identifier{t.Name + "_" + id + "_replica_identity"}.Sanitize()
	return fmt.Sprintf("table %s.%s %s, not its id column %s, so PostgreSQL would send its deleted and updated rows "+
		"without the id (and refuse the legacy application's UPDATEs and DELETEs once the publication exists): run "+
		"ALTER TABLE %s REPLICA IDENTITY FULL; or, with %s unique and NOT NULL, "+
		"CREATE UNIQUE INDEX %s ON %s (%s); ALTER TABLE %s REPLICA IDENTITY USING INDEX %s;",
		t.Schema, t.Name, has, id, quoted(t), id, idx, quoted(t), pgx.Identifier{id}.Sanitize(), quoted(t), idx), nil
}

// ensurePublication makes the publication of both tables when missing,
// and refuses one that lacks a table.
func (r *runner) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)",
		r.cfg.Publication).Scan(&exists); err != nil {
		return classify(err, "look up publication")
	}
	if !exists {
		q := fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s, %s", pgx.Identifier{r.cfg.Publication}.Sanitize(),
			quoted(r.cfg.Products), quoted(r.cfg.Customers))
		if _, err := conn.Exec(ctx, q); err != nil {
			return classify(err, "create publication "+r.cfg.Publication)
		}
		r.log.Info("cdc: created publication", "publication", r.cfg.Publication)
		return nil
	}
	for _, t := range []Table{r.cfg.Products, r.cfg.Customers} {
		var in bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication_tables
			WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)`, r.cfg.Publication, t.Schema, t.Name).Scan(&in); err != nil {
			return classify(err, "read publication")
		}
		if !in {
			return permanent("publication %s does not publish %s.%s: run ALTER PUBLICATION %s ADD TABLE %s;",
				r.cfg.Publication, t.Schema, t.Name, r.cfg.Publication, quoted(t))
		}
	}
	return nil
}

// snapshot makes the slot, exporting the snapshot it is consistent at,
// reads both tables in that snapshot on a second connection and applies
// every row, then records in the store that the snapshot is done. Streaming
// from the slot then starts exactly after what the snapshot saw.
func (r *runner) snapshot(ctx context.Context, repl *pgconn.PgConn, system string) (pglogrepl.LSN, error) {
	slot, err := pglogrepl.CreateReplicationSlot(ctx, repl, r.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		return 0, classify(err, "create replication slot "+r.cfg.Slot)
	}
	at, err := pglogrepl.ParseLSN(slot.ConsistentPoint)
	if err != nil {
		return 0, fmt.Errorf("slot consistent point %q: %w", slot.ConsistentPoint, err)
	}
	r.log.Info("cdc: created replication slot, taking the snapshot", "slot", r.cfg.Slot, "at", at.String())

	conn, err := pgx.Connect(ctx, r.cfg.DSN)
	if err != nil {
		return 0, classify(err, "connect for the snapshot")
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, classify(err, "begin the snapshot")
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(slot.SnapshotName, "'", "''")+"'"); err != nil {
		return 0, classify(err, "use the exported snapshot")
	}
	change := commands.SourceChange{Source: system, LSN: uint64(at)}
	tables := []struct {
		t     Table
		apply func(row []string) (outcome, error)
	}{
		{r.cfg.Products, func(row []string) (outcome, error) { return r.applyProduct(ctx, change, row) }},
		{r.cfg.Customers, func(row []string) (outcome, error) { return r.applyCustomer(ctx, change, row) }},
	}
	for _, tb := range tables {
		n := 0
		rows, err := tx.Query(ctx, selectColumns(tb.t))
		if err != nil {
			return 0, classify(err, "read table "+tb.t.String())
		}
		for rows.Next() {
			vals := make([]sql.NullString, len(tb.t.Columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return 0, fmt.Errorf("read table %s: %w", tb.t.String(), err)
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = v.String
			}
			if err := r.record(tb.t, row, func() (outcome, error) { return tb.apply(row) }); err != nil {
				rows.Close()
				return 0, err
			}
			n++
			r.stats.RowsSnapshotted.Add(1)
		}
		if err := rows.Err(); err != nil {
			return 0, classify(err, "read table "+tb.t.String())
		}
		r.log.Info("cdc: snapshot of table done", "table", tb.t.Schema+"."+tb.t.Name, "rows", n)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, classify(err, "end the snapshot")
	}
	if err := r.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return events.SaveCheckpoint(ctx, tx, snapshotCheckpoint(r.cfg.Slot), int64(at))
	}); err != nil {
		return 0, permanent("record the snapshot in the store: %v", err)
	}
	r.log.Info("cdc: snapshot done", "rows", r.stats.RowsSnapshotted.Load(), "at", at.String())
	return at, nil
}

// outcome is what became of one row change.
type outcome int

const (
	applied outcome = iota // turned into a command (which may have recorded nothing new)
	skipped                // applied before: met again after a reconnection
	ignored                // nothing of it recorded: the domain keeps no such change (logged)
)

// record runs one row's command and sorts its outcome: a row the domain
// refuses is logged and counted, and the run goes on (one bad legacy row
// must not stop the rest); a failure of the store stops the run.
func (r *runner) record(t Table, row []string, apply func() (outcome, error)) error {
	out, err := apply()
	switch {
	case err == nil && out == applied:
		r.stats.ChangesApplied.Add(1)
	case err == nil && out == skipped:
		r.stats.ChangesSkipped.Add(1)
	case err == nil:
		r.stats.ChangesIgnored.Add(1)
	case fault.KindOf(err) != 0:
		r.stats.ChangesRejected.Add(1)
		r.log.Warn("cdc: row refused", "table", t.Schema+"."+t.Name, "id", row[0], "err", err)
	default:
		return permanent("write to the store: %v", err)
	}
	return nil
}

func (r *runner) applyProduct(ctx context.Context, ch commands.SourceChange, row []string) (outcome, error) {
	price, err := strconv.ParseInt(strings.TrimSpace(row[2]), 10, 64)
	if err != nil {
		return 0, fault.Invalidf("price %q is not a whole number of cents", row[2])
	}
	return applyOutcome(r.h.SyncProduct(ctx, ch, commands.LegacyProduct{ID: row[0], Name: row[1], PriceCents: price}))
}

// applyCustomer applies a customer row. A name or email of a registered
// customer that differs from the one orderflow holds is not recorded (the
// customer context has no such event): it is logged as ignored, on every
// change of the row while they differ, and the change counts as ignored
// unless it also moved the customer.
func (r *runner) applyCustomer(ctx context.Context, ch commands.SourceChange, row []string) (outcome, error) {
	res, err := r.h.SyncCustomer(ctx, ch, commands.LegacyCustomer{ID: row[0], Name: row[1], Email: row[2], Address: row[3]})
	switch {
	case err != nil:
		return 0, err
	case !res.Applied:
		return skipped, nil
	case res.Forgotten:
		// Logged by id only: their name, email and address stay out of
		// orderflow, logs included.
		r.log.Warn("cdc: change ignored: the customer was forgotten (erase them from the legacy table too)",
			"table", r.cfg.Customers.Schema+"."+r.cfg.Customers.Name, "id", row[0])
		return ignored, nil
	case len(res.Ignored) == 0:
		return applied, nil
	}
	r.log.Warn("cdc: change ignored: the customer context records no change of "+strings.Join(res.Ignored, " or "),
		"table", r.cfg.Customers.Schema+"."+r.cfg.Customers.Name, "id", row[0], "ignored", strings.Join(res.Ignored, ","),
		"address_changed", res.Recorded)
	if res.Recorded {
		r.stats.ChangesIgnored.Add(1) // the ignored part; the move counts as applied
		return applied, nil
	}
	return ignored, nil
}

func applyOutcome(ok bool, err error) (outcome, error) {
	if ok {
		return applied, err
	}
	return skipped, err
}

// quoted is the table's name quoted for SQL.
func quoted(t Table) string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// selectColumns reads the mapped columns as text, whatever their types.
func selectColumns(t Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize() + "::text"
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + quoted(t)
}

// classify turns an error of the source into a message that says what to
// fix, marked permanent when reconnecting cannot help.
func classify(err error, doing string) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "28P01", "28000":
			return permanent("%s: the source refused the credentials (%s): check the user and the password (in PGPASSWORD, ~/.pgpass or --pg), "+
				"and that pg_hba.conf lets this user connect (also for replication)", doing, pg.Message)
		case "3D000":
			return permanent("%s: %s: check the database name in --pg", doing, pg.Message)
		case "42501":
			return permanent("%s: permission denied (%s): the user needs the REPLICATION attribute and "+
				"SELECT on the tables (see README, Legacy data)", doing, pg.Message)
		case "42P01":
			return permanent("%s: %s: the table is missing (map another with --products/--customers)", doing, pg.Message)
		case "42703":
			return permanent("%s: %s: a mapped column is missing (map the columns with --products/--customers)", doing, pg.Message)
		case "55000":
			return permanent("%s: %s (wal_level must be logical)", doing, pg.Message)
		}
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		return permanent("--pg: %v", err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && !errors.As(err, &pg) {
		return &unreachableError{addr: address(ce.Config), err: err}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// unreachableError is a connection that never reached PostgreSQL (a wrong
// host or port, the server down, a name that does not resolve): the run
// keeps trying, and says so.
type unreachableError struct {
	addr string
	err  error
}

func (e *unreachableError) Error() string {
	var op *net.OpError
	var dns *net.DNSError
	cause := oneLine(e.err.Error())
	switch {
	case errors.As(e.err, &dns):
		cause = dns.Error()
	case errors.As(e.err, &op):
		cause = op.Err.Error()
	case pgconn.Timeout(e.err):
		cause = "timed out"
	}
	return fmt.Sprintf("cannot reach %s: %s", e.addr, cause)
}

func (e *unreachableError) Unwrap() error { return e.err }

// address is where a connection goes, as host:port (or a socket's directory).
func address(c *pgconn.Config) string {
	if c == nil {
		return "the source"
	}
	if strings.HasPrefix(c.Host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", c.Host, c.Port)
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
}

// oneLine folds a multi-line error (pgconn lists each attempt on its own
// line) into one, so that a log line shows no escaped newlines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
