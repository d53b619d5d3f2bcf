//! A replica's own `/metrics` (Prometheus text), when `worker.metrics_addr` is set: the
//! per-venue fetch counters and latencies and the job counters live in each worker process.

use std::future::Future;

use metrics_exporter_prometheus::PrometheusHandle;
use poem::{EndpointExt, Route, Server, get, handler, listener::TcpListener, web::Data};

#[handler]
fn render(Data(handle): Data<&PrometheusHandle>) -> String {
    handle.run_upkeep();
    handle.render()
}

pub async fn serve(
    addr: String,
    handle: PrometheusHandle,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let app = Route::new().at("/metrics", get(render)).data(handle);
    Server::new(TcpListener::bind(addr))
        .run_with_graceful_shutdown(app, shutdown, None)
        .await
}
