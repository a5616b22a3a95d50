-- Failover. Every running node registers a row and beats on it; a node
-- silent for too long is declared dead by any other and its deliveries are
-- due again at once. `epoch` names one run of a node id (never reused), so
-- a run that was replaced or declared dead learns it at its next heartbeat.
-- Times are by the database's clock, so nodes' clocks need not agree.
CREATE TABLE nodes (
    epoch        BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- Each lease of a delivery increments its epoch; an attempt is recorded
-- against its delivery only under the delivery's latest lease (fencing).
ALTER TABLE deliveries ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
