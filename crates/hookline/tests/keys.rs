//! Encryption keys through the built binary: `hookline encryption-key`
//! makes a key; after a rotation (`new,old`) `hookline reseal` moves every
//! secret to the new key, shows its progress, is idempotent, and lets the
//! old key go; `hookline serve` without the sealing key refuses to start
//! and says why. On SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::process::Command;

use hookline_core::{Account, Endpoint, Id, IdKind, PayloadMode};
use hookline_store::{keyring, OpenOptions, Sealer, SharedStore};
use hookline_testkit::{both_backends, Backend, ScratchDatabase};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A database to run the binary against, removed on drop.
struct Database {
    url: String,
    _dir: tempfile::TempDir,
    _pg: Option<ScratchDatabase>,
}

async fn database(backend: Backend) -> Option<Database> {
    let dir = tempfile::tempdir().unwrap();
    Some(match backend {
        Backend::Sqlite => Database {
            url: format!("sqlite://{}/hookline.db", dir.path().display()),
            _dir: dir,
            _pg: None,
        },
        Backend::Postgres => {
            let pg = ScratchDatabase::create("hookline_keys").await?;
            Database {
                url: pg.url.clone(),
                _dir: dir,
                _pg: Some(pg),
            }
        }
    })
}

async fn open(url: &str, keys: &str) -> SharedStore {
    let options = OpenOptions {
        sealer: Sealer::parse(keys).unwrap(),
        ..OpenOptions::default()
    };
    hookline_store::open_with(url, &options).await.unwrap()
}

fn key_id(keys: &str) -> String {
    Sealer::parse(keys)
        .unwrap()
        .sealing_key_id()
        .unwrap()
        .to_string()
}

fn hookline(args: &[&str], url: &str, keys: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(args)
        .env("HOOKLINE_DATABASE_URL", url)
        .env("HOOKLINE_ENCRYPTION_KEY", keys)
        .env("HOOKLINE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An account and an endpoint with a URL password and a custom header.
fn endpoint(account: &str) -> Endpoint {
    let now = chrono::Utc::now();
    Endpoint {
        id: Id::generate(IdKind::Endpoint),
        account_id: account.into(),
        url: "https://shop:pa55-Wd7q@receiver.example/hook".into(),
        description: String::new(),
        event_types: Vec::new(),
        disabled: false,
        disabled_reason: None,
        payload: PayloadMode::Full,
        headers: BTreeMap::from([("X-Api-Key".into(), "hdr-k3y-0451".into())]),
        secret: SECRET.into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_sec: None,
        metadata: Default::default(),
        failing_since: None,
        filter: None,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn encryption_key_prints_a_fresh_valid_key() {
    let (ok, first, _) = hookline(&["encryption-key"], "sqlite://unused", "");
    let (_, second, _) = hookline(&["encryption-key"], "sqlite://unused", "");
    assert!(ok);
    assert_ne!(first, second);
    assert!(Sealer::parse(first.trim()).unwrap().is_active());
}

both_backends!(
    |backend| database(backend),
    reseal_moves_every_secret_to_the_new_key,
    |db| {
        let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
        let store = open(&db.url, &old).await;
        let now = chrono::Utc::now();
        let account = Account {
            id: Id::generate(IdKind::Account),
            name: "Acme".into(),
            created_at: now,
            updated_at: now,
        };
        store.create_account(&account, SECRET).await.unwrap();
        let ep = endpoint(&account.id);
        store.create_endpoint(&ep).await.unwrap();
        drop(store);

        let rotation = format!("{new},{old}");
        let (ok, out, err) = hookline(&["reseal", "--batch", "1"], &db.url, &rotation);
        assert!(ok, "{out}{err}");
        assert!(out.contains("endpoints: 1 rows read, 1 re-sealed"), "{out}");
        assert!(out.contains("accounts: 1 rows read, 1 re-sealed"), "{out}");
        assert!(
            out.contains(&format!("key {} seals nothing any more", key_id(&old))),
            "{out}"
        );
        assert!(
            !out.contains(&new) && !err.contains(&new),
            "no key is printed"
        );
        let (ok, out, _) = hookline(&["reseal"], &db.url, &rotation);
        assert!(
            ok && out.contains("endpoints: 1 rows read, 0 re-sealed"),
            "idempotent: {out}"
        );

        // The new key alone opens everything; the old one is forgotten.
        let store = open(&db.url, &new).await;
        let stored = store.get_endpoint(&account.id, &ep.id).await.unwrap();
        assert_eq!(
            (stored.url, stored.headers, stored.secret),
            (ep.url, ep.headers, ep.secret)
        );
        assert_eq!(
            store.account_signing_secret(&account.id).await.unwrap(),
            SECRET
        );
        assert_eq!(
            keyring::registered(store.as_ref()).await.unwrap(),
            vec![key_id(&new)]
        );
        drop(store);

        // A node with only the old key stops at start, saying what to do.
        let (ok, _, err) = hookline(&["serve"], &db.url, &old);
        assert!(!ok);
        assert!(
            err.contains(&format!("sealed with encryption key {}", key_id(&new)))
                && err.contains("HOOKLINE_ENCRYPTION_KEY"),
            "{err}"
        );
        let (ok, _, err) = hookline(&["serve"], &db.url, "not-a-key");
        assert!(!ok && err.contains("is not base64 of 32 bytes"), "{err}");
    }
);
