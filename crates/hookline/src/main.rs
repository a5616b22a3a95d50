//! The `hookline` command: run the service, migrate its database, publish a
//! sample event, receive webhooks locally, or run the whole demo.

mod cli;

/// mimalloc: delivery allocates many short-lived buffers (bodies, headers),
/// where it costs markedly less CPU than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Self-hosted webhook delivery for payment platforms.
#[derive(Parser)]
#[command(name = "hookline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, dashboard and delivery workers.
    Serve(Box<hookline_server::ServeArgs>),
    /// Create or upgrade the database schema, then exit.
    Migrate(cli::migrate::MigrateArgs),
    /// Publish a sample event of TYPE to a running server.
    Trigger(cli::trigger::TriggerArgs),
    /// Run a local receiver that verifies and prints deliveries.
    Listen(cli::listen::ListenArgs),
    /// Run the service, a receiver and a simulated payment gateway at once.
    Demo(cli::demo::DemoArgs),
    /// Print a fresh key for HOOKLINE_ENCRYPTION_KEY.
    EncryptionKey,
    /// Re-seal every stored secret with the first key of HOOKLINE_ENCRYPTION_KEY
    /// (after a key rotation; on PostgreSQL while nodes run, on SQLite with the node stopped).
    Reseal(cli::keys::ResealArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Demo(_)));
    let result = match cli.command {
        Command::Serve(args) => cli::serve::run(*args).await,
        Command::Migrate(args) => cli::migrate::run(args).await,
        Command::Trigger(args) => cli::trigger::run(args).await,
        Command::Listen(args) => cli::listen::run(args).await,
        Command::Demo(args) => cli::demo::run(args).await,
        Command::EncryptionKey => {
            cli::keys::print_key();
            Ok(())
        }
        Command::Reseal(args) => cli::keys::reseal(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the level. The demo keeps its own
/// output readable by logging only warnings unless asked. Colours only on a
/// terminal (and not with `NO_COLOR`), so a log file or journal gets plain text.
fn init_logging(quiet: bool) {
    use std::io::IsTerminal;
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
