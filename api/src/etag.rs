//! `If-None-Match` against an answer's `ETag`: whether the client already has it (304).

/// Whether an `If-None-Match` value matches `etag` (weak comparison, as RFC 9110 asks for
/// `If-None-Match`; `*` matches any).
pub(crate) fn none_match_hits(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        assert!(none_match_hits("\"a\"", "\"a\""));
        assert!(none_match_hits("\"x\", W/\"a\"", "\"a\""));
        assert!(none_match_hits("*", "\"a\""));
        assert!(!none_match_hits("\"b\"", "\"a\""));
    }
}
