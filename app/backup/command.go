package backup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"orderflow/app/flags"
)

// Exit codes of Main.
const (
	ExitOK     = 0
	ExitFailed = 1 // the backup failed: nothing was left at --out
	ExitUsage  = 2 // bad flags, an --out that exists or has no directory, a --db that is not a file
)

const usage = `Usage: orderflow backup --db PATH --out FILE

Copies the orderflow database at --db to --out while its server runs: a
consistent snapshot of the whole database (the event log, read models,
checkpoints, dead letters), taken as one more reader, without the server's
write lock. The server keeps serving and writing meanwhile. The copy is
checked (PRAGMA quick_check) and synced before it appears at --out; a
backup that fails leaves nothing there. --out must not exist.

It prints the copy's size and the log position it holds: every event up to
that position is in the copy. To restore, stop the server, put the copy in
place of its database file (with no -wal or -shm file of the old one beside
it) and start the server on it: orderflow --db FILE.

Exit status: 0 the copy is in place, 1 the backup failed, 2 bad usage
(missing flags, --out exists or its directory does not, --db is not a
file).

Flags (each falls back to ORDERFLOW_<NAME>, e.g. ORDERFLOW_DB; a flag on the
command line wins):
`

// Main is `orderflow backup`: it copies --db to --out and prints what it
// wrote to stdout (errors to stderr). It returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow backup", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	dbPath := fs.String("db", "", "the SQLite database of a server, running or not (env ORDERFLOW_DB)")
	out := fs.String("out", "", "the file to write the copy to; it must not exist (env ORDERFLOW_OUT)")
	if err := flags.Parse(fs, args, getenv); err != nil {
		return flags.Exit("orderflow backup", err, stdout, stderr)
	}
	switch {
	case *dbPath == "":
		return usageError(stderr, "say which database to back up: --db PATH")
	case *out == "":
		return usageError(stderr, "say where to write the copy: --out FILE")
	}
	res, err := Take(ctx, *dbPath, *out)
	switch {
	case errors.Is(err, ErrOutExists), errors.Is(err, ErrOutDir), errors.Is(err, ErrNoSource):
		fmt.Fprintln(stderr, "orderflow backup:", err)
		return ExitUsage
	case err != nil:
		fmt.Fprintln(stderr, "orderflow backup:", err)
		return ExitFailed
	}
	fmt.Fprintf(stdout, "backup done: %s, %d bytes (%.1f MiB), log position %d, in %.2fs\n",
		res.Path, res.Bytes, float64(res.Bytes)/(1<<20), res.Position, res.Took.Seconds())
	return ExitOK
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintln(stderr, "orderflow backup:", msg)
	fmt.Fprintln(stderr, `Run "orderflow backup -h" for the flags.`)
	return ExitUsage
}
