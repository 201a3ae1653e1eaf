//! Small, pure helpers for the HTTP edge: CORS, CSRF origins, the client's IP, cookies.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use frontdesk_core::origin;
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "fd_session";
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;
pub const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
pub const ALLOW_HEADERS: &str = "X-API-Key, Authorization, Content-Type";
/// HTTPS only for two years, subdomains included (sent when the server or its proxy does TLS).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";
/// What every response without a stricter policy of its own sends as `Referrer-Policy`.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";
/// The policy of API responses: JSON is never a document to run or frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The security headers a response lacks, for this path. Pages (`/app`, `/widget/…`, `/demo`)
/// set their own CSP and framing rules and keep them; `hsts` when TLS is done for us by a proxy.
pub fn missing_security_headers(path: &str, present: &HeaderMap, hsts: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut add = vec![
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static(REFERRER_POLICY)),
    ];
    if path == "/api" || path.starts_with("/api/") || path == "/metrics" {
        add.push((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CSP)));
        add.push((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    }
    if hsts {
        add.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS)));
    }
    add.retain(|(name, _)| !present.contains_key(name));
    add
}

/// The origin (`scheme://host[:port]`, lower-cased) of an absolute http(s) URL.
pub fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    origin::parse_allowed_origin(&format!("{scheme}://{authority}")).ok().filter(|o| !o.starts_with("*."))
}

/// The origins a state-changing app request may come from: the configured public URL's, or
/// else this request's own host under either scheme.
pub fn own_origins(public_origin: Option<&str>, host: Option<&str>) -> Vec<String> {
    match (public_origin, host) {
        (Some(o), _) => vec![o.to_owned()],
        (None, Some(host)) if !host.is_empty() => {
            let host = host.to_ascii_lowercase();
            vec![format!("http://{host}"), format!("https://{host}")]
        }
        _ => Vec::new(),
    }
}

/// CSRF rule: a state-changing request must name one of our own origins in `Origin`.
pub fn csrf_allows(own: &[String], request_origin: Option<&str>) -> bool {
    request_origin.is_some_and(|o| {
        let o = o.trim_end_matches('/').to_ascii_lowercase();
        own.contains(&o)
    })
}

/// The client's address: the first `X-Forwarded-For` entry when the proxy is trusted, else the peer.
pub fn client_ip(peer: Option<SocketAddr>, forwarded_for: Option<&str>, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(first) = forwarded_for.and_then(|v| v.split(',').next())
        && let Ok(ip) = first.trim().parse::<IpAddr>()
    {
        return Some(ip);
    }
    peer.map(|p| p.ip())
}

/// The headers that let a browser page at `origin` read a response.
pub fn cors_headers(origin: &str) -> Vec<(HeaderName, HeaderValue)> {
    let Ok(value) = HeaderValue::from_str(origin) else {
        return Vec::new();
    };
    vec![
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, value),
        (header::VARY, HeaderValue::from_static("Origin")),
        (header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After")),
    ]
}

/// The extra headers of a successful preflight answer.
pub fn preflight_headers() -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS)),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS)),
        (header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(PREFLIGHT_MAX_AGE_SECS)),
    ]
}

/// The value of a cookie, from any of the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Set-Cookie` for the login session (or, with `max_age` 0, its removal).
pub fn session_cookie(token: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_origins() {
        assert_eq!(url_origin("https://Desk.Example.com/app?x=1").as_deref(), Some("https://desk.example.com"));
        assert_eq!(url_origin("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(url_origin("desk.example.com"), None);
        assert_eq!(url_origin("https://user@desk.example.com"), None);
        assert_eq!(url_origin("ftp://desk.example.com"), None);
    }

    #[test]
    fn csrf_needs_our_own_origin() {
        let own = own_origins(Some("https://desk.example.com"), Some("ignored:1"));
        assert!(csrf_allows(&own, Some("https://desk.example.com")));
        assert!(csrf_allows(&own, Some("HTTPS://desk.example.com/")));
        assert!(!csrf_allows(&own, Some("http://desk.example.com")));
        assert!(!csrf_allows(&own, Some("https://evil.example.com")));
        assert!(!csrf_allows(&own, Some("null")));
        assert!(!csrf_allows(&own, None));

        let from_host = own_origins(None, Some("127.0.0.1:8080"));
        assert!(csrf_allows(&from_host, Some("http://127.0.0.1:8080")));
        assert!(csrf_allows(&from_host, Some("https://127.0.0.1:8080")));
        assert!(!csrf_allows(&from_host, Some("http://127.0.0.1:8081")));
        assert!(!csrf_allows(&own_origins(None, None), Some("http://127.0.0.1:8080")));
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let peer: Option<SocketAddr> = "10.0.0.1:5000".parse().ok();
        let xff = Some("203.0.113.9, 10.0.0.2");
        assert_eq!(client_ip(peer, xff, false), "10.0.0.1".parse().ok());
        assert_eq!(client_ip(peer, xff, true), "203.0.113.9".parse().ok());
        assert_eq!(client_ip(peer, Some("garbage"), true), "10.0.0.1".parse().ok());
        assert_eq!(client_ip(None, None, true), None);
    }

    #[test]
    fn cors_headers_echo_the_origin_never_a_wildcard() {
        let h = cors_headers("https://shop.example.com");
        assert!(h.iter().any(|(n, v)| *n == header::ACCESS_CONTROL_ALLOW_ORIGIN && v == "https://shop.example.com"));
        assert!(h.iter().any(|(n, v)| *n == header::VARY && v == "Origin"));
        assert!(h.iter().all(|(_, v)| v != "*"));
        assert!(cors_headers("bad\nvalue").is_empty());
        let p = preflight_headers();
        assert!(p.iter().any(|(n, v)| *n == header::ACCESS_CONTROL_MAX_AGE && v == "600"));
    }

    #[test]
    fn security_headers_fill_gaps_and_keep_a_page_s_own() {
        let names = |v: Vec<(HeaderName, HeaderValue)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let api = names(missing_security_headers("/api/app/me", &HeaderMap::new(), false));
        assert_eq!(
            api,
            [
                header::X_CONTENT_TYPE_OPTIONS,
                header::REFERRER_POLICY,
                header::CONTENT_SECURITY_POLICY,
                header::X_FRAME_OPTIONS
            ]
        );
        let widget = names(missing_security_headers("/widget.js", &HeaderMap::new(), true));
        assert_eq!(
            widget,
            [header::X_CONTENT_TYPE_OPTIONS, header::REFERRER_POLICY, header::STRICT_TRANSPORT_SECURITY]
        );
        let mut page = HeaderMap::new();
        page.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        page.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        assert!(missing_security_headers("/app", &page, false).is_empty());
        assert!(
            !names(missing_security_headers("/apiary", &HeaderMap::new(), false)).contains(&header::X_FRAME_OPTIONS)
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; fd_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "fd_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(session_cookie("t", 60, true), "fd_session=t; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure");
    }
}
