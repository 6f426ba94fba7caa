//! Abuse bounds: token-bucket rate limits (governor) on orders per API key
//! and per client address and on registrations per client address, caps
//! on concurrent event streams per key and in total, and a cap on users.
//! Each refusal is a 429 problem with `Retry-After` (403 for the user
//! cap); a limit of 0 is off (the benchmarks turn them off).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use engine::AccountId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The bounds, as configured (0: off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Orders per second per API key (the burst is the same number).
    pub orders_per_second_per_key: u32,
    /// Orders per second per client address.
    pub orders_per_second_per_address: u32,
    /// Registrations per minute per client address.
    pub registrations_per_minute_per_address: u32,
    /// Concurrent `GET /v1/stream` per API key.
    pub streams_per_key: usize,
    /// Concurrent `GET /v1/stream` in all.
    pub streams: usize,
    /// Registered users in all (each has an account actor).
    pub max_users: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            orders_per_second_per_key: 200,
            orders_per_second_per_address: 2_000,
            registrations_per_minute_per_address: 60,
            streams_per_key: 5,
            streams: 1_000,
            max_users: 100_000,
        }
    }
}

impl LimitSettings {
    /// Every bound off.
    pub fn off() -> LimitSettings {
        LimitSettings {
            orders_per_second_per_key: 0,
            orders_per_second_per_address: 0,
            registrations_per_minute_per_address: 0,
            streams_per_key: 0,
            streams: 0,
            max_users: 0,
        }
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per: u32,
    quota: fn(NonZeroU32) -> Quota,
) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per).map(|n| RateLimiter::keyed(quota(n)))
}

/// The live bounds of one server.
#[derive(Debug)]
pub struct Limits {
    pub settings: LimitSettings,
    orders_per_key: Option<DefaultKeyedRateLimiter<AccountId>>,
    orders_per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    registrations: Option<DefaultKeyedRateLimiter<IpAddr>>,
    streams: Arc<Streams>,
}

#[derive(Debug, Default)]
struct Streams {
    total: AtomicUsize,
    per_key: Mutex<HashMap<AccountId, usize>>,
}

/// A stream slot: given back when dropped (the stream ended).
#[derive(Debug)]
pub struct StreamSlot {
    streams: Arc<Streams>,
    key: AccountId,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.streams.total.fetch_sub(1, Ordering::Relaxed);
        let mut m = self
            .streams
            .per_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

fn too_many(what: &str, wait: std::time::Duration) -> ApiError {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooMany {
        detail: format!("too many {what}; retry after {} s", retry_after.max(1)),
        retry_after,
    }
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Limits {
        Limits {
            settings,
            orders_per_key: limiter(settings.orders_per_second_per_key, Quota::per_second),
            orders_per_address: limiter(settings.orders_per_second_per_address, Quota::per_second),
            registrations: limiter(
                settings.registrations_per_minute_per_address,
                Quota::per_minute,
            ),
            streams: Arc::new(Streams::default()),
        }
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        l: &Option<DefaultKeyedRateLimiter<K>>,
        key: &K,
        what: &str,
    ) -> Result<(), ApiError> {
        let Some(l) = l else { return Ok(()) };
        l.check_key(key).map_err(|not_until| {
            metrics::counter!("marketsim_rate_limited_total", "what" => what.to_string())
                .increment(1);
            too_many(
                what,
                not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                )),
            )
        })
    }

    /// May `key` (from `addr`) place an order now?
    pub fn order(&self, key: AccountId, addr: Option<IpAddr>) -> Result<(), ApiError> {
        Self::check(&self.orders_per_key, &key, "orders for this API key")?;
        match addr {
            Some(a) => Self::check(&self.orders_per_address, &a, "orders from this address"),
            None => Ok(()),
        }
    }

    /// May `addr` register a user now, with `users` registered so far?
    pub fn registration(&self, addr: Option<IpAddr>, users: usize) -> Result<(), ApiError> {
        if self.settings.max_users > 0 && users >= self.settings.max_users {
            return Err(ApiError::Refused(format!(
                "registration is closed: this market has its maximum of {} users",
                self.settings.max_users
            )));
        }
        match addr {
            Some(a) => Self::check(&self.registrations, &a, "registrations from this address"),
            None => Ok(()),
        }
    }

    /// A stream slot for `key`, or 429 when it or the server has as many
    /// streams open as allowed.
    pub fn stream(&self, key: AccountId) -> Result<StreamSlot, ApiError> {
        let s = &self.settings;
        let mut m = self
            .streams
            .per_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mine = m.get(&key).copied().unwrap_or(0);
        if s.streams_per_key > 0 && mine >= s.streams_per_key {
            return Err(too_many(
                "streams for this API key",
                std::time::Duration::from_secs(5),
            ));
        }
        if s.streams > 0 && self.streams.total.load(Ordering::Relaxed) >= s.streams {
            return Err(too_many(
                "streams on this server",
                std::time::Duration::from_secs(5),
            ));
        }
        self.streams.total.fetch_add(1, Ordering::Relaxed);
        *m.entry(key).or_insert(0) += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            key,
        })
    }

    /// Forget idle rate-limit buckets (keeps memory bounded).
    pub fn prune(&self) {
        if let Some(l) = &self.orders_per_key {
            l.retain_recent();
        }
        for l in [&self.orders_per_address, &self.registrations]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
        }
    }
}

/// The client's address, when the server knows it (`serve_with` puts it
/// on every request).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
