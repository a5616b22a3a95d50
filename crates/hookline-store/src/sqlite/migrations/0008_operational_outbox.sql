-- Operational events written in the same transaction as the attempts that
-- call for them, and published into the platform account by a drainer
-- (each under the id given here, so publishing one twice is harmless).
CREATE TABLE operational_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
