//! The agent & admin dashboard: a single-page app served at `/app`.
//!
//! | path | what |
//! |---|---|
//! | `/app`, `/app/`, `/app/<deep link>` | the SPA's HTML shell (routing is in the URL's hash; any other path under `/app/` that does not look like a file gets the shell too) |
//! | `/app/preview` | the widget preview page the dashboard frames: the real widget in preview mode, fed the draft configuration by `postMessage` |
//!
//! Both pages are built once, at start-up, from the build's manifest: scripts and styles are the
//! content-hashed `/assets/…` files with `integrity`, and the Content-Security-Policy allows
//! exactly those scripts (`'self'` plus their sha384 hashes, including the charts chunk the app
//! loads itself) and no inline script or style.

use crate::{Asset, asset, loader_sri, request_origin};
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;

/// A page and its security policy, rendered once.
struct Page {
    html: String,
    /// The policy up to `connect-src` (exclusive); the request's WebSocket origin is added per request.
    csp_before_connect: String,
    /// The policy after `connect-src`.
    csp_after_connect: String,
    frame_options: &'static str,
}

static SHELL: LazyLock<Page> = LazyLock::new(shell_page);
static PREVIEW: LazyLock<Page> = LazyLock::new(preview_page);

/// The dashboard's routes. Renders both pages now, so a request never pays for it.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    LazyLock::force(&SHELL);
    LazyLock::force(&PREVIEW);
    Router::new()
        .route("/app", get(shell))
        .route("/app/", get(shell))
        .route("/app/preview", get(preview))
        .route("/app/{*rest}", get(deep_link))
}

async fn shell(headers: HeaderMap) -> Response {
    respond(&SHELL, &headers)
}

async fn preview(headers: HeaderMap) -> Response {
    respond(&PREVIEW, &headers)
}

/// A deep link (`/app/inbox`) gets the shell; something that looks like a missing file does not.
async fn deep_link(headers: HeaderMap, Path(rest): Path<String>) -> Response {
    let last = rest.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    respond(&SHELL, &headers)
}

fn respond(page: &Page, headers: &HeaderMap) -> Response {
    // `'self'` covers same-origin WebSockets in CSP 3; the explicit ws(s) origin helps older engines.
    let connect = match request_origin(headers) {
        Some(origin) => format!("connect-src 'self' {}", origin.replacen("http", "ws", 1)),
        None => "connect-src 'self'".to_owned(),
    };
    let csp = format!("{}{connect}; {}", page.csp_before_connect, page.csp_after_connect);
    let mut response = (StatusCode::OK, page.html.clone()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static(page.frame_options));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// `'sha384-…'` sources for these scripts.
fn script_hashes(scripts: &[&str]) -> String {
    scripts.iter().map(|sri| format!(" '{sri}'")).collect()
}

fn stylesheet(a: Option<&Asset>) -> String {
    a.map(|a| format!("<link rel=\"stylesheet\" href=\"/assets/{}\" integrity=\"{}\">\n", a.file, a.sri))
        .unwrap_or_default()
}

fn script(a: Option<&Asset>) -> String {
    a.map(|a| format!("<script src=\"/assets/{}\" integrity=\"{}\" defer></script>\n", a.file, a.sri))
        .unwrap_or_default()
}

fn shell_page() -> Page {
    let js = asset("app", "js");
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>Frontdesk</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n{css}{js}</head>\n<body>\n\
         <div id=\"app\"><noscript>The Frontdesk dashboard needs JavaScript.</noscript></div>\n</body>\n</html>\n",
        css = stylesheet(asset("app", "css")),
        js = script(js),
    );
    // The app script and the chunk it loads itself (the analytics page's charts).
    let charts = asset("charts", "js").map(|a| a.sri);
    let hashes = script_hashes(&[js.map(|a| a.sri), charts].into_iter().flatten().collect::<Vec<_>>());
    Page {
        html,
        csp_before_connect: format!(
            "default-src 'none'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        ),
        csp_after_connect: "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'".to_owned(),
        frame_options: "DENY",
    }
}

fn preview_page() -> Page {
    let js = asset("preview", "js");
    // The preview script sets the widget's configuration (preview mode), then the real loader runs.
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Widget preview</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n{css}{js}<script src=\"/widget.js\" integrity=\"{loader}\" defer></script>\n\
         </head>\n<body class=\"fd-preview\">\n<main class=\"fd-preview-page\" aria-hidden=\"true\"><div></div><div></div><div></div></main>\n\
         </body>\n</html>\n",
        css = stylesheet(asset("preview", "css")),
        js = script(js),
        loader = loader_sri(),
    );
    let panel = asset("panel", "js").map(|a| a.sri);
    let hashes =
        script_hashes(&[js.map(|a| a.sri), Some(loader_sri()), panel].into_iter().flatten().collect::<Vec<_>>());
    Page {
        html,
        csp_before_connect: format!(
            "default-src 'none'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; "
        ),
        csp_after_connect: "frame-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'".to_owned(),
        frame_options: "SAMEORIGIN",
    }
}

#[cfg(test)]
mod tests {
    use crate::{asset, routes};
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::response::Response;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        let app: Router = routes();
        let req = Request::get(path).header("host", "127.0.0.1:8080").body(Body::empty());
        app.oneshot(req.unwrap_or_default()).await.unwrap_or_else(|e| match e {})
    }

    async fn text(r: Response) -> String {
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap_or_default();
        String::from_utf8_lossy(&body).into_owned()
    }

    fn header_of(r: &Response, name: header::HeaderName) -> String {
        r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn the_shell_is_served_at_app_and_its_deep_links() {
        for path in ["/app", "/app/", "/app/inbox", "/app/conversations/123"] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&r, header::CONTENT_TYPE), "text/html; charset=utf-8");
            assert!(text(r).await.contains("<div id=\"app\">"), "{path}");
        }
        // Something that looks like a file is not the shell.
        assert_eq!(get("/app/missing.js").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/app/x/y.css").await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_shell_names_hashed_assets_with_integrity_and_has_no_inline_code() {
        let (js, css) = (asset("app", "js"), asset("app", "css"));
        let (Some(js), Some(css)) = (js, css) else {
            panic!("the build has no app.js/app.css");
        };
        assert!(js.file.starts_with("app.") && js.file.ends_with(".js") && js.file.len() > "app..js".len());
        assert!(css.file.starts_with("app.") && css.file.ends_with(".css"));
        let html = text(get("/app").await).await;
        assert!(
            html.contains(&format!("<script src=\"/assets/{}\" integrity=\"{}\" defer></script>", js.file, js.sri))
        );
        assert!(
            html.contains(&format!(
                "<link rel=\"stylesheet\" href=\"/assets/{}\" integrity=\"{}\">",
                css.file, css.sri
            ))
        );
        // Every script has a src; no style element or attribute.
        assert_eq!(html.matches("<script").count(), html.matches("<script src=\"/assets/").count());
        assert!(!html.contains("<style") && !html.contains("style="));
        // The assets are served, with their types and a long cache.
        let r = get(&format!("/assets/{}", js.file)).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header_of(&r, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
        assert_eq!(header_of(&r, header::CACHE_CONTROL), crate::IMMUTABLE_CACHE);
        let r = get(&format!("/assets/{}", css.file)).await;
        assert_eq!(header_of(&r, header::CONTENT_TYPE), "text/css; charset=utf-8");
    }

    #[tokio::test]
    async fn the_shell_has_a_strict_policy_built_from_the_script_hashes() {
        let r = get("/app").await;
        let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
        let js = asset("app", "js").map(|a| a.sri).unwrap_or("missing");
        let charts = asset("charts", "js").map(|a| a.sri).unwrap_or("missing");
        assert!(csp.contains(&format!("script-src 'self' '{js}' '{charts}';")), "{csp}");
        for directive in [
            "default-src 'none'",
            "style-src 'self';",
            "img-src 'self' data:",
            "connect-src 'self' ws://127.0.0.1:8080;",
            "frame-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header_of(&r, header::REFERRER_POLICY), "no-referrer");
        assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY");
    }

    #[tokio::test]
    async fn a_forwarded_https_request_gets_a_wss_connect_source() {
        let app: Router = routes();
        let req = Request::get("/app")
            .header("host", "chat.example.com")
            .header("x-forwarded-proto", "https")
            .body(Body::empty());
        let r = app.oneshot(req.unwrap_or_default()).await.unwrap_or_else(|e| match e {});
        assert!(header_of(&r, header::CONTENT_SECURITY_POLICY).contains("connect-src 'self' wss://chat.example.com;"));
    }

    #[tokio::test]
    async fn the_preview_page_loads_the_real_loader_and_may_be_framed_by_the_dashboard_only() {
        let r = get("/app/preview").await;
        assert_eq!(r.status(), StatusCode::OK);
        let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'self'") && !csp.contains("unsafe"), "{csp}");
        assert!(csp.contains(crate::loader_sri()), "{csp}");
        assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "SAMEORIGIN");
        let html = text(r).await;
        let preview = asset("preview", "js").map(|a| a.file).unwrap_or("missing");
        let (at_preview, at_loader) = (html.find(preview), html.find("src=\"/widget.js\""));
        // The preview script runs first: it sets the configuration the loader reads.
        assert!(matches!((at_preview, at_loader), (Some(p), Some(l)) if p < l), "{html}");
        assert_eq!(html.matches("<script").count(), html.matches("<script src=\"/").count());
    }
}
