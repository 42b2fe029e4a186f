package events

import (
	"context"
	"database/sql"
	"sync"
)

// headWatch tracks the last committed global position and wakes everyone
// waiting for it to move. Waiters get a channel that is closed on the next
// advance, so any number of tailing readers can block without polling.
type headWatch struct {
	mu      sync.Mutex
	pos     int64
	changed chan struct{}
}

func newHeadWatch() *headWatch { return &headWatch{changed: make(chan struct{})} }

func (h *headWatch) advance(pos int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos <= h.pos {
		return
	}
	h.pos = pos
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *headWatch) get() (int64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos, h.changed
}

// Head is the global position of the last committed event.
func (d *DB) Head() int64 {
	p, _ := d.head.get()
	return p
}

// Querier is what HeadOf reads through: a *sql.DB, a *sql.Conn (inside a
// transaction it began) or a *sql.Tx.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// HeadOf reads the global position of the last event in the database db
// is a connection to, 0 for an empty log. It is for a connection not made
// by Open (a backup checking its copy, or reading the position of the
// snapshot it copies), and how Open learns where the log it opened ends.
func HeadOf(ctx context.Context, db Querier) (int64, error) {
	var head int64
	err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&head)
	return head, err
}

// WaitBeyond blocks until an event after position has committed, and returns
// the new head. It returns ctx's error when ctx ends first.
func (d *DB) WaitBeyond(ctx context.Context, position int64) (int64, error) {
	for {
		head, changed := d.head.get()
		if head > position {
			return head, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return head, ctx.Err()
		case <-d.stop:
			return head, ErrClosed
		}
	}
}
