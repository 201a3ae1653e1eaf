//! The `http` node's request, and the real executor the server uses.
//!
//! Scenario authors choose the URL (partly from visitor input), so the executor guards against
//! server-side request forgery: non-public addresses are refused, the name is resolved here and
//! the connection pinned to the checked address (no DNS rebinding between check and connect),
//! proxies and redirects are off, and the response is bounded in time and size.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

/// Larger response bodies are a failure.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq)]
pub struct HttpCall {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct HttpOutcome {
    pub status: Option<u16>,
    /// JSON as received; any other body as a JSON string.
    pub body: Option<Value>,
    /// Set on refusal, timeout, transport errors and oversized bodies.
    pub error: Option<String>,
}

impl HttpOutcome {
    fn failed(error: impl Into<String>) -> Self {
        HttpOutcome { status: None, body: None, error: Some(error.into()) }
    }
}

pub struct HttpExecutor {
    allow_private: bool,
}

impl HttpExecutor {
    /// `allow_private`: the operator's `flows.allow_private_http` (for backends on the same host).
    pub fn new(allow_private: bool) -> Self {
        HttpExecutor { allow_private }
    }

    pub async fn execute(&self, call: HttpCall) -> HttpOutcome {
        let limit = call.timeout;
        match tokio::time::timeout(limit, self.run(call)).await {
            Ok(outcome) => outcome,
            Err(_) => HttpOutcome::failed(format!("timed out after {} ms", limit.as_millis())),
        }
    }

    async fn run(&self, call: HttpCall) -> HttpOutcome {
        let url = match Url::parse(&call.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(_) => return HttpOutcome::failed("only http and https URLs are allowed"),
            Err(e) => return HttpOutcome::failed(format!("invalid URL: {e}")),
        };
        let method = match call.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => return HttpOutcome::failed(format!("method {other} is not allowed")),
        };
        let client = match guarded_client(&url, self.allow_private, call.timeout, "frontdesk-flows").await {
            Ok(c) => c,
            Err(refusal) => return HttpOutcome::failed(refusal),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &call.headers {
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
            else {
                return HttpOutcome::failed(format!("invalid header `{name}`"));
            };
            headers.append(name, value);
        }
        let mut request = client.request(method, url);
        if let Some(body) = &call.body {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            request = request.body(body.to_string());
        }
        let mut response = match request.headers(headers).send().await {
            Ok(r) => r,
            Err(e) => return HttpOutcome::failed(describe_error(&e)),
        };
        let status = Some(response.status().as_u16());
        let too_big = || HttpOutcome { status, body: None, error: Some("the response body is over 1 MiB".to_owned()) };
        if response.content_length().is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
            return too_big();
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return too_big();
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return HttpOutcome { status, body: None, error: Some(describe_error(&e)) },
            }
        }
        let body = (!bytes.is_empty()).then(|| {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        });
        HttpOutcome { status, body, error: None }
    }
}

/// A client for requests to `url` only, guarded against server-side request forgery: unless
/// `allow_private`, a non-public address is refused (the error says why) and a name is resolved
/// here and the connection pinned to the checked address (no DNS rebinding between check and
/// connect); proxies and redirects are off; every request times out after `timeout`. Shared by
/// scenarios' HTTP nodes and the server's outgoing webhooks.
pub async fn guarded_client(
    url: &Url,
    allow_private: bool,
    timeout: Duration,
    user_agent: &str,
) -> Result<reqwest::Client, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are allowed".to_owned());
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // An environment proxy would resolve the name itself and bypass the address check.
        .no_proxy()
        .timeout(timeout)
        .user_agent(user_agent);
    if !allow_private && let Some((name, addr)) = pinned_address(url).await? {
        builder = builder.resolve(&name, addr);
    }
    builder.build().map_err(|e| format!("cannot build the HTTP client: {}", describe_error(&e)))
}

/// Whether `url` names a non-public address literally (`http://127.0.0.1/`, `http://[::1]/`):
/// what can be refused without resolving a name.
pub fn is_private_literal(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    literal.parse::<IpAddr>().is_ok_and(|ip| !is_public_ip(ip)) || host.eq_ignore_ascii_case("localhost")
}

/// Checks the URL's address. For a name: resolves it and returns the public address to pin.
async fn pinned_address(url: &Url) -> Result<Option<(String, SocketAddr)>, String> {
    let refused = |ip: IpAddr| format!("refused: {ip} is not a public address");
    let host = url.host_str().ok_or_else(|| "the URL has no host".to_owned())?;
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return if is_public_ip(ip) { Ok(None) } else { Err(refused(ip)) };
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    // Only the checked address is ever contacted, so skipping private ones is safe.
    match addrs.iter().find(|a| is_public_ip(a.ip())) {
        Some(addr) => Ok(Some((host.to_owned(), *addr))),
        None => match addrs.first() {
            Some(a) => Err(format!("refused: {host} resolves to {}, not a public address", a.ip())),
            None => Err(format!("cannot resolve {host}")),
        },
    }
}

/// The error and its causes ("connection refused" is usually only in a source).
pub fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether an address is on the public internet: loopback, private, link-local, CGNAT, ULA,
/// documentation, multicast, reserved and v4-in-v6 forms of those are not.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0                                  // "this network"
        || a == 10                                        // private
        || (a == 100 && (64..128).contains(&b))           // CGNAT 100.64/10
        || a == 127                                       // loopback
        || (a == 169 && b == 254)                         // link-local
        || (a == 172 && (16..32).contains(&b))            // private
        || (a == 192 && b == 0 && c == 0)                 // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                 // documentation
        || (a == 192 && b == 88 && c == 99)               // 6to4 relay
        || (a == 192 && b == 168)                         // private
        || (a == 198 && (18..20).contains(&b))            // benchmarking
        || (a == 198 && b == 51 && c == 100)              // documentation
        || (a == 203 && b == 0 && c == 113)               // documentation
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // v4-mapped (::ffff:a.b.c.d), v4-compatible (::a.b.c.d, which covers :: and ::1) and NAT64.
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 carries a v4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    // Only global unicast (2000::/3), without the special-purpose and documentation blocks.
    let global = (s[0] & 0xe000) == 0x2000;
    // 2001::/23 (Teredo, benchmarking, ORCHID…), 2001:db8::/32 and 3fff::/20 (documentation).
    let special = (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8)) || (s[0] & 0xfff0) == 0x3ff0;
    global && !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for (ip, public) in [
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            ("0.0.0.0", false),
            ("127.0.0.1", false),
            ("127.8.9.10", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.1", true),
            ("192.0.2.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("198.18.0.1", false),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("240.0.0.1", false),
            ("2606:4700::1111", true),
            ("::", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("64:ff9b::a00:1", false),
            ("64:ff9b::808:808", true),
            ("2002:7f00:1::1", false),
            ("2002:808:808::1", true),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("2001:0::1", false),
            ("3fff::1", false),
        ] {
            let addr: IpAddr = ip.parse().expect("address");
            assert_eq!(is_public_ip(addr), public, "{ip}");
        }
    }
}
