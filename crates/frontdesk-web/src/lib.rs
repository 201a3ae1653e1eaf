//! Frontdesk's web assets, built from `web/` by npm (esbuild) when the crate compiles and embedded
//! in the binary. [`routes`] serves them:
//!
//! | path | what | cache |
//! |---|---|---|
//! | `/widget.js` | the widget loader (the snippet's script) | 5 minutes |
//! | `/assets/<name>.<hash>.js` | content-hashed chunks (the chat panel, the loader, page files) | a year, immutable |
//! | `/demo?key=pk_…` | a host page (the "Northwind Lamps" shop) embedding the widget | none |
//! | `/widget/{locale}/?site=pk_…` | the playground: the site's widget in frame mode | none |
//! | `/app`, `/app/…`, `/app/preview` | the agent & admin dashboard and its widget preview (see [`app`]) | no-cache |
//!
//! Pages are served with a strict Content-Security-Policy (no inline script or style): the widget
//! configuration travels in a `<script type="application/json">` element.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

/// One embedded, content-hashed file.
#[derive(Debug)]
pub struct Asset {
    /// The logical name (`panel`, `widget`, `pages`, `app`, `preview`).
    pub name: &'static str,
    /// The file name under `/assets/`, with its content hash.
    pub file: &'static str,
    /// The Subresource Integrity value (`sha384-…`).
    pub sri: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

pub mod app;

mod generated {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Short cache for the loader: a new release reaches every site within minutes.
pub const LOADER_CACHE: &str = "public, max-age=300";
/// Long cache for content-hashed files.
pub const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";
const LOCALES: [&str; 5] = ["en", "nl", "de", "fr", "es"];

/// The loader served at `/widget.js`.
pub fn loader() -> &'static [u8] {
    generated::LOADER_JS
}

/// The SRI hash of `/widget.js` (for `integrity="…"` in the embed snippet).
pub fn loader_sri() -> &'static str {
    generated::LOADER_SRI
}

/// The loader's content-hashed name under `/assets/` (for snippets pinned to one release).
pub fn loader_hashed_file() -> &'static str {
    generated::LOADER_HASHED
}

/// Every content-hashed file served under `/assets/`.
pub fn assets() -> &'static [Asset] {
    generated::ASSETS
}

/// The hashed file called `name` with this extension (`"pages"`, `"css"`).
pub fn asset(name: &str, ext: &str) -> Option<&'static Asset> {
    assets().iter().find(|a| a.name == name && a.file.ends_with(&format!(".{ext}")))
}

/// The embed snippet a site owner pastes into their pages.
pub fn snippet(api_url: &str, api_key: &str, primary_color: &str, position: &str) -> String {
    let config = serde_json::json!({
        "apiUrl": api_url, "apiKey": api_key, "primaryColor": primary_color, "position": position,
    });
    format!(
        "<script>window.FrontdeskConfig = {config};</script>\n\
         <script src=\"{api_url}/widget.js\" integrity=\"{sri}\" crossorigin=\"anonymous\" defer></script>",
        config = json_for_html(&config),
        sri = loader_sri(),
    )
}

/// The routes above, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/widget.js", get(widget_js))
        .route("/assets/{file}", get(asset_file))
        .route("/demo", get(demo_page))
        .route("/widget/{locale}", get(playground_page))
        .route("/widget/{locale}/", get(playground_page))
        .merge(app::routes())
}

async fn widget_js() -> Response {
    script_response(loader(), "text/javascript; charset=utf-8", LOADER_CACHE)
}

async fn asset_file(Path(file): Path<String>) -> Response {
    match assets().iter().find(|a| a.file == file) {
        Some(a) => script_response(a.bytes, a.content_type, IMMUTABLE_CACHE),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn script_response(bytes: &'static [u8], content_type: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            // Scripts loaded with `crossorigin` + SRI from another origin need CORS.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
struct DemoQuery {
    key: Option<String>,
}

#[derive(Deserialize)]
struct PlaygroundQuery {
    site: Option<String>,
}

async fn demo_page(headers: HeaderMap, Query(q): Query<DemoQuery>) -> Response {
    let origin = request_origin(&headers);
    let key = q.key.filter(|k| valid_key(k));
    let config = key.as_ref().map(|key| {
        serde_json::json!({
            "apiUrl": origin.clone().unwrap_or_default(), "apiKey": key,
            "primaryColor": "#b45309", "position": "bottom-right",
            "params": {"plan": "guest", "page": "home"},
        })
    });
    page(origin.as_deref(), &render_demo(config.as_ref()))
}

async fn playground_page(headers: HeaderMap, Path(locale): Path<String>, Query(q): Query<PlaygroundQuery>) -> Response {
    if !LOCALES.contains(&locale.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let origin = request_origin(&headers);
    let config = q.site.filter(|k| valid_key(k)).map(|key| {
        serde_json::json!({
            "apiUrl": origin.clone().unwrap_or_default(), "apiKey": key, "locale": locale,
            "mode": "frame", "container": "#fd-playground",
        })
    });
    page(origin.as_deref(), &render_playground(&locale, config.as_ref()))
}

fn page(origin: Option<&str>, html: &str) -> Response {
    let connect = match origin {
        Some(o) => format!("'self' {o} {}", o.replacen("http", "ws", 1)),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    let mut response = (StatusCode::OK, html.to_owned()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// `http(s)://host` of this request, from a well-formed `Host` header.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return None;
    }
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

fn valid_key(key: &str) -> bool {
    key.starts_with("pk_") && key.len() <= 128 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// JSON that is safe inside a `<script>` element.
fn json_for_html(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

fn head(title: &str) -> String {
    let css = asset("pages", "css").map(|a| (a.file, a.sri)).unwrap_or(("", ""));
    let js = asset("pages", "js").map(|a| (a.file, a.sri)).unwrap_or(("", ""));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/{}\" integrity=\"{}\">\n\
         <script src=\"/assets/{}\" integrity=\"{}\" defer></script>\n",
        css.0, css.1, js.0, js.1
    )
}

fn widget_tags(config: Option<&serde_json::Value>) -> String {
    match config {
        Some(config) => format!(
            "<script type=\"application/json\" id=\"frontdesk-config\">{}</script>\n\
             <script src=\"/widget.js\" integrity=\"{}\" defer></script>\n",
            json_for_html(config),
            loader_sri()
        ),
        None => String::new(),
    }
}

fn render_demo(config: Option<&serde_json::Value>) -> String {
    let missing = if config.is_none() {
        "<p class=\"notice\" role=\"note\">This page needs a site key: open <code>/demo?key=pk_…</code> \
         (<code>frontdesk demo</code> prints the full address).</p>"
    } else {
        ""
    };
    format!(
        "{head}</head>\n<body>\n<header class=\"shop-header\"><a class=\"logo\" href=\"/demo\">Northwind Lamps</a>\
         <nav aria-label=\"Shop\"><a href=\"#lamps\">Lamps</a><a href=\"#bulbs\">Bulbs</a><a href=\"#help\">Help</a></nav></header>\n\
         <main>{missing}\n\
         <section class=\"hero\"><h1>Light that feels like home</h1>\
         <p>Hand-finished desk, floor and pendant lamps, delivered across Europe.</p>\
         <button type=\"button\" class=\"cta\" data-frontdesk=\"open\">Questions? Chat with us</button></section>\n\
         <section id=\"lamps\" class=\"grid\" aria-label=\"Featured lamps\">\
         <article class=\"card\"><h2>Aurora desk lamp</h2><p>Brushed brass, dimmable, USB-C.</p><p class=\"price\">€129</p></article>\
         <article class=\"card\"><h2>Fjord floor lamp</h2><p>Oak and linen, 160 cm.</p><p class=\"price\">€249</p></article>\
         <article class=\"card\"><h2>Halo pendant</h2><p>Opal glass, E27, app control.</p><p class=\"price\">€179</p></article>\
         </section>\n\
         <section id=\"help\" class=\"help\"><h2>Delivery &amp; returns</h2><p>Free delivery over €75. \
         30 days to change your mind. Ask our assistant anything about orders, bulbs or the app.</p></section>\n\
         </main>\n<footer class=\"shop-footer\">© Northwind Lamps — a Frontdesk demo shop</footer>\n{widget}</body>\n</html>\n",
        head = head("Northwind Lamps — lamps and lighting"),
        widget = widget_tags(config),
    )
}

fn render_playground(locale: &str, config: Option<&serde_json::Value>) -> String {
    let missing = if config.is_none() {
        "<p class=\"notice\" role=\"note\">Add <code>?site=pk_…</code> (the site's public key) to the address.</p>"
    } else {
        ""
    };
    format!(
        "{head}</head>\n<body class=\"playground\">\n<main><h1>Widget playground ({locale})</h1>{missing}\n\
         <div id=\"fd-playground\" class=\"frame-host\"></div></main>\n{widget}</body>\n</html>\n",
        head = head("Frontdesk widget playground"),
        widget = widget_tags(config),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        let app: Router = routes();
        let req = Request::get(path).header("host", "127.0.0.1:8080").body(Body::empty());
        app.oneshot(req.unwrap_or_default()).await.unwrap_or_else(|e| match e {})
    }

    #[tokio::test]
    async fn the_loader_has_a_short_cache_and_chunks_a_long_one() {
        let r = get("/widget.js").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], LOADER_CACHE);
        let panel = asset("panel", "js").map(|a| a.file).unwrap_or_default();
        assert!(panel.starts_with("panel.") && panel.len() > "panel..js".len());
        let r = get(&format!("/assets/{panel}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], IMMUTABLE_CACHE);
        assert_eq!(get("/assets/nope.js").await.status(), StatusCode::NOT_FOUND);
        assert!(loader_sri().starts_with("sha384-"));
    }

    #[tokio::test]
    async fn pages_carry_a_strict_csp_and_escaped_config() {
        let r = get("/demo?key=pk_abc123").await;
        assert_eq!(r.status(), StatusCode::OK);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap_or_default().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap_or_default();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"apiKey\":\"pk_abc123\"") && body.contains("http://127.0.0.1:8080"));
        // A key that is not a key is never echoed.
        let r = get("/demo?key=%3C/script%3E").await;
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap_or_default();
        assert!(!String::from_utf8_lossy(&body).contains("</script><"));
        assert_eq!(get("/widget/nl/?site=pk_x").await.status(), StatusCode::OK);
        assert_eq!(get("/widget/xx/?site=pk_x").await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_snippet_names_the_loader_with_its_sri() {
        let s = snippet("https://chat.example.com", "pk_1", "#2563eb", "bottom-right");
        assert!(s.contains("https://chat.example.com/widget.js") && s.contains(loader_sri()));
    }
}
