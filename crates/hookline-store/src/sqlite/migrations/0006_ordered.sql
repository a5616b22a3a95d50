-- Ordered delivery (opt-in per endpoint): an event may carry an ordering
-- key, copied onto its deliveries so the claim's "is an earlier delivery
-- with the same key still pending?" probe is one index lookup. Unkeyed
-- deliveries carry '' and form one sequence per endpoint.
ALTER TABLE endpoints ADD COLUMN delivery_order TEXT NOT NULL DEFAULT 'unordered';
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_order ON deliveries (endpoint_id, ordering_key, event_seq)
    WHERE status = 'pending';
