-- The search rows of a new event (its id and the values in its data, see
-- src/search.rs) are now inserted by the publish itself, one single-row
-- statement each, instead of by this trigger: a statement that fires a
-- trigger needs a statement journal, which copied every page it touched,
-- and json_tree needed a scratch table per event. Same rows, same rule.
-- Deleting an event still removes its rows by trigger.
DROP TRIGGER event_search_insert;
