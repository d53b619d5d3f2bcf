//! premium-spread's HTTP API: poem + poem-openapi over the Redis hot cache ("now"), PostgreSQL
//! (history, positions) and the apalis job queue (manual triggers, job records).
//!
//! Layout: [`state`] holds the connections every handler shares ([`AppState`]) and the
//! 800 ms deadline every Redis and PostgreSQL call runs under (a dead dependency is a 503 JSON
//! answer, never a hang); [`error`] is the one error body `{code, message}` and the handler that
//! turns poem-openapi's own rejections into it; [`types`] are the wire types (decimals and times
//! as strings); [`auth`] checks the admin bearer token in constant time; [`routes`] has one
//! module per resource: premiums, market data (tickers, FX), jobs, positions, alerts, and ops (health,
//! readiness, Prometheus metrics); `streams` is the one Redis subscription per process that
//! feeds every premium stream through a bounded broadcast; `table` is the premium table served
//! by `GET /api/v1/premiums`, serialized once per tick, precompressed, with its ETag;
//! `dashboard` is the live page at `/` (embedded HTML, script, style and uPlot) over that API.
//!
//! [`api_service`] is the single source of the routes: the HTTP app ([`app`], [`serve`]), the
//! `openapi` command ([`openapi_json`]) and the tests all build it.

pub mod auth;
mod dashboard;
pub mod error;
pub mod routes;
pub mod state;
mod streams;
mod table;
pub mod types;

use std::{future::Future, time::Duration};

use poem::{Endpoint, EndpointExt, IntoEndpoint, Route, Server, listener::TcpAcceptor};
use poem_openapi::{OpenApiService, ServerObject};

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use state::{ApiStartError, AppState};

/// Every operation of the API, grouped by resource.
pub type Apis = (
    routes::premiums::PremiumsApi,
    routes::market::MarketApi,
    routes::markets::MarketsApi,
    routes::jobs::JobsApi,
    routes::positions::PositionsApi,
    routes::alerts::AlertsApi,
    routes::ops::OpsApi,
);

/// The OpenAPI service: operations and their document. Handlers take their state from request
/// data, so the document can be built without any connection.
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            routes::premiums::PremiumsApi,
            routes::market::MarketApi,
            routes::markets::MarketsApi,
            routes::jobs::JobsApi,
            routes::positions::PositionsApi,
            routes::alerts::AlertsApi,
            routes::ops::OpsApi,
        ),
        "premium-spread",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The Korean \"kimchi premium\" of every tracked coin, second by second: current premiums \
         and tickers from the Redis hot cache, OHLC history from PostgreSQL, the job queue that \
         produces them, and hedged positions with live PnL. Decimals are JSON strings; times are \
         RFC 3339 UTC; errors are `{code, message}`. Admin operations need \
         `Authorization: Bearer <ADMIN_TOKEN>`.",
    )
    // Relative, so the document is the same on every machine and Swagger UI calls the host
    // that served it.
    .server(ServerObject::new("/").description("the server that serves this document"))
}

/// The OpenAPI document as committed in `openapi/openapi.json` (pretty JSON, trailing newline).
pub fn openapi_json() -> String {
    let mut doc = api_service().spec();
    doc.push('\n');
    doc
}

/// The whole HTTP application: `/api/v1/…`, `/health/*`, `/metrics` (all in the OpenAPI
/// document), `/docs` (Swagger UI), `/openapi.json`, and the dashboard (`/`, `/assets/…`). Every error, including poem-openapi's
/// own parameter and body rejections and unknown routes, is JSON `{code, message}`.
pub fn app(state: AppState) -> impl Endpoint {
    let service = api_service();
    let admin_configured = state.settings.admin_token.is_some();
    let allow = std::sync::Arc::new(AllowTable::from_spec(&service.spec()));
    let docs = service.swagger_ui();
    let spec = service.spec_endpoint();
    // The operations live under these three prefixes. Nesting the service at `/` instead would
    // take `/` itself (poem's root nest owns the empty path), which is the dashboard's.
    let operations = std::sync::Arc::new(service.into_endpoint());
    Route::new()
        .at("/", poem::get(dashboard::index))
        .at("/assets/:name", poem::get(dashboard::asset))
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .nest_no_strip("/api", operations.clone())
        .nest_no_strip("/health", operations.clone())
        .at("/metrics", operations)
        .data(state)
        .catch_all_error(move |err| error::render(err, admin_configured))
        .around(move |ep, req| {
            let allow = allow.clone();
            async move {
                let path = req.uri().path().to_string();
                let mut resp = ep.get_response(req).await;
                // RFC 9110: a 405 names the methods the resource supports.
                if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
                    && let Some(methods) = allow.methods(&path)
                    && let Ok(v) = poem::http::HeaderValue::from_str(&methods)
                {
                    resp.headers_mut().insert(poem::http::header::ALLOW, v);
                }
                Ok(resp)
            }
        })
}

/// The methods of every path template of the OpenAPI document, for the `Allow` header.
struct AllowTable(Vec<(Vec<String>, String)>);

impl AllowTable {
    fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut rows = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, ops) in paths {
                let segments = template.split('/').map(str::to_string).collect();
                let methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                rows.push((segments, methods.join(", ")));
            }
        }
        AllowTable(rows)
    }

    /// Literal segments win over `{param}` ones (`/jobs/stats` before `/jobs/{id}`).
    fn methods(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| s == p || (s.starts_with('{') && !p.is_empty()))
            })
            .min_by_key(|(segs, _)| segs.iter().filter(|s| s.starts_with('{')).count())
            .map(|(_, m)| m.clone())
    }
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then ends the premium streams (and
/// their Redis subscription) and lets other open requests finish (up to 5 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let streams = state.streams.clone();
    let shutdown = async move {
        shutdown.await;
        streams.stop();
    };
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app(state.clone()), shutdown, Some(Duration::from_secs(5)))
        .await;
    state.streams.stop();
    served
}

// Dev-dependencies of the integration tests in tests/, unused by this crate's unit tests.
#[cfg(test)]
use {reqwest as _, sqlx as _, ulid as _};
