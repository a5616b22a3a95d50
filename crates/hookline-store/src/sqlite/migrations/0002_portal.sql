-- Dashboard sessions and one-time portal links, kept server-side: only the
-- SHA-256 of the random token in the cookie or URL is stored. A row ends
-- when it expires, on logout, or when its account or API key is deleted.
CREATE TABLE dashboard_sessions (
    id_hash      TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    account_id   TEXT,
    api_key_hash TEXT,
    read_only    BOOLEAN NOT NULL,
    portal       BOOLEAN NOT NULL,
    return_url   TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_account ON dashboard_sessions (account_id);

-- An account's brand on the dashboard; NULL fields use the node's brand.
CREATE TABLE account_branding (
    account_id   TEXT PRIMARY KEY,
    product_name TEXT,
    logo_url     TEXT,
    accent_color TEXT,
    updated_at   BIGINT NOT NULL
);
