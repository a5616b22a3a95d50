//! `hookline demo`: the whole system in one process — the service on an
//! embedded database, local receivers that verify every signature, and a
//! simulated payment gateway publishing a realistic stream through the real
//! API. One endpoint fails part of the time so retries show on the dashboard.

mod gateway;
mod receiver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookline_core::secret::generate_token;
use hookline_server::{App, Config, ServeArgs};
use tokio_util::sync::CancellationToken;

/// Options of `hookline demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Events per second published by the simulated gateway.
    #[arg(long, default_value_t = 4.0)]
    rate: f64,
    /// Stop after this long (e.g. 30s, 5m); default: run until Ctrl-C.
    #[arg(long)]
    duration: Option<String>,
    /// Share of requests the flaky endpoint answers with 500/503 (0 to 1).
    #[arg(long, default_value_t = 0.3)]
    failure_ratio: f64,
    /// Address of the API and dashboard (a free port is used if it is taken).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where the demo's database lives; it is emptied at start.
    #[arg(long, default_value = "hookline-demo")]
    data_dir: PathBuf,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.failure_ratio),
        "--failure-ratio must be between 0 and 1"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be more than 0");
    let duration = args
        .duration
        .as_deref()
        .map(hookline_core::retry::parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if args.data_dir.exists() {
        std::fs::remove_dir_all(&args.data_dir)
            .with_context(|| format!("cannot empty {}", args.data_dir.display()))?;
    }
    std::fs::create_dir_all(&args.data_dir)?;

    let admin_token = generate_token("hk_admin_");
    let listen = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(probe) => probe.local_addr()?.to_string(),
        Err(_) => "127.0.0.1:0".to_string(),
    };
    let config = Config::from_args(ServeArgs {
        listen: Some(listen),
        database_url: Some(format!("sqlite://{}/hookline.db", args.data_dir.display())),
        admin_token: Some(admin_token.clone()),
        retry_schedule: Some("2s,5s,10s,30s,1m".into()),
        request_timeout: Some("5s".into()),
        allow_private_networks: Some(true),
        poll_interval: Some("200ms".into()),
        ..Default::default()
    })
    .map_err(anyhow::Error::msg)?;
    let app = App::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));

    let receivers = Arc::new(receiver::Receivers::new(args.failure_ratio));
    let receiver_addr: SocketAddr = receiver::start(receivers.clone()).await?;
    let setup = gateway::setup(&base, &admin_token, receiver_addr).await?;
    for (path, secret) in &setup.secrets {
        receivers.trust(path, secret)?;
    }

    println!("Hookline demo is running — a simulated payment gateway is publishing events.");
    println!("  Dashboard:   {base}/dashboard");
    println!(
        "  Log in with: {}   (the Demo Merchant's API key)",
        setup.api_key
    );
    println!("  Admin token: {admin_token}");
    println!(
        "  API:         {base}/v1/accounts/{}/events",
        setup.account_id
    );
    println!(
        "  The 'flaky' endpoint fails {:.0}% of requests, so retries show up. Ctrl-C stops.",
        args.failure_ratio * 100.0
    );
    println!();
    println!("time      endpoint  event type            event id                        status  signature  attempt");

    let stop = shutdown.clone();
    tokio::spawn(async move {
        match duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = crate::cli::serve::stop_on_signal(stop.clone()) => {}
            },
            None => crate::cli::serve::stop_on_signal(stop.clone()).await,
        }
        stop.cancel();
    });
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    gateway::run(&base, &setup, interval, shutdown.clone()).await;
    server.await??;
    let summary = receivers.summary();
    println!(
        "demo summary: {} deliveries received, {} verified, {} failed verification",
        summary.received, summary.verified, summary.unverified
    );
    Ok(())
}
