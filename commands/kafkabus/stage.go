package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"orderflow/commands"
	"orderflow/events"
)

// Stage is the outbox of a context that decides in its consumer group's
// Kafka transaction (commands.Outbox): its lanes and commands append here,
// the feed publishes what was staged in the transaction that also commits
// the offsets of the records that caused it, and only once that
// transaction committed are the events imported into the local log.
//
// Guarantees, before the mechanism:
//   - The topic is the record, the local log a cache of it: an event is in
//     the local log only after Kafka committed it, so a member that lost
//     its partitions (stalled past its session, cut off) and whose
//     transaction is therefore aborted leaves no trace of its decisions
//     anywhere, its own log included.
//   - Versions follow on: an append is checked against the log and what is
//     staged, so one stream's staged events are a linear continuation of
//     its committed history.
//
// An event decided here has no position in any log yet when it is
// published; its origin (the wire's position, see Event.Origin) is a
// number of this stage that grows with every event it stages, at least the
// clock in microseconds (so it keeps growing across restarts), and so
// orders one member's events as a log position does.
type Stage struct {
	context string
	store   *events.Store

	mu      sync.Mutex
	staged  []events.Event
	streams map[string][]int // stream id → indexes into staged
	origin  int64
	// committed are the versions of streams this stage published, as the
	// log took them once their transaction committed (see Committed): an
	// append to a stream this member keeps writing checks its version
	// without a query. Forgotten (Forget) whenever the member's partitions
	// or its transaction's outcome could make them stale.
	committed map[string]int64
}

// committedLimit bounds how many stream versions a stage remembers: past
// it, it forgets them all and reads them from the log again.
const committedLimit = 1 << 16

var _ commands.Outbox = (*Stage)(nil)

// NewStage returns the outbox of a context's streams.
func NewStage(context string, store *events.Store) *Stage {
	return &Stage{context: context, store: store, streams: map[string][]int{}}
}

// Append stages events for streams of the stage's context.
func (s *Stage) Append(ctx context.Context, appends ...events.StreamAppend) ([]events.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	current := make([]int64, len(appends))
	for i, a := range appends {
		if owner := commands.StreamContext(a.StreamID); owner != s.context {
			return nil, fmt.Errorf("stage of %s: stream %q belongs to %q", s.context, a.StreamID, owner)
		}
		v, err := s.version(ctx, a.StreamID)
		if err != nil {
			return nil, err
		}
		if a.ExpectedVersion != events.AnyVersion && a.ExpectedVersion != v {
			return nil, &events.VersionConflictError{StreamID: a.StreamID, Expected: a.ExpectedVersion, Actual: v}
		}
		current[i] = v
	}
	now := time.Now().UTC()
	var out []events.Event
	for i, a := range appends {
		v := current[i]
		for _, e := range a.Events {
			if e.Type == "" {
				return nil, errors.New("stage: event without type")
			}
			v++
			e.StreamID, e.StreamVersion, e.Position = a.StreamID, v, 0
			if e.ID == "" {
				e.ID = events.NewID()
			}
			e.SchemaVersion = max(e.SchemaVersion, 1)
			if e.OccurredAt.IsZero() {
				e.OccurredAt = now
			}
			e.OccurredAt = e.OccurredAt.UTC()
			s.origin = max(s.origin+1, time.Now().UnixMicro())
			e.SourcePosition = s.origin
			s.streams[e.StreamID] = append(s.streams[e.StreamID], len(s.staged))
			s.staged = append(s.staged, e)
			out = append(out, e)
		}
	}
	return out, nil
}

// version is a stream's version with what is staged for it.
func (s *Stage) version(ctx context.Context, streamID string) (int64, error) {
	if idx := s.streams[streamID]; len(idx) > 0 {
		return s.staged[idx[len(idx)-1]].StreamVersion, nil
	}
	if v, ok := s.committed[streamID]; ok {
		return v, nil
	}
	return s.store.Version(ctx, streamID)
}

// Committed records the versions of what a committed transaction
// published, once the log holds it: this member alone writes those streams
// for as long as it owns their partitions.
func (s *Stage) Committed(published []events.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed == nil || len(s.committed)+len(published) > committedLimit {
		s.committed = make(map[string]int64, len(published))
	}
	for _, e := range published {
		s.committed[e.StreamID] = max(s.committed[e.StreamID], e.StreamVersion)
	}
}

// Forget drops the versions Committed recorded: after a transaction
// aborted, and when partitions were given or taken (another member may
// have written their streams since).
func (s *Stage) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = nil
}

// Pending are the events staged for a stream after a version.
func (s *Stage) Pending(streamID string, afterVersion int64) []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Event
	for _, i := range s.streams[streamID] {
		if e := s.staged[i]; e.StreamVersion > afterVersion {
			out = append(out, e)
		}
	}
	return out
}

// take hands over what was staged and empties the stage: the feed
// publishes it, and imports it once its transaction committed.
func (s *Stage) take() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.staged
	s.staged, s.streams = nil, map[string][]int{}
	return out
}
