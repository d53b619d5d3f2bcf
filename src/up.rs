//! `premium-spread up [--sim] [--workers N]`: everything on one laptop.
//!
//! Checks that Redis and PostgreSQL answer (one clear line with the command to start them when
//! not), starts the simulator in this process when `--sim` is given (every source pointed at
//! it), then the API and N worker replicas as child processes of this same binary, and prints
//! the Swagger UI address. Ctrl-C or SIGTERM stops the children gracefully (SIGTERM, then
//! SIGKILL after a grace period). Children never outlive this process: they are killed when it
//! drops them, and each child also exits by itself when its parent process goes away
//! (`PREMIUM_EXIT_WITH_PARENT`), which covers `kill -9` of `up`.

use std::{net::SocketAddr, process::Stdio, sync::Arc, time::Duration};

use anyhow::Context;
use settings::Settings;
use tokio::process::{Child, Command};

pub struct UpArgs {
    pub sim: bool,
    pub workers: usize,
    pub sim_addr: String,
    pub config: Option<std::path::PathBuf>,
}

/// Environment variable that makes a child exit when its parent process is gone.
pub const EXIT_WITH_PARENT: &str = "PREMIUM_EXIT_WITH_PARENT";

async fn preflight(settings: &Settings) -> anyhow::Result<()> {
    worker::connect(settings)
        .await
        .context("services `up` needs are not ready")?;
    Ok(())
}

fn spawn_child(
    role: &str,
    args: &UpArgs,
    sim_url: Option<&str>,
    index: usize,
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
    if let Some(url) = sim_url {
        cmd.env("PREMIUM_SIM_URL", url);
    }
    cmd.spawn()
        .with_context(|| format!("cannot start {role} #{index}"))
}

/// Sends SIGTERM to every child, waits for them, and SIGKILLs those still running after `grace`.
async fn stop_children(children: &mut [(String, Child)], grace: Duration) {
    for (_, child) in children.iter() {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
    let deadline = tokio::time::Instant::now() + grace;
    for (name, child) in children.iter_mut() {
        if tokio::time::timeout_at(deadline, child.wait())
            .await
            .is_err()
        {
            eprintln!("{name} did not stop within {grace:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

async fn wait_for_api(addr: &str) -> bool {
    let url = format!("http://{addr}/health/live");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("http client");
    for _ in 0..100 {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
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
            sim::SimConfig::default(),
            async move {
                let _ = rx.await;
            },
        ));
        println!("market simulator on http://{addr}");
        (Some(format!("http://{addr}")), Some(tx))
    } else {
        (None, None)
    };

    let mut children: Vec<(String, Child)> = Vec::new();
    children.push((
        "api".into(),
        spawn_child("api", &args, sim_url.as_deref(), 0)?,
    ));
    for i in 0..args.workers {
        children.push((
            format!("worker #{}", i + 1),
            spawn_child("worker", &args, sim_url.as_deref(), i + 1)?,
        ));
    }
    if wait_for_api(&settings.api_addr).await {
        println!(
            "premium-spread is up: {} worker(s); Swagger UI at http://{}/docs, premiums at http://{}/api/v1/premiums (Ctrl-C stops everything)",
            args.workers, settings.api_addr, settings.api_addr
        );
    } else {
        eprintln!(
            "premium-spread: the API did not answer on {} within 10 s; see its log above",
            settings.api_addr
        );
    }

    // Run until a signal, or until a child exits by itself (that is an error).
    let exited = {
        let watch = async {
            loop {
                for (name, child) in children.iter_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Some((name.clone(), status));
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            _ = shutdown => None,
            e = watch => e,
        }
    };
    println!("stopping…");
    let grace = Duration::from_millis(settings.worker.shutdown_timeout_ms + 2_000);
    stop_children(&mut children, grace).await;
    if let Some(tx) = sim_stop {
        let _ = tx.send(());
    }
    match exited {
        Some((name, status)) => Err(anyhow::anyhow!(
            "{name} exited unexpectedly ({status}); stopped the rest"
        )),
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
