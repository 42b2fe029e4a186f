-- Split into services, a new member of a context whose streams grow with
-- every order (a product's stock, a customer's fraud window) starts from
-- the context's compacted changelog topic instead of its whole history:
-- each of its streams' folded state at a version, restored here, and the
-- local log holds only the events after it. Empty in one process and in
-- every member that copied its topics from their beginning.
CREATE TABLE stream_snapshots (
    stream_id TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL CHECK (version >= 1),
    state     BLOB    NOT NULL
) WITHOUT ROWID;
