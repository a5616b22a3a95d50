-- The search rows of a new event (its id and the values in its data, see
-- src/search.rs) are now inserted by the publishing statement itself, from
-- values worked out in Rust before the publish is queued, instead of by
-- this trigger (which parsed every event's data as jsonb, walked it with
-- jsonb_path_query and matched a regular expression per value, on the
-- database's cores). The same rule on both backends: the first 64 values in
-- document order. Deleting an event still removes its rows by trigger.
DROP TRIGGER event_search_insert ON events;
DROP FUNCTION hookline_event_search_insert();
