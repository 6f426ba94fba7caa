//! Trading: place, list, fetch and cancel orders; the caller's fills.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use engine::{
    AccountId, ClientOrderId, Event, OrderId, OrderRequest, OrderType, RejectReason, Side, Symbol,
    TimeInForce,
};

use crate::auth::User;
use crate::dto::{
    FillDto, OrderDto, OrdersQuery, Page, Paging, PlaceOrder, TifDto, TypeDto, price,
};
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::records::{OrderRecord, Outcome};
use crate::routes::stocks::{page_bounds, parse_time};
use crate::state::AppState;
use engine::OrderStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", get(list).post(place))
        .route("/v1/orders/{id}", get(one).delete(cancel))
        .route("/v1/trades", get(trades))
}

fn denied(record: &OrderRecord, detail: String) -> ApiError {
    let reason = record
        .reason
        .map_or("denied", RejectReason::as_str)
        .to_string();
    let order = serde_json::to_value(OrderDto::from(record)).unwrap_or_default();
    metrics::counter!("marketsim_orders_total", "status" => "denied").increment(1);
    ApiError::Denied {
        reason,
        detail,
        order,
    }
}

pub(crate) fn reject_text(r: RejectReason) -> &'static str {
    match r {
        RejectReason::InsufficientCash => {
            "insufficient cash for this order (quantity x price plus fees)"
        }
        RejectReason::InsufficientHoldings => {
            "insufficient holdings: you do not have enough unreserved shares"
        }
        RejectReason::UnknownSymbol => "unknown symbol",
        RejectReason::OffTickGrid => "the price is not a multiple of the symbol's tick size",
        RejectReason::ZeroQuantity => "quantity must be at least 1",
        RejectReason::NonPositivePrice => "the price must be greater than zero",
        RejectReason::MissingPrice => "a limit order needs `limit_price`",
        RejectReason::InvalidClientOrderId => {
            "`client_order_id` must be 1 to 36 printable ASCII characters"
        }
        RejectReason::DuplicateOrderId => "duplicate order id",
        RejectReason::UnknownAccount => "unknown account",
        RejectReason::UnknownOrder => "unknown order",
        RejectReason::Overflow => "the order's value is too large",
        RejectReason::MarketUnavailable => {
            "a part of the market failed while routing this order: nothing traded and its \
             reservation was released; it is safe to send it again"
        }
    }
}

/// Place an order. 201 with the order and its fills; 422 with status
/// `denied` and a reason when the market refuses it (the order is still
/// recorded). A repeated `client_order_id` places nothing: it gets the
/// first request's answer (same status and body) once that answer is
/// durable, or 503 while the first request waits for the database.
#[utoipa::path(post, path = "/v1/orders", tag = "trading", security(("bearer" = [])), request_body = crate::dto::NewOrder,
    responses((status = 201, body = OrderDto),
        (status = 422, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "the market is closed"),
        (status = 503, body = crate::error::Problem, description = "the database is unavailable")))]
pub async fn place(
    State(st): State<AppState>,
    User(account): User,
    addr: crate::limits::ClientAddr,
    Json(body): Json<PlaceOrder>,
) -> Result<Response, ApiError> {
    st.limits.order(account, addr.0)?;
    // The order runs as a task of its own: a client that hangs up drops
    // only the answer, never the order half-way (audit C1).
    tokio::spawn(place_order(st, account, body))
        .await
        .map_err(|e| ApiError::Internal(format!("order task failed: {e}")))?
}

async fn place_order(
    st: AppState,
    account: AccountId,
    body: PlaceOrder,
) -> Result<Response, ApiError> {
    let client_order_id = body
        .client_order_id
        .as_deref()
        .map(ClientOrderId::new)
        .transpose()
        .map_err(|e| ApiError::Unprocessable(format!("`client_order_id`: {e}")))?;
    if let Some(c) = client_order_id {
        if let Some(r) = st.records.by_client_id(account, c) {
            return retry(&st, account, r.id).await;
        }
    }
    st.writable()?;
    if let actors::session::SessionState::Closed { opens_at } = st.sessions.at(st.now()) {
        return Err(ApiError::Conflict(format!(
            "the market is closed: the next session opens at {}",
            engine::time::rfc3339(opens_at)
        )));
    }
    let symbol =
        Symbol::new(&body.symbol).map_err(|e| ApiError::Unprocessable(format!("`symbol`: {e}")))?;
    let (order_type, limit_price) = match (body.order_type, &body.limit_price) {
        (TypeDto::Limit, Some(Some(p))) => (OrderType::Limit, Some(price("limit_price", p)?)),
        (TypeDto::Limit, _) => {
            return Err(ApiError::Unprocessable(
                "a limit order needs `limit_price`".into(),
            ));
        }
        (TypeDto::Market, None) => (OrderType::Market, None),
        (TypeDto::Market, Some(_)) => {
            return Err(ApiError::Unprocessable(
                "`limit_price` is only for limit orders".into(),
            ));
        }
    };
    let time_in_force = match body.time_in_force.unwrap_or(TifDto::Gtc) {
        TifDto::Gtc => TimeInForce::Gtc,
        TifDto::Ioc => TimeInForce::Ioc,
        TifDto::Fok => TimeInForce::Fok,
        TifDto::Day => TimeInForce::Day,
    };
    let side: Side = body.side.into();
    let (req, mut record) = new_order(
        &st,
        account,
        OrderSpec {
            symbol,
            side,
            order_type,
            quantity: body.quantity,
            limit_price,
            time_in_force,
            client_order_id,
        },
    );
    let (id, now) = (req.id, req.ts);
    // Validation failures are denials: recorded, then reported.
    let order = match actors::matcher::validate(&st.market.directory(), req, st.collar_bps).await {
        Ok(o) => o,
        Err(actors::PlaceError::Actor(e)) => return Err(e.into()),
        Err(e) => {
            let reason = e.reason().unwrap_or(RejectReason::UnknownSymbol);
            record.status = OrderStatus::Denied;
            record.reason = Some(reason);
            if !st.records.insert(record.clone()) {
                return retry_for(&st, account, client_order_id).await;
            }
            let ticket = st.publish(vec![record.fact()], &[]);
            let result = match st.commit(ticket).await {
                Ok(()) => Err(denied(&record, format!("{}: {e}", reject_text(reason)))),
                Err(e) => Err(e),
            };
            return answer(&st, id, client_order_id, Some(ticket), result).await;
        }
    };
    let fact = record.fact();
    if !st.records.insert(record) {
        return retry_for(&st, account, client_order_id).await;
    }
    let (ticket, result) = route(&st, account, id, now, side, fact, order).await;
    answer(&st, id, client_order_id, ticket, result).await
}

/// What a new order asks for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OrderSpec {
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: u64,
    pub limit_price: Option<engine::Price>,
    pub time_in_force: TimeInForce,
    pub client_order_id: Option<ClientOrderId>,
}

/// A new order's request and its record (accepted until the market says
/// otherwise), with a fresh id and creation time.
pub(crate) fn new_order(
    st: &AppState,
    account: AccountId,
    o: OrderSpec,
) -> (OrderRequest, OrderRecord) {
    let (id, now) = st.next_order();
    let req = OrderRequest {
        id,
        account,
        symbol: o.symbol,
        side: o.side,
        order_type: o.order_type,
        quantity: o.quantity,
        limit_price: o.limit_price,
        collar: None,
        time_in_force: o.time_in_force,
        client_order_id: o.client_order_id,
        ts: now,
    };
    let record = OrderRecord {
        id,
        account,
        client_order_id: o.client_order_id,
        symbol: o.symbol,
        side: o.side,
        order_type: o.order_type,
        quantity: o.quantity,
        limit_price: o.limit_price,
        time_in_force: o.time_in_force,
        status: OrderStatus::Accepted,
        filled: 0,
        filled_value: engine::Money::ZERO,
        reason: None,
        cancel_reason: None,
        created_at: now,
        updated_at: now,
    };
    (req, record)
}

/// Route a recorded order and answer as its first request does: 201 with
/// the order and this request's fills once durable, 422 if the market
/// denied it. Returns the journal ticket, if it got that far.
async fn route(
    st: &AppState,
    account: AccountId,
    id: OrderId,
    now: engine::Timestamp,
    side: Side,
    fact: actors::facts::Fact,
    order: engine::Order,
) -> (Option<u64>, Result<Response, ApiError>) {
    let batch = match st
        .submit(
            account,
            now,
            vec![fact],
            vec![actors::Command::Place(order)],
        )
        .await
    {
        Ok(b) => b,
        Err(e) => return (None, Err(e)),
    };
    let ticket = Some(batch.ticket);
    if let Err(e) = st.commit(batch.ticket).await {
        return (ticket, Err(e));
    }
    let r = match st.records.get(account, id) {
        Some(r) => r,
        None => {
            return (
                ticket,
                Err(ApiError::Internal("order record vanished".into())),
            );
        }
    };
    if r.status == OrderStatus::Denied {
        let reason = r.reason.unwrap_or(RejectReason::Overflow);
        return (ticket, Err(denied(&r, reject_text(reason).to_string())));
    }
    metrics::counter!("marketsim_orders_total", "status" => "accepted").increment(1);
    let fills: Vec<FillDto> = batch
        .routed
        .events
        .iter()
        .filter_map(|(s, e)| match e {
            Event::Trade(t) if t.taker_order == id => Some(FillDto {
                trade_id: t.seq,
                order_id: id.0,
                symbol: s.to_string(),
                side: side.as_str().to_string(),
                price: t.price.to_string(),
                quantity: t.quantity,
                liquidity: "taker".into(),
                timestamp: crate::dto::ts(t.ts),
            }),
            _ => None,
        })
        .collect();
    let mut dto = OrderDto::from(&r);
    dto.fills = Some(fills);
    (
        ticket,
        Ok((StatusCode::CREATED, axum::Json(dto)).into_response()),
    )
}

/// Keep the first request's answer for its retries (orders with a client
/// order id): a final answer as sent, a 503 as "not durable yet".
async fn answer(
    st: &AppState,
    id: OrderId,
    client: Option<ClientOrderId>,
    ticket: Option<u64>,
    result: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    if client.is_none() {
        return result;
    }
    let response = match (result, ticket) {
        (Err(ApiError::Unavailable(m)), Some(ticket)) => {
            st.records.set_outcome(id, Outcome::NotDurable { ticket });
            return Err(ApiError::Unavailable(m));
        }
        (Ok(r), _) => r,
        (Err(e), _) => e.into_response(),
    };
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let problem = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    st.records.set_outcome(
        id,
        Outcome::Answered {
            status: parts.status.as_u16(),
            problem,
            body: body.clone(),
        },
    );
    Ok(Response::from_parts(parts, axum::body::Body::from(body)))
}

/// The answer to a retry of `client`'s order.
async fn retry_for(
    st: &AppState,
    account: AccountId,
    client: Option<ClientOrderId>,
) -> Result<Response, ApiError> {
    let r = client
        .and_then(|c| st.records.by_client_id(account, c))
        .ok_or_else(|| ApiError::Internal("the winning order vanished".into()))?;
    retry(st, account, r.id).await
}

/// A retry gets the first request's answer once that answer is durable:
/// the same status and body; 503 while the first request is waiting for
/// the database (as it does); if the first request answered 503, the
/// order's outcome as soon as it is durable.
async fn retry(st: &AppState, account: AccountId, id: OrderId) -> Result<Response, ApiError> {
    let deadline = tokio::time::Instant::now() + st.durable_timeout;
    loop {
        let changed = st.records.outcome_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match st.records.outcome(id) {
            Some(Outcome::Answered {
                status,
                problem,
                body,
            }) => {
                let content_type = if problem {
                    "application/problem+json"
                } else {
                    "application/json"
                };
                return Ok((
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    [(axum::http::header::CONTENT_TYPE, content_type)],
                    body,
                )
                    .into_response());
            }
            Some(Outcome::NotDurable { ticket }) => {
                st.writable()?;
                st.commit(ticket).await?;
                let r = st
                    .records
                    .get(account, id)
                    .ok_or_else(|| ApiError::Internal("order record vanished".into()))?;
                return answer(st, id, r.client_order_id, Some(ticket), Ok(from_record(&r))).await;
            }
            // Restored from the database (or long answered): durable.
            None => {
                let r = st
                    .records
                    .get(account, id)
                    .ok_or_else(|| ApiError::Internal("order record vanished".into()))?;
                return Ok(from_record(&r));
            }
            Some(Outcome::Pending) => {}
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return Err(ApiError::Unavailable(
                "the first request with this client_order_id is still waiting for the database; retry shortly".into(),
            ));
        }
    }
}

/// An order's answer from its record: 422 for a denied order, else 201.
fn from_record(r: &OrderRecord) -> Response {
    if r.status == OrderStatus::Denied {
        let reason = r.reason.unwrap_or(RejectReason::Overflow);
        denied(r, reject_text(reason).to_string()).into_response()
    } else {
        (StatusCode::CREATED, axum::Json(OrderDto::from(r))).into_response()
    }
}

fn statuses(field: &str, s: &str) -> Result<Vec<OrderStatus>, ApiError> {
    s.split(',')
        .map(|x| {
            OrderStatus::parse(x.trim()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`{field}`: `{x}` is not one of accepted, partially_filled, filled, cancelled, expired, denied"
                ))
            })
        })
        .collect()
}

/// The caller's orders, filtered, sorted and paginated.
///
/// Filters: `status` (comma list), `symbol`, `side`, `created_from` /
/// `created_to` (RFC 3339, a date, or `today`), `min_quantity`; `combine=or`
/// makes an order match if its status OR its creation time matches (default:
/// both); `exclude_status` with `exclude_quantity_below` drops orders in
/// those statuses with a smaller quantity; `sort` is `-created_at` (newest
/// first, default), `created_at`, `quantity` or `-quantity`.
///
/// Orders that are accepted or were created today, excluding denied orders
/// with quantity < 10, newest first:
/// `GET /v1/orders?status=accepted&created_from=today&combine=or&exclude_status=denied&exclude_quantity_below=10&sort=-created_at`
#[utoipa::path(get, path = "/v1/orders", tag = "trading", security(("bearer" = [])), params(OrdersQuery),
    responses((status = 200, body = Page<OrderDto>), (status = 400, body = crate::error::Problem)))]
pub async fn list(
    State(st): State<AppState>,
    User(account): User,
    Query(q): Query<OrdersQuery>,
) -> Result<axum::Json<Page<OrderDto>>, ApiError> {
    let (limit, offset) = page_bounds(q.limit, q.offset)?;
    for (field, v) in [
        ("min_quantity", q.min_quantity),
        ("exclude_quantity_below", q.exclude_quantity_below),
    ] {
        if v.is_some_and(|v| v > i64::MAX as u64) {
            return Err(ApiError::BadRequest(format!(
                "`{field}` must be at most {}",
                i64::MAX
            )));
        }
    }
    let status = q
        .status
        .as_deref()
        .map(|s| statuses("status", s))
        .transpose()?;
    let exclude = q
        .exclude_status
        .as_deref()
        .map(|s| statuses("exclude_status", s))
        .transpose()?;
    let symbol = q
        .symbol
        .as_deref()
        .map(|s| Symbol::new(s).map_err(|e| ApiError::BadRequest(format!("`symbol`: {e}"))))
        .transpose()?;
    let side = match q.side.as_deref() {
        None => None,
        Some("buy") => Some(Side::Buy),
        Some("sell") => Some(Side::Sell),
        Some(o) => {
            return Err(ApiError::BadRequest(format!(
                "`side`: `{o}` is not buy or sell"
            )));
        }
    };
    let now = st.now();
    let today =
        engine::Timestamp(now.nanos().div_euclid(86_400 * 1_000_000_000) * 86_400 * 1_000_000_000);
    let from = match q.created_from.as_deref() {
        None => None,
        Some("today") => Some(today),
        Some(v) => Some(parse_time("created_from", v)?),
    };
    let to = match q.created_to.as_deref() {
        None => None,
        Some("today") => Some(today),
        Some(v) => Some(parse_time("created_to", v)?),
    };
    let or = match q.combine.as_deref().unwrap_or("and") {
        "and" => false,
        "or" => true,
        o => {
            return Err(ApiError::BadRequest(format!(
                "`combine`: `{o}` is not and or or"
            )));
        }
    };
    let has_time = from.is_some() || to.is_some();
    let keep = |r: &OrderRecord| {
        symbol.is_none_or(|s| r.symbol == s)
            && side.is_none_or(|s| r.side == s)
            && q.min_quantity.is_none_or(|m| r.quantity >= m)
            && {
                let by_status = status.as_ref().map(|v| v.contains(&r.status));
                let by_time = has_time.then(|| {
                    from.is_none_or(|f| r.created_at >= f) && to.is_none_or(|t| r.created_at < t)
                });
                match (by_status, by_time) {
                    (Some(a), Some(b)) => {
                        if or {
                            a || b
                        } else {
                            a && b
                        }
                    }
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => true,
                }
            }
            && match (&exclude, q.exclude_quantity_below) {
                (Some(x), Some(n)) => !(x.contains(&r.status) && r.quantity < n),
                (Some(x), None) => !x.contains(&r.status),
                _ => true,
            }
    };
    type Cmp = fn(&OrderRecord, &OrderRecord) -> std::cmp::Ordering;
    let cmp: Cmp = match q.sort.as_deref().unwrap_or("-created_at") {
        "-created_at" => |a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)),
        "created_at" => |a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)),
        "quantity" => |a, b| a.quantity.cmp(&b.quantity).then(a.id.cmp(&b.id)),
        "-quantity" => |a, b| b.quantity.cmp(&a.quantity).then(b.id.cmp(&a.id)),
        o => {
            return Err(ApiError::BadRequest(format!(
                "`sort`: `{o}` is not created_at, -created_at, quantity or -quantity"
            )));
        }
    };
    let unfiltered = symbol.is_none()
        && side.is_none()
        && q.min_quantity.is_none()
        && status.is_none()
        && !has_time
        && exclude.is_none();
    let newest_first = q.sort.as_deref().unwrap_or("-created_at") == "-created_at";
    let (items, total) = if unfiltered && newest_first {
        st.records.newest_of(account, offset, limit)
    } else {
        st.records.page_of(account, keep, cmp, offset, limit)
    };
    Ok(axum::Json(Page {
        items: items.iter().map(OrderDto::from).collect(),
        total,
        limit,
        offset,
    }))
}

fn owned(st: &AppState, account: AccountId, id: u64) -> Result<OrderRecord, ApiError> {
    // Another user's order is reported exactly like a missing one.
    // An order not yet durable is not there yet either.
    st.records
        .visible(account, OrderId(id))
        .ok_or_else(|| ApiError::NotFound(format!("no order {id}")))
}

/// One of the caller's orders.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "trading", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Order id")),
    responses((status = 200, body = OrderDto), (status = 404, body = crate::error::Problem)))]
pub async fn one(
    State(st): State<AppState>,
    User(account): User,
    Path(id): Path<u64>,
) -> Result<axum::Json<OrderDto>, ApiError> {
    Ok(axum::Json(OrderDto::from(&owned(&st, account, id)?)))
}

/// Cancel one of the caller's open orders; its reservation is released.
#[utoipa::path(delete, path = "/v1/orders/{id}", tag = "trading", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Order id")),
    responses((status = 200, body = OrderDto), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn cancel(
    State(st): State<AppState>,
    User(account): User,
    Path(id): Path<u64>,
) -> Result<axum::Json<OrderDto>, ApiError> {
    let r = owned(&st, account, id)?;
    st.writable()?;
    if !r.status.is_open() {
        return Err(ApiError::Conflict(format!(
            "order {id} is {} and cannot be cancelled",
            r.status.as_str()
        )));
    }
    let batch = st
        .submit(
            account,
            st.now(),
            Vec::new(),
            vec![actors::Command::Cancel {
                id: r.id,
                account,
                symbol: r.symbol,
            }],
        )
        .await?;
    st.commit(batch.ticket).await?;
    if batch.routed.refused.iter().any(|(o, _)| *o == r.id) {
        let now = owned(&st, account, id)?;
        return Err(ApiError::Conflict(format!(
            "order {id} is {} and cannot be cancelled",
            now.status.as_str()
        )));
    }
    metrics::counter!("marketsim_orders_total", "status" => "cancelled").increment(1);
    Ok(axum::Json(OrderDto::from(&owned(&st, account, id)?)))
}

/// The caller's fills, newest first.
#[utoipa::path(get, path = "/v1/trades", tag = "trading", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<FillDto>)))]
pub async fn trades(
    State(st): State<AppState>,
    User(account): User,
    Query(p): Query<Paging>,
) -> Result<axum::Json<Page<FillDto>>, ApiError> {
    let (limit, offset) = page_bounds(p.limit, p.offset)?;
    let mut fills = st.records.fills_of(account);
    fills.reverse();
    let total = fills.len();
    Ok(axum::Json(Page {
        items: fills
            .iter()
            .skip(offset)
            .take(limit)
            .map(FillDto::from)
            .collect(),
        total,
        limit,
        offset,
    }))
}
