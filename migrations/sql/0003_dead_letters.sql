-- Events a reaction could not handle after a bounded number of attempts.
-- The reaction moves on (one bad event must not stop everything behind it);
-- the row keeps what failed and why until an admin retries it.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    reader      TEXT    NOT NULL, -- the reaction
    position    INTEGER NOT NULL, -- of the event in the log
    event_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    routing_key TEXT    NOT NULL, -- the part of the event that failed (a line's product, an order)
    error       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    failed_at   INTEGER NOT NULL, -- unix nanoseconds
    state       TEXT    NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'RETRIED')),
    retried_at  INTEGER,
    UNIQUE (reader, event_id, routing_key)
);
