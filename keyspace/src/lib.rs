//! The Redis keyspace of premium-spread: every key name under one prefix ([`keys`]), and the
//! connection they are written through ([`conn`]). The queue layer, the hot cache, the worker and
//! the API all name keys through [`Keys`], so the table in [`keys`] is the whole keyspace.

pub mod conn;
pub mod keys;

pub use conn::{RedisConn, RedisTarget, SentinelTarget, connect, connect_redis};
pub use keys::Keys;
