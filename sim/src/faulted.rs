//! The endpoint wrapper that counts each prefix's requests and applies its faults
//! ([`crate::faults::FaultSpec`]).
//!
//! Order of checks per request: `outage` (503 at once), `hang` (no answer until the simulator
//! shuts down, at most an hour), `latency_ms`, `rate_limit_retry_after` (429 + `Retry-After`),
//! `error_rate` (`status`, default 503), `http_error_body` (the venue's HTTP-200 error body);
//! then the normal handler runs, with `zero_price` applied to its prices, and `malformed`
//! truncates its body. Under `freeze` the handler runs once per path and query: its first answer
//! is kept and replayed, byte for byte, until the freeze is lifted. A real refused connection is not possible from inside a poem handler, so
//! `outage` is an instant 503.

use std::{sync::Arc, time::Duration};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{StatusCode, header},
};

use crate::{
    faults::{FaultSpec, Snapshot},
    prefix::{ErrorBodies, Prefix},
    reply::json_response,
    state::Sim,
};

/// The longest a `hang` holds a request when the simulator is not shut down.
const MAX_HANG: Duration = Duration::from_secs(3600);

/// Wraps one prefix's routes: counts requests and applies that prefix's faults.
pub(crate) struct Faulted<E> {
    pub prefix: Prefix,
    pub inner: E,
    pub sim: Arc<Sim>,
}

impl<E: Endpoint> Endpoint for Faulted<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        self.sim.record(self.prefix, req.original_uri().path());
        let Some(fault) = self.sim.fault(self.prefix) else {
            return Ok(self.inner.get_response(req).await);
        };
        if let Some(resp) = self.intercept(&fault).await {
            self.sim.record_fault(self.prefix);
            return Ok(resp);
        }
        let resp = if fault.freeze {
            self.sim.record_fault(self.prefix);
            self.frozen(req).await
        } else {
            self.inner.get_response(req).await
        };
        if fault.malformed {
            self.sim.record_fault(self.prefix);
            return Ok(garble(resp).await);
        }
        Ok(resp)
    }
}

impl<E: Endpoint> Faulted<E> {
    /// The answer kept for this path and query since the freeze began (the handler's answer
    /// now, when none was kept yet).
    async fn frozen(&self, req: Request) -> Response {
        let uri = req
            .original_uri()
            .path_and_query()
            .map_or_else(String::new, |pq| pq.as_str().to_string());
        let snapshot = match self.sim.frozen(self.prefix, &uri) {
            Some(s) => s,
            None => {
                let (parts, body) = self.inner.get_response(req).await.into_parts();
                let body = body.into_vec().await.unwrap_or_default();
                let kept = Snapshot {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                };
                self.sim.freeze(self.prefix, &uri, kept)
            }
        };
        let mut resp = Response::builder()
            .status(snapshot.status)
            .body(snapshot.body);
        *resp.headers_mut() = snapshot.headers;
        resp
    }
}

impl<E> Faulted<E> {
    /// The fault's answer in place of the venue's, if a fault takes the request.
    async fn intercept(&self, f: &FaultSpec) -> Option<Response> {
        if f.outage {
            return Some(self.error(StatusCode::SERVICE_UNAVAILABLE));
        }
        if f.hang {
            tokio::select! {
                _ = self.sim.until_shutdown() => {}
                _ = tokio::time::sleep(MAX_HANG) => {}
            }
            return Some(self.error(StatusCode::SERVICE_UNAVAILABLE));
        }
        if f.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
        }
        if let Some(secs) = f.rate_limit_retry_after {
            let mut resp = self.error(StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().ok()?);
            return Some(resp);
        }
        if self.sim.roll(f.error_rate) {
            let status = f
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(self.error(status));
        }
        if f.http_error_body {
            return Some(json_response(StatusCode::OK, &self.prefix.ok_error_body()));
        }
        None
    }

    fn error(&self, status: StatusCode) -> Response {
        json_response(status, &self.prefix.status_body(status))
    }
}

/// Keeps the status and headers, cuts the body in half and appends an HTML error page, as a
/// proxy dying mid-response would.
async fn garble(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    cut.extend_from_slice(b"<html><body>502 Bad Gateway");
    let mut resp = Response::from_parts(parts, cut.into());
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp.into_response()
}
