//! `hookline serve`'s raw options, as flags, `HOOKLINE_*` variables (clap)
//! and TOML file keys (serde): every field optional, so each source fills
//! only what the stronger ones left unset. `Config::from_args` validates them.

use std::path::PathBuf;

use serde::Deserialize;

use super::Role;

/// `hookline serve` options. Every field is optional here so that a value
/// from the TOML file can fill what flags and environment leave unset.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ServeArgs {
    /// TOML file with any of these options (snake_case keys, e.g. `listen = "0.0.0.0:8080"`).
    #[arg(long, env = "HOOKLINE_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address of the API and dashboard [default: 127.0.0.1:8080].
    #[arg(long, env = "HOOKLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// sqlite://PATH (embedded) or postgres://USER@HOST/DB (several nodes)
    /// [default: sqlite://hookline-data/hookline.db].
    #[arg(long, env = "HOOKLINE_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// The platform's admin bearer token [default: generated on first start,
    /// printed once, kept hashed].
    #[arg(
        long,
        env = "HOOKLINE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Comma list of base64 32-byte keys, newest first: the first seals
    /// signing secrets, URL passwords and custom header values at rest, every
    /// one opens them (`hookline encryption-key` makes one) [default: none
    /// (secrets stored unencrypted)].
    #[arg(
        long,
        env = "HOOKLINE_ENCRYPTION_KEY",
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub encryption_key: Option<String>,

    /// Delays before attempt 2, 3, … such as 5s,30s,2m,10m,1h; when used up
    /// the delivery fails [default: exponential with jitter: ~5s, 30s, 2m,
    /// 10m, 30m, 1h, 2h, 4h, 8h, then at 24h].
    #[arg(long, env = "HOOKLINE_RETRY_SCHEDULE", value_name = "LIST")]
    pub retry_schedule: Option<String>,

    /// Time limit of one delivery attempt [default: 15s].
    #[arg(long, env = "HOOKLINE_REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<String>,

    /// Allow endpoints on loopback, private and link-local addresses (local
    /// development and tests only) [default: false].
    #[arg(long, env = "HOOKLINE_ALLOW_PRIVATE_NETWORKS", value_name = "BOOL")]
    pub allow_private_networks: Option<bool>,

    /// Largest accepted event body in bytes [default: 1048576].
    #[arg(long, env = "HOOKLINE_MAX_PAYLOAD_BYTES", value_name = "BYTES")]
    pub max_payload_bytes: Option<usize>,

    /// Run the API, the delivery workers, or both [default: all].
    #[arg(long, env = "HOOKLINE_ROLE", value_enum)]
    pub role: Option<Role>,

    /// Most delivery attempts in flight on this node [default: 512].
    #[arg(long, env = "HOOKLINE_WORKER_CONCURRENCY", value_name = "N")]
    pub worker_concurrency: Option<usize>,

    /// Most attempts in flight to one endpoint from this node [default: 32].
    #[arg(long, env = "HOOKLINE_ENDPOINT_CONCURRENCY", value_name = "N")]
    pub endpoint_concurrency: Option<usize>,

    /// How long a node owns a claimed delivery; must exceed the request
    /// timeout [default: twice the timeout + 30s].
    #[arg(long, env = "HOOKLINE_LEASE", value_name = "DURATION")]
    pub lease: Option<String>,

    /// How often idle workers look for due deliveries [default: 500ms].
    #[arg(long, env = "HOOKLINE_POLL_INTERVAL", value_name = "DURATION")]
    pub poll_interval: Option<String>,

    /// Events and attempts older than this are deleted [default: 30d].
    #[arg(long, env = "HOOKLINE_RETENTION", value_name = "DURATION")]
    pub retention: Option<String>,

    /// Time a client has to send a request's headers; also how long an idle
    /// keep-alive connection waits for its next request [default: 10s].
    #[arg(long, env = "HOOKLINE_HEADER_READ_TIMEOUT", value_name = "DURATION")]
    pub header_read_timeout: Option<String>,

    /// Time a client has to send a request's whole body [default: 30s].
    #[arg(long, env = "HOOKLINE_BODY_READ_TIMEOUT", value_name = "DURATION")]
    pub body_read_timeout: Option<String>,

    /// A connection on which nothing is read or written for this long is
    /// closed (e.g. a client that stops reading the answer) [default: 60s].
    #[arg(long, env = "HOOKLINE_IDLE_TIMEOUT", value_name = "DURATION")]
    pub idle_timeout: Option<String>,

    /// Most client connections served at once; more wait in the listen
    /// queue [default: 1024].
    #[arg(long, env = "HOOKLINE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// The URL browsers reach this node at, such as https://hooks.example.com;
    /// portal links start with it and an https URL makes dashboard cookies
    /// `Secure` [default: from the request's Host header].
    #[arg(long, env = "HOOKLINE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Comma list of proxy IP addresses whose `X-Forwarded-Proto` is believed
    /// (an `https` there makes dashboard cookies `Secure`) [default: none].
    #[arg(long, env = "HOOKLINE_TRUSTED_PROXIES", value_name = "IPS")]
    pub trusted_proxies: Option<String>,

    /// Comma list of origins (https://app.example.com) allowed to show the
    /// dashboard in a frame; every other origin is refused [default: none].
    #[arg(long, env = "HOOKLINE_PORTAL_FRAME_ANCESTORS", value_name = "ORIGINS")]
    pub portal_frame_ancestors: Option<String>,

    /// Product name on every dashboard page [default: Hookline].
    #[arg(long, env = "HOOKLINE_BRAND_NAME", value_name = "TEXT")]
    pub brand_name: Option<String>,

    /// Logo shown on every dashboard page (an https: or data:image/ URL)
    /// [default: none].
    #[arg(long, env = "HOOKLINE_BRAND_LOGO_URL", value_name = "URL")]
    pub brand_logo_url: Option<String>,

    /// Accent colour of the dashboard, #rrggbb [default: #4f46e5].
    #[arg(long, env = "HOOKLINE_BRAND_ACCENT_COLOR", value_name = "COLOR")]
    pub brand_accent_color: Option<String>,

    /// Consecutive failed attempts to an endpoint after which the platform's
    /// operational endpoints get `endpoint.failing` [default: 5].
    #[arg(long, env = "HOOKLINE_OPERATIONAL_FAILING_AFTER", value_name = "N")]
    pub operational_failing_after: Option<u32>,

    /// This node's name in the fleet (PostgreSQL): a node started again
    /// under the same id takes back at once the deliveries its crashed
    /// predecessor held [default: the host name and the listen port, such
    /// as web-1:8080].
    #[arg(long, env = "HOOKLINE_NODE_ID", value_name = "ID")]
    pub node_id: Option<String>,

    /// How often a node of a fleet records that it is alive [default: 2s].
    #[arg(long, env = "HOOKLINE_HEARTBEAT_INTERVAL", value_name = "DURATION")]
    pub heartbeat_interval: Option<String>,

    /// A node of a fleet silent this long is declared dead by the others and
    /// its deliveries are retried at once; at least twice the heartbeat
    /// interval [default: 10s].
    #[arg(long, env = "HOOKLINE_NODE_DEAD_AFTER", value_name = "DURATION")]
    pub node_dead_after: Option<String>,
}

impl ServeArgs {
    /// Each option from `self`, else from `file`.
    pub(super) fn or(self, file: ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config,
            listen: self.listen.or(file.listen),
            database_url: self.database_url.or(file.database_url),
            admin_token: self.admin_token.or(file.admin_token),
            encryption_key: self.encryption_key.or(file.encryption_key),
            retry_schedule: self.retry_schedule.or(file.retry_schedule),
            request_timeout: self.request_timeout.or(file.request_timeout),
            allow_private_networks: self.allow_private_networks.or(file.allow_private_networks),
            max_payload_bytes: self.max_payload_bytes.or(file.max_payload_bytes),
            role: self.role.or(file.role),
            worker_concurrency: self.worker_concurrency.or(file.worker_concurrency),
            endpoint_concurrency: self.endpoint_concurrency.or(file.endpoint_concurrency),
            lease: self.lease.or(file.lease),
            poll_interval: self.poll_interval.or(file.poll_interval),
            retention: self.retention.or(file.retention),
            header_read_timeout: self.header_read_timeout.or(file.header_read_timeout),
            body_read_timeout: self.body_read_timeout.or(file.body_read_timeout),
            idle_timeout: self.idle_timeout.or(file.idle_timeout),
            max_connections: self.max_connections.or(file.max_connections),
            public_url: self.public_url.or(file.public_url),
            trusted_proxies: self.trusted_proxies.or(file.trusted_proxies),
            portal_frame_ancestors: self.portal_frame_ancestors.or(file.portal_frame_ancestors),
            brand_name: self.brand_name.or(file.brand_name),
            brand_logo_url: self.brand_logo_url.or(file.brand_logo_url),
            brand_accent_color: self.brand_accent_color.or(file.brand_accent_color),
            operational_failing_after: self
                .operational_failing_after
                .or(file.operational_failing_after),
            node_id: self.node_id.or(file.node_id),
            heartbeat_interval: self.heartbeat_interval.or(file.heartbeat_interval),
            node_dead_after: self.node_dead_after.or(file.node_dead_after),
        }
    }
}
