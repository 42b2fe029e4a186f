package commands

import (
	"context"

	"orderflow/events"
)

// Outbox takes the events of a context whose decisions do not go to the
// local log directly. Split over Kafka, a context that scales out decides
// inside its consumer group's transaction (kafkabus.Stage): what it appends
// is published with the offsets of the records that caused it, all or
// nothing, and reaches the local log only once that transaction committed.
// Until then the context's handlers and lanes read their own pending
// events through Pending, so a command or a lane that loads a stream sees
// what the transaction already decided about it.
type Outbox interface {
	// Append checks each stream's expected version against the log and the
	// pending events, and takes the events (as events.Store.Append does,
	// with a *events.VersionConflictError when another writer got there
	// first). The events it returns have ids and versions, not positions.
	Append(ctx context.Context, appends ...events.StreamAppend) ([]events.Event, error)
	// Pending are the events appended to a stream and not yet in the log,
	// after a version, in order.
	Pending(streamID string, afterVersion int64) []events.Event
}

// UseOutbox sends the events of a context's streams to o instead of the
// log. It is set once, at wiring, before the handlers run.
func (h *Handlers) UseOutbox(context string, o Outbox) {
	if h.outboxes == nil {
		h.outboxes = map[string]Outbox{}
	}
	h.outboxes[context] = o
}

// appender is where the events of a stream are appended: its context's
// outbox when it has one, else the log.
func (h *Handlers) appender(streamID string) interface {
	Append(ctx context.Context, appends ...events.StreamAppend) ([]events.Event, error)
} {
	if o, ok := h.outboxes[StreamContext(streamID)]; ok {
		return o
	}
	return h.store
}

// readStream reads a stream from the log after a version, followed by the
// events its context's outbox holds for it and has not written yet.
func (h *Handlers) readStream(ctx context.Context, streamID string, afterVersion int64) ([]events.Event, error) {
	evs, err := h.store.ReadStream(ctx, streamID, afterVersion)
	if err != nil {
		return nil, err
	}
	return h.withPending(streamID, afterVersion, evs), nil
}

// readStreams reads several whole streams from the log in one query, each
// followed by what its context's outbox holds for it.
func (h *Handlers) readStreams(ctx context.Context, streamIDs ...string) ([]events.Event, error) {
	evs, err := h.store.ReadStreams(ctx, streamIDs...)
	if err != nil {
		return nil, err
	}
	var out []events.Event
	for _, id := range streamIDs {
		var stream []events.Event
		for _, e := range evs {
			if e.StreamID == id {
				stream = append(stream, e)
			}
		}
		out = append(out, h.withPending(id, 0, stream)...)
	}
	return out, nil
}

// withPending appends to evs (a stream read from the log after a version)
// what the stream's outbox holds after the last of them.
func (h *Handlers) withPending(streamID string, afterVersion int64, evs []events.Event) []events.Event {
	o, ok := h.outboxes[StreamContext(streamID)]
	if !ok {
		return evs
	}
	if n := len(evs); n > 0 {
		afterVersion = evs[n-1].StreamVersion
	}
	return append(evs, o.Pending(streamID, afterVersion)...)
}
