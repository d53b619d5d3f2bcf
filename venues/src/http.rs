//! The one HTTP path every client goes through: a shared `reqwest::Client` builder, one GET
//! helper that turns statuses, headers and transport failures into [`FetchError`]s, and the
//! hook through which each venue recognises its own error bodies.

use std::{error::Error as _, time::Duration};

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::{ClientConfig, FetchError};

/// Bybit answers HTTP 403 "access too frequent" when the IP limit is hit and asks for at least
/// ten minutes of quiet.
pub(crate) const BYBIT_403_WAIT: Duration = Duration::from_secs(600);

const FALLBACK_USER_AGENT: &str = concat!("premium-spread/", env!("CARGO_PKG_VERSION"));

/// Builds the `reqwest::Client` every venue and FX client uses: `cfg.timeout` as both the
/// total and the connect timeout, `cfg.user_agent` as the `User-Agent` header.
pub fn build_http_client(cfg: &ClientConfig) -> reqwest::Client {
    let user_agent = header::HeaderValue::from_str(&cfg.user_agent).unwrap_or_else(|_| {
        tracing::warn!(
            user_agent = %cfg.user_agent,
            "user agent is not a valid header value, using {FALLBACK_USER_AGENT}"
        );
        header::HeaderValue::from_static(FALLBACK_USER_AGENT)
    });
    reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .user_agent(user_agent)
        .build()
        // Only fails when the TLS backend cannot initialise, which is a build problem, not a
        // runtime condition a caller could handle.
        .expect("reqwest client with rustls must build")
}

/// A venue's own error body, recognised by [`Endpoint::api_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: String,
    pub message: String,
    /// Rate-limit and other transient codes.
    pub retryable: bool,
}

impl ApiError {
    pub fn new(code: impl ToString, message: impl ToString, retryable: bool) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.to_string(),
            retryable,
        }
    }
}

/// One venue's (or FX source's) base URL and HTTP conventions.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub name: &'static str,
    base_url: String,
    client: reqwest::Client,
    /// Recognises the venue's error body (on any status). `None` for a normal body.
    api_error: fn(&[u8]) -> Option<ApiError>,
    /// Bybit: HTTP 403 means "access too frequent", not "forbidden".
    forbidden_is_rate_limit: bool,
}

impl Endpoint {
    pub fn new(
        name: &'static str,
        cfg: &ClientConfig,
        api_error: fn(&[u8]) -> Option<ApiError>,
    ) -> Self {
        Endpoint {
            name,
            base_url: cfg.base_url.trim_end_matches('/').to_string(),
            client: build_http_client(cfg),
            api_error,
            forbidden_is_rate_limit: false,
        }
    }

    pub fn forbidden_is_rate_limit(mut self) -> Self {
        self.forbidden_is_rate_limit = true;
        self
    }

    /// GETs `path?query` and returns the body of a successful, error-free response.
    ///
    /// `query` is written as is (callers build it from validated coin symbols), so commas in
    /// `markets=KRW-BTC,KRW-ETH` stay literal as the venues document them.
    pub async fn get(&self, path: &str, query: &str) -> Result<Vec<u8>, FetchError> {
        let url = if query.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{path}?{query}", self.base_url)
        };
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.transport_error(path, e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(path, e))?
            .to_vec();
        self.check(path, status, retry_after, body)
    }

    fn check(
        &self,
        path: &str,
        status: StatusCode,
        retry_after: Option<Duration>,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, FetchError> {
        let api = (self.api_error)(&body);
        let rate_limited = |retry_after| FetchError::RateLimited {
            venue: self.name.to_string(),
            path: path.to_string(),
            status: status.as_u16(),
            retry_after,
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
            return Err(rate_limited(retry_after));
        }
        if status == StatusCode::FORBIDDEN && self.forbidden_is_rate_limit {
            return Err(rate_limited(retry_after.or(Some(BYBIT_403_WAIT))));
        }
        let detail = || match &api {
            Some(a) => format!("{}: {}", a.code, a.message),
            None => snippet(&body),
        };
        if status.is_server_error() {
            return Err(FetchError::Server {
                venue: self.name.to_string(),
                path: path.to_string(),
                status: status.as_u16(),
                detail: detail(),
            });
        }
        if !status.is_success() {
            // A rate-limit code on another 4xx (Binance -1003) is still a rate limit.
            if api.as_ref().is_some_and(|a| a.retryable) {
                return Err(rate_limited(retry_after));
            }
            return Err(FetchError::Client {
                venue: self.name.to_string(),
                path: path.to_string(),
                status: status.as_u16(),
                detail: detail(),
            });
        }
        match api {
            Some(a) => Err(FetchError::Api {
                venue: self.name.to_string(),
                code: a.code,
                message: a.message,
                retryable: a.retryable,
            }),
            None => Ok(body),
        }
    }

    fn transport_error(&self, path: &str, e: reqwest::Error) -> FetchError {
        let venue = self.name.to_string();
        let path = path.to_string();
        if e.is_timeout() {
            return FetchError::Timeout { venue, path };
        }
        // `without_url` keeps the query string out of the message.
        let e = e.without_url();
        let mut detail = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Connect {
            venue,
            path,
            detail,
        }
    }

    /// Parses a body as `T`; a shape mismatch is [`FetchError::Malformed`].
    pub fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, FetchError> {
        serde_json::from_slice(body).map_err(|e| FetchError::malformed(self.name, e))
    }
}

/// `Retry-After` as delay seconds or as an HTTP-date.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The start of a body for an error message: error pages can be long.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_string();
    }
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn snippets_are_bounded() {
        assert_eq!(snippet(b"  "), "empty body");
        assert_eq!(snippet(&[b'x'; 500]).chars().count(), 161);
    }

    fn no_api_error(_: &[u8]) -> Option<ApiError> {
        None
    }

    #[test]
    fn trailing_slashes_are_stripped_from_the_base_url() {
        let cfg = ClientConfig::new("http://127.0.0.1:9/upbit//");
        let ep = Endpoint::new("upbit", &cfg, no_api_error);
        assert_eq!(ep.base_url, "http://127.0.0.1:9/upbit");
    }
}
