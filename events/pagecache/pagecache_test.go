package pagecache

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		"PRAGMA cache_size = -65536",
		"CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)",
		"CREATE INDEX t_k ON t (k)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// insert adds n rows in one transaction, committed or rolled back; their
// keys land all over the index, so its pages split (and are swapped).
func insert(t *testing.T, db *sql.DB, r *rand.Rand, n int, commit bool) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := tx.Exec("INSERT INTO t (k, v) VALUES (?, ?)", fmt.Sprintf("%016x", r.Uint64()), fmt.Sprintf("%0200d", r.Uint64())); err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func check(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
}

func TestTheWrapperIsInstalled(t *testing.T) {
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
}

// Commits that split pages leave SQLite's cache with nothing to drop: the
// wrapper skips those truncations.
func TestCommitsThatSplitPagesSkipTheTruncation(t *testing.T) {
	db := open(t)
	r := rand.New(rand.NewPCG(1, 2))
	skipped0, _ := Truncations()
	for range 50 {
		insert(t, db, r, 200, true)
	}
	skipped, _ := Truncations()
	if skipped-skipped0 < 50 {
		t.Fatalf("%d truncations skipped over 50 commits, want every commit's", skipped-skipped0)
	}
	if n := count(t, db); n != 50*200 {
		t.Fatalf("%d rows, want %d", n, 50*200)
	}
	check(t, db)
}

// A rolled-back transaction that grew the database leaves pages beyond its
// end in the cache; they must be dropped (the truncation passed on), or the
// next transaction that grows the database would take their stale content
// for its new pages.
func TestARollbackThatGrewTheDatabaseDropsItsPages(t *testing.T) {
	db := open(t)
	r := rand.New(rand.NewPCG(3, 4))
	insert(t, db, r, 500, true)
	for range 5 {
		_, passed0 := Truncations()
		insert(t, db, r, 2000, false)
		if _, passed := Truncations(); passed == passed0 {
			t.Fatal("the rollback's truncation was skipped")
		}
		insert(t, db, r, 2000, true)
		check(t, db)
	}
	if n := count(t, db); n != 500+5*2000 {
		t.Fatalf("%d rows, want %d", n, 500+5*2000)
	}
}
