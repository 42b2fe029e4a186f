-- Split into services: a process keeps a local copy of the events of other
-- contexts it needs, imported from Kafka. source_position is an imported
-- event's position in the log of the process that wrote it (NULL: written
-- here); cause_position is the position of the event's cause in the log
-- the cause was written to (NULL: no cause, or written before this column).
-- A single writer compares the two to tell a redelivered cause from a new
-- one without having the cause itself in its log.
ALTER TABLE events ADD COLUMN source_position INTEGER;
ALTER TABLE events ADD COLUMN cause_position INTEGER;

-- A command received from another process names itself as the cause of
-- the events it writes; a redelivered command is found by it and is not
-- carried out twice. Only command ids are indexed.
CREATE INDEX events_by_command ON events (causation_id) WHERE causation_id LIKE 'cmd-%';
