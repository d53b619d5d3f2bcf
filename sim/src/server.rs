//! Running the simulator: as a poem endpoint ([`app`]), on a listener until shut down
//! ([`serve`]), or in the background for tests ([`spawn`], [`SimHandle`]).

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use poem::{Endpoint, Response, Server, listener::TcpAcceptor};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{config::SimConfig, routes, state};

/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The simulator as a poem endpoint: every prefix's routes and the `/_sim` control API.
///
/// A `hang` fault served through this endpoint is released after an hour at most; [`serve`]
/// releases it at shutdown.
pub fn app(cfg: SimConfig) -> impl Endpoint<Output = Response> {
    routes::build(Arc::new(state::Sim::new(&cfg)))
}

/// Serves the simulator on `listener` until `shutdown` resolves, then drains requests in flight
/// (hanging ones are released) for up to two seconds.
pub async fn serve(
    listener: TcpListener,
    cfg: SimConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let sim = Arc::new(state::Sim::new(&cfg));
    let app = routes::build(sim.clone());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, seed = cfg.seed, "market simulator listening");
    }
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let signal = async move {
        shutdown.await;
        sim.shut_down();
    };
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, signal, Some(SHUTDOWN_GRACE))
        .await
}

/// A simulator running in the background; dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`; a venue's base URL is `{base_url}/{prefix}`.
    pub base_url: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// The base URL a client of `prefix` (one of [`crate::PREFIXES`]) should use.
    pub fn prefix_url(&self, prefix: &str) -> String {
        format!("{}/{prefix}", self.base_url)
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the simulator on `127.0.0.1:0` in the background (for tests).
pub async fn spawn(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, cfg, async move {
        let _ = stopped.await;
    }));
    Ok(SimHandle {
        base_url: format!("http://{addr}"),
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
