//! Who owns what: the ticker of each symbol and the account actor of each
//! account. Accounts without an actor of their own belong to a shard chosen
//! by id, so many simulation agents share a few actors.

use std::collections::BTreeMap;
use std::sync::RwLock;

use engine::{AccountId, Symbol};
use rustc_hash::FxHashMap;

use crate::account::AccountHandle;
use crate::ticker::TickerHandle;

#[derive(Debug)]
pub struct Directory {
    tickers: RwLock<BTreeMap<Symbol, TickerHandle>>,
    shards: Vec<AccountHandle>,
    owners: RwLock<FxHashMap<AccountId, AccountHandle>>,
}

impl Directory {
    /// `shards` must not be empty: they own every account not given an
    /// actor of its own.
    pub fn new(shards: Vec<AccountHandle>) -> Directory {
        assert!(
            !shards.is_empty(),
            "a directory needs at least one account shard"
        );
        Directory {
            tickers: RwLock::new(BTreeMap::new()),
            shards,
            owners: RwLock::new(FxHashMap::default()),
        }
    }
    pub fn add_ticker(&self, h: TickerHandle) {
        self.tickers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(h.symbol(), h);
    }
    pub fn ticker(&self, s: Symbol) -> Option<TickerHandle> {
        self.tickers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&s)
            .cloned()
    }
    /// How many symbols are listed.
    pub fn ticker_count(&self) -> usize {
        self.tickers.read().unwrap_or_else(|p| p.into_inner()).len()
    }
    /// Every ticker, in symbol order.
    pub fn tickers(&self) -> Vec<TickerHandle> {
        self.tickers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
    /// Give `id` an actor of its own.
    pub fn set_owner(&self, id: AccountId, h: AccountHandle) {
        self.owners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, h);
    }
    pub fn account(&self, id: AccountId) -> AccountHandle {
        if let Some(h) = self
            .owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return h.clone();
        }
        self.shards[(id.0 % self.shards.len() as u64) as usize].clone()
    }
    pub fn shards(&self) -> &[AccountHandle] {
        &self.shards
    }
    /// Every distinct account actor: shards first, then own actors.
    pub fn account_actors(&self) -> Vec<AccountHandle> {
        let mut all: Vec<AccountHandle> = self.shards.clone();
        for h in self
            .owners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            if !all.iter().any(|a| a.same(h)) {
                all.push(h.clone());
            }
        }
        all
    }
}
