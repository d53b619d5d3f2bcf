//! `premium-spread`: one binary, one subcommand per process kind.
//! `main` parses the command line, loads the settings (which choose the log format: config file
//! `log_format`, overridden by `LOG_FORMAT`), builds the part asked for and runs it until Ctrl-C
//! or SIGTERM.

mod banner;
mod up;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
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
    /// The HTTP API and the dashboard (dashboard at /, Swagger UI at /docs).
    Api,
    /// Prints the OpenAPI document (openapi/openapi.json is this output).
    Openapi,
    /// One worker replica: an apalis worker per job kind, the cron sources, the janitor and the
    /// history spool replay.
    ///
    /// Seven job kinds, one queue each: fetch-ticker, fetch-fx, compute-premium, refresh-markets,
    /// deliver-alert, maintain-history, rollup-history (deliver-alert is enqueued by alert rules,
    /// the others by the cron sources). Refreshes the market registry on start. Run more of them
    /// to scale: every replica runs the same thing.
    Worker,
    /// The offline market simulator: every venue's and FX source's API on one local port.
    ///
    /// Venues under /<venue>, a fake Telegram Bot API under /telegram, ground truth and control
    /// under /_sim (docs/simulator.md).
    Sim(SimArgs),
    /// Everything on one machine: the API, N worker processes and, with --sim, the simulator.
    ///
    /// A child that exits is restarted with backoff; one that exits 5 times within 60 s stops
    /// `up` with an error naming it. Ctrl-C stops everything.
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
    /// With --sim: every venue lists only BTC, ETH, XRP, SOL, DOGE and SIM001…SIM300, instead of
    /// the realistic universe.
    #[arg(long)]
    sim_basic: bool,
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
    /// Synthetic coins (SIM001…) served besides BTC, ETH, XRP, SOL, DOGE (with --basic).
    #[arg(long, default_value_t = 300)]
    extra_coins: usize,
    /// Every venue lists the same coins (BTC, ETH, XRP, SOL, DOGE, SIM…) instead of the
    /// realistic universe (~230 Upbit, ~400 Bithumb, ~520 Binance, ~500 Bybit, ~250 OKX markets).
    #[arg(long)]
    basic: bool,
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

fn load_settings(cli: &Cli) -> anyhow::Result<Arc<Settings>> {
    let settings = match &cli.config {
        Some(path) => Settings::load(Some(path))
            .with_context(|| format!("cannot load the settings (config file {})", path.display())),
        None => Settings::load(None).context("cannot load the settings"),
    }?;
    Ok(Arc::new(settings))
}

/// `LOG_FORMAT` for the commands that load no settings (`openapi`, `sim`); the others take
/// `log_format` from their settings (config file, then `LOG_FORMAT`).
fn log_format_from_env() -> LogFormat {
    match std::env::var("LOG_FORMAT") {
        Ok(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// The error and its causes on one line (`{:#}`), each cause once: an error whose message
/// already quotes its source (e.g. "Redis at … does not answer (…)") does not repeat it.
fn describe(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if msg.is_empty() || line.contains(&msg) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&msg);
    }
    line
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("premium-spread: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// Settings first (for the commands that use them), then logging, then the command.
async fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Openapi => {
            init_logging(log_format_from_env());
            print!("{}", api::openapi_json());
            Ok(())
        }
        Command::Sim(args) => {
            let format = log_format_from_env();
            init_logging(format);
            run_sim(args, format).await
        }
        Command::Api => {
            let settings = load_settings(cli)?;
            init_logging(settings.log_format);
            run_api(settings).await
        }
        Command::Worker => {
            let settings = load_settings(cli)?;
            init_logging(settings.log_format);
            worker::run(settings, install_metrics(), shutdown_signal())
                .await
                .context("worker failed")
        }
        Command::Up(up) => {
            let settings = load_settings(cli)?;
            init_logging(settings.log_format);
            let args = up::UpArgs {
                sim: up.sim,
                workers: up.workers,
                sim_addr: up.sim_addr.clone(),
                sim_basic: up.sim_basic,
                config: cli.config.clone(),
            };
            up::run(settings, args, shutdown_signal()).await
        }
    }
}

async fn run_api(settings: Arc<Settings>) -> anyhow::Result<()> {
    let metrics = install_metrics();
    let state = api::AppState::connect(settings.clone(), metrics)
        .await
        .context("API cannot start")?;
    let listener = tokio::net::TcpListener::bind(&settings.api_addr)
        .await
        .with_context(|| format!("cannot listen on {}", settings.api_addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the API's listening address")?;
    let line = format!(
        "API on http://{addr} (dashboard at http://{addr}/, Swagger UI at http://{addr}/docs)"
    );
    match settings.log_format {
        LogFormat::Text => eprintln!("{line}"),
        LogFormat::Json => banner::say(LogFormat::Json, &line),
    }
    api::serve(listener, state, shutdown_signal())
        .await
        .context("API server failed")
}

async fn run_sim(args: &SimArgs, format: LogFormat) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the simulator's listening address")?;
    let cfg = sim::SimConfig {
        seed: args.seed,
        premium_pct: args.premium,
        extra_coins: args.extra_coins,
        realistic: !args.basic,
        ..Default::default()
    };
    banner::say(
        format,
        &format!(
            "market simulator on http://{addr} (point every venue at it with PREMIUM_SIM_URL=http://{addr})"
        ),
    );
    sim::serve(listener, cfg, shutdown_signal())
        .await
        .context("simulator failed")
}

// Dev-dependencies of the integration tests in tests/, unused by this binary's unit tests.
#[cfg(test)]
use {
    apalis as _, apalis_redis as _, base64 as _, cache as _, chrono as _, domain as _,
    futures as _, hmac as _, keyspace as _, metrics as _, poem as _, queue as _, redis as _,
    reqwest as _, serde_json as _, sha2 as _, sqlx as _, store as _, tokio_tungstenite as _,
    ulid as _, venues as _,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that quotes its source in its own message, as `WorkerError` does.
    #[derive(Debug)]
    struct Quoting(std::io::Error);

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Redis at x does not answer ({}); start it", self.0)
        }
    }

    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_cause_chain_is_printed_on_one_line_with_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = anyhow::Error::new(Quoting(io)).context("services are not ready");
        assert_eq!(
            describe(&err),
            "services are not ready: Redis at x does not answer (refused); start it"
        );
        let err = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(describe(&err), "outer: middle: inner");
    }
}
