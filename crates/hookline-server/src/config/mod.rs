//! The one `Config` of a Hookline node, and how it is assembled.
//!
//! Sources, strongest first: command-line flags, `HOOKLINE_*` environment
//! variables (both parsed by clap), an optional TOML file (`--config`), then
//! defaults. Raw text is validated into types that cannot be wrong
//! (`Duration`, `SocketAddr`, `RetrySchedule`); foot-guns such as a lease
//! shorter than the request timeout fail at start-up.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hookline_core::retry::parse_duration;
use hookline_core::RetrySchedule;
use serde::Deserialize;

mod args;
pub mod defaults;
mod error;

pub use args::ServeArgs;
pub use error::ConfigError;

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

/// A validated node configuration.
#[derive(Clone)]
pub struct Config {
    /// Address the API and dashboard listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the data lives.
    pub database_url: String,
    /// Admin token given by the operator, if any (else generated and stored hashed).
    pub admin_token: Option<String>,
    /// Seals secrets at rest with the `HOOKLINE_ENCRYPTION_KEY` keys (none: plain).
    pub sealer: hookline_store::Sealer,
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
    /// Consecutive failures that make an endpoint `endpoint.failing`.
    pub operational_failing_after: u32,
    /// The node's id in the fleet as given (see [`Config::node_id`]).
    pub node_id: Option<String>,
    /// How often a node of a fleet beats.
    pub heartbeat_interval: Duration,
    /// Silence after which a node of a fleet is declared dead; at least
    /// twice `heartbeat_interval`.
    pub node_dead_after: Duration,
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
    if text.chars().count() > 65_536 || text.contains(['"', '\'', '<', '>', ' ']) {
        return false;
    }
    if text.starts_with("data:image/") {
        return true;
    }
    url::Url::parse(text).is_ok_and(|u| u.scheme() == "https" && u.has_host())
}

/// Validates `HOOKLINE_PORTAL_FRAME_ANCESTORS`: each an origin
/// (`https://host[:port]`, a `*.` wildcard host allowed), no paths.
fn frame_ancestors(list: Option<&str>) -> Result<Vec<String>, ConfigError> {
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
            return Err(ConfigError::invalid("HOOKLINE_PORTAL_FRAME_ANCESTORS", format!(
                "HOOKLINE_PORTAL_FRAME_ANCESTORS: `{origin}` is not an origin; use a comma list such as https://app.example.com,https://*.example.org"
            )));
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
            .field("sealer", &self.sealer)
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
    /// This node's id in the fleet: as configured, else the host name and
    /// the port of `listen` (`web-1:8080`), the same again when the node
    /// restarts where it ran, so it takes back what its predecessor held.
    pub fn node_id(&self) -> String {
        match &self.node_id {
            Some(id) => id.clone(),
            None => format!("{}:{}", host_name(), self.listen.port()),
        }
    }

    /// Builds the configuration from flags/environment, reading `--config` if given.
    pub fn load(args: ServeArgs) -> Result<Config, ConfigError> {
        let merged = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
                let file: ServeArgs =
                    toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
                        path: path.clone(),
                        source,
                    })?;
                args.or(file)
            }
            None => args,
        };
        Config::from_args(merged)
    }

    /// Validates already-merged options and fills defaults.
    pub fn from_args(a: ServeArgs) -> Result<Config, ConfigError> {
        let brand = brand(&a)?;
        let listen = a.listen.as_deref().unwrap_or(defaults::LISTEN);
        let listen: SocketAddr = listen.parse().map_err(|_| {
            ConfigError::invalid("HOOKLINE_LISTEN", format!("HOOKLINE_LISTEN `{listen}` is not an address; use HOST:PORT such as 127.0.0.1:8080"))
        })?;
        let duration = |name: &'static str, value: &Option<String>, default: &str| {
            parse_duration(value.as_deref().unwrap_or(default))
                .map_err(|e| ConfigError::invalid(name, format!("{name}: {e}")))
        };
        let request_timeout = duration(
            "HOOKLINE_REQUEST_TIMEOUT",
            &a.request_timeout,
            defaults::REQUEST_TIMEOUT,
        )?;
        if request_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "HOOKLINE_REQUEST_TIMEOUT",
                "HOOKLINE_REQUEST_TIMEOUT must be more than zero",
            ));
        }
        let lease = match &a.lease {
            Some(text) => parse_duration(text).map_err(|e| {
                ConfigError::invalid("HOOKLINE_LEASE", format!("HOOKLINE_LEASE: {e}"))
            })?,
            None => defaults::lease(request_timeout),
        };
        if lease <= request_timeout {
            return Err(ConfigError::LeaseTooShort {
                lease,
                request_timeout,
            });
        }
        let heartbeat_interval = duration(
            "HOOKLINE_HEARTBEAT_INTERVAL",
            &a.heartbeat_interval,
            defaults::HEARTBEAT_INTERVAL,
        )?;
        if heartbeat_interval.is_zero() {
            return Err(ConfigError::invalid(
                "HOOKLINE_HEARTBEAT_INTERVAL",
                "HOOKLINE_HEARTBEAT_INTERVAL must be more than zero",
            ));
        }
        let node_dead_after = duration(
            "HOOKLINE_NODE_DEAD_AFTER",
            &a.node_dead_after,
            defaults::NODE_DEAD_AFTER,
        )?;
        if node_dead_after < heartbeat_interval * 2 {
            return Err(ConfigError::invalid(
                "HOOKLINE_NODE_DEAD_AFTER",
                format!(
                    "HOOKLINE_NODE_DEAD_AFTER ({node_dead_after:?}) must be at least twice HOOKLINE_HEARTBEAT_INTERVAL ({heartbeat_interval:?}), or one late heartbeat would declare a live node dead"
                ),
            ));
        }
        let retry_schedule = match &a.retry_schedule {
            Some(spec) => RetrySchedule::parse(spec).map_err(|e| {
                ConfigError::invalid(
                    "HOOKLINE_RETRY_SCHEDULE",
                    format!("HOOKLINE_RETRY_SCHEDULE: {e}"),
                )
            })?,
            None => RetrySchedule::Exponential,
        };
        let database_url = a
            .database_url
            .unwrap_or_else(|| defaults::DATABASE_URL.to_string());
        let nonzero = |name: &'static str, d: Duration| {
            if d.is_zero() {
                Err(ConfigError::invalid(
                    name,
                    "HTTP time limits must be more than zero",
                ))
            } else {
                Ok(d)
            }
        };
        let positive =
            |name: &'static str, v: Option<usize>, default: usize| match v.unwrap_or(default) {
                0 => Err(ConfigError::invalid(
                    name,
                    format!("{name} must be at least 1"),
                )),
                n => Ok(n),
            };
        let sealer = hookline_store::Sealer::parse(a.encryption_key.as_deref().unwrap_or_default())
            .map_err(|e| ConfigError::invalid("HOOKLINE_ENCRYPTION_KEY", e.to_string()))?;
        Ok(Config {
            listen,
            database_url,
            admin_token: a.admin_token.filter(|t| !t.is_empty()),
            sealer,
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
                header_read_timeout: nonzero("HOOKLINE_HEADER_READ_TIMEOUT", duration(
                    "HOOKLINE_HEADER_READ_TIMEOUT",
                    &a.header_read_timeout,
                    defaults::HEADER_READ_TIMEOUT,
                )?)?,
                body_read_timeout: nonzero("HOOKLINE_BODY_READ_TIMEOUT", duration(
                    "HOOKLINE_BODY_READ_TIMEOUT",
                    &a.body_read_timeout,
                    defaults::BODY_READ_TIMEOUT,
                )?)?,
                idle_timeout: nonzero("HOOKLINE_IDLE_TIMEOUT", duration(
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
                            ConfigError::invalid("HOOKLINE_PUBLIC_URL", format!("HOOKLINE_PUBLIC_URL `{text}` is not an http(s) URL such as https://hooks.example.com"))
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
                        ConfigError::invalid("HOOKLINE_TRUSTED_PROXIES", format!("HOOKLINE_TRUSTED_PROXIES: `{p}` is not an IP address"))
                    })
                })
                .collect::<Result<_, _>>()?,
            portal_frame_ancestors: frame_ancestors(a.portal_frame_ancestors.as_deref())?,
            brand,
            operational_failing_after: match a
                .operational_failing_after
                .unwrap_or(defaults::OPERATIONAL_FAILING_AFTER)
            {
                0 => {
                    return Err(ConfigError::invalid(
                        "HOOKLINE_OPERATIONAL_FAILING_AFTER",
                        "HOOKLINE_OPERATIONAL_FAILING_AFTER must be at least 1",
                    ))
                }
                n => n,
            },
            node_id: node_id(a.node_id)?,
            heartbeat_interval,
            node_dead_after,
        })
    }
}

/// This machine's host name (the container's, in a container).
fn host_name() -> String {
    gethostname::gethostname()
        .to_string_lossy()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .chars()
        .take(MAX_NODE_ID - 6)
        .collect()
}

/// Longest node id.
const MAX_NODE_ID: usize = 128;

/// Validates `HOOKLINE_NODE_ID`: printable, no spaces, not too long.
fn node_id(id: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(id) = id.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    if id.chars().count() > MAX_NODE_ID || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::invalid(
            "HOOKLINE_NODE_ID",
            format!("HOOKLINE_NODE_ID `{id}` must be at most {MAX_NODE_ID} characters without spaces, such as web-1"),
        ));
    }
    Ok(Some(id))
}

/// The configured brand, validated.
fn brand(a: &ServeArgs) -> Result<Brand, ConfigError> {
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
            return Err(ConfigError::invalid(
                "HOOKLINE_BRAND_LOGO_URL",
                format!(
                    "HOOKLINE_BRAND_LOGO_URL must be an https: or data:image/ URL, not `{logo}`"
                ),
            ));
        }
        brand.logo_url = Some(logo.to_string());
    }
    if let Some(color) = a.brand_accent_color.as_deref().filter(|c| !c.is_empty()) {
        if !is_hex_color(color) {
            return Err(ConfigError::invalid(
                "HOOKLINE_BRAND_ACCENT_COLOR",
                format!(
                    "HOOKLINE_BRAND_ACCENT_COLOR must be #rrggbb, such as #0a7cff, not `{color}`"
                ),
            ));
        }
        brand.accent_color = color.to_ascii_lowercase();
    }
    Ok(brand)
}

#[cfg(test)]
mod tests;
