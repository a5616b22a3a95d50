-- Search by a value inside an event's data (an order or payment id): every
-- string and whole number in `data` (at most 64 per event, 1 to 200
-- characters), and the event's id, is a row of `event_search`, written by
-- statement-level triggers in the publishing transaction (one INSERT per
-- batch of events) and walked newest first by (account_id, token,
-- event_seq). See docs/adr/0004-event-search.md.
CREATE TABLE event_search (
    account_id TEXT NOT NULL,
    token      TEXT NOT NULL,
    event_seq  BIGINT NOT NULL,
    PRIMARY KEY (account_id, token, event_seq)
);
CREATE INDEX event_search_event ON event_search (event_seq);

CREATE FUNCTION hookline_event_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_search (account_id, token, event_seq)
    SELECT n.account_id, t.token, n.seq
    FROM new_events n
    CROSS JOIN LATERAL (
        SELECT n.id AS token
        UNION
        (SELECT v #>> '{}' FROM jsonb_path_query(n.data::jsonb, 'strict $.**') AS v
         WHERE (jsonb_typeof(v) = 'string'
                OR (jsonb_typeof(v) = 'number' AND (v #>> '{}') ~ '^-?[0-9]+$'))
           AND length(v #>> '{}') BETWEEN 1 AND 200
         LIMIT 64)
    ) t
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION hookline_event_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_search s USING old_events o WHERE s.event_seq = o.seq;
    RETURN NULL;
END $$;

CREATE TRIGGER event_search_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT
    EXECUTE FUNCTION hookline_event_search_insert();
CREATE TRIGGER event_search_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_events FOR EACH STATEMENT
    EXECUTE FUNCTION hookline_event_search_delete();

INSERT INTO event_search (account_id, token, event_seq)
SELECT e.account_id, t.token, e.seq
FROM events e
CROSS JOIN LATERAL (
    SELECT e.id AS token
    UNION
    SELECT v #>> '{}' FROM jsonb_path_query(e.data::jsonb, 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string'
       OR (jsonb_typeof(v) = 'number' AND (v #>> '{}') ~ '^-?[0-9]+$')
) t
WHERE length(t.token) BETWEEN 1 AND 200
ON CONFLICT DO NOTHING;
