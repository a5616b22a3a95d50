-- Fair claims: each account's due deliveries in due order, and the loose
-- scan over accounts with pending work (see sql::fair_pick).
CREATE INDEX deliveries_account_due ON deliveries (account_id, next_attempt_at) WHERE status = 'pending';
