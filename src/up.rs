//! `premium-spread up [--sim] [--workers N]`: everything on one laptop.
//!
//! Checks that Redis and PostgreSQL answer (one clear line with the command to start them when
//! not), starts the simulator in this process when `--sim` is given (every source pointed at
//! it), then the API and N worker replicas as child processes of this same binary, and prints
//! the dashboard, Swagger UI and premiums addresses once the API answers. A child that exits is restarted after a backoff (0.5 s, doubling, at
//! most 5 s) while the others keep running; one that exits 5 times within 60 s is crash-looping
//! and stops `up` with an error naming it. Ctrl-C or SIGTERM stops the children gracefully
//! (SIGTERM, then SIGKILL after a grace period). Children never outlive this process: they are killed when it
//! drops them, and each child also exits by itself when its parent process goes away
//! (`PREMIUM_EXIT_WITH_PARENT`), which covers `kill -9` of `up`.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use settings::Settings;
use tokio::process::{Child, Command};

use crate::banner::say;

pub struct UpArgs {
    pub sim: bool,
    pub workers: usize,
    pub sim_addr: String,
    /// The simulator serves the basic coin set instead of the realistic universe.
    pub sim_basic: bool,
    pub config: Option<std::path::PathBuf>,
}

/// Environment variable that makes a child exit when its parent process is gone.
pub const EXIT_WITH_PARENT: &str = "PREMIUM_EXIT_WITH_PARENT";

/// First restart delay of a child that exited; it doubles with each further exit inside
/// [`CRASH_WINDOW`], up to [`BACKOFF_CAP`].
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// A child that exits [`CRASH_LIMIT`] times within [`CRASH_WINDOW`] is crash-looping: `up` stops.
const CRASH_LIMIT: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);
/// How often the supervisor looks at its children.
const WATCH_INTERVAL: Duration = Duration::from_millis(100);

async fn preflight(settings: &Settings) -> anyhow::Result<()> {
    worker::connect(settings)
        .await
        .context("services `up` needs are not ready")?;
    Ok(())
}

fn spawn_child(
    role: &str,
    args: &UpArgs,
    child_env: &[(&'static str, String)],
    name: &str,
) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find own executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg(role)
        .env(EXIT_WITH_PARENT, std::process::id().to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(cfg) = &args.config {
        cmd.arg("--config").arg(cfg);
    }
    cmd.envs(child_env.iter().map(|(k, v)| (k, v)));
    cmd.spawn().with_context(|| format!("cannot start {name}"))
}

/// One supervised child: the API or a worker replica.
struct Slot {
    /// `api` or `worker #N`.
    name: String,
    /// The subcommand it runs.
    role: &'static str,
    /// `None` while it waits for its restart.
    child: Option<Child>,
    /// When it exited, within the last [`CRASH_WINDOW`].
    exits: VecDeque<Instant>,
    /// Restarts so far.
    restarts: u32,
    restart_at: Option<Instant>,
}

impl Slot {
    fn new(name: String, role: &'static str, child: Child) -> Self {
        Slot {
            name,
            role,
            child: Some(child),
            exits: VecDeque::new(),
            restarts: 0,
            restart_at: None,
        }
    }
}

/// The restart delay after the `n`th exit (1-based) inside the crash window:
/// 0.5 s, 1 s, 2 s, 4 s, then 5 s.
fn backoff(n: usize) -> Duration {
    let shift = n.saturating_sub(1).min(16) as u32;
    BACKOFF_START.saturating_mul(1 << shift).min(BACKOFF_CAP)
}

/// Restarts children that exit, with backoff, until one crash-loops (the error) or spawning
/// fails. Never returns otherwise; `run` drops it when a shutdown signal arrives.
async fn supervise(
    slots: &mut [Slot],
    args: &UpArgs,
    child_env: &[(&'static str, String)],
) -> anyhow::Result<()> {
    loop {
        let now = Instant::now();
        for slot in slots.iter_mut() {
            if let Some(child) = slot.child.as_mut() {
                let status = match child.try_wait() {
                    Ok(Some(status)) => status,
                    Ok(None) => continue,
                    Err(e) => {
                        return Err(
                            anyhow::Error::new(e).context(format!("cannot check on {}", slot.name))
                        );
                    }
                };
                slot.child = None;
                slot.exits.push_back(now);
                while slot
                    .exits
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
                {
                    slot.exits.pop_front();
                }
                let n = slot.exits.len();
                if n >= CRASH_LIMIT {
                    anyhow::bail!(
                        "{} is crash-looping: it exited {n} times within {} s, the last time with {status}; stopped everything",
                        slot.name,
                        CRASH_WINDOW.as_secs()
                    );
                }
                let delay = backoff(n);
                eprintln!(
                    "up: {} exited unexpectedly ({status}); restarting it in {:.1} s ({n} exit(s) in the last {} s)",
                    slot.name,
                    delay.as_secs_f64(),
                    CRASH_WINDOW.as_secs()
                );
                slot.restart_at = Some(now + delay);
            } else if slot.restart_at.is_some_and(|t| t <= now) {
                slot.restart_at = None;
                slot.restarts += 1;
                slot.child = Some(spawn_child(slot.role, args, child_env, &slot.name)?);
                eprintln!("up: restarted {} (restart #{})", slot.name, slot.restarts);
            }
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

/// Sends SIGTERM to every running child, waits for them, and SIGKILLs those still running after
/// `grace`.
async fn stop_children(slots: &mut [Slot], grace: Duration) {
    for child in slots.iter().filter_map(|s| s.child.as_ref()) {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
    let deadline = tokio::time::Instant::now() + grace;
    for slot in slots.iter_mut() {
        let Some(child) = slot.child.as_mut() else {
            continue;
        };
        if tokio::time::timeout_at(deadline, child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop within {grace:?}; killing it", slot.name);
            let _ = child.kill().await;
        }
    }
}

/// The variable that gives the children `alerts.secret_key`.
const ALERTS_KEY_ENV: &str = "PREMIUM_ALERTS__SECRET_KEY";

/// A fresh `alerts.secret_key`: base64 of 32 bytes from the kernel's random source.
fn ephemeral_key() -> anyhow::Result<String> {
    use base64::Engine;
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("cannot read random bytes for the ephemeral alerts.secret_key")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// Whether the API answers `/health/live` within `within`.
async fn wait_for_api(addr: &str, within: Duration) -> bool {
    let url = format!("http://{addr}/health/live");
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
    else {
        return false;
    };
    let probe = async {
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(within, probe).await.is_ok()
}

pub async fn run(
    settings: Arc<Settings>,
    args: UpArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if args.workers == 0 {
        anyhow::bail!("--workers must be at least 1");
    }
    preflight(&settings).await?;

    let (sim_url, sim_stop) = if args.sim {
        let listener = tokio::net::TcpListener::bind(&args.sim_addr)
            .await
            .with_context(|| format!("cannot start the simulator on {}", args.sim_addr))?;
        let addr: SocketAddr = listener
            .local_addr()
            .context("cannot read the simulator's listening address")?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sim::serve(
            listener,
            sim::SimConfig {
                realistic: !args.sim_basic,
                ..sim::SimConfig::default()
            },
            async move {
                let _ = rx.await;
            },
        ));
        say(
            settings.log_format,
            &format!("market simulator on http://{addr}"),
        );
        (Some(format!("http://{addr}")), Some(tx))
    } else {
        (None, None)
    };

    let mut child_env: Vec<(&'static str, String)> = Vec::new();
    if let Some(url) = &sim_url {
        child_env.push(("PREMIUM_SIM_URL", url.clone()));
    }
    if args.sim && settings.alerts.secret_key.is_none() {
        // The documented webhook example needs a key; a trial run should not need a setup step.
        // Only with --sim: a real deployment's rules must outlive a restart, so it sets its own.
        child_env.push((ALERTS_KEY_ENV, ephemeral_key()?));
        say(
            settings.log_format,
            "alerts.secret_key is not set: --sim generated an ephemeral one for this run (webhook \
             rules created now cannot deliver after `up` stops; set alerts.secret_key to keep them)",
        );
    }

    let mut slots: Vec<Slot> = Vec::new();
    slots.push(Slot::new(
        "api".into(),
        "api",
        spawn_child("api", &args, &child_env, "api")?,
    ));
    for i in 1..=args.workers {
        let name = format!("worker #{i}");
        let child = spawn_child("worker", &args, &child_env, &name)?;
        slots.push(Slot::new(name, "worker", child));
    }

    // The banner once the API answers; meanwhile the children are already supervised.
    let announce = {
        let api_addr = settings.api_addr.clone();
        let workers = args.workers;
        let format = settings.log_format;
        async move {
            if wait_for_api(&api_addr, Duration::from_secs(10)).await {
                say(
                    format,
                    &format!(
                        "premium-spread is up: {workers} worker(s); dashboard at http://{api_addr}/, Swagger UI at http://{api_addr}/docs, premiums at http://{api_addr}/api/v1/premiums (Ctrl-C stops everything)"
                    ),
                );
            } else {
                eprintln!(
                    "premium-spread: the API did not answer on {api_addr} within 10 s; see its log above"
                );
            }
            std::future::pending::<()>().await
        }
    };

    // Run until a signal, or until a child crash-loops (that is an error).
    let failed = {
        let watch = supervise(&mut slots, &args, &child_env);
        tokio::select! {
            biased;
            _ = shutdown => None,
            r = watch => r.err(),
            _ = announce => None,
        }
    };
    say(settings.log_format, "stopping…");
    let grace = Duration::from_millis(settings.worker.shutdown_timeout_ms + 2_000);
    stop_children(&mut slots, grace).await;
    if let Some(tx) = sim_stop {
        let _ = tx.send(());
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// In a child started by `up`: resolves when the parent process has gone away.
pub async fn parent_gone() {
    let Ok(expected) = std::env::var(EXIT_WITH_PARENT) else {
        return std::future::pending().await;
    };
    let Ok(expected) = expected.parse::<u32>() else {
        return std::future::pending().await;
    };
    loop {
        if std::os::unix::process::parent_id() != expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ephemeral_alerts_key_is_a_valid_secret_key_and_differs_each_time() {
        let (a, b) = (ephemeral_key().unwrap(), ephemeral_key().unwrap());
        assert_ne!(a, b);
        let alerts = settings::AlertSettings {
            secret_key: Some(settings::Secret::new(a)),
            ..Default::default()
        };
        assert!(alerts.key().is_some());
    }

    #[test]
    fn restart_delays_double_from_half_a_second_up_to_5_s() {
        let delays: Vec<u64> = (1..=7).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
        assert_eq!(backoff(usize::MAX), BACKOFF_CAP);
    }
}
