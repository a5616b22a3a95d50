-- Hookline's PostgreSQL schema, version 1. Times are BIGINT milliseconds
-- since the Unix epoch (UTC), as on SQLite. `seq` orders every list.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE api_keys (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    example     TEXT NOT NULL,
    schema      TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    seq                        BIGSERIAL PRIMARY KEY,
    id                         TEXT NOT NULL UNIQUE,
    account_id                 TEXT NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    event_types                TEXT NOT NULL,
    disabled                   BOOLEAN NOT NULL,
    disabled_reason            TEXT,
    payload                    TEXT NOT NULL,
    headers                    TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at BIGINT,
    rate_limit_per_sec         BIGINT,
    metadata                   TEXT NOT NULL,
    failing_since              BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX endpoints_account ON endpoints (account_id, seq);

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    data         TEXT NOT NULL,
    webhook_url  TEXT,
    payload_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX events_account_seq ON events (account_id, seq);
CREATE INDEX events_account_type_seq ON events (account_id, event_type, seq);
CREATE INDEX events_created ON events (created_at);

-- Due when status = 'pending' and next_attempt_at <= now; a claim moves
-- next_attempt_at to the lease's end, so a dead node's work comes back.
CREATE TABLE deliveries (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    event_seq        BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    endpoint_id      TEXT,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    leased_by        TEXT,
    first_attempt_at BIGINT,
    last_status_code BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status);

CREATE TABLE attempts (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    event_seq     BIGINT NOT NULL,
    event_id      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    endpoint_id   TEXT,
    url           TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    response_body TEXT NOT NULL
);
CREATE INDEX attempts_event ON attempts (event_seq, seq);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, seq);
CREATE INDEX attempts_endpoint_time ON attempts (endpoint_id, started_at);
