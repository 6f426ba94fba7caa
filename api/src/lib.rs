//! The HTTP API: axum routes, API-key auth, OpenAPI and Swagger UI,
//! Prometheus metrics, server-sent events. The only crate that knows HTTP.
//!
//! Every error is an `application/problem+json` document with a 4xx or 5xx
//! status; bad input changes nothing and never panics a handler.

pub mod auth;
pub mod dashboard;
pub mod dto;
pub mod error;
pub mod export;
pub mod extract;
pub mod limits;
pub mod outbox;
pub mod records;
pub mod relay;
pub mod routes;
pub mod state;
pub mod tasks;

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
                    // Every `*_seconds` histogram (request durations, journal writes).
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    &[
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
                        1.0,
                    ],
                )
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Exported at zero from the start, so rates over them read 0, not "no data".
            for status in ["accepted", "denied", "cancelled"] {
                metrics::with_local_recorder(&recorder, || {
                    metrics::counter!("marketsim_orders_total", "status" => status).increment(0)
                });
            }
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

/// Every error answer is a problem document: each operation documents the
/// errors any request can get (`application/problem+json`, schema
/// `Problem`), besides its own.
struct Problems;
impl Modify for Problems {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut common: Vec<(&str, &str)> = vec![
                    ("400", "malformed request (query, JSON or path)"),
                    ("408", "the request did not arrive in time"),
                    ("429", "rate limited; see Retry-After"),
                    ("503", "the database or the market is unavailable; retry"),
                ];
                if secured {
                    common.push(("401", "missing or invalid API key"));
                    common.push(("403", "this key may not do this"));
                }
                if has_params {
                    common.push(("404", "no such resource"));
                }
                if has_body {
                    common.push(("413", "the body is larger than 16 KiB"));
                    common.push(("415", "the body must be application/json"));
                    common.push(("422", "the body is well-formed but invalid"));
                }
                let responses = &mut op.responses.responses;
                // Errors already documented become problem documents.
                for (code, r) in responses.iter_mut() {
                    if code.starts_with('4') || code.starts_with('5') {
                        let desc = match r {
                            utoipa::openapi::RefOr::T(r) => r.description.clone(),
                            utoipa::openapi::RefOr::Ref(_) => String::new(),
                        };
                        *r = utoipa::openapi::RefOr::T(problem(&desc));
                    }
                }
                for (code, what) in common {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| utoipa::openapi::RefOr::T(problem(what)));
                }
            }
        }
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
        routes::tasks::start, routes::tasks::list, routes::tasks::one, routes::tasks::pause, routes::tasks::resume, routes::tasks::revoke,
        routes::stocks::prices, routes::stocks::tape, routes::tasks::file, routes::export::orders, routes::export::trades,
        routes::stream::stream, routes::ops::health, routes::ops::metrics_text,
    ),
    components(schemas(Problem)),
    modifiers(&Security, &Problems)
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
        .merge(routes::export::router())
        .merge(routes::tasks::router(state.tasks.settings.upload_limit))
        .merge(routes::ops::router())
        .merge(dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}

/// How long a client may take over one request.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To send its request line and headers (the connection is closed).
    pub headers: std::time::Duration,
    /// From its headers to the response: reading the body and handling it
    /// (408 with a problem body). Streams are not cut once they started.
    pub request: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            headers: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(30),
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves; in-flight requests
/// finish first. Default timeouts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, Timeouts::default()).await
}

/// `serve` with `timeouts`: a client that trickles its headers is cut off
/// after `timeouts.headers`, one that trickles its body gets 408 after
/// `timeouts.request`. Each request carries the client's address
/// (`axum::extract::ConnectInfo<SocketAddr>`).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let app = app.layer(axum::middleware::from_fn_with_state(
        timeouts.request,
        request_timeout,
    ));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(std::time::Duration::from_secs(20)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(remote));
                    req.map(axum::body::Body::new)
                });
        let conn = builder
            .serve_connection_with_upgrades(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(svc),
            )
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// 408 with a problem body when a request (its body included) is not
/// handled within the limit.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            use axum::response::IntoResponse;
            ApiError::RequestTimeout(format!(
                "the request took longer than {} ms to arrive and be handled",
                limit.as_millis()
            ))
            .into_response()
        }
    }
}
