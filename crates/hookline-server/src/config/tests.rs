//! The configuration's rules, and that README.md, docs/api.md and
//! `serve --help` show the defaults the code uses.

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
    let refused = Config::from_args(args).unwrap_err();
    assert!(refused.to_string().contains("HOOKLINE_LEASE"));
    assert!(matches!(refused, ConfigError::LeaseTooShort { .. }));
    assert_eq!(refused.setting(), Some("HOOKLINE_LEASE"));
}
