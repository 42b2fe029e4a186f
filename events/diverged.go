package events

import (
	"context"
	"fmt"
)

// DivergedReader is the reader name under which a diverged stream is set
// aside as a dead letter (see RecordDivergence).
const DivergedReader = "diverged-stream"

// RecordDivergence raises a stream that diverged: an event received from
// another process (over Kafka) that holds a version of a stream this log
// already holds as another event. With every writer fenced it cannot
// happen; if it ever does, two processes wrote one stream and the shop
// must know. The event is set aside as a dead letter of DivergedReader,
// which keeps /readyz red until an admin looked at it, and counted
// (Diverged). The first event at each version stays in the log.
func (d *DB) RecordDivergence(ctx context.Context, e Event, held string) error {
	d.diverged.Add(1)
	cause := fmt.Errorf("stream %s diverged at version %d: this log holds event %s there, another process published %s",
		e.StreamID, e.StreamVersion, held, e.ID)
	if err := d.addDeadLetter(DivergedReader, Delivery{Event: e, Key: e.StreamID}, 1, cause); err != nil {
		return fmt.Errorf("record a diverged stream: %w", err)
	}
	return nil
}

// Diverged is how many diverged events this process met since it started.
func (d *DB) Diverged() uint64 { return d.diverged.Load() }
