//! `MarketHandle`: starts a market (supervisor, tickers, account actors)
//! and talks to it: lists symbols, gives users actors of their own, and
//! routes batches of commands (`submit`, in the caller's order). The API
//! routes through the `OrderRouter` instead (batches, FIFO per account);
//! the simulation kernel calls `matcher::route` itself.

use std::sync::Arc;

use engine::{AccountId, Fees, SelfTrade, Symbol, Timestamp};

use crate::ActorError;
use crate::account::AccountHandle;
use crate::directory::Directory;
use crate::matcher::{Command, Routed, route};
use crate::supervisor::{Supervisor, SupervisorHandle};
use crate::ticker::{TickerCore, TickerHandle};

/// Why a market request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Actor(#[from] ActorError),
    #[error("unknown symbol {0}")]
    UnknownSymbol(Symbol),
}

/// A running market.
#[derive(Clone, Debug)]
pub struct MarketHandle {
    supervisor: SupervisorHandle,
    dir: Arc<Directory>,
    fees: Fees,
    fee_account: AccountId,
    self_trade: SelfTrade,
}

impl MarketHandle {
    /// Start a market whose accounts live in `shards` account actors.
    pub async fn start(
        fees: Fees,
        fee_account: AccountId,
        shards: usize,
    ) -> Result<MarketHandle, ActorError> {
        let supervisor = Supervisor::start().await?;
        let mut handles = Vec::with_capacity(shards.max(1));
        for _ in 0..shards.max(1) {
            handles.push(supervisor.spawn_accounts(fees, fee_account).await?);
        }
        Ok(MarketHandle {
            supervisor,
            dir: Arc::new(Directory::new(handles)),
            fees,
            fee_account,
            self_trade: SelfTrade::Allow,
        })
    }
    /// The self-trade prevention rule of every symbol listed from now on
    /// (default `Allow`).
    pub fn with_self_trade(mut self, rule: SelfTrade) -> MarketHandle {
        self.self_trade = rule;
        self
    }
    pub fn directory(&self) -> Arc<Directory> {
        Arc::clone(&self.dir)
    }
    pub fn supervisor(&self) -> &SupervisorHandle {
        &self.supervisor
    }
    pub fn fees(&self) -> Fees {
        self.fees
    }
    pub fn fee_account(&self) -> AccountId {
        self.fee_account
    }
    /// List a symbol: spawn its ticker under supervision.
    pub async fn list(&self, mut core: TickerCore) -> Result<TickerHandle, ActorError> {
        core.book.set_self_trade(self.self_trade);
        let h = self.supervisor.spawn_ticker(core).await?;
        self.dir.add_ticker(h.clone());
        Ok(h)
    }
    /// Give an account an actor of its own (one per HTTP user).
    pub async fn own_actor(&self, id: AccountId) -> Result<AccountHandle, ActorError> {
        let h = self
            .supervisor
            .spawn_accounts(self.fees, self.fee_account)
            .await?;
        self.dir.set_owner(id, h.clone());
        Ok(h)
    }
    pub fn accounts_of(&self, id: AccountId) -> AccountHandle {
        self.dir.account(id)
    }
    pub fn ticker(&self, s: Symbol) -> Result<TickerHandle, MarketError> {
        self.dir.ticker(s).ok_or(MarketError::UnknownSymbol(s))
    }
    /// Route a batch of commands through the matcher.
    pub async fn submit(&self, ts: Timestamp, cmds: Vec<Command>) -> Result<Routed, ActorError> {
        Ok(route(&self.dir, ts, cmds).await)
    }
    /// Stop every actor.
    pub fn shutdown(&self) {
        self.supervisor.stop();
    }
}
