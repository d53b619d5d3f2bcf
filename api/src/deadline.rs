//! The deadline every Redis and PostgreSQL call runs under: a dead dependency is a 503
//! `unavailable` answer naming it, never a hang.

use std::{fmt, future::Future, time::Duration};

use crate::error::{ApiError, ErrorCode};

/// Longest any single Redis or PostgreSQL call may take before the request answers 503: a dead
/// dependency must show within a second, not as a hang.
pub const IO_TIMEOUT: Duration = Duration::from_millis(800);

/// The dependency a call went to, for the 503 message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    Redis,
    Postgres,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Redis => "Redis",
            Service::Postgres => "PostgreSQL",
        })
    }
}

/// Runs `fut` under [`IO_TIMEOUT`]; an overrun is a 503 `unavailable`. The inner result is left
/// to the caller (for errors that mean something, like "not found").
pub(crate) async fn timed<T>(
    service: Service,
    fut: impl Future<Output = T>,
) -> Result<T, ApiError> {
    tokio::time::timeout(IO_TIMEOUT, fut).await.map_err(|_| {
        tracing::warn!(%service, "call timed out");
        ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "{service} did not answer within {} ms; try again shortly",
                IO_TIMEOUT.as_millis()
            ),
        )
    })
}

/// Runs `fut` under [`IO_TIMEOUT`]; an overrun or an error is a 503 `unavailable`.
pub(crate) async fn io<T, E: fmt::Display>(
    service: Service,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    timed(service, fut)
        .await?
        .map_err(|e| unavailable(service, e))
}

/// A failed call to a dependency as a 503.
pub(crate) fn unavailable(service: Service, e: impl fmt::Display) -> ApiError {
    tracing::warn!(%service, error = %e, "call failed");
    ApiError::new(
        ErrorCode::Unavailable,
        format!("{service} is unavailable: {e}"),
    )
}
