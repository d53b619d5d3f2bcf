//! The one error body of the API, `{code, message}`, and the handler that gives poem-openapi's
//! own rejections (bad parameters, bad bodies, missing bearer token, unknown routes) the same
//! shape.

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{ApiResponse, Enum, Object, payload::Json};

use crate::views::premium::SkipView;

/// What went wrong, stable for clients to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A parameter or the body is invalid; the message names it.
    BadRequest,
    /// The admin bearer token is missing or wrong, or `ADMIN_TOKEN` is not set on the server.
    Unauthorized,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The coin is not tracked; the message lists the tracked ones.
    UnknownCoin,
    /// The venue is unknown or not enabled; the message lists the enabled ones.
    UnknownVenue,
    /// The venue pair is not configured; the message lists the configured ones.
    UnknownPair,
    /// Not a job kind (fetch-ticker, fetch-fx, compute-premium).
    UnknownJobKind,
    JobNotFound,
    PositionNotFound,
    AlertNotFound,
    /// No current premium for the coin and pair; `skip` says why when the worker recorded it.
    PremiumUnavailable,
    /// No current ticker for the venue and coin.
    TickerUnavailable,
    /// Only failed or dead jobs can be retried.
    JobNotRetryable,
    PositionAlreadyClosed,
    /// The request conflicts with an earlier one (an `Idempotency-Key` reused with a different
    /// request).
    Conflict,
    /// Redis or PostgreSQL did not answer in time; retry shortly.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BadRequest => StatusCode::BAD_REQUEST,
            Unauthorized => StatusCode::UNAUTHORIZED,
            NotFound | UnknownCoin | UnknownVenue | UnknownPair | UnknownJobKind | JobNotFound
            | PositionNotFound | AlertNotFound | PremiumUnavailable | TickerUnavailable => {
                StatusCode::NOT_FOUND
            }
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            JobNotRetryable | PositionAlreadyClosed | Conflict => StatusCode::CONFLICT,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Every error answer.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// For people: what was wrong and what is accepted.
    pub message: String,
    /// With `premium_unavailable`: why the worker could not compute the premium.
    #[oai(skip_serializing_if_is_none)]
    pub skip: Option<Box<SkipView>>,
}

/// The error half of every operation's result.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// A parameter or the body is invalid (`bad_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Admin operations: missing or wrong bearer token, or `ADMIN_TOKEN` not set
    /// (`unauthorized`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Unknown coin, venue, pair, job kind, job, position or alert, or no current value.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The resource is not in a state that allows this (`job_not_retryable`,
    /// `position_already_closed`), or an `Idempotency-Key` was reused with a different request
    /// (`conflict`).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// Redis or PostgreSQL did not answer within 800 ms (`unavailable`).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_body(ErrorBody {
            code,
            message: message.into(),
            skip: None,
        })
    }

    pub fn with_body(body: ErrorBody) -> Self {
        let json = Json(body);
        match json.0.code.status() {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(json),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(json),
            StatusCode::NOT_FOUND => ApiError::NotFound(json),
            StatusCode::CONFLICT => ApiError::Conflict(json),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(json),
            _ => ApiError::Internal(json),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b) => &b.0,
        }
    }
}

/// What admin operations answer when the server has no token configured.
pub const ADMIN_DISABLED: &str =
    "ADMIN_TOKEN is not set on the server: admin operations are disabled until it is configured";

/// Turns any error that reached the top of the app into JSON `{code, message}`. Errors that are
/// already [`ApiError`] answers pass through unchanged.
pub(crate) async fn render(err: poem::Error, admin_configured: bool) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED if admin_configured => (
            ErrorCode::Unauthorized,
            "missing bearer token: send `Authorization: Bearer <ADMIN_TOKEN>`".to_string(),
        ),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthorized, ADMIN_DISABLED.to_string()),
        StatusCode::NOT_FOUND => (
            ErrorCode::NotFound,
            "no such route: the API is under /api/v1 (see /docs)".to_string(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route (see /docs)".to_string(),
        ),
        s if s.is_client_error() => (ErrorCode::BadRequest, err.to_string()),
        _ => {
            tracing::error!(error = %err, "request failed");
            (ErrorCode::Internal, "internal error".to_string())
        }
    };
    let mut resp = ApiError::new(code, message).into_response();
    // Keep the original status (405, 413, …) where it is more precise than the variant's; a
    // body in the wrong content type is an invalid request like any other (400, documented).
    if status != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        resp.set_status(status);
    }
    resp
}
