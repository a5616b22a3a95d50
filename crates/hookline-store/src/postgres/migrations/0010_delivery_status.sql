-- `?status=` on events and the overview's oldest pending delivery: an
-- account's deliveries by status, newest event first. A status few events
-- have is found in a few index entries instead of a walk through every
-- event (see rules::STATUS_CHUNK).
CREATE INDEX deliveries_account_status ON deliveries (account_id, status, event_seq);
