//! Checks on a value's shape that several sections share (base URLs, listen addresses).

/// A base URL the HTTP clients can call.
pub(crate) fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// A listen address (`host:port` with an IP host).
pub(crate) fn is_socket_addr(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>().is_ok()
}
