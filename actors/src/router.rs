//! `OrderRouter`: the live market's order matcher, a ractor actor. Callers
//! (the HTTP handlers) send their validated commands with the facts to
//! journal and await the outcome; the actor queues each submission and,
//! at a `Flush` it sends itself behind them (so everything already in its
//! mailbox is in), routes the queue as one batch (`matcher::route`: one
//! message per account actor and per ticker), publishes the batch once
//! (journal append, records, bus) through the host's hook, and answers
//! every submitter with the batch's outcome and its journal ticket.
//!
//! Every order source of the live market goes through the router (users,
//! the background agents, the session close), so the journal holds each
//! book's events in the order the book produced them: an order's
//! acceptance is always journaled before its fills (audit M1).
//!
//! Invariants:
//! - One account's submissions are applied in the order they were sent,
//!   each after the previous one settled: a batch holds at most one
//!   submission per account (a later one waits for the next batch).
//! - A submission, once sent, is routed and published even if its
//!   submitter goes away (a client that disconnects drops only its reply).
//! - Every routed event is published exactly once.

use std::collections::VecDeque;
use std::sync::Arc;

use engine::{AccountId, Event, Symbol, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rustc_hash::FxHashSet;
use tokio::sync::oneshot;

use crate::ActorError;
use crate::directory::Directory;
use crate::facts::Fact;
use crate::matcher::{Command, Routed, route};

/// Most submissions routed in one batch.
pub const MAX_BATCH: usize = 1_024;

/// Publishes a routed batch (journal, records, bus); returns the ticket to
/// wait on for durability.
pub type Publish = Arc<dyn Fn(Vec<Fact>, &[(Symbol, Event)]) -> u64 + Send + Sync>;

/// The outcome of the batch a submission was routed in.
#[derive(Debug)]
pub struct Batch {
    /// Every event of the batch (callers pick their own orders' events).
    pub routed: Routed,
    /// The journal ticket covering the batch's facts.
    pub ticket: u64,
    /// How many submissions shared the batch.
    pub size: usize,
}

#[derive(Debug)]
pub struct Submission {
    account: AccountId,
    ts: Timestamp,
    facts: Vec<Fact>,
    work: Work,
    reply: oneshot::Sender<Result<Arc<Batch>, ActorError>>,
}

#[derive(Debug)]
enum Work {
    Route(Vec<Command>),
    /// End the trading session: every ticker expires its DAY orders and
    /// rolls its day (a batch of its own, after everything sent before).
    CloseSession,
}

/// The router's messages.
#[derive(Debug)]
pub enum RouterMsg {
    Submit(Submission),
    /// Route what is queued (sent by the actor to itself).
    Flush,
}

/// The router behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouterActor;

/// Start-up arguments.
pub struct RouterArgs {
    dir: Arc<Directory>,
    publish: Publish,
}

impl std::fmt::Debug for RouterArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterArgs").finish()
    }
}

/// Live state: the queue and whether a `Flush` is on its way.
pub struct RouterState {
    dir: Arc<Directory>,
    publish: Publish,
    queued: VecDeque<Submission>,
    flushing: bool,
}

impl std::fmt::Debug for RouterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterState")
            .field("queued", &self.queued.len())
            .finish()
    }
}

impl Actor for RouterActor {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<RouterMsg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        Ok(RouterState {
            dir: args.dir,
            publish: args.publish,
            queued: VecDeque::new(),
            flushing: false,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<RouterMsg>,
        msg: RouterMsg,
        st: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RouterMsg::Submit(s) => st.queued.push_back(s),
            RouterMsg::Flush => {
                st.flushing = false;
                flush(st).await;
            }
        }
        if !st.queued.is_empty() && !st.flushing {
            // Behind every submission already in the mailbox.
            me.cast(RouterMsg::Flush)?;
            st.flushing = true;
        }
        Ok(())
    }
}

/// The handle of a running router (cheap to clone).
#[derive(Clone, Debug)]
pub struct OrderRouter {
    actor: ActorRef<RouterMsg>,
}

impl OrderRouter {
    /// Start the router actor on `runtime` (the market's engine runtime).
    pub async fn start(
        runtime: &tokio::runtime::Handle,
        dir: Arc<Directory>,
        publish: Publish,
    ) -> Result<OrderRouter, ActorError> {
        let spawn = runtime.spawn(Actor::spawn(None, RouterActor, RouterArgs { dir, publish }));
        match spawn.await {
            Ok(Ok((actor, _))) => Ok(OrderRouter { actor }),
            _ => Err(ActorError::Unavailable("order router")),
        }
    }

    /// Route `cmds` of `account` (requested at `ts`) and journal `facts`
    /// with the batch's events. Resolves once the batch is routed and
    /// published (not yet durable: wait for the batch's ticket for that).
    pub async fn submit(
        &self,
        account: AccountId,
        ts: Timestamp,
        facts: Vec<Fact>,
        cmds: Vec<Command>,
    ) -> Result<Arc<Batch>, ActorError> {
        self.send(account, ts, facts, Work::Route(cmds)).await
    }

    /// Close the trading session at `ts` after everything submitted before:
    /// DAY orders expire (reservations released) and every ticker rolls
    /// its day. The batch's events are the expiries.
    pub async fn close_session(&self, ts: Timestamp) -> Result<Arc<Batch>, ActorError> {
        self.send(AccountId::HOUSE, ts, Vec::new(), Work::CloseSession)
            .await
    }

    async fn send(
        &self,
        account: AccountId,
        ts: Timestamp,
        facts: Vec<Fact>,
        work: Work,
    ) -> Result<Arc<Batch>, ActorError> {
        let (reply, answer) = oneshot::channel();
        self.actor
            .cast(RouterMsg::Submit(Submission {
                account,
                ts,
                facts,
                work,
                reply,
            }))
            .map_err(|_| ActorError::Unavailable("order router"))?;
        answer
            .await
            .map_err(|_| ActorError::Unavailable("order router"))?
    }

    /// Stop the actor (queued submissions are answered "unavailable").
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

/// Expire DAY orders and roll the day on every ticker, then settle.
async fn close(dir: &Directory, ts: Timestamp) -> Routed {
    let mut out = Routed::default();
    for t in dir.tickers() {
        match t.end_of_day(ts).await {
            Ok(evs) => out.events.extend(evs.into_iter().map(|e| (t.symbol(), e))),
            Err(e) => {
                tracing::warn!(symbol = %t.symbol(), error = %e, "a ticker could not close its session");
                out.failures.push(e);
            }
        }
    }
    crate::matcher::settle(dir, &out.events).await;
    out
}

/// Route one batch from the queue and answer its submitters.
async fn flush(st: &mut RouterState) {
    // At most one submission per account; an account with one waiting
    // keeps all its later ones waiting too (its order holds). A session
    // close is a batch of its own, and everything after it waits.
    let mut accounts = FxHashSet::default();
    let mut batch = Vec::new();
    let mut rest = VecDeque::new();
    let mut closing = false;
    for s in st.queued.drain(..) {
        if closing {
            rest.push_back(s);
        } else if matches!(s.work, Work::CloseSession) {
            closing = true;
            if batch.is_empty() {
                batch.push(s);
            } else {
                rest.push_back(s);
            }
        } else if accounts.insert(s.account) && batch.len() < MAX_BATCH {
            batch.push(s);
        } else {
            rest.push_back(s);
        }
    }
    st.queued = rest;
    let ts = batch.iter().map(|s| s.ts).max().unwrap_or(Timestamp(0));
    let mut facts = Vec::new();
    let mut cmds = Vec::new();
    let mut replies = Vec::with_capacity(batch.len());
    let mut close_session = false;
    for s in batch {
        facts.extend(s.facts);
        match s.work {
            Work::Route(c) => cmds.extend(c),
            Work::CloseSession => close_session = true,
        }
        replies.push(s.reply);
    }
    let size = replies.len();
    // An actor that fails costs only its own commands (see `route`).
    let routed = if close_session {
        close(&st.dir, ts).await
    } else {
        route(&st.dir, ts, cmds).await
    };
    let ticket = (st.publish)(facts, &routed.events);
    let outcome = Ok(Arc::new(Batch {
        routed,
        ticket,
        size,
    }));
    metrics::histogram!("marketsim_router_batch_size").record(size as f64);
    for r in replies {
        let _ = r.send(outcome.clone());
    }
}
