package verify

import (
	"context"
	"fmt"
	"os"

	"orderflow/events"
)

// readBatch is how many events ReadDB reads at once.
const readBatch = 4096

// ReadDB feeds c every event of the SQLite log at path, in position order,
// in batches, and returns how many it read.
//
// It changes nothing in the database, but it cannot avoid holding it as a
// writer: the event store has no read-only open, and events.Open takes the
// database's writer lock (<db>.lock) and starts the writer goroutine. So,
// like `orderflow replay`, verify refuses to run while a server holds the
// file (events.ErrLocked), and a server cannot start on it while verify
// reads. It opens only a file that exists (Open would create one) and
// without migrations (which would change an older log's schema), and
// writes nothing through the writer, so the file is as it was.
//
// Split into services, one process's log holds its own streams and the
// copies of the families it reads: only the api service's holds every
// family (see Needs in commands/contexts.go). Verify the topics instead
// (ReadKafka) to see the whole deployment.
func ReadDB(ctx context.Context, path string, c *Checker) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := events.Open(ctx, path, events.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	store := events.NewStore(db)
	// One goroutine reads the next batch while this one decodes and adds
	// the last: reading SQLite and decoding JSON take about as long. It
	// sets readErr before it closes batches, and is done with the store
	// once batches is closed, before db.Close runs.
	batches := make(chan []events.Event, 2)
	var readErr error
	go func() {
		defer close(batches)
		var pos int64
		for {
			evs, err := store.ReadAll(ctx, pos, readBatch)
			if err != nil {
				readErr = fmt.Errorf("read %s after position %d: %w", path, pos, err)
				return
			}
			if len(evs) == 0 {
				return
			}
			select {
			case batches <- evs:
			case <-ctx.Done():
				readErr = ctx.Err()
				return
			}
			pos = evs[len(evs)-1].Position
		}
	}()
	var n int64
	for evs := range batches {
		c.addAll(evs)
		n += int64(len(evs))
	}
	return n, readErr
}
