-- The event store: an append-only log. position is the global order of the
-- store and is only ever allocated inside the single writer's transaction, so
-- readers tailing by position can never skip an event that commits later.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL CHECK (stream_version >= 1),
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    occurred_at    INTEGER NOT NULL, -- unix nanoseconds, UTC
    correlation_id TEXT,
    causation_id   TEXT,
    data           TEXT    NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_correlation ON events (correlation_id, position);

-- Events are facts: the database itself refuses to change or remove them.
CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: UPDATE is not allowed');
END;

CREATE TRIGGER events_are_permanent BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are permanent: DELETE is not allowed');
END;

-- Cursors of log readers (the relay, projections): the last global position
-- each has fully handled.
CREATE TABLE checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
