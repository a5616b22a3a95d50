-- Search rows are deleted by their own key, (account_id, token,
-- event_seq), worked out again from the purged event's id and data with
-- the rule that made them (src/search.rs): so the second index, on
-- event_seq alone, which only the delete trigger read, goes with the
-- trigger. Every new search row touched two B-trees; now one. An event
-- stored before migration 0012 with more than 64 values may leave a row
-- behind (the old backfill took every value); search joins events, so
-- such a row is never shown.
DROP TRIGGER event_search_delete;
DROP INDEX event_search_event;
