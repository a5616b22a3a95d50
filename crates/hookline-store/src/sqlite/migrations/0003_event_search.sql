-- Search by a value inside an event's data (an order or payment id): every
-- string and whole number in `data` (at most 64 per event, 1 to 200
-- characters), and the event's id, is a row of `event_search`, written by a
-- trigger in the event's own transaction and walked newest first by
-- (account_id, token, event_seq). See docs/adr/0004-event-search.md.
CREATE TABLE event_search (
    account_id TEXT NOT NULL,
    token      TEXT NOT NULL,
    event_seq  INTEGER NOT NULL,
    PRIMARY KEY (account_id, token, event_seq)
) WITHOUT ROWID;
CREATE INDEX event_search_event ON event_search (event_seq);

CREATE TRIGGER event_search_insert AFTER INSERT ON events BEGIN
    INSERT OR IGNORE INTO event_search (account_id, token, event_seq)
    SELECT NEW.account_id, token, NEW.seq FROM (
        SELECT NEW.id AS token
        UNION
        SELECT * FROM (
            SELECT CAST(value AS TEXT) FROM json_tree(NEW.data)
            WHERE type IN ('text', 'integer') AND length(CAST(value AS TEXT)) BETWEEN 1 AND 200
            LIMIT 64
        )
    );
END;

CREATE TRIGGER event_search_delete AFTER DELETE ON events BEGIN
    DELETE FROM event_search WHERE event_seq = OLD.seq;
END;

INSERT OR IGNORE INTO event_search (account_id, token, event_seq)
SELECT account_id, id, seq FROM events;
INSERT OR IGNORE INTO event_search (account_id, token, event_seq)
SELECT e.account_id, CAST(t.value AS TEXT), e.seq FROM events e, json_tree(e.data) t
WHERE t.type IN ('text', 'integer') AND length(CAST(t.value AS TEXT)) BETWEEN 1 AND 200;
