//! The one `Config` of a Hookline node, and how it is assembled.
//!
//! Sources, strongest first: command-line flags, `HOOKLINE_*` environment
//! variables (both parsed by clap), an optional TOML file (`--config`), then
//! defaults. Raw text is validated into types that cannot be wrong
//! (`Duration`, `SocketAddr`, `RetrySchedule`); foot-guns such as a lease
//! shorter than the request timeout fail at start-up.

use std::net::SocketAddr;
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
        })
    }
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
