//! The web dashboard at `/`: a page and its assets, embedded in the binary
//! (no CDN, works offline). The page is plain HTML, CSS and an ES module
//! talking to the same JSON API and event stream as any client; it keeps
//! the API key in the browser's session storage and sends it as a bearer
//! header, never in a URL.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::extract::Path;
use crate::state::AppState;

/// One embedded file: its name under `/assets/`, type and bytes.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const INDEX: &[u8] = include_bytes!("../dashboard/index.html");

/// An embedded file of `api/dashboard/`.
macro_rules! asset {
    ($name:literal, $mime:expr, $file:literal) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_bytes!(concat!("../dashboard/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("app.js", JS, "app.js"),
    asset!("style.css", "text/css; charset=utf-8", "style.css"),
    asset!(
        "lightweight-charts.js",
        JS,
        "vendor/lightweight-charts.standalone.production.js"
    ),
    asset!(
        "lightweight-charts.LICENSE",
        "text/plain; charset=utf-8",
        "vendor/lightweight-charts.LICENSE"
    ),
];

/// Only this origin's scripts, styles and connections; no framing. Inline
/// styles are allowed: the chart library sizes its canvases with them
/// (scripts stay 'self' only).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

fn respond(mime: &'static str, body: &'static [u8], cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX, "no-cache")
}

async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| respond(a.mime, a.body, "no-cache"))
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard asset `{name}`")))
}
