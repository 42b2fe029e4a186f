package backup_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"orderflow/app/backup"
	"orderflow/events"
	"orderflow/migrations"
)

// openStore opens an orderflow database at path as the server does, with its
// write lock, and closes it when the test ends.
func openStore(t *testing.T, path string) *events.Store {
	t.Helper()
	db, err := events.Open(context.Background(), path, events.Options{Migrate: migrations.Apply, Durability: events.DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return events.NewStore(db)
}

// appendOrders appends events numbered first … first+n-1, three to a
// stream (event i to stream order-<i/3>).
func appendOrders(t *testing.T, s *events.Store, first, n int) {
	t.Helper()
	if err := tryAppendOrders(s, first, n); err != nil {
		t.Fatal(err)
	}
}

func tryAppendOrders(s *events.Store, first, n int) error {
	for i := first; i < first+n; i++ {
		stream := fmt.Sprintf("order-%d", i/3)
		data, _ := json.Marshal(map[string]int{"n": i})
		if _, err := s.Append(context.Background(), events.StreamAppend{
			StreamID: stream, ExpectedVersion: events.AnyVersion,
			Events: []events.Event{{Type: "Placed", Data: data, CorrelationID: stream}},
		}); err != nil {
			return err
		}
	}
	return nil
}

func readAll(t *testing.T, s *events.Store) []events.Event {
	t.Helper()
	var all []events.Event
	for after := int64(0); ; {
		page, err := s.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// schema is what sqlite_master says the database holds: every table, index,
// view and trigger.
func schema(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT type || ' ' || name FROM sqlite_master ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// integrityCheck runs SQLite's full integrity check (every index entry
// matched with its row too) on the database at path.
func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check(1)").Scan(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// dirEntries lists a directory, to show that a failed backup left nothing.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// ways are the two ways a copy is taken: `orderflow backup` (Take), and
// a copy sent to a new process (ForSending) as that process receives it
// (ReceiveEarly), which must report the position the sender read.
var ways = []struct {
	name      string
	keepsMode bool // the copy has the source's permissions (a receiver makes its own)
	take      func(ctx context.Context, src, out string) (backup.Result, error)
}{
	{"backup", true, backup.Take},
	{"sent and received", false, func(ctx context.Context, src, out string) (backup.Result, error) {
		sent, err := backup.ForSending(ctx, src, filepath.Join(filepath.Dir(out), "sending"))
		if err != nil {
			return backup.Result{}, err
		}
		defer os.Remove(sent.Path)
		r, w := io.Pipe()
		verdict := make(chan backup.Verdict, 1)
		go func() {
			v, err := backup.Send(ctx, w, sent.Path)
			verdict <- v
			w.CloseWithError(err)
		}()
		got, err := receive(ctx, r, out, func() (backup.Verdict, bool) {
			v := <-verdict
			return v, v.Checked
		})
		r.Close()
		if err == nil && (got.Position != sent.Position || got.Bytes != sent.Bytes) {
			err = fmt.Errorf("received a copy at position %d of %d bytes; the sender said %d of %d bytes",
				got.Position, got.Bytes, sent.Position, sent.Bytes)
		}
		return got, err
	}},
}

// TestBackupWhileWriting: a backup of a database held open by its writer
// (events.Open's lock taken, as by a running server) while events keep being
// appended holds every event up to the position it reports, exactly as the
// source has them, the checkpoints and dead letters too, has the source's
// schema, passes SQLite's full integrity_check and opens as a server's
// database of its own; so does a copy sent to a new process.
func TestBackupWhileWriting(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testBackupWhileWriting(t, way.keepsMode, way.take) })
	}
}

func testBackupWhileWriting(t *testing.T, keepsMode bool, take func(ctx context.Context, src, out string) (backup.Result, error)) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sending"), 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "shop.db")
	store := openStore(t, src)
	appendOrders(t, store, 0, 3000)
	err := store.DB().Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		if err := events.SaveCheckpoint(context.Background(), tx, "orders-view", 2999); err != nil {
			return err
		}
		e := readAll(t, store)[41]
		return events.RecordDeadLetter(context.Background(), tx, "inventory", e, e.StreamID, 5, errors.New("poison"))
	})
	if err != nil {
		t.Fatal(err)
	}

	// Writers keep appending while the backup runs.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		written  atomic.Int64
		writeErr = make(chan error, 3)
	)
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := tryAppendOrders(store, 1_000_000*(w+1)+3*i, 3); err != nil {
					writeErr <- err
					return
				}
				written.Add(3)
			}
		})
	}
	for written.Load() < 300 {
		time.Sleep(time.Millisecond)
	}
	out := filepath.Join(dir, "backup.db")
	res, err := take(context.Background(), src, out)
	after := written.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-writeErr:
		t.Fatalf("appending beside the backup: %v", err)
	default:
	}
	t.Logf("backup: %d bytes, position %d; %d events appended beside it", res.Bytes, res.Position, after)
	// Before anything opens the copy (a reader of a copy in WAL mode, as
	// one sent is, makes its -wal and -shm files).
	if names := dirEntries(t, dir); len(names) != 6 { // shop.db, -wal, -shm, .lock, backup.db, sending
		t.Errorf("directory after the backup holds %v, want the source's files, backup.db and sending", names)
	}
	if names := dirEntries(t, filepath.Join(dir, "sending")); len(names) != 0 {
		t.Errorf("the sender's directory holds %v after the copy was received", names)
	}
	if res.Position < 3300 {
		t.Errorf("backup holds position %d; the store was past 3300 when it started", res.Position)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != res.Bytes {
		t.Errorf("backup reports %d bytes, the file has %d", res.Bytes, fi.Size())
	}
	srcInfo, _ := os.Stat(src)
	if keepsMode && fi.Mode().Perm() != srcInfo.Mode().Perm() {
		t.Errorf("backup mode %v, want the source's %v", fi.Mode().Perm(), srcInfo.Mode().Perm())
	}
	if !reflect.DeepEqual(schema(t, out), schema(t, src)) {
		t.Errorf("backup schema differs from the source's:\n%v\n%v", schema(t, out), schema(t, src))
	}

	var want []events.Event
	for _, e := range readAll(t, store) {
		if e.Position <= res.Position {
			want = append(want, e)
		}
	}
	if int64(len(want)) != res.Position || want[len(want)-1].Position != res.Position {
		t.Fatalf("source holds %d events up to position %d", len(want), res.Position)
	}

	if got := integrityCheck(t, out); got != "ok" {
		t.Errorf("PRAGMA integrity_check on the backup: %s", got)
	}

	// The copy starts as a database of its own: events.Open takes its lock,
	// checks its integrity and migrates it (nothing to do).
	copyStore := openStore(t, out)
	got := readAll(t, copyStore)
	if len(got) != len(want) {
		t.Fatalf("backup holds %d events, want %d (every event up to position %d)", len(got), len(want), res.Position)
	}
	for i := range want {
		w, g := want[i], got[i]
		w.OccurredAt, g.OccurredAt = w.OccurredAt.UTC(), g.OccurredAt.UTC()
		if !reflect.DeepEqual(w, g) {
			t.Fatalf("event %d of the backup differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if cp, err := copyStore.DB().Checkpoint(context.Background(), "orders-view"); err != nil || cp != 2999 {
		t.Errorf("backup's checkpoint orders-view = %d, %v; want 2999", cp, err)
	}
	if open, err := copyStore.DB().OpenDeadLetters(context.Background()); err != nil || open["inventory"] != 1 {
		t.Errorf("backup's open dead letters = %v, %v; want inventory: 1", open, err)
	}
}

// TestBackupOfStoppedServer: a database whose server stopped cleanly (no
// -wal or -shm file left) backs up the same way. As every reader of a WAL
// database does, the backup's read-only connection makes the -shm file and
// an empty -wal file when they are missing, and leaves them: they are not
// removed after it, since a server that started meanwhile would be using
// them.
func TestBackupOfStoppedServer(t *testing.T) {
	dir := t.TempDir()
	src := stoppedShop(t, dir)
	before := dirEntries(t, dir)
	res, err := backup.Take(context.Background(), src, filepath.Join(dir, "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := append(before, "copy.db", "shop.db-shm", "shop.db-wal")
	if after := dirEntries(t, dir); !reflect.DeepEqual(sorted(after), sorted(want)) {
		t.Errorf("after the backup the directory holds %v, want %v", after, want)
	}
	if fi, err := os.Stat(src + "-wal"); err != nil || fi.Size() != 0 {
		t.Errorf("the backup wrote to the source's -wal: %v", err)
	}
	if res.Position != 10 {
		t.Errorf("position %d, want 10", res.Position)
	}
	if got := len(readAll(t, openStore(t, res.Path))); got != 10 {
		t.Errorf("backup holds %d events, want 10", got)
	}
}

// TestBackupInterrupted: a backup cancelled in the middle of the copy leaves
// nothing at --out and no temporary file beside it; nor does a copy for
// sending, in its directory.
func TestBackupInterrupted(t *testing.T) {
	for _, tt := range []struct {
		name, temporary string // temporary: in the name of the copy being written
		take            func(ctx context.Context, src, out string) error
	}{
		{"backup", ".backup-", func(ctx context.Context, src, out string) error {
			_, err := backup.Take(ctx, src, out)
			return err
		}},
		{"for sending", "send-", func(ctx context.Context, src, out string) error {
			_, err := backup.ForSending(ctx, src, filepath.Dir(out))
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { testBackupInterrupted(t, tt.temporary, tt.take) })
	}
}

func testBackupInterrupted(t *testing.T, temporary string, take func(ctx context.Context, src, out string) error) {
	dir := t.TempDir()
	src := filepath.Join(dir, "shop.db")
	store := openStore(t, src)
	// Enough to take a while to copy: one stream of large events.
	big := bytes.Repeat([]byte("x"), 64<<10)
	for i := range 800 {
		data, _ := json.Marshal(map[string]string{"pad": string(big), "n": strconv.Itoa(i)})
		if _, err := store.Append(context.Background(), events.StreamAppend{
			StreamID: "big", ExpectedVersion: events.AnyVersion, Events: []events.Event{{Type: "Big", Data: data}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := dirEntries(t, dir)
	out := filepath.Join(dir, "backup.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel as soon as the temporary copy has grown
		for ctx.Err() == nil {
			ents, _ := os.ReadDir(dir)
			for _, ent := range ents {
				name := ent.Name()
				if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && strings.Contains(name, temporary) && fi.Size() > 0 {
					cancel()
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	err := take(ctx, src, out)
	if err == nil {
		t.Fatal("the backup finished before it could be interrupted; make the database larger")
	}
	t.Logf("interrupted: %v", err)
	if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "interrupt") {
		t.Errorf("interrupted backup failed with %v, want it to say it was interrupted", err)
	}
	if _, serr := os.Lstat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("interrupted backup (%v) left %s: %v", err, out, serr)
	}
	if after := dirEntries(t, dir); !reflect.DeepEqual(after, before) {
		t.Errorf("interrupted backup (%v) left files: before %v, after %v", err, before, after)
	}
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

var doneRE = regexp.MustCompile(`^backup done: (\S+), (\d+) bytes \(\d+\.\d MiB\), log position (\d+), in \d+\.\d\ds\n$`)

// TestMainCommand is the command line: usage errors exit 2, failures 1, and
// neither leaves anything at --out.
func TestMainCommand(t *testing.T) {
	dir := t.TempDir()
	shop := filepath.Join(dir, "shop.db")
	appendOrders(t, openStore(t, shop), 0, 7)

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	if odb, err := sql.Open("sqlite3", other); err != nil {
		t.Fatal(err)
	} else if _, err := odb.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')"); err != nil {
		t.Fatal(err)
	} else {
		odb.Close()
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a database\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
	}{
		{"no --db", []string{"--out", filepath.Join(dir, "a.db")}, nil, backup.ExitUsage, "--db PATH"},
		{"no --out", []string{"--db", shop}, nil, backup.ExitUsage, "--out FILE"},
		{"a stray argument", []string{"--db", shop, "--out", filepath.Join(dir, "a.db"), "now"}, nil, backup.ExitUsage, `unexpected argument "now"`},
		{"an existing --out", []string{"--db", shop, "--out", existing}, nil, backup.ExitUsage, "already exists"},
		{"--out in a missing directory", []string{"--db", shop, "--out", filepath.Join(dir, "nodir", "a.db")}, nil, backup.ExitUsage, "nodir"},
		{"--db that is not there", []string{"--db", filepath.Join(dir, "missing.db"), "--out", filepath.Join(dir, "a.db")}, nil, backup.ExitUsage, "no database file there"},
		{"--db a directory", []string{"--db", dir, "--out", filepath.Join(dir, "a.db")}, nil, backup.ExitUsage, "not a regular file"},
		{"an SQLite database without events", []string{"--db", other, "--out", filepath.Join(dir, "a.db")}, nil, backup.ExitFailed, "not an orderflow database"},
		{"a file that is not SQLite", []string{"--db", text, "--out", filepath.Join(dir, "a.db")}, nil, backup.ExitFailed, "not an orderflow database"},
		{"from the environment", nil, map[string]string{"ORDERFLOW_DB": shop, "ORDERFLOW_OUT": filepath.Join(dir, "env.db")}, backup.ExitOK, ""},
		{"the command line wins", []string{"--out", filepath.Join(dir, "flag.db")}, map[string]string{"ORDERFLOW_DB": shop, "ORDERFLOW_OUT": existing}, backup.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dirEntries(t, dir)
			var stdout, stderr bytes.Buffer
			code := backup.Main(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tt.wantStderr)
			}
			if code != backup.ExitOK {
				if stdout.Len() > 0 {
					t.Errorf("failed backup printed %q to stdout", stdout.String())
				}
				if after := dirEntries(t, dir); !reflect.DeepEqual(after, before) {
					t.Errorf("failed backup changed the directory: before %v, after %v", before, after)
				}
				if got, _ := os.ReadFile(existing); string(got) != "keep me" {
					t.Errorf("existing file now holds %q", got)
				}
				return
			}
			m := doneRE.FindStringSubmatch(stdout.String())
			if m == nil {
				t.Fatalf("stdout %q is not the summary line", stdout.String())
			}
			fi, err := os.Stat(m[1])
			if err != nil {
				t.Fatal(err)
			}
			if size, _ := strconv.ParseInt(m[2], 10, 64); size != fi.Size() {
				t.Errorf("printed size %d, file has %d", size, fi.Size())
			}
			if m[3] != "7" {
				t.Errorf("printed position %s, want 7", m[3])
			}
		})
	}
}

// TestReceive: a copy sent by another process (--seed-from) is placed at
// out only when it is whole: an orderflow database that passes its check.
// One cut short, or anything else, leaves nothing at out nor beside it.
func TestReceive(t *testing.T) {
	dir := t.TempDir()
	src := stoppedShop(t, dir)
	res, err := backup.ForSending(context.Background(), src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	verdict, err := backup.Send(context.Background(), &sent, res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sent.Bytes(), whole) || !verdict.Checked || verdict.Problem != "" {
		t.Fatalf("Send wrote %d bytes of %d, verdict %+v; want the copy, checked and passed", sent.Len(), len(whole), verdict)
	}
	// A damaged page that SQLite opens: quick_check finds it, the header does not.
	damaged := slices.Clone(whole)
	for i := 4096 * 2; i < 4096*3; i++ {
		damaged[i] ^= 0x5a
	}
	given := func(v backup.Verdict) func() (backup.Verdict, bool) {
		return func() (backup.Verdict, bool) { return v, true }
	}
	failed := verdict
	failed.Problem = "*** in database main *** Page 3: btreeInitPage() returns error code 11"
	notChecked := backup.Verdict{CRC32C: crc32.Checksum(damaged, crc32.MakeTable(crc32.Castagnoli))}
	for _, tt := range []struct {
		name    string
		sent    []byte
		verdict func() (backup.Verdict, bool)
		want    string // in the error (any of them, |-separated); "" for a copy placed at out
	}{
		{"whole", whole, nil, ""},
		{"whole, checked by its sender", whole, given(verdict), ""},
		{"cut short", whole[:len(whole)/2], nil, "malformed|quick_check"},
		{"cut short, with the sender's verdict on the whole", whole[:len(whole)/2], given(verdict), "malformed|is not the one sent"},
		{"damaged on its way", damaged, given(verdict), "is not the one sent"},
		{"damaged, not checked by its sender", damaged, given(notChecked), "quick_check"},
		{"failed its sender's check", whole, given(failed), "the sender's check of its copy: *** in database main"},
		{"empty", nil, nil, "not an orderflow database"},
		{"not a database", []byte("<html>proxy error</html>"), given(verdict), "not an orderflow database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "new.db")
			got, err := receive(context.Background(), bytes.NewReader(tt.sent), out, tt.verdict)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Position != 10 || len(readAll(t, openStore(t, out))) != 10 {
					t.Errorf("received position %d; want the 10 events of the copy", got.Position)
				}
				return
			}
			if err == nil || !slices.ContainsFunc(strings.Split(tt.want, "|"), func(w string) bool {
				return strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w))
			}) {
				t.Errorf("err = %v, want one that says %q", err, tt.want)
			}
			if left := dirEntries(t, dir); len(left) != 0 {
				t.Errorf("a copy that was refused left %v", left)
			}
		})
	}
}

// receive receives a copy as --seed-from does (ReceiveEarly) and syncs it.
func receive(ctx context.Context, r io.Reader, out string, verdict func() (backup.Verdict, bool)) (backup.Result, error) {
	res, sync, err := backup.ReceiveEarly(ctx, r, out, verdict)
	if err != nil {
		return res, err
	}
	return res, sync()
}

// TestReceiveEarly: a copy received early is at out, complete, before it
// is synced, with the marker beside it on disk; its sync removes the
// marker. Discard removes a database with the marker (a crash before the
// sync) and leaves one without.
func TestReceiveEarly(t *testing.T) {
	src := stoppedShop(t, t.TempDir())
	sent, err := backup.ForSending(context.Background(), src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(sent.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "new.db")
	res, sync, err := backup.ReceiveEarly(context.Background(), bytes.NewReader(whole), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Position != 10 || res.Bytes != int64(len(whole)) {
		t.Errorf("received %+v, want position 10 and %d bytes", res, len(whole))
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"new.db", "new.db.unsynced"}) {
		t.Errorf("before its sync the directory holds %v, want the copy and its marker", got)
	}
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"new.db"}) {
		t.Errorf("after its sync the directory holds %v, want the copy alone", got)
	}
	if discarded, err := backup.Discard(out); discarded || err != nil {
		t.Errorf("Discard of a copy on disk: %v, %v; want it left alone", discarded, err)
	}
	if got := len(readAll(t, openStore(t, out))); got != 10 {
		t.Errorf("the copy holds %d events, want 10", got)
	}

	// A process that stopped before the sync: its database, -wal and -shm go with the marker.
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if _, _, err := backup.ReceiveEarly(context.Background(), bytes.NewReader(whole), crashed, nil); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(crashed+suffix, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if discarded, err := backup.Discard(crashed); !discarded || err != nil {
		t.Fatalf("Discard of a copy with its marker: %v, %v; want it discarded", discarded, err)
	}
	if left := dirEntries(t, filepath.Dir(crashed)); len(left) != 0 {
		t.Errorf("Discard left %v", left)
	}
}

// TestRemoveLeftovers: what a process killed while it sent or received a
// copy of its database left beside it goes; nothing else does.
func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "of.db")
	sending, err := backup.SendingDir(db)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{ // name: a leftover
		"of.db": false, "of.db-wal": false, "of.db.lock": false, "of.db.unsynced": false,
		".of.db.seed-123": true, ".of.db.seed-123-wal": true,
		".other.db.seed-9": false, ".of.db.backup-5": false, "notes.txt": false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sending, "send-1.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err := backup.RemoveLeftovers(db)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".of.db.seed-123", ".of.db.seed-123-wal", filepath.Base(sending)}
	if !reflect.DeepEqual(sorted(removed), sorted(want)) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	var kept []string
	for name, leftover := range files {
		if !leftover {
			kept = append(kept, name)
		}
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(sorted(got), sorted(kept)) {
		t.Errorf("left %v, want %v", got, kept)
	}
}

// TestForSending: the copy to send holds the whole log and says its
// position; a source that is not an orderflow database, or none, leaves
// nothing in the directory.
func TestForSending(t *testing.T) {
	dir := t.TempDir()
	src := stoppedShop(t, dir)
	notOurs := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notOurs, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, src, want string // want: in the error; "" for a copy
	}{
		{"a shop", src, ""},
		{"not a database", notOurs, "not an orderflow database"},
		{"missing", filepath.Join(dir, "gone.db"), "no database file there"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			res, err := backup.ForSending(context.Background(), tt.src, out)
			if tt.want != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.want) {
					t.Errorf("err = %v, want one that says %q", err, tt.want)
				}
				if left := dirEntries(t, out); len(left) != 0 {
					t.Errorf("a refused copy left %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(res.Path) != out || res.Position != 10 || res.Bytes == 0 {
				t.Errorf("copy %+v, want one in %s at position 10", res, out)
			}
			if got := len(readAll(t, openStore(t, res.Path))); got != 10 {
				t.Errorf("the copy holds %d events, want 10", got)
			}
		})
	}
}

// stoppedShop is the database dir/shop.db of a server that wrote 10 orders
// and stopped.
func stoppedShop(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "shop.db")
	db, err := events.Open(context.Background(), src, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	appendOrders(t, events.NewStore(db), 0, 10)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return src
}
