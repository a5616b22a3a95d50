//! `ConfigError`: why a configuration was refused, as a type. Every message
//! names the setting (`HOOKLINE_…`) and says what a valid value looks like,
//! so an operator can fix it from the one line `hookline serve` prints.

use std::path::PathBuf;
use std::time::Duration;

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` names a file that cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML of known keys.
    #[error("config file {}: {source}", path.display())]
    ParseFile {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// The lease would expire while an attempt may still be running.
    #[error(
        "HOOKLINE_LEASE ({lease:?}) must be longer than HOOKLINE_REQUEST_TIMEOUT ({request_timeout:?}); \
         otherwise a slow attempt's delivery is claimed again and sent twice"
    )]
    LeaseTooShort {
        lease: Duration,
        request_timeout: Duration,
    },
    /// `setting` has a value that is not allowed; `message` says why and
    /// what to use instead.
    #[error("{message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

impl ConfigError {
    /// `setting` is refused with `message` (which names it).
    pub(crate) fn invalid(setting: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            message: message.into(),
        }
    }

    /// The setting at fault (`HOOKLINE_…`), or `None` for the file itself.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::ReadFile { .. } | ConfigError::ParseFile { .. } => None,
            ConfigError::LeaseTooShort { .. } => Some("HOOKLINE_LEASE"),
            ConfigError::Invalid { setting, .. } => Some(setting),
        }
    }
}
