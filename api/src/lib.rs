//! premium-spread's HTTP API: poem + poem-openapi over the Redis hot cache ("now"), PostgreSQL
//! (history, positions) and the apalis job queue (manual triggers, job records).
//!
//! Layout, lower layers first (a module only uses modules above it in this list):
//! - [`wire`]: the wire types (decimals and times as JSON strings, the enums clients see);
//! - [`views`]: the answers shared beyond one route: a premium and its skip reason, a premium
//!   stream's events, a history answer;
//! - [`error`]: the one error body `{code, message}` and the handler that turns poem-openapi's
//!   own rejections into it;
//! - [`json_bytes`]: an answer already serialized, documented as its schema type;
//! - `encoding`: the content codings (br, gzip) negotiated from `Accept-Encoding`, and the
//!   compression; `etag`: `If-None-Match` against an answer's `ETag`;
//! - `deadline`: the deadline every Redis and PostgreSQL call runs under
//!   ([`state::IO_TIMEOUT`]: a dead dependency is a 503 JSON answer, never a hang);
//! - `tracked`: the market registry in force, and the coins, venues and pairs of a request
//!   parsed against it and the settings;
//! - `history_json`: a history answer written bucket by bucket as PostgreSQL sends the rows;
//! - `table`: the premium table served by `GET /api/v1/premiums`, serialized once per tick,
//!   precompressed, with its ETag;
//! - `streams`: the one Redis subscription per process that feeds every premium stream through
//!   a bounded broadcast;
//! - [`state`]: the connections every handler shares ([`AppState`]);
//! - [`auth`]: the admin bearer token, checked in constant time;
//! - `jobs_snapshot`: the job system read from Redis at one moment (job stats, readiness,
//!   `/metrics`);
//! - [`routes`]: the operations, one module per resource (premiums, quotes, markets, jobs,
//!   positions, alerts, ops) and the tags that group them;
//! - `dashboard`: the live page at `/` (embedded HTML, script, style and uPlot) over that API;
//! - `allow`: the `Allow` header of 405 answers, from the OpenAPI document.
//!
//! [`api_service`] is the single source of the routes: the HTTP app ([`app`], [`serve`]), the
//! `openapi` command ([`openapi_json`]) and the tests all build it.

mod allow;
pub mod auth;
mod dashboard;
mod deadline;
mod encoding;
pub mod error;
mod etag;
mod history_json;
mod jobs_snapshot;
pub mod json_bytes;
pub mod routes;
pub mod state;
mod streams;
mod table;
mod tracked;
pub mod views;
pub mod wire;

use std::{future::Future, time::Duration};

use poem::{Endpoint, EndpointExt, IntoEndpoint, Route, Server, listener::TcpAcceptor};
use poem_openapi::{OpenApiService, ServerObject};

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use state::{ApiStartError, AppState};

/// Every operation of the API, grouped by resource.
pub type Apis = (
    routes::premiums::PremiumsApi,
    routes::quotes::QuotesApi,
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
            routes::quotes::QuotesApi,
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
    let allow = std::sync::Arc::new(allow::AllowTable::from_spec(&service.spec()));
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
