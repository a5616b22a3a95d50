-- Payload filters: an endpoint's conditions on the event's type and data
-- (JSON text of hookline_core::filter::Filter; NULL lets everything through).
ALTER TABLE endpoints ADD COLUMN filter TEXT;
