-- What an attempt's page shows beyond status and body: the request headers
-- as sent (signatures included; a password from the URL masked), the payload
-- mode the body was built with (the body itself is rebuilt from the event,
-- never stored twice) and the response headers, each list JSON pairs bounded
-- by hookline_core::Exchange. NULL for attempts logged before.
ALTER TABLE attempts ADD COLUMN request_headers TEXT;
ALTER TABLE attempts ADD COLUMN request_payload TEXT;
ALTER TABLE attempts ADD COLUMN response_headers TEXT;
