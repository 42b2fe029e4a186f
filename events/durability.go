package events

import (
	"context"
	"fmt"
)

// Durability chooses what an acknowledged write survives.
type Durability string

const (
	// DurabilityFull fsyncs the log on every commit: an acknowledged write
	// survives a process crash and a power loss.
	DurabilityFull Durability = "full"
	// DurabilityNormal lets SQLite skip the fsync per commit in WAL mode: an
	// acknowledged write survives a process crash, but the last commits can
	// be lost on power loss or an operating system crash.
	DurabilityNormal Durability = "normal"
)

// ParseDurability accepts "full" or "normal".
func ParseDurability(s string) (Durability, error) {
	switch Durability(s) {
	case DurabilityFull, DurabilityNormal:
		return Durability(s), nil
	}
	return "", fmt.Errorf("durability %q: want %q or %q", s, DurabilityFull, DurabilityNormal)
}

// String and Set make a *Durability a command-line flag value, checked as
// it is set.
func (d *Durability) String() string { return string(*d) }

// Set accepts what ParseDurability accepts.
func (d *Durability) Set(s string) error {
	v, err := ParseDurability(s)
	if err == nil {
		*d = v
	}
	return err
}

// setSync syncs a batch's commit only when it holds a durable write. Derived
// writes (what reactions, projections and the relay write) can always be
// written again from the events before them, and SQLite's log can only lose
// a suffix of commits on power loss: whatever a lost derived write depended
// on is either kept or lost with it. A synced commit makes everything before
// it durable too.
// An error means a durable write could not be made durable.
func (d *DB) setSync(ctx context.Context, batch []*writeReq) error {
	want := false
	if d.full {
		for _, r := range batch {
			want = want || r.durable
		}
	}
	if want == d.synced {
		return nil
	}
	mode := "NORMAL"
	if want {
		mode = "FULL"
	}
	if _, err := d.write.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
		if want {
			return fmt.Errorf("set synchronous=FULL: %w", err)
		}
		return nil // staying synced is safe, only slower
	}
	d.synced = want
	return nil
}
