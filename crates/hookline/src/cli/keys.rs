//! `hookline encryption-key` and `hookline reseal`: making the keys that
//! seal secrets at rest, and moving every stored secret to the newest key
//! after a rotation (see docs/deploy.md, "Encryption at rest").

use hookline_store::{keyring, OpenOptions, SealedTable, Sealer};

/// Options of `hookline reseal`.
#[derive(clap::Args, Debug)]
pub(crate) struct ResealArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "HOOKLINE_DATABASE_URL",
        default_value = hookline_server::config::defaults::DATABASE_URL
    )]
    database_url: String,
    /// The nodes' keys, newest first: the first seals, the others open.
    #[arg(
        long,
        env = "HOOKLINE_ENCRYPTION_KEY",
        value_name = "KEYS",
        hide_env_values = true
    )]
    encryption_key: String,
    /// Rows per batch; each batch is one short transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: u32,
}

/// Prints a fresh key for `HOOKLINE_ENCRYPTION_KEY` (the key goes to
/// stdout only, so `KEY=$(hookline encryption-key)` keeps it off screens).
pub(crate) fn print_key() {
    println!("{}", Sealer::generate_key());
}

/// Re-seals every table's secrets with the first key, batch by batch,
/// then records that the older keys seal nothing any more.
pub(crate) async fn reseal(args: ResealArgs) -> anyhow::Result<()> {
    let sealer = Sealer::parse(&args.encryption_key)?;
    let Some(current) = sealer.sealing_key_id().map(str::to_string) else {
        anyhow::bail!(
            "HOOKLINE_ENCRYPTION_KEY is empty; set it to the nodes' keys, newest first \
             (`hookline encryption-key` makes a new one)"
        );
    };
    let options = OpenOptions {
        serves_api: true,
        worker_concurrency: 0,
        sealer: sealer.clone(),
        ..OpenOptions::default()
    };
    let store = hookline_store::open_with(&args.database_url, &options).await?;
    eprintln!(
        "re-sealing the secrets of {} with key {current}",
        hookline_core::net::mask_url(&args.database_url)
    );
    for table in SealedTable::ALL {
        let (mut scanned, mut resealed, mut after) = (0u64, 0u64, 0i64);
        loop {
            let batch = store.reseal(table, after, args.batch).await?;
            scanned += batch.scanned;
            resealed += batch.resealed;
            match batch.next_after {
                Some(next) => {
                    after = next;
                    eprintln!(
                        "  {}: {scanned} rows read, {resealed} re-sealed …",
                        table.name()
                    );
                }
                None => break,
            }
        }
        println!(
            "{}: {scanned} rows read, {resealed} re-sealed",
            table.name()
        );
    }
    let retired = keyring::retire_older_keys(store.as_ref(), &sealer).await?;
    println!("every stored secret is sealed with key {current}");
    if !retired.is_empty() {
        println!(
            "key {} seals nothing any more: remove it from HOOKLINE_ENCRYPTION_KEY on every node",
            retired.join(", ")
        );
    }
    Ok(())
}
