//! Administration: list symbols, set prices, pause the generator.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

use crate::auth::Admin;
use crate::dto::{NewStock, SetPrice, Stock, price};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::routes::stocks::{stock, symbol};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/stocks", post(list_stock))
        .route("/v1/admin/stocks/{symbol}/price", post(set_price))
        .route("/v1/admin/generator/pause", post(pause))
        .route("/v1/admin/generator/resume", post(resume))
}

/// Shares a listing issues when none are given.
pub const DEFAULT_FLOAT: u64 = 10_000;

/// List a new symbol: its float goes to the house account.
#[utoipa::path(post, path = "/v1/admin/stocks", tag = "admin", security(("bearer" = [])), request_body = NewStock,
    responses((status = 201, body = Stock), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn list_stock(
    State(st): State<AppState>,
    _: Admin,
    Json(b): Json<NewStock>,
) -> Result<(StatusCode, axum::Json<Stock>), ApiError> {
    st.writable()?;
    let s = engine::Symbol::new(&b.symbol)
        .map_err(|e| ApiError::Unprocessable(format!("`symbol`: {e}")))?;
    if st.market.directory().ticker(s).is_some() {
        return Err(ApiError::Conflict(format!("{s} is already listed")));
    }
    let initial = price("initial_price", &b.initial_price)?;
    let tick = b
        .tick_size
        .as_deref()
        .map(|t| price("tick_size", t))
        .transpose()?
        .unwrap_or(actors::Listing::DEFAULT_TICK);
    if !initial.is_on_grid(tick) {
        return Err(ApiError::Unprocessable(format!(
            "`initial_price` {initial} is not a multiple of the tick size {tick}"
        )));
    }
    let float = b.float.unwrap_or(DEFAULT_FLOAT);
    if float == 0 || float > i64::MAX as u64 {
        return Err(ApiError::Unprocessable(format!(
            "`float` must be 1 to {} shares",
            i64::MAX
        )));
    }
    let at = event_time(&st, b.ts.as_deref())?;
    let mut listing = actors::Listing {
        tick,
        float,
        ..actors::Listing::new(s, initial)
    };
    if let Some(v) = b.volatility {
        if !(0.0..=10.0).contains(&v) {
            return Err(ApiError::Unprocessable(
                "`volatility` must be between 0 and 10".into(),
            ));
        }
        listing.params.volatility = v;
    }
    // A listing with its own time is a replay's: it starts off the walk.
    let h = st.list(listing, at, b.ts.is_some()).await?;
    Ok((StatusCode::CREATED, axum::Json(stock(&h.snapshot().await?))))
}

/// `ts` of a request (RFC 3339 or a date), or now.
fn event_time(st: &AppState, ts: Option<&str>) -> Result<engine::Timestamp, ApiError> {
    match ts {
        None => Ok(st.now()),
        // The API's one time rule (years 1970 to 2199, as the schema says);
        // a body field, so 422.
        Some(v) => crate::routes::stocks::parse_time("ts", v)
            .map_err(|e| ApiError::Unprocessable(e.to_string())),
    }
}

impl AppState {
    /// List `listing` (its float to the house account) with its first
    /// price at `at`, journaled like every listing, and start walking it
    /// (`outside`: its prices come from outside, so it starts off the walk
    /// for `replay_hold`). The listing path of the admin API, of replays
    /// and of consumed topics.
    pub async fn list(
        &self,
        listing: actors::Listing,
        at: engine::Timestamp,
        outside: bool,
    ) -> Result<actors::TickerHandle, ApiError> {
        let mut h = self
            .list_many(vec![listing], at, outside, Vec::new())
            .await?;
        h.pop()
            .ok_or_else(|| ApiError::Internal("a listing vanished".into()))
    }

    /// List several symbols as `list` does one, with one journal write
    /// for the listings and one order-router submission for the house's
    /// offerings (journaled with `offer_facts`, e.g. a task's progress).
    /// A symbol already listed is not listed again; its offering is made
    /// again, which the house's ledger refuses if the first one rests (so
    /// a task that runs a chunk again after a restart offers once).
    pub async fn list_many(
        &self,
        listings: Vec<actors::Listing>,
        at: engine::Timestamp,
        outside: bool,
        offer_facts: Vec<actors::facts::Fact>,
    ) -> Result<Vec<actors::TickerHandle>, ApiError> {
        let dir = self.market.directory();
        let offers: Vec<_> = listings
            .iter()
            .map(|l| (l.symbol, l.float, l.initial))
            .collect();
        let fresh: Vec<&actors::Listing> = listings
            .iter()
            .filter(|l| dir.ticker(l.symbol).is_none())
            .collect();
        let mut models = Vec::with_capacity(fresh.len());
        for l in &fresh {
            let model = l
                .model(l.initial)
                .map_err(|e| ApiError::Unprocessable(format!("`volatility`: {e}")))?;
            models.push((l.symbol, model));
        }
        // Tickers spawned, first prices (at their own time: each listing's
        // day starts there) and floats issued with one message each, all
        // in flight at once: one wake-up of the market's thread carries many.
        let spawned = futures::future::join_all(fresh.iter().map(|l| {
            self.market.list(l.ticker(actors::TickerConfig {
                ticks_update_stats: true,
            }))
        }))
        .await;
        let spawned = spawned.into_iter().collect::<Result<Vec<_>, _>>()?;
        for r in futures::future::join_all(
            spawned
                .iter()
                .zip(&fresh)
                .map(|(h, l)| h.tick(l.initial, at)),
        )
        .await
        {
            r?;
        }
        let issues: Vec<_> = fresh
            .iter()
            .filter(|l| l.float > 0)
            .map(|l| actors::account::AccountCmd::Issue(self.house, l.symbol, l.float))
            .collect();
        if !issues.is_empty() {
            for r in self
                .market
                .accounts_of(self.house)
                .apply_batch(issues)
                .await?
            {
                r.map_err(|e| ApiError::Internal(e.to_string()))?;
            }
        }
        let mut facts = Vec::with_capacity(2 * fresh.len());
        for l in &fresh {
            facts.push(actors::facts::Fact::Listed {
                symbol: l.symbol,
                tick: l.tick,
                price: l.initial,
            });
            if l.float > 0 {
                facts.push(actors::facts::Fact::Issue {
                    account: self.house,
                    symbol: l.symbol,
                    quantity: l.float,
                });
            }
        }
        let handles = listings
            .iter()
            .map(|l| {
                dir.ticker(l.symbol)
                    .ok_or_else(|| ApiError::Internal(format!("{} vanished", l.symbol)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ticket = self.publish(facts, &[]);
        self.commit(ticket).await?;
        self.offer_many(&offers, offer_facts).await?;
        if let Some(c) = &self.cache {
            // The listing changed: cached lists and movers are stale.
            let _ = c.invalidate().await;
        }
        if let Some(g) = &self.generator {
            // Each new symbol's walk its own stream: the count of symbols
            // once it was listed.
            let listed = self.market.directory().ticker_count() as u64;
            let first = listed.saturating_sub(models.len() as u64);
            for (i, (s, model)) in models.into_iter().enumerate() {
                let stream = first + i as u64 + 1;
                let _ = g.add(
                    s,
                    model,
                    stream,
                    stream,
                    outside.then_some(self.replay_hold),
                );
            }
        }
        Ok(handles)
    }

    /// The issuer (the house) offers `quantity` shares of each `symbol` at
    /// `price`: resting GTC sells, journaled like any order (with `facts`
    /// beside them), that users buy from (a listing's primary offering;
    /// its size is the stock's `available_quantity` until someone buys).
    pub async fn offer_many(
        &self,
        offers: &[(engine::Symbol, u64, engine::Price)],
        mut facts: Vec<actors::facts::Fact>,
    ) -> Result<(), ApiError> {
        let mut cmds = Vec::with_capacity(offers.len());
        let mut at = engine::Timestamp(0);
        let mut requests = Vec::with_capacity(offers.len() + facts.len());
        for &(symbol, quantity, price) in offers.iter().filter(|o| o.1 > 0) {
            let (id, ts) = self.next_order();
            at = ts;
            let req = engine::OrderRequest {
                id,
                account: self.house,
                symbol,
                side: engine::Side::Sell,
                order_type: engine::OrderType::Limit,
                quantity,
                limit_price: Some(price),
                collar: None,
                time_in_force: engine::TimeInForce::Gtc,
                client_order_id: None,
                ts,
            };
            let order = actors::matcher::validate(&self.market.directory(), req, self.collar_bps)
                .await
                .map_err(|e| {
                    ApiError::Internal(format!("the house's offering of {symbol}: {e}"))
                })?;
            requests.push(actors::facts::Fact::Order(actors::facts::OrderFact {
                id,
                account: self.house,
                client_order_id: None,
                symbol,
                side: engine::Side::Sell,
                order_type: engine::OrderType::Limit,
                quantity,
                limit_price: Some(price),
                time_in_force: engine::TimeInForce::Gtc,
                denied: None,
                at: ts,
            }));
            cmds.push(actors::Command::Place(order));
        }
        if cmds.is_empty() && facts.is_empty() {
            return Ok(());
        }
        requests.append(&mut facts);
        let at = if cmds.is_empty() { self.now() } else { at };
        let batch = self.submit(self.house, at, requests, cmds).await?;
        self.commit(batch.ticket).await
    }

    /// A price from outside the market (a replay, a consumed topic) at
    /// its own time `at`: applied to the ticker, journaled, then streamed
    /// (and mirrored to Redis); the symbol stays off the random walk while
    /// such prices arrive.
    pub async fn outside_price(
        &self,
        t: &actors::TickerHandle,
        p: engine::Price,
        at: engine::Timestamp,
    ) -> Result<(), ApiError> {
        let s = t.symbol();
        if let Some(g) = &self.generator {
            let _ = g.hold(s, p, self.replay_hold);
        }
        t.tick(p, at).await?;
        let ticket = self.publish(
            vec![actors::facts::Fact::Tick {
                symbol: s,
                price: p,
                ts: at,
                source: Some(actors::facts::PriceSource::Replay),
            }],
            &[],
        );
        self.commit(ticket).await?;
        self.price_set(s, p, at, actors::facts::PriceSource::Replay);
        self.bus.publish(vec![actors::MarketEvent::Tick {
            symbol: s,
            price: p,
            ts: at,
        }]);
        Ok(())
    }

    /// A durable price from outside the walk joins the symbol's price list.
    pub fn price_set(
        &self,
        symbol: engine::Symbol,
        price: engine::Price,
        ts: engine::Timestamp,
        source: actors::facts::PriceSource,
    ) {
        self.archive
            .record_prices(&[(symbol, actors::ports::PriceEntry { ts, price, source })]);
    }
}

/// Set a symbol's reference price: now (the walk goes on from it), or at
/// the given `ts` (a replayed price: the symbol leaves the walk while
/// such prices arrive).
#[utoipa::path(post, path = "/v1/admin/stocks/{symbol}/price", tag = "admin", security(("bearer" = [])), request_body = SetPrice,
    params(("symbol" = String, Path, description = "Ticker symbol (either case)")),
    responses((status = 200, body = Stock), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_price(
    State(st): State<AppState>,
    _: Admin,
    Path(sym): Path<String>,
    Json(b): Json<SetPrice>,
) -> Result<axum::Json<Stock>, ApiError> {
    let s = symbol(&sym)?;
    let t = st
        .market
        .directory()
        .ticker(s)
        .ok_or_else(|| ApiError::NotFound(format!("unknown symbol `{sym}`")))?;
    let p = price("price", &b.price)?;
    if !p.is_on_grid(t.tick_size()) {
        return Err(ApiError::Unprocessable(format!(
            "`price` {p} is not a multiple of the tick size {}",
            t.tick_size()
        )));
    }
    if b.ts.is_some() {
        let at = event_time(&st, b.ts.as_deref())?;
        st.outside_price(&t, p, at).await?;
        return Ok(axum::Json(stock(&t.snapshot().await?)));
    }
    match &st.generator {
        Some(g) => {
            let _ = g.set_price(s, p);
        }
        None => t.tick(p, st.now()).await?,
    }
    // The generator applies it asynchronously; apply here too so the
    // answer shows it (a repeated tick of the same price changes nothing).
    let now = st.now();
    t.tick(p, now).await?;
    let ticket = st.publish(
        vec![actors::facts::Fact::Tick {
            symbol: s,
            price: p,
            ts: now,
            source: Some(actors::facts::PriceSource::Admin),
        }],
        &[],
    );
    st.commit(ticket).await?;
    st.price_set(s, p, now, actors::facts::PriceSource::Admin);
    Ok(axum::Json(stock(&t.snapshot().await?)))
}

fn generator(st: &AppState) -> Result<&actors::GeneratorHandle, ApiError> {
    st.generator
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("this market runs no price generator".into()))
}

/// Pause the random walk.
#[utoipa::path(post, path = "/v1/admin/generator/pause", tag = "admin", security(("bearer" = [])), responses((status = 204)))]
pub async fn pause(State(st): State<AppState>, _: Admin) -> Result<StatusCode, ApiError> {
    generator(&st)?.pause()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resume the random walk.
#[utoipa::path(post, path = "/v1/admin/generator/resume", tag = "admin", security(("bearer" = [])), responses((status = 204)))]
pub async fn resume(State(st): State<AppState>, _: Admin) -> Result<StatusCode, ApiError> {
    generator(&st)?.resume()?;
    Ok(StatusCode::NO_CONTENT)
}
