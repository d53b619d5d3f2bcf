//! How the simulator writes a JSON answer. A leaf: the venue routes, the fault wrapper, the
//! `/_sim` control API and the fake Telegram Bot API all answer through it.

use poem::{Response, http::StatusCode};
use serde_json::Value;

/// `body` as `application/json` with `status`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}

/// `body` as `application/json` with HTTP 200.
pub(crate) fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}
