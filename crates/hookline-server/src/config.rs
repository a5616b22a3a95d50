//! The one `Config` of a Hookline node, and how it is assembled.
//!
//! Sources, strongest first: command-line flags, `HOOKLINE_*` environment
//! variables (both parsed by clap), an optional TOML file (`--config`), then
//! defaults. Raw text is validated into types that cannot be wrong
//! (`Duration`, `SocketAddr`, `RetrySchedule`); foot-guns such as a lease
//! shorter than the request timeout fail at start-up.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hookline_core::retry::parse_duration;
use hookline_core::RetrySchedule;
use serde::Deserialize;

/// Every option's default, in one place. `Config::from_args` fills from
/// these; `serve --help` and the configuration tables of README.md and
/// docs/api.md show them, and a test checks that all of them agree.
pub mod defaults {
    use std::time::Duration;

    use super::Role;

    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const DATABASE_URL: &str = "sqlite://hookline-data/hookline.db";
    /// Not a value: what happens without one.
    pub const ADMIN_TOKEN: &str = "generated on first start, printed once, kept hashed";
    /// `hookline_core::RetrySchedule::Exponential`, described.
    pub const RETRY_SCHEDULE: &str =
        "exponential with jitter: ~5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, then at 24h";
    pub const REQUEST_TIMEOUT: &str = "15s";
    pub const ALLOW_PRIVATE_NETWORKS: bool = false;
    pub const MAX_PAYLOAD_BYTES: usize = 1_048_576;
    pub const ROLE: Role = Role::All;
    pub const WORKER_CONCURRENCY: usize = 512;
    pub const ENDPOINT_CONCURRENCY: usize = 32;
    /// [`lease`], described.
    pub const LEASE: &str = "twice the timeout + 30s";
    pub const POLL_INTERVAL: &str = "500ms";
    pub const RETENTION: &str = "30d";
    pub const HEADER_READ_TIMEOUT: &str = "10s";
    pub const BODY_READ_TIMEOUT: &str = "30s";
    pub const IDLE_TIMEOUT: &str = "60s";
    pub const MAX_CONNECTIONS: usize = 1024;
    /// Not a value: what happens without one.
    pub const PUBLIC_URL: &str = "from the request's Host header";
    pub const TRUSTED_PROXIES: &str = "none";
    pub const PORTAL_FRAME_ANCESTORS: &str = "none";
    pub const BRAND_NAME: &str = "Hookline";
    pub const BRAND_LOGO_URL: &str = "none";
    pub const BRAND_ACCENT_COLOR: &str = "#4f46e5";

    /// The default lease: long enough that a slow attempt finishes (and is
    /// recorded) well before another node may claim its delivery.
    pub fn lease(request_timeout: Duration) -> Duration {
        request_timeout * 2 + Duration::from_secs(30)
    }

    /// `(variable, default)` as the configuration tables show them, in
    /// their order: values in backticks, descriptions as they are.
    pub fn documented() -> Vec<(&'static str, String)> {
        let value = |v: &dyn std::fmt::Display| format!("`{v}`");
        vec![
            ("HOOKLINE_LISTEN", value(&LISTEN)),
            ("HOOKLINE_DATABASE_URL", value(&DATABASE_URL)),
            ("HOOKLINE_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
            ("HOOKLINE_RETRY_SCHEDULE", RETRY_SCHEDULE.to_string()),
            ("HOOKLINE_REQUEST_TIMEOUT", value(&REQUEST_TIMEOUT)),
            (
                "HOOKLINE_ALLOW_PRIVATE_NETWORKS",
                value(&ALLOW_PRIVATE_NETWORKS),
            ),
            ("HOOKLINE_MAX_PAYLOAD_BYTES", value(&MAX_PAYLOAD_BYTES)),
            ("HOOKLINE_ROLE", value(&ROLE.name())),
            ("HOOKLINE_WORKER_CONCURRENCY", value(&WORKER_CONCURRENCY)),
            (
                "HOOKLINE_ENDPOINT_CONCURRENCY",
                value(&ENDPOINT_CONCURRENCY),
            ),
            ("HOOKLINE_LEASE", LEASE.to_string()),
            ("HOOKLINE_POLL_INTERVAL", value(&POLL_INTERVAL)),
            ("HOOKLINE_RETENTION", value(&RETENTION)),
            ("HOOKLINE_HEADER_READ_TIMEOUT", value(&HEADER_READ_TIMEOUT)),
            ("HOOKLINE_BODY_READ_TIMEOUT", value(&BODY_READ_TIMEOUT)),
            ("HOOKLINE_IDLE_TIMEOUT", value(&IDLE_TIMEOUT)),
            ("HOOKLINE_MAX_CONNECTIONS", value(&MAX_CONNECTIONS)),
            ("HOOKLINE_PUBLIC_URL", PUBLIC_URL.to_string()),
            ("HOOKLINE_TRUSTED_PROXIES", TRUSTED_PROXIES.to_string()),
            (
                "HOOKLINE_PORTAL_FRAME_ANCESTORS",
                PORTAL_FRAME_ANCESTORS.to_string(),
            ),
            ("HOOKLINE_BRAND_NAME", value(&BRAND_NAME)),
            ("HOOKLINE_BRAND_LOGO_URL", BRAND_LOGO_URL.to_string()),
            ("HOOKLINE_BRAND_ACCENT_COLOR", value(&BRAND_ACCENT_COLOR)),
        ]
    }
}

/// Which parts of Hookline a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// API, dashboard and delivery workers.
    #[default]
    All,
    /// API and dashboard only; deliveries are left to worker nodes.
    Api,
    /// Delivery workers only (plus /health and /metrics).
    Worker,
}

impl Role {
    /// The name used in flags, the environment and the file.
    pub fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Worker => "worker",
        }
    }
}

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
}

/// A validated node configuration.
#[derive(Clone)]
pub struct Config {
    /// Address the API and dashboard listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the data lives.
    pub database_url: String,
    /// Admin token given by the operator, if any (else generated and stored hashed).
    pub admin_token: Option<String>,
    /// When failed deliveries are retried.
    pub retry_schedule: RetrySchedule,
    /// Time limit of one attempt.
    pub request_timeout: Duration,
    /// Whether private addresses may receive webhooks.
    pub allow_private_networks: bool,
    /// Largest accepted event body.
    pub max_payload_bytes: usize,
    /// What this node runs.
    pub role: Role,
    /// Attempts in flight on this node.
    pub worker_concurrency: usize,
    /// Attempts in flight to one endpoint.
    pub endpoint_concurrency: usize,
    /// Lease on a claimed delivery; always longer than `request_timeout`.
    pub lease: Duration,
    /// Idle polling period of the scheduler.
    pub poll_interval: Duration,
    /// Age after which events are purged.
    pub retention: Duration,
    /// Where browsers reach this node (portal links, `Secure` cookies).
    pub public_url: Option<url::Url>,
    /// Proxies whose `X-Forwarded-Proto` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins allowed to frame the dashboard (CSP `frame-ancestors`).
    pub portal_frame_ancestors: Vec<String>,
    /// The dashboard's brand when an account has none of its own.
    pub brand: Brand,
    /// Time limits and the connection cap of the HTTP server.
    pub http: HttpLimits,
}

/// What a client of the API may take from the server.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// To send a request's headers, or to start the next request.
    pub header_read_timeout: Duration,
    /// To send a request's body.
    pub body_read_timeout: Duration,
    /// With nothing read or written on the connection.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Product name, logo and accent colour of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub product_name: String,
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub accent_color: String,
}

impl Default for Brand {
    fn default() -> Self {
        Brand {
            product_name: defaults::BRAND_NAME.into(),
            logo_url: None,
            accent_color: defaults::BRAND_ACCENT_COLOR.into(),
        }
    }
}

/// Whether `text` is a `#rrggbb` colour.
pub fn is_hex_color(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `text` can be a logo: an `https:` or `data:image/…` URL (what
/// the dashboard's `img-src` allows), with nothing that could break out of
/// an attribute.
pub fn is_logo_url(text: &str) -> bool {
    if text.len() > 65_536 || text.contains(['"', '\'', '<', '>', ' ']) {
        return false;
    }
    if text.starts_with("data:image/") {
        return true;
    }
    url::Url::parse(text).is_ok_and(|u| u.scheme() == "https" && u.has_host())
}

/// Validates `HOOKLINE_PORTAL_FRAME_ANCESTORS`: each an origin
/// (`https://host[:port]`, a `*.` wildcard host allowed), no paths.
fn frame_ancestors(list: Option<&str>) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for origin in list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .map(|o| o.trim_end_matches('/'))
        .filter(|o| !o.is_empty())
    {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let ok = rest.is_some_and(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:*[]".contains(&b))
        });
        if !ok {
            return Err(format!(
                "HOOKLINE_PORTAL_FRAME_ANCESTORS: `{origin}` is not an origin; use a comma list such as https://app.example.com,https://*.example.org"
            ));
        }
        origins.push(origin.to_string());
    }
    Ok(origins)
}

/// The admin token never reaches a log through `Debug`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &hookline_core::net::mask_url(&self.database_url),
            )
            .field("admin_token", &self.admin_token.as_ref().map(|_| "****"))
            .field("retry_schedule", &self.retry_schedule)
            .field("request_timeout", &self.request_timeout)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_args(ServeArgs::default()).expect("the defaults are valid")
    }
}

impl Config {
    /// Builds the configuration from flags/environment, reading `--config` if given.
    pub fn load(args: ServeArgs) -> Result<Config, String> {
        let merged = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                let file: ServeArgs = toml::from_str(&text)
                    .map_err(|e| format!("config file {}: {e}", path.display()))?;
                args.or(file)
            }
            None => args,
        };
        Config::from_args(merged)
    }

    /// Validates already-merged options and fills defaults.
    pub fn from_args(a: ServeArgs) -> Result<Config, String> {
        let brand = brand(&a)?;
        let listen = a.listen.as_deref().unwrap_or(defaults::LISTEN);
        let listen: SocketAddr = listen.parse().map_err(|_| {
            format!("HOOKLINE_LISTEN `{listen}` is not an address; use HOST:PORT such as 127.0.0.1:8080")
        })?;
        let duration = |name: &str, value: &Option<String>, default: &str| {
            parse_duration(value.as_deref().unwrap_or(default)).map_err(|e| format!("{name}: {e}"))
        };
        let request_timeout = duration(
            "HOOKLINE_REQUEST_TIMEOUT",
            &a.request_timeout,
            defaults::REQUEST_TIMEOUT,
        )?;
        if request_timeout.is_zero() {
            return Err("HOOKLINE_REQUEST_TIMEOUT must be more than zero".into());
        }
        let lease = match &a.lease {
            Some(text) => parse_duration(text).map_err(|e| format!("HOOKLINE_LEASE: {e}"))?,
            None => defaults::lease(request_timeout),
        };
        if lease <= request_timeout {
            return Err(format!(
                "HOOKLINE_LEASE ({lease:?}) must be longer than HOOKLINE_REQUEST_TIMEOUT ({request_timeout:?}); \
                 otherwise a slow attempt's delivery is claimed again and sent twice"
            ));
        }
        let retry_schedule = match &a.retry_schedule {
            Some(spec) => {
                RetrySchedule::parse(spec).map_err(|e| format!("HOOKLINE_RETRY_SCHEDULE: {e}"))?
            }
            None => RetrySchedule::Exponential,
        };
        let database_url = a
            .database_url
            .unwrap_or_else(|| defaults::DATABASE_URL.to_string());
        let nonzero = |d: Duration| {
            if d.is_zero() {
                Err("HTTP time limits must be more than zero".to_string())
            } else {
                Ok(d)
            }
        };
        let positive = |name: &str, v: Option<usize>, default: usize| match v.unwrap_or(default) {
            0 => Err(format!("{name} must be at least 1")),
            n => Ok(n),
        };
        Ok(Config {
            listen,
            database_url,
            admin_token: a.admin_token.filter(|t| !t.is_empty()),
            retry_schedule,
            request_timeout,
            allow_private_networks: a
                .allow_private_networks
                .unwrap_or(defaults::ALLOW_PRIVATE_NETWORKS),
            max_payload_bytes: positive(
                "HOOKLINE_MAX_PAYLOAD_BYTES",
                a.max_payload_bytes,
                defaults::MAX_PAYLOAD_BYTES,
            )?,
            role: a.role.unwrap_or(defaults::ROLE),
            worker_concurrency: positive(
                "HOOKLINE_WORKER_CONCURRENCY",
                a.worker_concurrency,
                defaults::WORKER_CONCURRENCY,
            )?,
            endpoint_concurrency: positive(
                "HOOKLINE_ENDPOINT_CONCURRENCY",
                a.endpoint_concurrency,
                defaults::ENDPOINT_CONCURRENCY,
            )?,
            lease,
            poll_interval: duration(
                "HOOKLINE_POLL_INTERVAL",
                &a.poll_interval,
                defaults::POLL_INTERVAL,
            )?,
            retention: duration("HOOKLINE_RETENTION", &a.retention, defaults::RETENTION)?,
            http: HttpLimits {
                header_read_timeout: nonzero(duration(
                    "HOOKLINE_HEADER_READ_TIMEOUT",
                    &a.header_read_timeout,
                    defaults::HEADER_READ_TIMEOUT,
                )?)?,
                body_read_timeout: nonzero(duration(
                    "HOOKLINE_BODY_READ_TIMEOUT",
                    &a.body_read_timeout,
                    defaults::BODY_READ_TIMEOUT,
                )?)?,
                idle_timeout: nonzero(duration(
                    "HOOKLINE_IDLE_TIMEOUT",
                    &a.idle_timeout,
                    defaults::IDLE_TIMEOUT,
                )?)?,
                max_connections: positive(
                    "HOOKLINE_MAX_CONNECTIONS",
                    a.max_connections,
                    defaults::MAX_CONNECTIONS,
                )?,
            },
            public_url: match a.public_url.as_deref().filter(|u| !u.is_empty()) {
                None => None,
                Some(text) => Some(
                    url::Url::parse(text)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                        .ok_or_else(|| {
                            format!("HOOKLINE_PUBLIC_URL `{text}` is not an http(s) URL such as https://hooks.example.com")
                        })?,
                ),
            },
            trusted_proxies: a
                .trusted_proxies
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<IpAddr>().map_err(|_| {
                        format!("HOOKLINE_TRUSTED_PROXIES: `{p}` is not an IP address")
                    })
                })
                .collect::<Result<_, _>>()?,
            portal_frame_ancestors: frame_ancestors(a.portal_frame_ancestors.as_deref())?,
            brand,
        })
    }
}

/// The configured brand, validated.
fn brand(a: &ServeArgs) -> Result<Brand, String> {
    let mut brand = Brand::default();
    if let Some(name) = a
        .brand_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        brand.product_name = name.chars().take(60).collect();
    }
    if let Some(logo) = a.brand_logo_url.as_deref().filter(|l| !l.is_empty()) {
        if !is_logo_url(logo) {
            return Err(format!(
                "HOOKLINE_BRAND_LOGO_URL must be an https: or data:image/ URL, not `{logo}`"
            ));
        }
        brand.logo_url = Some(logo.to_string());
    }
    if let Some(color) = a.brand_accent_color.as_deref().filter(|c| !c.is_empty()) {
        if !is_hex_color(color) {
            return Err(format!(
                "HOOKLINE_BRAND_ACCENT_COLOR must be #rrggbb, such as #0a7cff, not `{color}`"
            ));
        }
        brand.accent_color = color.to_ascii_lowercase();
    }
    Ok(brand)
}

impl ServeArgs {
    /// Each option from `self`, else from `file`.
    fn or(self, file: ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config,
            listen: self.listen.or(file.listen),
            database_url: self.database_url.or(file.database_url),
            admin_token: self.admin_token.or(file.admin_token),
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://hookline-data/hookline.db");
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        assert_eq!(c.max_payload_bytes, 1_048_576);
        assert!(!c.allow_private_networks);
        assert!(c.lease > c.request_timeout);
    }

    #[test]
    fn defaults_are_the_documented_values() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), defaults::LISTEN);
        assert_eq!(c.database_url, defaults::DATABASE_URL);
        assert_eq!(c.admin_token, None);
        assert_eq!(c.retry_schedule, RetrySchedule::Exponential);
        assert_eq!(c.role, defaults::ROLE);
        assert_eq!(c.worker_concurrency, defaults::WORKER_CONCURRENCY);
        assert_eq!(c.endpoint_concurrency, defaults::ENDPOINT_CONCURRENCY);
        assert_eq!(c.lease, Duration::from_secs(60), "twice 15s + 30s");
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.retention, Duration::from_secs(30 * 24 * 3600));
    }

    /// `| `VAR` | default | meaning |` rows of the configuration table in `file`.
    fn configuration_table(file: &str) -> Vec<(String, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<(String, String)> = text
            .lines()
            .skip_while(|l| !l.starts_with("| variable | default |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let name = cells[0].trim_start_matches("| ").trim_matches('`');
                (name.to_string(), cells[1].to_string())
            })
            .collect();
        assert!(!rows.is_empty(), "{file} has a configuration table");
        rows
    }

    #[test]
    fn the_configuration_tables_show_the_defaults() {
        let documented: Vec<(String, String)> = defaults::documented()
            .into_iter()
            .map(|(name, default)| (name.to_string(), default))
            .collect();
        for file in ["README.md", "docs/api.md"] {
            assert_eq!(
                configuration_table(file),
                documented,
                "{file}'s configuration table (names, order, defaults) follows config::defaults"
            );
        }
    }

    #[test]
    fn serve_help_names_every_option_with_its_default() {
        use clap::Args;
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let mut seen = Vec::new();
        for arg in command.get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            if env == "HOOKLINE_CONFIG" {
                continue;
            }
            let (_, default) = defaults::documented()
                .into_iter()
                .find(|(name, _)| *name == env)
                .unwrap_or_else(|| panic!("{env} is missing from config::defaults::documented"));
            let help = arg.get_help().unwrap().to_string().replace('\n', " ");
            let shown = format!("[default: {}]", default.trim_matches('`'));
            assert!(
                help.contains(&shown),
                "--help of {env} says {shown}: {help}"
            );
            seen.push(env.to_string());
        }
        let all: Vec<String> = defaults::documented()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(
            seen, all,
            "every documented variable is an option, in order"
        );
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookline.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nrequest_timeout = \"3s\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            request_timeout: Some("5s".into()),
            ..Default::default()
        };
        let c = Config::load(args).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.request_timeout, Duration::from_secs(5));
    }

    #[test]
    fn portal_and_brand_settings_are_validated() {
        let ok = Config::from_args(ServeArgs {
            portal_frame_ancestors: Some("https://app.example.com, http://localhost:3000/".into()),
            brand_accent_color: Some("#0A7CFF".into()),
            trusted_proxies: Some("10.0.0.1,::1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            ok.portal_frame_ancestors,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(ok.brand.accent_color, "#0a7cff");
        assert_eq!(ok.trusted_proxies.len(), 2);
        for bad in [
            ServeArgs {
                portal_frame_ancestors: Some("https://a.com; script-src *".into()),
                ..Default::default()
            },
            ServeArgs {
                brand_accent_color: Some("red".into()),
                ..Default::default()
            },
            ServeArgs {
                brand_logo_url: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
            ServeArgs {
                public_url: Some("ftp://x".into()),
                ..Default::default()
            },
        ] {
            assert!(Config::from_args(bad).is_err());
        }
    }

    #[test]
    fn a_lease_shorter_than_the_timeout_is_refused() {
        let args = ServeArgs {
            request_timeout: Some("30s".into()),
            lease: Some("10s".into()),
            ..Default::default()
        };
        assert!(Config::from_args(args)
            .unwrap_err()
            .contains("HOOKLINE_LEASE"));
    }
}
