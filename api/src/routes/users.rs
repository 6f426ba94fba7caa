//! Users and their account.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use engine::{AccountId, Money};

use crate::auth::{User, new_key};
use crate::dto::{AccountView, CreatedUser, NewUser, ts};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::{AppState, UserInfo};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", post(register))
        .route("/v1/account", get(account))
}

/// Register a user: an account with the starting cash and an API key.
#[utoipa::path(post, path = "/v1/users", request_body = NewUser, tag = "users",
    responses((status = 201, body = CreatedUser), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem, description = "registration is closed (`max_users` reached)")))]
pub async fn register(
    State(st): State<AppState>,
    addr: crate::limits::ClientAddr,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, axum::Json<CreatedUser>), ApiError> {
    st.limits.registration(addr.0, st.users.len())?;
    // Blank: Unicode white space, and the byte-order mark (what the
    // schema's pattern calls blank too).
    let blank = |c: char| c.is_whitespace() || c == '\u{feff}';
    let n = body.name.chars().count();
    if !(1..=64).contains(&n) || body.name.chars().all(blank) {
        return Err(ApiError::Unprocessable(
            "`name` must be 1 to 64 characters, not all blank".into(),
        ));
    }
    let name = body.name.trim_matches(blank).to_string();
    st.writable()?;
    let (key, hash) = new_key()?;
    let id = st.users.next_id();
    let h = st.market.own_actor(id).await?;
    h.open(id, st.starting_cash)
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = st.now();
    st.records.add_user(id);
    st.users.add(
        id,
        hash,
        UserInfo {
            name: name.clone(),
            created_at: now,
        },
    );
    let ticket = st.publish(
        vec![
            actors::facts::Fact::User {
                account: id,
                name: name.clone(),
                key_hash: crate::auth::hex(&hash),
                at: now,
            },
            actors::facts::Fact::Open { account: id },
            actors::facts::Fact::Deposit {
                account: id,
                amount: st.starting_cash,
            },
        ],
        &[],
    );
    st.commit(ticket).await?;
    metrics::counter!("marketsim_users_total").increment(1);
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedUser {
            user_id: id.0,
            name,
            api_key: key,
            cash: st.starting_cash.to_string(),
            created_at: ts(now),
        }),
    ))
}

/// Cash, equity and P&L valued at the latest prices.
pub async fn valuation(
    st: &AppState,
    id: AccountId,
) -> Result<(engine::Account, Money, Money), ApiError> {
    let acc = st
        .market
        .accounts_of(id)
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such account".into()))?;
    let mut equity = acc.cash().minor();
    let mut day = 0i64;
    for (s, h) in acc.holdings() {
        if h.quantity == 0 {
            continue;
        }
        if let Some(t) = st.market.directory().ticker(s) {
            let snap = t.snapshot().await?;
            equity += snap.stats.last.minor() * h.quantity as i64;
            day += (snap.stats.last.minor() - snap.stats.reference.minor()) * h.quantity as i64;
        }
    }
    Ok((acc, Money::from_minor(equity), Money::from_minor(day)))
}

/// The caller's cash, reservations, equity and day P&L.
#[utoipa::path(get, path = "/v1/account", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = crate::error::Problem)))]
pub async fn account(
    State(st): State<AppState>,
    User(id): User,
) -> Result<axum::Json<AccountView>, ApiError> {
    let (acc, equity, day) = valuation(&st, id).await?;
    let name = st.users.info(id).map(|u| u.name).unwrap_or_default();
    Ok(axum::Json(AccountView {
        user_id: id.0,
        name,
        cash: acc.cash().to_string(),
        reserved_cash: acc.reserved_cash().to_string(),
        available_cash: acc.available_cash().to_string(),
        equity: equity.to_string(),
        day_pnl: day.to_string(),
    }))
}
