-- Failover, as on PostgreSQL. SQLite serves one node (the file is locked),
-- so no other node ever declares it dead; the table keeps the rules the
-- same on both stores. AUTOINCREMENT: an epoch is never reused.
CREATE TABLE nodes (
    epoch        INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- Each lease of a delivery increments its epoch; an attempt is recorded
-- against its delivery only under the delivery's latest lease (fencing).
ALTER TABLE deliveries ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
