-- Hookline's embedded schema, version 1. Times are integer milliseconds
-- since the Unix epoch (UTC). `seq` orders every list and is its cursor.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    example     TEXT NOT NULL,
    schema      TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE endpoints (
    seq                        INTEGER PRIMARY KEY,
    id                         TEXT NOT NULL UNIQUE,
    account_id                 TEXT NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    event_types                TEXT NOT NULL,
    disabled                   INTEGER NOT NULL,
    disabled_reason            TEXT,
    payload                    TEXT NOT NULL,
    headers                    TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    rate_limit_per_sec         INTEGER,
    metadata                   TEXT NOT NULL,
    failing_since              INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX endpoints_account ON endpoints (account_id, seq);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    data         TEXT NOT NULL,
    webhook_url  TEXT,
    payload_hash TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX events_account_seq ON events (account_id, seq);
CREATE INDEX events_account_type_seq ON events (account_id, event_type, seq);
CREATE INDEX events_created ON events (created_at);

-- A delivery is due when status = 'pending' and next_attempt_at <= now.
-- Claiming moves next_attempt_at to the lease's end, so a leased delivery
-- becomes due again by itself if its node dies.
CREATE TABLE deliveries (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    event_seq        INTEGER NOT NULL,
    event_id         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    endpoint_id      TEXT,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    leased_by        TEXT,
    first_attempt_at INTEGER,
    last_status_code INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status);

CREATE TABLE attempts (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    event_seq     INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    endpoint_id   TEXT,
    url           TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    response_body TEXT NOT NULL
);
CREATE INDEX attempts_event ON attempts (event_seq, seq);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, seq);
CREATE INDEX attempts_endpoint_time ON attempts (endpoint_id, started_at);
