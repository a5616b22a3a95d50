//! `hookline migrate`: apply pending schema migrations and exit.

/// Options of `hookline migrate`.
#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "HOOKLINE_DATABASE_URL",
        default_value = hookline_server::config::defaults::DATABASE_URL
    )]
    database_url: String,
}

pub(crate) async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let store = hookline_store::open(&args.database_url).await?;
    store.ping().await?;
    println!(
        "the {} database at {} is up to date",
        store.backend(),
        hookline_core::net::mask_url(&args.database_url)
    );
    Ok(())
}
