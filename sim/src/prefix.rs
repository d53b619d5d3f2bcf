//! The URL prefixes the simulator answers under (one per row of [`domain::venue::UPSTREAMS`]),
//! and each one's error bodies.

use domain::{FxSource, Venue};
use poem::http::StatusCode;
use serde_json::{Value, json};

/// One served upstream: an exchange or an FX provider; its prefix is its name.
pub(crate) use domain::venue::Upstream as Prefix;

/// The URL prefixes served: the five venues, then the three FX sources (the names of
/// [`domain::venue::UPSTREAMS`], in its order).
pub const PREFIXES: [&str; domain::venue::UPSTREAMS.len()] = domain::venue::Upstream::NAMES;

/// The prefix named `s` (any case, surrounding spaces ignored).
pub(crate) fn parse(s: &str) -> Result<Prefix, String> {
    Prefix::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            format!(
                "unknown prefix `{s}`: expected one of {}",
                PREFIXES.join(", ")
            )
        })
}

/// The upstream's own error bodies.
pub(crate) trait ErrorBodies {
    /// The body sent with a simulated non-2xx status, in the upstream's own error shape.
    fn status_body(self, status: StatusCode) -> Value;
    /// The upstream's "HTTP 200 but failed" body (`http_error_body` fault).
    fn ok_error_body(self) -> Value;
}

impl ErrorBodies for Prefix {
    fn status_body(self, status: StatusCode) -> Value {
        let limited = status == StatusCode::TOO_MANY_REQUESTS;
        let reason = status.canonical_reason().unwrap_or("error");
        match self {
            Prefix::Venue(Venue::Bithumb | Venue::Upbit) => {
                let name = if limited { "too_many_requests" } else { reason };
                json!({"error": {"name": name, "message": format!("simulated {status}")}})
            }
            Prefix::Venue(Venue::Binance) if limited => json!({
                "code": -1003,
                "msg": "Too many requests; current limit of IP is 2400 requests per minute."
            }),
            Prefix::Venue(Venue::Binance) => json!({
                "code": -1001,
                "msg": "Internal error; unable to process your request. Please try again."
            }),
            Prefix::Venue(Venue::Bybit) if limited => bybit_error(10006, "Too many visits!"),
            Prefix::Venue(Venue::Bybit) => bybit_error(10016, "Internal server error."),
            Prefix::Venue(Venue::Okx) if limited => okx_error("50011", "Too Many Requests"),
            Prefix::Venue(Venue::Okx) => okx_error(
                "50001",
                "Service temporarily unavailable. Please try again later",
            ),
            Prefix::Fx(FxSource::Erapi) => {
                let kind = if limited {
                    "rate-limited"
                } else {
                    "server-error"
                };
                json!({"result": "error", "error-type": kind})
            }
            Prefix::Fx(FxSource::Dunamu | FxSource::Frankfurter) => {
                json!({"message": format!("simulated {status}")})
            }
        }
    }

    fn ok_error_body(self) -> Value {
        match self {
            Prefix::Venue(Venue::Bithumb) => {
                json!({"status": "5600", "message": "잠시 후 다시 이용해 주십시오."})
            }
            // Upbit and Binance have no HTTP-200 error; their error bodies are sent with 200.
            Prefix::Venue(Venue::Upbit) => {
                json!({"error": {"name": "server_error", "message": "simulated error body"}})
            }
            Prefix::Venue(Venue::Binance) => {
                json!({"code": -1003, "msg": "Too many requests."})
            }
            Prefix::Venue(Venue::Bybit) => bybit_error(10006, "Too many visits!"),
            Prefix::Venue(Venue::Okx) => okx_error("50011", "Too Many Requests"),
            Prefix::Fx(FxSource::Erapi) => {
                json!({"result": "error", "error-type": "quota-reached"})
            }
            // Dunamu answers an empty list for codes it does not know.
            Prefix::Fx(FxSource::Dunamu) => json!([]),
            Prefix::Fx(FxSource::Frankfurter) => json!({"message": "not found"}),
        }
    }
}

pub(crate) fn bybit_error(code: i64, msg: &str) -> Value {
    json!({
        "retCode": code,
        "retMsg": msg,
        "result": {},
        "retExtInfo": {},
        "time": chrono::Utc::now().timestamp_millis()
    })
}

pub(crate) fn okx_error(code: &str, msg: &str) -> Value {
    json!({"code": code, "msg": msg, "data": []})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_the_public_list() {
        let names: Vec<&str> = Prefix::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, PREFIXES);
        for name in PREFIXES {
            assert_eq!(parse(name).unwrap().as_str(), name);
        }
        assert!(parse("kraken").is_err());
    }
}
