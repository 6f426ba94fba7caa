//! The HTTP API: axum routes, API-key auth, OpenAPI and Swagger UI,
//! Prometheus metrics, server-sent events. The only crate that knows HTTP.
//!
//! Every error is an `application/problem+json` document with a 4xx or 5xx
//! status; bad input changes nothing and never panics a handler.

pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod records;
pub mod relay;
pub mod routes;
pub mod state;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

pub use axum::Router;
pub use error::{ApiError, Problem};
pub use state::{AppState, Users};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
                        1.0,
                    ],
                )
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may already be installed (tests): keep ours readable.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

struct Security;
impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI description of every route.
#[derive(OpenApi, Debug)]
#[openapi(
    info(title = "marketsim", description = "Live market API: money and prices are decimal strings, timestamps RFC 3339, errors application/problem+json."),
    paths(
        routes::users::register, routes::users::account,
        routes::stocks::list, routes::stocks::one, routes::stocks::book, routes::stocks::candles, routes::stocks::history, routes::stocks::movers,
        routes::orders::place, routes::orders::list, routes::orders::one, routes::orders::cancel, routes::orders::trades,
        routes::portfolio::portfolio,
        routes::admin::list_stock, routes::admin::set_price, routes::admin::pause, routes::admin::resume,
        routes::stream::stream, routes::ops::health, routes::ops::metrics_text,
    ),
    components(schemas(Problem)),
    modifiers(&Security)
)]
pub struct ApiDoc;

async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.run(req).await;
    // The histogram's _count is the request counter.
    metrics::histogram!("marketsim_http_request_duration_seconds", "route" => route, "method" => method, "status" => status_class(res.status()))
        .record(start.elapsed().as_secs_f64());
    res
}

fn method_label(m: &axum::http::Method) -> &'static str {
    match *m {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn status_class(s: axum::http::StatusCode) -> &'static str {
    match s.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        500 => "500",
        503 => "503",
        c if c < 300 => "2xx",
        c if c < 500 => "4xx",
        _ => "5xx",
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let _ = metrics_handle();
    Router::new()
        .merge(routes::users::router())
        .merge(routes::stocks::router())
        .merge(routes::orders::router())
        .merge(routes::portfolio::router())
        .merge(routes::admin::router())
        .merge(routes::stream::router())
        .merge(routes::ops::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}

/// Serve `app` on `listener` until `shutdown` resolves; in-flight requests
/// finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
