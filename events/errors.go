package events

import (
	"errors"
	"fmt"
)

// ErrVersionConflict is matched (errors.Is) by every VersionConflictError.
var ErrVersionConflict = errors.New("stream version conflict")

// ErrClosed is returned by writes after the database was closed.
var ErrClosed = errors.New("event store is closed")

// VersionConflictError says a stream moved on since its writer loaded it. The
// command side reloads and decides again.
type VersionConflictError struct {
	StreamID string
	Expected int64
	Actual   int64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("stream %q: expected version %d, found %d", e.StreamID, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrVersionConflict) true.
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }
