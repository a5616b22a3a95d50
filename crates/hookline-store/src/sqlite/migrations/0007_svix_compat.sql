-- Version 7: what the Svix-compatible API needs, all additive.
-- Platform-chosen keys (`uid`) for accounts and endpoints, account
-- metadata, endpoint channels and version, the sender's own event id,
-- event channels and body format, manual (resend/recover) deliveries, and
-- remembered answers for the `idempotency-key` header.

ALTER TABLE accounts ADD COLUMN uid TEXT;
ALTER TABLE accounts ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX accounts_uid ON accounts (uid) WHERE uid IS NOT NULL;

ALTER TABLE endpoints ADD COLUMN uid TEXT;
ALTER TABLE endpoints ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE endpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX endpoints_account_uid ON endpoints (account_id, uid) WHERE uid IS NOT NULL;

ALTER TABLE events ADD COLUMN external_id TEXT;
ALTER TABLE events ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE events ADD COLUMN format TEXT NOT NULL DEFAULT 'hookline';
CREATE UNIQUE INDEX events_account_external_id ON events (account_id, external_id)
    WHERE external_id IS NOT NULL;

ALTER TABLE deliveries ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;

-- One answer per (caller scope, key); rows older than 12 hours are ignored
-- and purged by retention.
CREATE TABLE idempotency_keys (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    status     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
