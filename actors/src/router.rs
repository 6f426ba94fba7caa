//! `OrderRouter`: the live market's order matcher task. Callers (the HTTP
//! handlers) send their validated commands with the facts to journal and
//! await the outcome; the router takes everything queued at once, routes
//! it as one batch (`matcher::route`: one message per account actor and
//! per ticker), publishes the batch once (journal append, records, bus)
//! through the host's hook, and answers every submitter with the batch's
//! outcome and its journal ticket.
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
use rustc_hash::FxHashSet;
use tokio::sync::{mpsc, oneshot};

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

struct Submission {
    account: AccountId,
    ts: Timestamp,
    facts: Vec<Fact>,
    work: Work,
    reply: oneshot::Sender<Result<Arc<Batch>, ActorError>>,
}

enum Work {
    Route(Vec<Command>),
    /// End the trading session: every ticker expires its DAY orders and
    /// rolls its day (a batch of its own, after everything sent before).
    CloseSession,
}

/// The handle of a running router (cheap to clone).
#[derive(Clone, Debug)]
pub struct OrderRouter {
    tx: mpsc::UnboundedSender<Submission>,
}

impl OrderRouter {
    /// Start the router task on `runtime` (the market's engine runtime).
    pub fn start(
        runtime: &tokio::runtime::Handle,
        dir: Arc<Directory>,
        publish: Publish,
    ) -> OrderRouter {
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(rx, dir, publish));
        OrderRouter { tx }
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
        self.tx
            .send(Submission {
                account,
                ts,
                facts,
                work,
                reply,
            })
            .map_err(|_| ActorError::Unavailable("order router"))?;
        answer
            .await
            .map_err(|_| ActorError::Unavailable("order router"))?
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

async fn run(mut rx: mpsc::UnboundedReceiver<Submission>, dir: Arc<Directory>, publish: Publish) {
    let mut queued: VecDeque<Submission> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match rx.recv().await {
                Some(s) => queued.push_back(s),
                None => return,
            }
        }
        while queued.len() < 2 * MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => queued.push_back(s),
                Err(_) => break,
            }
        }
        // At most one submission per account; an account with one waiting
        // keeps all its later ones waiting too (its order holds). A session
        // close is a batch of its own, and everything after it waits.
        let mut accounts = FxHashSet::default();
        let mut batch = Vec::new();
        let mut rest = VecDeque::new();
        let mut closing = false;
        for s in queued.drain(..) {
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
        queued = rest;
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
            close(&dir, ts).await
        } else {
            route(&dir, ts, cmds).await
        };
        let ticket = publish(facts, &routed.events);
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
}
