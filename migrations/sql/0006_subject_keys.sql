-- Erasure by crypto-shredding: the personal fields of an event (a
-- customer's name, email and address) are stored encrypted under a key of
-- their subject (the customer), kept here and not in the log. Forgetting
-- the subject deletes its key: the row stays, its key NULL, so that no new
-- key is ever made for a forgotten subject and readers can tell "forgotten"
-- from "not known here yet".
CREATE TABLE subject_keys (
    subject      TEXT PRIMARY KEY,
    key          BLOB,             -- 32 bytes, AES-256-GCM; NULL once forgotten
    created_at   INTEGER NOT NULL, -- unix nanoseconds
    forgotten_at INTEGER           -- unix nanoseconds
);

-- Events are immutable with one exception: events written before personal
-- fields were encrypted (schema versions that hold them in plain text) have
-- those fields blanked in place when their subject is forgotten, since no
-- key can be deleted for them. The erasure marks the subject in
-- erasing_subjects for the length of its transaction; only then may the
-- data column of that subject's events change, and no other column ever.
CREATE TABLE erasing_subjects (
    stream_id TEXT PRIMARY KEY
);

DROP TRIGGER events_are_immutable;

CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
WHEN NOT EXISTS (SELECT 1 FROM erasing_subjects WHERE stream_id = OLD.stream_id)
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: UPDATE is not allowed');
END;

CREATE TRIGGER events_keep_their_envelope BEFORE UPDATE OF
    position, id, stream_id, stream_version, type, schema_version, occurred_at,
    correlation_id, causation_id, source_position, cause_position ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: only an erasure may blank personal fields');
END;
