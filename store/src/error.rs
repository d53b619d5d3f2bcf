//! What can go wrong in the store ([`StoreError`]) and which failures pass
//! ([`is_transient`]): the worker's history spool keeps and retries a batch only then.

/// sqlx's error type (for callers that build a [`StoreError::Db`]).
pub use sqlx::Error as SqlxError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Invalid(String),
}

/// Whether PostgreSQL failed to take a write for a reason that passes (unreachable, shutting
/// down, out of resources, a timeout) rather than refusing the rows themselves. A transient
/// failure is worth spooling and retrying; a refusal is not (it would refuse them again).
pub fn is_transient(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => d.code().is_some_and(|c| {
            // 08 connection exception, 53 insufficient resources, 57 operator intervention
            // (statement timeout, shutdown, starting up), 40 rollback (serialization, deadlock).
            ["08", "53", "57", "40"]
                .iter()
                .any(|class| c.starts_with(class))
        }),
        StoreError::Db(e) => matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        StoreError::Migrate(_) | StoreError::Invalid(_) => false,
    }
}

#[cfg(test)]
mod spool_tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_transient_and_a_refused_row_is_not() {
        assert!(is_transient(&StoreError::Db(sqlx::Error::PoolTimedOut)));
        assert!(is_transient(&StoreError::Db(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        ))));
        assert!(!is_transient(&StoreError::Invalid("bad".into())));
        assert!(!is_transient(&StoreError::Db(sqlx::Error::RowNotFound)));
    }
}
