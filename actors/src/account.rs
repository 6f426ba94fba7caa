//! `AccountActor`: owns a ledger of one or many accounts (one per HTTP user;
//! simulation agents grouped many per actor).
//!
//! Every applied change is journaled, so a restarted actor is rebuilt with
//! the same figures. Business failures are reply values, never crashes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use engine::{
    Account, AccountId, Event, Fees, Ledger, LedgerError, Money, Order, OrderId, Price,
    Reservation, Side, Symbol, Trade,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::Semaphore;

use crate::recovery::Journal;
use crate::{ActorError, MAX_IN_FLIGHT, call};

/// A journaled ledger change.
#[derive(Clone, Copy, Debug)]
pub enum AccountCmd {
    Open(AccountId),
    Deposit(AccountId, Money),
    Withdraw(AccountId, Money),
    Issue(AccountId, Symbol, u64),
    Reserve(Order),
    Resize(OrderId, Price, u64),
    Settle(Trade, Side),
    Release(OrderId),
}

impl AccountCmd {
    fn apply(&self, l: &mut Ledger) -> Result<(), LedgerError> {
        match *self {
            AccountCmd::Open(id) => l.open(id),
            AccountCmd::Deposit(id, m) => l.deposit(id, m),
            AccountCmd::Withdraw(id, m) => l.withdraw(id, m),
            AccountCmd::Issue(id, s, q) => l.issue_shares(id, s, q),
            AccountCmd::Reserve(ref o) => l.reserve(o),
            AccountCmd::Resize(o, p, q) => l.resize(o, p, q),
            AccountCmd::Settle(ref t, side) => l.settle_side(t, side),
            AccountCmd::Release(o) => l.release(o).map(|_| ()),
        }
    }
}

/// Sums over one ledger, for conservation checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub cash: Money,
    pub reserved_cash: Money,
    pub shares: BTreeMap<Symbol, u64>,
    pub accounts: usize,
    pub open_reservations: usize,
}

/// Messages an account actor understands. Build them through `AccountHandle`.
#[derive(Debug)]
pub enum AccountMsg {
    Apply {
        cmd: AccountCmd,
        reply: RpcReplyPort<Result<(), LedgerError>>,
    },
    ApplyBatch {
        cmds: Vec<AccountCmd>,
        reply: RpcReplyPort<Vec<Result<(), LedgerError>>>,
    },
    Reserve {
        orders: Vec<Order>,
        reply: RpcReplyPort<Vec<Result<(), LedgerError>>>,
    },
    /// Settle trades and release finished orders that this ledger holds.
    Settle {
        events: Vec<Event>,
        reply: RpcReplyPort<()>,
    },
    Get {
        id: AccountId,
        reply: RpcReplyPort<Option<Account>>,
    },
    All(RpcReplyPort<Vec<(AccountId, Account)>>),
    Reservation {
        order: OrderId,
        reply: RpcReplyPort<Option<Reservation>>,
    },
    Totals(RpcReplyPort<Totals>),
    CheckInvariants(RpcReplyPort<Result<(), String>>),
    /// Fault injection: the actor panics (supervision tests).
    Crash,
}

pub type AccountJournal = Journal<Ledger, AccountCmd>;

#[derive(Debug)]
pub struct AccountArgs {
    pub fees: Fees,
    pub fee_account: AccountId,
    pub journal: AccountJournal,
}

#[derive(Debug)]
pub struct AccountState {
    ledger: Ledger,
    journal: AccountJournal,
    scratch: Vec<AccountCmd>,
}

impl AccountState {
    fn run(&mut self, cmd: AccountCmd) -> Result<(), LedgerError> {
        let r = cmd.apply(&mut self.ledger);
        if r.is_ok() {
            self.scratch.push(cmd);
        }
        r
    }
    fn flush(&mut self) {
        let size = self.ledger.open_reservations() + self.ledger.account_ids_len();
        if !self.scratch.is_empty() && self.journal.append(self.scratch.drain(..), size) {
            self.journal.snapshot(self.ledger.clone());
        }
    }
    fn settle(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Trade(t) => {
                    for (side, (order, _)) in [(Side::Buy, t.buyer()), (Side::Sell, t.seller())] {
                        if self.ledger.reservation(order).is_some() {
                            let r = self.run(AccountCmd::Settle(*t, side));
                            debug_assert!(r.is_ok(), "settlement failed: {r:?} for {t:?}");
                            if let Err(err) = r {
                                tracing::error!(
                                    ?err,
                                    ?t,
                                    "settlement failed: reservation did not cover a fill"
                                );
                            }
                        }
                    }
                }
                e if e.is_terminal() && self.ledger.reservation(e.order()).is_some() => {
                    let _ = self.run(AccountCmd::Release(e.order()));
                }
                _ => {}
            }
        }
    }
}

/// The account behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountActor;

impl Actor for AccountActor {
    type Msg = AccountMsg;
    type State = AccountState;
    type Arguments = AccountArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<AccountMsg>,
        args: AccountArgs,
    ) -> Result<AccountState, ActorProcessingErr> {
        let (snap, log) = args.journal.load();
        let mut ledger = snap.unwrap_or_else(|| Ledger::new(args.fees, args.fee_account));
        for cmd in &log {
            let _ = cmd.apply(&mut ledger);
        }
        Ok(AccountState {
            ledger,
            journal: args.journal,
            scratch: Vec::new(),
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<AccountMsg>,
        msg: AccountMsg,
        st: &mut AccountState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AccountMsg::Apply { cmd, reply } => {
                let r = st.run(cmd);
                st.flush();
                let _ = reply.send(r);
            }
            AccountMsg::ApplyBatch { cmds, reply } => {
                let results = cmds.into_iter().map(|c| st.run(c)).collect();
                st.flush();
                let _ = reply.send(results);
            }
            AccountMsg::Reserve { orders, reply } => {
                let results = orders
                    .into_iter()
                    .map(|o| st.run(AccountCmd::Reserve(o)))
                    .collect();
                st.flush();
                let _ = reply.send(results);
            }
            AccountMsg::Settle { events, reply } => {
                st.settle(&events);
                st.flush();
                let _ = reply.send(());
            }
            AccountMsg::Get { id, reply } => {
                let _ = reply.send(st.ledger.account(id).cloned());
            }
            AccountMsg::All(reply) => {
                let ids = st.ledger.account_ids();
                let all = ids
                    .into_iter()
                    .filter_map(|id| st.ledger.account(id).map(|a| (id, a.clone())))
                    .collect();
                let _ = reply.send(all);
            }
            AccountMsg::Reservation { order, reply } => {
                let _ = reply.send(st.ledger.reservation(order));
            }
            AccountMsg::Totals(reply) => {
                let mut t = Totals {
                    accounts: st.ledger.account_ids_len(),
                    open_reservations: st.ledger.open_reservations(),
                    ..Totals::default()
                };
                for id in st.ledger.account_ids() {
                    if let Some(a) = st.ledger.account(id) {
                        t.cash = Money::from_minor(t.cash.minor() + a.cash().minor());
                        t.reserved_cash =
                            Money::from_minor(t.reserved_cash.minor() + a.reserved_cash().minor());
                        for (s, h) in a.holdings() {
                            *t.shares.entry(s).or_default() += h.quantity;
                        }
                    }
                }
                let _ = reply.send(t);
            }
            AccountMsg::CheckInvariants(reply) => {
                let _ = reply.send(st.ledger.check_invariants());
            }
            AccountMsg::Crash => panic!("account actor: injected crash"),
        }
        Ok(())
    }
}

/// A cloneable, typed handle to an account actor; survives restarts.
#[derive(Clone, Debug)]
pub struct AccountHandle {
    actor: Arc<RwLock<ActorRef<AccountMsg>>>,
    limit: Arc<Semaphore>,
}

impl AccountHandle {
    pub fn new(actor: ActorRef<AccountMsg>) -> AccountHandle {
        AccountHandle {
            actor: Arc::new(RwLock::new(actor)),
            limit: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
    pub(crate) fn set_actor(&self, actor: ActorRef<AccountMsg>) {
        *self.actor.write().unwrap_or_else(|p| p.into_inner()) = actor;
    }
    /// Requests sent and not yet answered (the handle's view of the mailbox).
    pub fn in_flight(&self) -> usize {
        MAX_IN_FLIGHT - self.limit.available_permits()
    }
    pub fn actor(&self) -> ActorRef<AccountMsg> {
        self.actor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// Is this the same actor as `other`?
    pub fn same(&self, other: &AccountHandle) -> bool {
        Arc::ptr_eq(&self.actor, &other.actor)
    }

    pub async fn apply(&self, cmd: AccountCmd) -> Result<Result<(), LedgerError>, ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::Apply { cmd, reply }
        })
        .await
    }
    /// Apply many changes in one message, in order.
    pub async fn apply_batch(
        &self,
        cmds: Vec<AccountCmd>,
    ) -> Result<Vec<Result<(), LedgerError>>, ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::ApplyBatch { cmds, reply }
        })
        .await
    }
    /// Open an account with starting cash (if any).
    pub async fn open(
        &self,
        id: AccountId,
        cash: Money,
    ) -> Result<Result<(), LedgerError>, ActorError> {
        let r = self.apply(AccountCmd::Open(id)).await?;
        if r.is_err() || cash.minor() <= 0 {
            return Ok(r);
        }
        self.apply(AccountCmd::Deposit(id, cash)).await
    }
    pub async fn reserve(
        &self,
        orders: Vec<Order>,
    ) -> Result<Vec<Result<(), LedgerError>>, ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::Reserve { orders, reply }
        })
        .await
    }
    /// Settle and release: queued now (ordered before later requests, as
    /// `settle`), confirmed later: the returned future resolves once the
    /// actor applied it, or fails if the actor died first. It holds one of
    /// the handle's in-flight permits until then.
    pub async fn settle_queued(
        &self,
        events: Vec<Event>,
    ) -> Result<impl std::future::Future<Output = Result<(), ActorError>> + use<>, ActorError> {
        let permit = crate::permit(&self.limit, "account").await?;
        let (tx, rx) = ractor::concurrency::oneshot();
        self.actor()
            .cast(AccountMsg::Settle {
                events,
                reply: tx.into(),
            })
            .map_err(|_| ActorError::Unavailable("account"))?;
        Ok(async move {
            let done = rx.await.map_err(|_| ActorError::Unavailable("account"));
            drop(permit);
            done
        })
    }
    /// Settle and release, and wait until done.
    pub async fn settle_wait(&self, events: Vec<Event>) -> Result<(), ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::Settle { events, reply }
        })
        .await
    }
    pub async fn get(&self, id: AccountId) -> Result<Option<Account>, ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::Get { id, reply }
        })
        .await
    }
    pub async fn all(&self) -> Result<Vec<(AccountId, Account)>, ActorError> {
        call(&self.actor(), &self.limit, "account", AccountMsg::All).await
    }
    pub async fn reservation(&self, order: OrderId) -> Result<Option<Reservation>, ActorError> {
        call(&self.actor(), &self.limit, "account", |reply| {
            AccountMsg::Reservation { order, reply }
        })
        .await
    }
    pub async fn totals(&self) -> Result<Totals, ActorError> {
        call(&self.actor(), &self.limit, "account", AccountMsg::Totals).await
    }
    pub async fn check_invariants(&self) -> Result<Result<(), String>, ActorError> {
        call(
            &self.actor(),
            &self.limit,
            "account",
            AccountMsg::CheckInvariants,
        )
        .await
    }
    /// Fault injection for supervision tests: the actor panics.
    pub fn crash(&self) {
        let _ = self.actor().cast(AccountMsg::Crash);
    }
}
/// Group items by the account actor they go to, in first-seen order of
/// the actors and in order within each group (one message per actor).
pub fn group_by_actor<T>(
    items: impl IntoIterator<Item = (AccountHandle, T)>,
) -> Vec<(AccountHandle, Vec<T>)> {
    let items = items.into_iter();
    let mut left = items.size_hint().0;
    let mut groups: Vec<(AccountHandle, Vec<T>)> = Vec::new();
    for (h, item) in items {
        match groups.iter_mut().find(|(g, _)| g.same(&h)) {
            Some((_, v)) => v.push(item),
            None => {
                // Sized for what may still come (most batches have one or
                // a few actors), so a group rarely grows item by item.
                let mut v = Vec::with_capacity(left.clamp(1, 256));
                v.push(item);
                groups.push((h, v));
            }
        }
        left = left.saturating_sub(1);
    }
    groups
}
