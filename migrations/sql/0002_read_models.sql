-- Read models live in tables owned by their projections, one set per
-- generation (orders_g1, orders_g2, ...), created by the projection code.
-- Queries read through a view named for the read model (orders → orders_g2),
-- so a rebuilt generation is swapped in by replacing the view, in one
-- transaction, while readers keep reading.
CREATE TABLE projection_generations (
    name        TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL,
    rebuilt_at  INTEGER -- unix nanoseconds of the last completed rebuild
);
