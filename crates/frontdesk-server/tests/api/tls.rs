//! Built-in TLS and the security headers: a certificate made at test time, the real server on
//! 127.0.0.1 over TLS, real handshakes (TLS 1.3 only), HTTPS and WebSockets through it.

use crate::support::{Backend, SHOP, TestServer, roomy_config};
use futures::StreamExt;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A self-signed certificate for 127.0.0.1 written as PEM files in a fresh directory.
struct TestCert {
    dir: PathBuf,
    der: CertificateDer<'static>,
}

impl TestCert {
    fn new(name: &str) -> TestCert {
        let dir = std::env::temp_dir().join(format!("frontdesk-tls-{name}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
        std::fs::write(dir.join("cert.pem"), made.cert.pem()).expect("write cert");
        std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).expect("write key");
        TestCert { dir, der: made.cert.der().clone() }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// A client that trusts only this certificate and offers only `version`.
    fn client_config(&self, version: &'static rustls::SupportedProtocolVersion) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("a usable root");
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])
            .expect("the version")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    fn https_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.client_config(&rustls::version::TLS13))
            .build()
            .expect("an https client")
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
}

/// A raw TLS handshake with this client configuration: the negotiated version, or the error.
async fn handshake(port: u16, config: rustls::ClientConfig) -> Result<rustls::ProtocolVersion, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").expect("an IP name");
    let tls = connector.connect(name, tcp).await?;
    Ok(tls.get_ref().1.protocol_version().expect("negotiated"))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn tls_server(cert: &TestCert, name: &str) -> TestServer {
    let tls = frontdesk_server::tls::load_config(&cert.cert(), &cert.key()).expect("the test certificate loads");
    TestServer::start_with_tls(Backend::Sqlite, name, roomy_config(), Some(tls)).await.expect("sqlite server")
}

#[tokio::test]
async fn tls_1_3_only_with_hsts_and_plain_http_is_refused() {
    let cert = TestCert::new("versions");
    let server = tls_server(&cert, "tls-versions").await;
    let port = port_of(&server.base);
    assert!(server.base.starts_with("https://"));

    let version = handshake(port, cert.client_config(&rustls::version::TLS13)).await.expect("a TLS 1.3 handshake");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    let refused = handshake(port, cert.client_config(&rustls::version::TLS12)).await;
    assert!(refused.is_err(), "a TLS 1.2-only client is refused: {refused:?}");

    let http = cert.https_client();
    let r = http.get(format!("{}/api/chat/health", server.base)).send().await.expect("an https answer");
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "strict-transport-security"), "max-age=63072000; includeSubDomains");
    assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff");

    // A client that does not trust the certificate gets no answer.
    let untrusting = reqwest::Client::builder().build().expect("client");
    assert!(untrusting.get(format!("{}/api/chat/health", server.base)).send().await.is_err());

    // Plain HTTP to the TLS port never gets an HTTP answer.
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client");
    let r = plain.get(format!("http://127.0.0.1:{port}/api/chat/health")).send().await;
    assert!(r.is_err(), "plain HTTP must fail on the TLS port: {r:?}");
    // …and a silent client does not stop others from being served.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let r = http.get(format!("{}/api/chat/health", server.base)).send().await.expect("still served");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn security_headers_on_the_dashboard_the_api_and_the_widget_pages_over_tls() {
    let cert = TestCert::new("headers");
    let server = tls_server(&cert, "tls-headers").await;
    let http = cert.https_client();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();

    let app = get("/app").await.expect("/app");
    assert_eq!(app.status(), 200);
    let h = app.headers();
    let csp = header(h, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(h, "x-frame-options"), "DENY");
    assert_eq!(header(h, "referrer-policy"), "no-referrer", "the dashboard keeps its stricter policy");
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert!(header(h, "strict-transport-security").starts_with("max-age=63072000"));

    let me = get("/api/app/me").await.expect("/api/app/me");
    assert_eq!(me.status(), 401);
    let h = me.headers();
    assert_eq!(header(h, "content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(header(h, "x-frame-options"), "DENY");
    assert_eq!(header(h, "referrer-policy"), "strict-origin-when-cross-origin");
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert!(header(h, "strict-transport-security").starts_with("max-age=63072000"));

    // The widget's frame page stays framable (by its own origin, as before); no DENY is added.
    let page = get(&format!("/widget/en/?site={}", server.site.public_key)).await.expect("widget page");
    assert_eq!(page.status(), 200);
    let h = page.headers();
    let csp = header(h, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'self'") && !csp.contains("unsafe"), "{csp}");
    let wss = server.base.replacen("https", "wss", 1);
    assert!(csp.contains(&format!("connect-src 'self' {} {wss};", server.base)), "https and wss over TLS: {csp}");
    assert!(h.get("x-frame-options").is_none());
    assert_eq!(header(h, "referrer-policy"), "strict-origin-when-cross-origin");
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert!(header(h, "strict-transport-security").starts_with("max-age=63072000"));

    // The loader is embedded by other sites: no framing headers, but nosniff and HSTS.
    let loader = get("/widget.js").await.expect("/widget.js");
    let h = loader.headers();
    assert!(h.get("x-frame-options").is_none() && h.get("content-security-policy").is_none());
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert!(header(h, "strict-transport-security").starts_with("max-age=63072000"));
}

#[tokio::test]
async fn plain_http_gets_hsts_only_behind_an_https_public_url() {
    let plain = TestServer::start(Backend::Sqlite, "hsts-plain", roomy_config()).await.expect("sqlite server");
    let r = reqwest::get(format!("{}/api/chat/health", plain.base)).await.expect("answer");
    assert!(r.headers().get("strict-transport-security").is_none(), "no HSTS without TLS anywhere");
    assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff");
    assert_eq!(header(r.headers(), "referrer-policy"), "strict-origin-when-cross-origin");

    let mut config = roomy_config();
    config.public_url = Some("https://desk.example.com".to_owned());
    let proxied = TestServer::start(Backend::Sqlite, "hsts-proxy", config).await.expect("sqlite server");
    for path in ["/api/chat/health", "/app", "/no/such/route"] {
        let r = reqwest::get(format!("{}{path}", proxied.base)).await.expect("answer");
        assert_eq!(header(r.headers(), "strict-transport-security"), "max-age=63072000; includeSubDomains", "{path}");
        assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff", "{path}");
    }
}

async fn tls_socket(
    port: u16,
    cert: &TestCert,
    url: &str,
    headers: &[(&str, &str)],
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cert.client_config(&rustls::version::TLS13)));
    let tls = connector.connect(ServerName::try_from("127.0.0.1").expect("name"), tcp).await.expect("handshake");
    let mut request = url.into_client_request().expect("a ws request");
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
        request.headers_mut().insert(name, value.parse().expect("value"));
    }
    let (ws, response) = tokio_tungstenite::client_async(request, tls).await.expect("the upgrade over TLS");
    assert_eq!(response.status(), 101);
    ws
}

async fn next_text(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> serde_json::Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn websockets_work_over_tls_and_shutdown_still_drains_them() {
    let cert = TestCert::new("ws");
    let server = tls_server(&cert, "tls-ws").await;
    let port = port_of(&server.base);
    let wss = server.base.replacen("https", "wss", 1);

    // The widget's socket: a session made over HTTPS, then its live frames over WSS.
    let https = cert.https_client();
    let chat = |path: &str| {
        https.post(format!("{}{path}", server.base)).header("X-API-Key", &server.site.public_key).header("Origin", SHOP)
    };
    let session: serde_json::Value = chat("/api/chat/session")
        .json(&serde_json::json!({"page_url": "https://shop.example.com/lamps", "locale": "en"}))
        .send()
        .await
        .expect("a session over https")
        .json()
        .await
        .expect("json");
    let (session_id, token) =
        (session["session_id"].as_str().unwrap_or(""), session["session_token"].as_str().unwrap_or(""));
    assert!(!token.is_empty(), "{session}");
    let url = format!("{wss}/api/chat/ws?key={}&token={token}&after_seq=0", server.site.public_key);
    let mut widget = tls_socket(port, &cert, &url, &[("Origin", SHOP)]).await;
    assert_eq!(next_text(&mut widget).await["type"], "hello");

    // The agent's socket, with the login cookie from an HTTPS login.
    let agent = crate::support::AgentClient::new(&server.base).with_http(cert.https_client());
    let r = agent.login(crate::support::OWNER_EMAIL, crate::support::PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.header("set-cookie").is_some_and(|c| c.ends_with("; Secure")), "{:?}", r.header("set-cookie"));
    let cookie = format!("fd_session={}", agent.cookie().expect("logged in"));
    let mut desk = tls_socket(
        port,
        &cert,
        &format!("{wss}/api/app/ws?live=true"),
        &[("Cookie", &cookie), ("Origin", &server.base)],
    )
    .await;
    assert_eq!(next_text(&mut desk).await["type"], "hello");

    // A message typed by the visitor reaches the agent's socket through TLS.
    let said = chat("/api/chat/message")
        .bearer_auth(token)
        .json(&serde_json::json!({"session_id": session_id, "content": "Is the brass lamp in stock?"}))
        .send()
        .await
        .expect("a message over https");
    assert_eq!(said.status(), 200);
    let mut seen = false;
    for _ in 0..10 {
        let frame = next_text(&mut desk).await;
        if frame.to_string().contains("Is the brass lamp in stock?") {
            seen = true;
            break;
        }
    }
    assert!(seen, "the agent socket got the visitor's message");

    // Shutdown tells the sockets to go away (1001) before the server stops.
    drop(server);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match widget.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(closed, Some(1001));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn unusable_certificates_and_keys_are_clear_errors() {
    let cert = TestCert::new("bad");
    let other = TestCert::new("bad-other");
    let err = |cert: &Path, key: &Path| match frontdesk_server::tls::load_config(cert, key) {
        Ok(_) => panic!("{} with {} must not load", cert.display(), key.display()),
        Err(e) => e.to_string(),
    };
    let missing = cert.dir.join("missing.pem");
    let e = err(&missing, &cert.key());
    assert!(e.contains("cannot read the certificate") && e.contains("missing.pem"), "{e}");
    let e = err(&cert.cert(), &missing);
    assert!(e.contains("cannot read the key") && e.contains("missing.pem"), "{e}");
    let empty = write(&cert.dir, "empty.pem", "");
    assert!(err(&empty, &cert.key()).contains("holds no certificate"));
    let garbage =
        write(&cert.dir, "garbage.pem", "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
    assert!(err(&cert.cert(), &garbage).contains("no usable private key"));
    // The certificate given as the key: PEM, but no key in it.
    assert!(err(&cert.cert(), &cert.cert()).contains("no usable private key"));
    // Another certificate's key.
    let e = err(&cert.cert(), &other.key());
    assert!(e.contains("does not fit the certificate"), "{e}");
    assert!(frontdesk_server::tls::load_config(&cert.cert(), &cert.key()).is_ok());
}

/// A certificate renewed on disk is served to new connections without a restart; files that do
/// not fit together (a renewal caught half-written) leave the previous certificate in service.
#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let old = TestCert::new("renew");
    let tls = frontdesk_server::tls::load_config(&old.cert(), &old.key())
        .expect("the test certificate loads")
        .check_every(Duration::from_millis(100));
    let server = TestServer::start_with_tls(Backend::Sqlite, "tls-renew", roomy_config(), Some(tls))
        .await
        .expect("sqlite server");
    let port = port_of(&server.base);
    let trusts_old = || old.client_config(&rustls::version::TLS13);
    assert!(handshake(port, trusts_old()).await.is_ok(), "the first certificate is served");

    // The renewal: a new certificate and key, the certificate written first.
    let new = TestCert::new("renewed");
    let trusts_new = || new.client_config(&rustls::version::TLS13);
    std::fs::copy(new.cert(), old.cert()).expect("the new certificate in place");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(handshake(port, trusts_old()).await.is_ok(), "a certificate without its key keeps the old one in service");
    assert!(handshake(port, trusts_new()).await.is_err(), "the half-written renewal is not served");

    std::fs::copy(new.key(), old.key()).expect("the new key in place");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handshake(port, trusts_new()).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the renewed certificate is served within seconds");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(handshake(port, trusts_old()).await.is_err(), "the old certificate is no longer served");
    let r = new.https_client().get(format!("{}/api/chat/health", server.base)).send().await.expect("https");
    assert_eq!(r.status(), 200);
}

/// The plain-HTTP listener beside TLS: every request redirected with 308 to the same path over
/// HTTPS, ACME challenges answered from the webroot, nothing else served.
#[tokio::test]
async fn plain_http_is_redirected_to_https_and_acme_challenges_are_answered() {
    use frontdesk_server::tls::{HttpRedirect, serve_redirect};
    let webroot = std::env::temp_dir().join(format!("frontdesk-acme-{}", uuid::Uuid::now_v7().simple()));
    let challenges = webroot.join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).expect("webroot");
    std::fs::write(challenges.join("tok_EN-123"), "tok_EN-123.thumbprint").expect("challenge");
    std::fs::write(webroot.join("secret.txt"), "not for the web").expect("a file outside the challenges");
    let start = |redirect: HttpRedirect| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(serve_redirect(listener, redirect));
        port
    };
    let by_host = start(HttpRedirect { origin: None, https_port: 8443, acme_webroot: Some(webroot.clone()) }).await;
    let standard = start(HttpRedirect { origin: None, https_port: 443, acme_webroot: None }).await;
    let public = HttpRedirect::origin_of(Some("https://desk.example.com/app"));
    assert_eq!(public.as_deref(), Some("https://desk.example.com"));
    assert_eq!(HttpRedirect::origin_of(Some("http://desk.example.com")), None, "only an https public_url");
    let fixed = start(HttpRedirect { origin: public, https_port: 8443, acme_webroot: None }).await;

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let location = |r: &reqwest::Response| header(r.headers(), "location").to_owned();
    let get = |port: u16, path: &str, host: &str| {
        client.get(format!("http://127.0.0.1:{port}{path}")).header("host", host).send()
    };
    let r = get(by_host, "/app/?tab=inbox#x", "desk.example.com").await.expect("answer");
    assert_eq!((r.status().as_u16(), location(&r)), (308, "https://desk.example.com:8443/app/?tab=inbox".to_owned()));
    let r = get(by_host, "/", "desk.example.com:80").await.expect("answer");
    assert_eq!(location(&r), "https://desk.example.com:8443/", "the request's port is not the HTTPS one");
    let r = get(standard, "/api/chat/health", "desk.example.com").await.expect("answer");
    assert_eq!(location(&r), "https://desk.example.com/api/chat/health", "no :443");
    let r = get(fixed, "/widget.js", "attacker.example").await.expect("answer");
    assert_eq!(location(&r), "https://desk.example.com/widget.js", "public_url decides, not the Host header");
    let posted = client
        .post(format!("http://127.0.0.1:{standard}/api/chat/message"))
        .header("host", "desk.example.com")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(posted.status().as_u16(), 308, "308 keeps the method and body");

    // ACME HTTP-01: the token's file, as text; nothing outside the challenge directory.
    let r = get(by_host, "/.well-known/acme-challenge/tok_EN-123", "desk.example.com").await.expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "tok_EN-123.thumbprint");
    for path in [
        "/.well-known/acme-challenge/missing",
        "/.well-known/acme-challenge/..%2F..%2Fsecret.txt",
        "/.well-known/acme-challenge/tok_EN-123.bak",
    ] {
        let r = get(by_host, path, "desk.example.com").await.expect("answer");
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    let r = get(standard, "/.well-known/acme-challenge/tok_EN-123", "desk.example.com").await.expect("answer");
    assert_eq!(r.status(), 404, "no webroot: no challenges");

    // Without a Host header (HTTP/1.0) there is nowhere to redirect to: a JSON error.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", by_host)).await.expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(b"GET / HTTP/1.0\r\n\r\n").await.expect("write");
    let mut answer = String::new();
    raw.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.0 400"), "{answer}");
    assert!(answer.contains("\"malformed_request\""), "{answer}");
    let _ = std::fs::remove_dir_all(webroot);
}
