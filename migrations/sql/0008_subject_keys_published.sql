-- Split into services, a key made here is published on the keys topic
-- before it is used. published says the broker confirmed it: a key whose
-- publication failed or was cut short (the broker away, a crash) is
-- published again before its next use, so no process is left without a
-- key others use. Keys made before this column, and keys received from
-- another process, count as published.
ALTER TABLE subject_keys ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
