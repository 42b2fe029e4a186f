package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// backup done: /tmp/x/backup.db, 1234 bytes (0.0 MiB), log position 567, in 0.12s
var backupDoneRE = regexp.MustCompile(`(?m)^backup done: (\S+), (\d+) bytes \(\d+\.\d MiB\), log position (\d+), in \d+\.\d\ds$`)

// ackedCount is how many orders of the load were acknowledged so far.
func (l *orderLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// ackedIDs is the orders of the load acknowledged so far.
func (l *orderLoad) ackedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.acked))
	for id := range l.acked {
		ids = append(ids, id)
	}
	return ids
}

// TestBackupUnderLoad: `orderflow backup` of a server's database while four clients place
// orders. The server keeps serving (no order of the load is refused, and orders are acknowledged
// after the backup); the copy refuses to be overwritten; it starts as a server of its own, whose
// log holds exactly the original's events up to the printed position, every order placed at or
// below it and none placed after, every order acknowledged before the backup started, and whose
// reactions and read models go on from the copy's checkpoints (every order settles).
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "shop.db")
	orig := startBinary(t, bin, src)
	c := orig.client

	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "bk", 4, 1_000_000)
	load := startOrderLoad(c, "bk", keys(onHand), 4, 5*time.Millisecond)
	eventually(t, settleTimeout, func() (bool, string) {
		n := load.ackedCount()
		return n >= 200, fmt.Sprintf("%d orders acknowledged, want 200 before the backup", n)
	})

	out := filepath.Join(dir, "backup.db")
	ackedBefore := load.ackedIDs()
	res := runBinary(t, bin, 2*time.Minute, "backup", "--db", src, "--out", out)
	ackedAfter := load.ackedCount()
	if res.code != 0 {
		load.finish(t)
		t.Fatalf("orderflow backup exited %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	m := backupDoneRE.FindStringSubmatch(res.stdout)
	if m == nil {
		load.finish(t)
		t.Fatalf("orderflow backup printed no summary line\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
	}
	position, _ := strconv.Atoi(m[3])
	size, _ := strconv.ParseInt(m[2], 10, 64)
	t.Logf("%s (%d orders acknowledged while it ran)", strings.TrimSpace(res.stdout), ackedAfter-len(ackedBefore))
	if fi, err := os.Stat(out); err != nil || fi.Size() != size {
		t.Errorf("backup says %d bytes at %s; stat: %v", size, out, err)
	}

	// The server goes on taking orders after the backup.
	eventually(t, settleTimeout, func() (bool, string) {
		n := load.ackedCount()
		return n >= ackedAfter+100, fmt.Sprintf("%d orders acknowledged, %d when the backup ended: the server stopped taking orders", n, ackedAfter)
	})
	load.finish(t)
	if load.failed > 0 {
		t.Errorf("%d orders of the load were not acknowledged (the server must keep serving during a backup): %v", load.failed, load.errs)
	}

	// A second backup to the same file is refused, and the copy is left as it was.
	again := runBinary(t, bin, time.Minute, "backup", "--db", src, "--out", out)
	if again.code != 2 || !strings.Contains(again.stderr, "already exists") {
		t.Errorf("backup onto an existing --out: exit %d, stderr %q; want 2 and a message that it exists", again.code, again.stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() != size {
		t.Errorf("the refused backup changed %s: %v", out, err)
	}

	// What the original holds up to the printed position, and the orders placed in it.
	origEvents := c.events(t, "")
	if len(origEvents) == 0 || origEvents[len(origEvents)-1].Position <= position {
		t.Fatalf("the original's log ends at %d events; the backup's position %d should be behind its head", len(origEvents), position)
	}
	var wantEvents []Event
	var wantOrders []string
	for _, e := range origEvents {
		if e.Position > position {
			break
		}
		wantEvents = append(wantEvents, e)
		if e.Type == "OrderPlaced" {
			wantOrders = append(wantOrders, strings.TrimPrefix(e.StreamID, "order-"))
		}
	}
	slices.Sort(wantOrders)
	for _, id := range ackedBefore {
		if _, found := slices.BinarySearch(wantOrders, id); !found {
			t.Errorf("order %s was acknowledged before the backup started but was placed after its position %d", id, position)
		}
	}

	// The copy starts as a server of its own, beside the original.
	restored := startBinary(t, bin, out)
	rc := restored.client
	var gotEvents []Event
	for _, e := range rc.events(t, "") {
		if e.Position <= position {
			gotEvents = append(gotEvents, e)
		}
	}
	if len(gotEvents) != len(wantEvents) {
		t.Errorf("the restored server holds %d events up to position %d, the original %d", len(gotEvents), position, len(wantEvents))
	}
	for i := range min(len(gotEvents), len(wantEvents)) {
		if !reflect.DeepEqual(gotEvents[i], wantEvents[i]) {
			t.Fatalf("event %d differs:\nrestored %+v\noriginal %+v", i, gotEvents[i], wantEvents[i])
		}
	}

	// Its read models hold exactly the orders placed up to the position, and its reactions settle
	// the ones the backup caught in flight.
	eventually(t, settleTimeout, func() (bool, string) {
		var ids []string
		pending := 0
		for _, o := range rc.allOrders(t, "", "", 100) {
			ids = append(ids, o.ID)
			if o.Status == "PENDING" {
				pending++
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, wantOrders) {
			return false, fmt.Sprintf("the restored server lists %d orders, want the %d placed up to position %d", len(ids), len(wantOrders), position)
		}
		return pending == 0, fmt.Sprintf("%d orders still PENDING on the restored server", pending)
	})
	for _, p := range keys(onHand) {
		s := rc.stock(t, p)
		checkStockInvariants(t, s)
		if s.OnHand != onHand[p] {
			t.Errorf("restored stock of %s: onHand %d, want %d", p, s.OnHand, onHand[p])
		}
	}
	if n := len(ackedBefore); n > 0 {
		if o := rc.order(t, ackedBefore[0]); o == nil {
			t.Errorf("order(%q) on the restored server: null", ackedBefore[0])
		}
	}
	// And the original still answers.
	if got := c.allOrders(t, "c-1", "", 100); len(got) == 0 {
		t.Error("the original server lists no orders of c-1 after the backup")
	}
}
