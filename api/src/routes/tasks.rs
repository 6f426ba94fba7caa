//! Background tasks: start (JSON, or multipart with a file for imports),
//! list, fetch, pause, resume, revoke.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::dto::{Page, ts};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::routes::stocks::page_bounds;
use crate::state::AppState;
use crate::tasks::{Control, Params, View, eta};

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/tasks",
            get(list)
                .post(start)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v1/tasks/{id}", get(one))
        .route("/v1/tasks/{id}/file", get(file))
        .route("/v1/tasks/{id}/pause", post(pause))
        .route("/v1/tasks/{id}/resume", post(resume))
        .route("/v1/tasks/{id}/revoke", post(revoke))
}

/// A task as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDto {
    pub id: u64,
    /// create_shares, update_prices, import_orders, import_prices, export.
    pub kind: String,
    /// queued, running, paused, completed, failed or revoked.
    pub state: String,
    /// The account that started it; null when the admin did.
    pub owner: Option<u64>,
    /// The parameters it was started with.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub progress: Progress,
    pub result: TaskResult,
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: String,
    pub paused_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Items (rows, symbols) processed.
    pub done: u64,
    /// Items in all.
    pub total: u64,
    /// While running: items per second since this run started.
    pub items_per_second: Option<f64>,
    /// While running: seconds left at that rate.
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResult {
    /// Items applied.
    pub applied: u64,
    /// Items refused (bad rows, denied orders).
    pub refused: u64,
    /// The first refusals, with their lines (1 is a file's header).
    pub errors: Vec<RowErrorDto>,
    /// Why it failed or was revoked.
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorDto {
    pub line: u64,
    pub message: String,
}

impl From<&View> for TaskDto {
    fn from(v: &View) -> Self {
        let t = &v.task;
        TaskDto {
            id: t.id,
            kind: t.kind.as_str().into(),
            state: t.state.as_str().into(),
            owner: t.owner.map(|a| a.0),
            params: serde_json::from_str(&t.params).unwrap_or_default(),
            progress: Progress {
                done: t.done,
                total: t.total,
                items_per_second: v.rate,
                eta_seconds: eta(v),
            },
            result: TaskResult {
                applied: t.applied,
                refused: t.refused,
                errors: t
                    .problems
                    .iter()
                    .map(|p| RowErrorDto {
                        line: p.line,
                        message: p.message.clone(),
                    })
                    .collect(),
                detail: t.detail.clone(),
            },
            created_at: ts(t.created_at),
            started_at: t.started_at.map(ts),
            updated_at: ts(t.updated_at),
            paused_at: t.paused_at.map(ts),
            finished_at: t.finished_at.map(ts),
        }
    }
}

/// Start a task. JSON (`{"kind": "create_shares", "count": 10000}`,
/// `{"kind": "update_prices", "symbols": "all"}`) or, for imports,
/// `multipart/form-data` with a `kind` part (`import_orders` or
/// `import_prices`), optional `strict` and `date` parts, and the CSV as
/// the `file` part. Market-wide kinds need the admin key; a user imports
/// their own orders (no `user` column).
#[utoipa::path(post, path = "/v1/tasks", tag = "tasks", security(("bearer" = [])),
    request_body(content(
        (NewTask = "application/json"),
        (NewImport = "multipart/form-data"),
    ), description = "the task's parameters (JSON), or an import's form with its file"),
    responses((status = 201, body = TaskDto), (status = 403, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem, description = "the upload is larger than the limit"),
        (status = 422, body = crate::error::Problem)))]
pub async fn start(
    State(st): State<AppState>,
    Caller(caller): Caller,
    req: Request,
) -> Result<Response, ApiError> {
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (params, upload) = if multipart {
        from_multipart(&st, req).await?
    } else {
        let crate::extract::Json(v) =
            crate::extract::Json::<serde_json::Value>::from_request(req, &st).await?;
        let p: Params = serde_json::from_value(v)
            .map_err(|e| ApiError::Unprocessable(format!("the task does not fit: {e}")))?;
        if p.kind().uploads() {
            return Err(ApiError::UnsupportedMediaType(format!(
                "`{}` needs its file: send multipart/form-data with `kind` and `file` parts",
                p.kind().as_str()
            )));
        }
        (p, None)
    };
    let task = st.start_task(caller, params, upload).await?;
    let view = st
        .tasks
        .view(task.id, caller)
        .ok_or_else(|| ApiError::Internal("the task vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/v1/tasks/{}", task.id),
        )],
        axum::Json(TaskDto::from(&view)),
    )
        .into_response())
}

async fn from_multipart(
    st: &AppState,
    req: Request,
) -> Result<(Params, Option<Vec<u8>>), ApiError> {
    let limit = st.tasks.settings.upload_limit;
    let too_large =
        || ApiError::PayloadTooLarge(format!("the upload is larger than {limit} bytes"));
    let mut form = axum::extract::Multipart::from_request(req, st)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut fields = serde_json::Map::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::BadRequest(format!(
                    "multipart: {}",
                    e.body_text()
                )));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::BadRequest(format!(
                    "multipart: {}",
                    e.body_text()
                )));
            }
        };
        if name == "file" {
            file = Some(bytes.to_vec());
            continue;
        }
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::Unprocessable(format!("part `{name}` is not UTF-8 text")))?;
        let value = match name.as_str() {
            "strict" => serde_json::Value::Bool(matches!(text.trim(), "true" | "1" | "yes")),
            _ => serde_json::Value::String(text),
        };
        fields.insert(name, value);
    }
    let params: Params = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| ApiError::Unprocessable(format!("the task does not fit: {e}")))?;
    if params.kind().uploads() && file.is_none() {
        return Err(ApiError::Unprocessable(format!(
            "`{}` needs the CSV as a `file` part",
            params.kind().as_str()
        )));
    }
    Ok((params, file))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TasksQuery {
    /// Only tasks in this state.
    #[param(pattern = r"^(queued|running|paused|completed|failed|revoked)$")]
    pub state: Option<String>,
    /// Only tasks of this kind.
    #[param(pattern = r"^(create_shares|update_prices|import_orders|import_prices|export)$")]
    pub kind: Option<String>,
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Items to skip (at most 1,000,000,000).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<usize>,
}

/// A task started with a JSON body: `kind` says which, and each kind reads
/// its own fields (another kind's field is refused, 422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewTask {
    #[schema(pattern = r"^(create_shares|update_prices|export)$")]
    pub kind: String,
    /// create_shares: symbols to list.
    #[schema(minimum = 1, maximum = 100_000)]
    pub count: Option<u64>,
    /// create_shares: the new symbols' prefix (default `T<id>S`).
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,9}$")]
    pub prefix: Option<String>,
    /// create_shares: the range of the random prices (default 10.00 to 500.00).
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub min_price: Option<String>,
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub max_price: Option<String>,
    /// create_shares: shares each new symbol issues (default 10,000).
    #[schema(minimum = 1)]
    pub float: Option<u64>,
    /// create_shares, update_prices: the random stream (default: the task's id).
    pub seed: Option<u64>,
    /// update_prices: `"all"` or a list of symbols.
    #[schema(value_type = Object)]
    pub symbols: Option<serde_json::Value>,
    /// update_prices: a price per symbol, instead of `symbols`.
    #[schema(value_type = Object)]
    pub prices: Option<serde_json::Value>,
    /// update_prices: the largest random step, in basis points (default 200).
    #[schema(minimum = 0, maximum = 5_000)]
    pub step_bps: Option<u32>,
    /// export: `orders`, `trades` or `prices`.
    #[schema(pattern = r"^(orders|trades|prices)$")]
    pub what: Option<String>,
    /// export: RFC 3339 time or a date.
    #[schema(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub from: Option<String>,
    /// export: RFC 3339 time or a date (the whole day).
    #[schema(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub to: Option<String>,
    /// export: one symbol only.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: Option<String>,
}

/// An import: the multipart form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewImport {
    #[schema(pattern = r"^(import_orders|import_prices)$")]
    pub kind: String,
    /// The CSV: `time,[user,]symbol,side,type,quantity,limit_price` or
    /// `Time,Stock,Price`.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Stop at the first bad row (the task fails, saying the line).
    pub strict: Option<bool>,
    /// import_prices: the day of the file's times (default today, UTC).
    #[schema(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub date: Option<String>,
}

/// The caller's tasks (every task for the admin), newest first.
#[utoipa::path(get, path = "/v1/tasks", tag = "tasks", security(("bearer" = [])), params(TasksQuery),
    responses((status = 200, body = Page<TaskDto>)))]
pub async fn list(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<TasksQuery>,
) -> Result<axum::Json<Page<TaskDto>>, ApiError> {
    let (limit, offset) = page_bounds(q.limit, q.offset)?;
    let state = q
        .state
        .as_deref()
        .map(|s| {
            actors::task::TaskState::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`state` must be one of queued, running, paused, completed, failed, revoked; not `{s}`"
                ))
            })
        })
        .transpose()?;
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            actors::task::TaskKind::parse(k).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`kind` must be one of create_shares, update_prices, import_orders, import_prices; not `{k}`"
                ))
            })
        })
        .transpose()?;
    let all = st.tasks.list(caller, state, kind);
    Ok(axum::Json(Page {
        total: all.len(),
        items: all
            .iter()
            .skip(offset)
            .take(limit)
            .map(TaskDto::from)
            .collect(),
        limit,
        offset,
    }))
}

fn task_id(s: &str) -> Result<u64, ApiError> {
    s.parse()
        .map_err(|_| ApiError::NotFound(format!("no task `{s}`")))
}

/// One task (404 if it is another user's).
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, body = TaskDto), (status = 404, body = crate::error::Problem)))]
pub async fn one(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TaskDto>, ApiError> {
    let id = task_id(&id)?;
    st.tasks
        .view(id, caller)
        .map(|v| axum::Json(TaskDto::from(&v)))
        .ok_or_else(|| ApiError::NotFound(format!("no task {id}")))
}

async fn control(
    st: AppState,
    caller: Option<AccountId>,
    id: &str,
    c: Control,
) -> Result<axum::Json<TaskDto>, ApiError> {
    let view = st.control_task(task_id(id)?, caller, c).await?;
    Ok(axum::Json(TaskDto::from(&view)))
}

/// Pause a queued or running task at the next item boundary; a task
/// paused longer than `task_pause_timeout` is revoked by itself.
#[utoipa::path(post, path = "/v1/tasks/{id}/pause", tag = "tasks", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, body = TaskDto), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn pause(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TaskDto>, ApiError> {
    control(st, caller, &id, Control::Pause).await
}

/// Resume a paused task at its next unprocessed item.
#[utoipa::path(post, path = "/v1/tasks/{id}/resume", tag = "tasks", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, body = TaskDto), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn resume(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TaskDto>, ApiError> {
    control(st, caller, &id, Control::Resume).await
}

/// Stop a task for good: items done stay done.
#[utoipa::path(post, path = "/v1/tasks/{id}/revoke", tag = "tasks", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, body = TaskDto), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn revoke(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TaskDto>, ApiError> {
    control(st, caller, &id, Control::Revoke).await
}

/// A finished export's CSV, streamed a part at a time (409 while it runs;
/// 404 for a task that is not an export or not the caller's).
#[utoipa::path(get, path = "/v1/tasks/{id}/file", tag = "tasks", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Task id")),
    responses((status = 200, content_type = "text/csv", description = "the export"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn file(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let view = st
        .tasks
        .view(id, caller)
        .filter(|v| v.task.kind == actors::task::TaskKind::Export)
        .ok_or_else(|| ApiError::NotFound(format!("no export task {id}")))?;
    if view.task.state != actors::task::TaskState::Completed {
        return Err(ApiError::Conflict(format!(
            "the export is {}: its file is ready once it is completed",
            view.task.state.as_str()
        )));
    }
    let archive = st.archive.clone();
    let parts = futures::stream::unfold(Some(0usize), move |part| {
        let archive = archive.clone();
        async move {
            let n = part?;
            match archive.file(id, &format!("export.{n}")).await {
                Ok(Some(bytes)) => Some((
                    Ok(String::from_utf8(bytes).unwrap_or_default()),
                    Some(n + 1),
                )),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    Ok(crate::routes::export::csv_response(
        Box::pin(parts),
        &format!("export-{id}.csv"),
    ))
}
