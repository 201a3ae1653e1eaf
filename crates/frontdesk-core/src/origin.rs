//! Which browser origins may use a site's widget.
//!
//! An entry is an exact origin (`https://shop.example.com`, `http://localhost:8080`) or a
//! subdomain wildcard (`*.example.com`, any scheme of http/https, any port is *not* implied).

use crate::error::CoreError;

/// Checks and normalizes an allowed-origin entry.
pub fn parse_allowed_origin(raw: &str) -> Result<String, CoreError> {
    let entry = raw.trim().trim_end_matches('/').to_lowercase();
    let bad = || CoreError::Invalid {
        field: "allowed_origins".to_owned(),
        message: format!("`{raw}` is neither an origin like https://shop.example.com nor a pattern like *.example.com"),
    };
    if let Some(domain) = entry.strip_prefix("*.") {
        if is_host(domain) && domain.contains('.') {
            return Ok(entry);
        }
        return Err(bad());
    }
    let (scheme, rest) = entry.split_once("://").ok_or_else(bad)?;
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5 => (h, Some(p)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    if !is_host(host) {
        return Err(bad());
    }
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether a request's `Origin` header matches one of the site's entries.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
    allowed.iter().any(|entry| match entry.strip_prefix("*.") {
        // `*.example.com` covers `a.example.com` and `a.b.example.com`, not `example.com`
        // itself and never `evilexample.com`.
        Some(domain) => {
            host.len() > domain.len() + 1 && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
        }
        None => *entry == origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| parse_allowed_origin(e).unwrap_or_default()).collect()
    }

    #[test]
    fn entries_are_normalized_or_refused() {
        assert_eq!(parse_allowed_origin("HTTPS://Shop.Example.com/").ok().as_deref(), Some("https://shop.example.com"));
        assert_eq!(parse_allowed_origin("http://localhost:8080").ok().as_deref(), Some("http://localhost:8080"));
        assert_eq!(parse_allowed_origin("*.example.com").ok().as_deref(), Some("*.example.com"));
        for bad in ["example.com", "ftp://x.com", "*.com", "https://", "https://a b.com", "https://x.com:abc", "*"] {
            assert!(parse_allowed_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let allowed = list(&["https://shop.example.com", "http://localhost:8080"]);
        assert!(origin_allowed(&allowed, "https://shop.example.com"));
        assert!(origin_allowed(&allowed, "http://localhost:8080"));
        assert!(!origin_allowed(&allowed, "http://shop.example.com"));
        assert!(!origin_allowed(&allowed, "https://shop.example.com:8443"));
        assert!(!origin_allowed(&allowed, "http://localhost:8081"));
        assert!(!origin_allowed(&allowed, "null"));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let allowed = list(&["*.example.com"]);
        assert!(origin_allowed(&allowed, "https://a.example.com"));
        assert!(origin_allowed(&allowed, "https://a.b.example.com:444"));
        assert!(!origin_allowed(&allowed, "https://example.com"));
        assert!(!origin_allowed(&allowed, "https://evilexample.com"));
        assert!(!origin_allowed(&allowed, "https://example.com.evil.net"));
    }
}
