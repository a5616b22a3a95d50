//! `hookline demo`: the whole system in one process — the service on an
//! embedded database, local receivers that verify every signature, and a
//! simulated payment gateway publishing a realistic stream through the real
//! API. One endpoint fails part of the time so retries show on the dashboard.

mod banner;
mod data_dir;
mod gateway;
mod receiver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookline_core::secret::generate_token;
use hookline_server::config::defaults;
use hookline_server::{App, Config, ServeArgs};
use tokio::net::TcpListener;
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
    #[arg(long, default_value = defaults::LISTEN)]
    listen: String,
    /// Where the demo's database lives: a new or empty directory, or one an
    /// earlier demo made (it is emptied at start; any other is refused).
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
    data_dir::prepare(&args.data_dir)?;
    let listener = bind(&args.listen).await?;

    let admin_token = generate_token("hk_admin_");
    let config = Config::from_args(ServeArgs {
        database_url: Some(format!("sqlite://{}/hookline.db", args.data_dir.display())),
        admin_token: Some(admin_token.clone()),
        // The demo's database lasts one run, so does its key: secrets are
        // sealed at rest as they would be in production.
        encryption_key: Some(hookline_store::Sealer::generate_key()),
        retry_schedule: Some("2s,5s,10s,30s,1m".into()),
        request_timeout: Some("5s".into()),
        allow_private_networks: Some(true),
        poll_interval: Some("200ms".into()),
        ..Default::default()
    })
    .map_err(anyhow::Error::msg)?;
    let app = App::with_listener(config, listener).await?;
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));

    let receivers = Arc::new(receiver::Receivers::new(args.failure_ratio));
    let receiver_addr: SocketAddr = receiver::start(receivers.clone()).await?;
    let setup = gateway::setup(&base, &admin_token, receiver_addr).await?;
    for (path, secret) in &setup.secrets {
        receivers.trust(path, secret)?;
    }

    let banner = banner::Banner {
        base: base.clone(),
        api_key: setup.api_key.clone(),
        admin_token,
        account_id: setup.account_id.clone(),
        failure_ratio: args.failure_ratio,
        data_dir: args.data_dir.clone(),
    };
    println!("{}", banner.start());
    receivers.remind_with(banner.reminder());

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
    println!("{}", banner.summary(&receivers.summary()));
    Ok(())
}

/// Binds `listen`, or a free local port when that address is taken.
async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen `{listen}` is not an address; use HOST:PORT"))?;
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            let listener = TcpListener::bind((addr.ip(), 0)).await?;
            eprintln!(
                "{addr} is in use; the demo listens on {} instead",
                listener.local_addr()?
            );
            Ok(listener)
        }
        Err(err) => Err(err).with_context(|| format!("cannot listen on {addr}")),
    }
}
