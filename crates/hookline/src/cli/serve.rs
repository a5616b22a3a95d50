//! `hookline serve`: build the node, print where it is, run until SIGTERM or Ctrl-C.

use hookline_server::{App, Config, ServeArgs};
use tokio_util::sync::CancellationToken;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args).map_err(anyhow::Error::msg)?;
    let database = hookline_core::net::mask_url(&config.database_url);
    let secrets = match config.sealer.sealing_key_id() {
        Some(id) => format!("sealed at rest with key {id}"),
        None => "stored unencrypted (set HOOKLINE_ENCRYPTION_KEY to seal them)".to_string(),
    };
    let app = App::build(config).await?;
    print_banner(&app, &database, &secrets);
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run(shutdown).await?;
    eprintln!("hookline stopped cleanly");
    Ok(())
}

fn print_banner(app: &App, database: &str, secrets: &str) {
    let base = format!("http://{}", app.local_addr());
    println!("Hookline {} is running", env!("CARGO_PKG_VERSION"));
    println!("  Dashboard: {base}/dashboard");
    println!("  API:       {base}/v1   (OpenAPI: {base}/openapi.json)");
    println!("  Database:  {database}");
    println!("  Secrets:   {secrets}");
    match app.generated_admin_token() {
        Some(token) => {
            println!("  Admin token (shown once; stored hashed): {token}");
            println!("  Keep it safe; set HOOKLINE_ADMIN_TOKEN to replace it.");
        }
        None => println!("  Admin token: the one printed at first start, or HOOKLINE_ADMIN_TOKEN."),
    }
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C.
pub(crate) async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler works on unix");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    eprintln!("shutting down: finishing attempts in flight…");
    shutdown.cancel();
}
