//! `premium-spread`: one binary, one subcommand per process kind (DESIGN §3).
//! `main` parses the command line, loads the settings, builds the part asked for and runs it
//! until Ctrl-C or SIGTERM.

mod up;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use settings::{LogFormat, Settings};

#[derive(Parser)]
#[command(
    name = "premium-spread",
    version,
    about = "Tracks the Korean \"kimchi premium\" second by second"
)]
struct Cli {
    /// TOML config file (also `PREMIUM_CONFIG`); environment variables override it.
    #[arg(long, global = true, env = "PREMIUM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The HTTP API (Swagger UI at /docs).
    Api,
    /// Prints the OpenAPI document (openapi/openapi.json is this output).
    Openapi,
    /// One worker replica: apalis workers for the three job kinds plus the cron sources.
    Worker,
    /// The offline market simulator: every venue's and FX source's API on one local port.
    Sim(SimArgs),
    /// Everything on one machine: the API, N worker processes and, with --sim, the simulator.
    Up(UpCmd),
}

#[derive(clap::Args)]
struct UpCmd {
    /// Start the market simulator too and point every venue and FX source at it.
    #[arg(long)]
    sim: bool,
    /// Worker replicas (processes) to start.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Where the simulator listens with --sim.
    #[arg(long, default_value = "127.0.0.1:9100")]
    sim_addr: String,
}

#[derive(clap::Args)]
struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    addr: String,
    /// Seed of the random walks (same seed, same prices).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Kimchi premium the Korean prices carry, percent.
    #[arg(long, default_value = "1.5")]
    premium: rust_decimal::Decimal,
    /// Synthetic coins (SIM001…) served besides BTC, ETH, XRP, SOL, DOGE.
    #[arg(long, default_value_t = 300)]
    extra_coins: usize,
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Json => fmt()
            .json()
            .with_env_filter(filter)
            .with_target(false)
            .init(),
        LogFormat::Text => fmt().with_env_filter(filter).with_target(false).init(),
    }
}

/// Resolves on Ctrl-C or SIGTERM, or when the `up` process that started this one is gone.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
        _ = up::parent_gone() => {},
    }
}

/// Installs the process-wide Prometheus recorder; its handle renders `/metrics`.
fn install_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("premium-spread: metrics disabled: {e}");
            None
        }
    }
}

fn load_settings(cli: &Cli) -> Result<Arc<Settings>, String> {
    Settings::load(cli.config.as_deref())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = std::env::var("LOG_FORMAT")
        .ok()
        .and_then(|v| {
            if v.eq_ignore_ascii_case("json") {
                Some(LogFormat::Json)
            } else {
                None
            }
        })
        .unwrap_or_default();
    init_logging(log_format);
    let result: Result<(), String> = match &cli.command {
        Command::Openapi => {
            print!("{}", api::openapi_json());
            Ok(())
        }
        Command::Api => match load_settings(&cli) {
            Ok(settings) => run_api(settings).await,
            Err(e) => Err(e),
        },
        Command::Sim(args) => run_sim(args).await,
        Command::Worker => match load_settings(&cli) {
            Ok(settings) => worker::run(settings, install_metrics(), shutdown_signal())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        Command::Up(up) => match load_settings(&cli) {
            Ok(settings) => {
                let args = up::UpArgs {
                    sim: up.sim,
                    workers: up.workers,
                    sim_addr: up.sim_addr.clone(),
                    config: cli.config.clone(),
                };
                up::run(settings, args, shutdown_signal()).await
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("premium-spread: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_api(settings: Arc<Settings>) -> Result<(), String> {
    let metrics = install_metrics();
    let state = api::AppState::connect(settings.clone(), metrics)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&settings.api_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.api_addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("API on http://{addr} (Swagger UI at http://{addr}/docs)");
    api::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn run_sim(args: &SimArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let cfg = sim::SimConfig {
        seed: args.seed,
        premium_pct: args.premium,
        extra_coins: args.extra_coins,
        ..Default::default()
    };
    println!(
        "market simulator on http://{addr} (point every venue at it with PREMIUM_SIM_URL=http://{addr})"
    );
    sim::serve(listener, cfg, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

// Dev-dependencies of the integration tests in tests/, unused by this binary's unit tests.
#[cfg(test)]
use {
    apalis as _, apalis_redis as _, cache as _, chrono as _, domain as _, keyspace as _,
    queue as _, redis as _, reqwest as _, serde_json as _, sqlx as _, store as _, ulid as _,
    venues as _,
};
