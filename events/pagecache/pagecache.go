// Package pagecache wraps SQLite's own page cache to spare every commit a
// walk over the whole cache.
//
// Why: when SQLite splits a B-tree page it may swap the numbers of two new
// pages, and does so through a temporary number, that of the lock page (the
// page holding byte 0x40000000: 262145 with 4 KiB pages). Its page cache
// remembers the largest number it was ever handed, and at the end of every
// write transaction it drops the pages beyond the end of the database; while
// that remembered number lies far beyond the end, as it does for any
// database under 1 GiB, it does so by visiting every page it holds. With the
// writer's 64 MiB cache that is about 16,000 pages, 140 µs, after every
// commit that split a page: 4.5 % of the server's CPU under the order load.
//
// The wrapper hands every call to SQLite's cache unchanged but one: it keeps
// its own largest number, leaving out the lock page (which SQLite never
// keeps a page under: a page numbered so is rekeyed away at once), and skips
// a truncation that has nothing to drop. Every other truncation, such as
// the one after a rolled-back transaction that grew the database, goes
// through.
package pagecache

/*
#include <stdlib.h>

// The parts of sqlite3.h the wrapper needs (stable public API,
// https://sqlite.org/c3ref/pcache_methods2.html). SQLite itself is compiled
// into the binary by github.com/mattn/go-sqlite3.
typedef struct sqlite3_pcache sqlite3_pcache;
typedef struct sqlite3_pcache_page { void *pBuf; void *pExtra; } sqlite3_pcache_page;
typedef struct sqlite3_pcache_methods2 {
  int iVersion;
  void *pArg;
  int (*xInit)(void*);
  void (*xShutdown)(void*);
  sqlite3_pcache *(*xCreate)(int szPage, int szExtra, int bPurgeable);
  void (*xCachesize)(sqlite3_pcache*, int nCachesize);
  int (*xPagecount)(sqlite3_pcache*);
  sqlite3_pcache_page *(*xFetch)(sqlite3_pcache*, unsigned key, int createFlag);
  void (*xUnpin)(sqlite3_pcache*, sqlite3_pcache_page*, int discard);
  void (*xRekey)(sqlite3_pcache*, sqlite3_pcache_page*, unsigned oldKey, unsigned newKey);
  void (*xTruncate)(sqlite3_pcache*, unsigned iLimit);
  void (*xDestroy)(sqlite3_pcache*);
  void (*xShrink)(sqlite3_pcache*);
} sqlite3_pcache_methods2;
extern int sqlite3_config(int, ...);

#define PAGECACHE_CONFIG_PCACHE2 18
#define PAGECACHE_CONFIG_GETPCACHE2 19
#define PAGECACHE_LOCK_BYTE 0x40000000u

static sqlite3_pcache_methods2 pagecache_real;

// One wrapped cache: SQLite's, and the largest page number it may hold.
typedef struct pagecache_cache {
  sqlite3_pcache *real;
  unsigned max_key;
  unsigned lock_key;
} pagecache_cache;

// Counters for the tests: truncations skipped and passed on.
static unsigned long pagecache_skipped, pagecache_passed;

#define REAL(p) (((pagecache_cache*)(p))->real)

static int pagecache_init(void *arg) { return pagecache_real.xInit(pagecache_real.pArg); }
static void pagecache_shutdown(void *arg) {
  if (pagecache_real.xShutdown) pagecache_real.xShutdown(pagecache_real.pArg);
}

static sqlite3_pcache *pagecache_create(int szPage, int szExtra, int bPurgeable) {
  pagecache_cache *c = malloc(sizeof *c);
  if (!c) return 0;
  c->real = pagecache_real.xCreate(szPage, szExtra, bPurgeable);
  if (!c->real) { free(c); return 0; }
  c->max_key = 0;
  c->lock_key = PAGECACHE_LOCK_BYTE / (unsigned)szPage + 1;
  return (sqlite3_pcache*)c;
}

static void pagecache_cachesize(sqlite3_pcache *p, int n) { pagecache_real.xCachesize(REAL(p), n); }
static int pagecache_pagecount(sqlite3_pcache *p) { return pagecache_real.xPagecount(REAL(p)); }

static sqlite3_pcache_page *pagecache_fetch(sqlite3_pcache *p, unsigned key, int create) {
  pagecache_cache *c = (pagecache_cache*)p;
  sqlite3_pcache_page *pg = pagecache_real.xFetch(c->real, key, create);
  if (pg && key > c->max_key) c->max_key = key;
  return pg;
}

static void pagecache_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) {
  pagecache_real.xUnpin(REAL(p), pg, discard);
}

static void pagecache_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from, unsigned to) {
  pagecache_cache *c = (pagecache_cache*)p;
  pagecache_real.xRekey(c->real, pg, from, to);
  // The lock page's number is only ever a stop on the way of a swap.
  if (to != c->lock_key && to > c->max_key) c->max_key = to;
}

static void pagecache_truncate(sqlite3_pcache *p, unsigned limit) {
  pagecache_cache *c = (pagecache_cache*)p;
  if (limit > c->max_key) {
    __atomic_add_fetch(&pagecache_skipped, 1, __ATOMIC_RELAXED);
    return; // no page numbered limit or above: nothing to drop
  }
  __atomic_add_fetch(&pagecache_passed, 1, __ATOMIC_RELAXED);
  pagecache_real.xTruncate(c->real, limit);
  c->max_key = limit > 0 ? limit - 1 : 0;
}

static void pagecache_destroy(sqlite3_pcache *p) {
  pagecache_real.xDestroy(REAL(p));
  free(p);
}

static void pagecache_shrink(sqlite3_pcache *p) { pagecache_real.xShrink(REAL(p)); }

static sqlite3_pcache_methods2 pagecache_methods = {
  1, 0, pagecache_init, pagecache_shutdown, pagecache_create, pagecache_cachesize,
  pagecache_pagecount, pagecache_fetch, pagecache_unpin, pagecache_rekey,
  pagecache_truncate, pagecache_destroy, pagecache_shrink,
};

// Installs the wrapper; SQLite must not be initialized yet (it is on the
// first connection opened).
static int pagecache_install(void) {
  int rc = sqlite3_config(PAGECACHE_CONFIG_GETPCACHE2, &pagecache_real);
  if (rc != 0) return rc;
  if (!pagecache_real.xTruncate || !pagecache_real.xShrink) return -1;
  return sqlite3_config(PAGECACHE_CONFIG_PCACHE2, &pagecache_methods);
}

static void pagecache_counts(unsigned long *skipped, unsigned long *passed) {
  *skipped = __atomic_load_n(&pagecache_skipped, __ATOMIC_RELAXED);
  *passed = __atomic_load_n(&pagecache_passed, __ATOMIC_RELAXED);
}
*/
import "C"

import (
	"fmt"

	_ "github.com/mattn/go-sqlite3" // SQLite itself, and the calls the wrapper makes
)

// installErr is why the wrapper is not in place (nil: it is).
var installErr error

// The wrapper must be in place before SQLite is initialized, which happens
// when the first connection is opened: a package that opens databases
// imports this one, and package initialization runs before any of its code.
func init() {
	if rc := C.pagecache_install(); rc != 0 {
		installErr = fmt.Errorf("pagecache: SQLite refused the page cache wrapper (code %d): SQLite was initialized before", rc)
	}
}

// Installed says whether the wrapper is in place, and if not, why.
func Installed() error { return installErr }

// Truncations is how many truncations of a page cache the wrapper skipped
// (nothing to drop) and passed on to SQLite since the start.
func Truncations() (skipped, passed uint64) {
	var s, p C.ulong
	C.pagecache_counts(&s, &p)
	return uint64(s), uint64(p)
}
