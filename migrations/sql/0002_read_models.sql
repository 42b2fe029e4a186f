-- Read models. Each is written only by its projection, in the same
-- transaction as that projection's checkpoint.
CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE stock (
    product_id TEXT PRIMARY KEY,
    on_hand    INTEGER NOT NULL,
    reserved   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    CHECK (reserved >= 0 AND reserved <= on_hand)
);

CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE, -- global position of OrderPlaced: the listing order
    customer_id     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    total_cents     INTEGER NOT NULL,
    lines           TEXT    NOT NULL, -- JSON array of {productId, quantity, unitPriceCents}
    failure_reasons TEXT    NOT NULL, -- JSON array of reason codes
    version         INTEGER NOT NULL,
    correlation_id  TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE INDEX orders_by_customer ON orders (customer_id, seq);
CREATE INDEX orders_by_status ON orders (status, seq);
