//! `TickerActor`: one per symbol. Owns the order book, the reference price,
//! the day's statistics and minute candles.
//!
//! The state is a plain `TickerCore` (synchronous, testable without actors);
//! the actor applies commands to it and journals each applied command, so a
//! restarted ticker is rebuilt exactly (see `recovery`).

use std::sync::{Arc, RwLock};

use engine::{
    AccountId, BookError, Candle, Candles, DayStats, DepthLevel, Event, Order, OrderBook, OrderId,
    OrderState, Price, Quantity, Symbol, Timestamp,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::Semaphore;

use crate::recovery::Journal;
use crate::{ActorError, MAX_IN_FLIGHT, call};

/// A command on one book.
#[derive(Clone, Copy, Debug)]
pub enum BookCmd {
    Place(Order),
    Cancel {
        id: OrderId,
        owner: Option<AccountId>,
    },
    Replace {
        id: OrderId,
        owner: Option<AccountId>,
        price: Option<Price>,
        quantity: Option<Quantity>,
    },
}

/// How a ticker treats reference ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickerConfig {
    /// Live market: the random walk is the quoted price, so ticks move the
    /// day's statistics. Simulation: prices come from trades only.
    pub ticks_update_stats: bool,
}

/// What agents and readers see of a symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickerSnapshot {
    pub symbol: Symbol,
    pub tick: Price,
    pub reference: Price,
    pub bid: Option<DepthLevel>,
    pub ask: Option<DepthLevel>,
    pub stats: DayStats,
    pub resting: usize,
    /// Shares offered on the book (what can be bought now).
    pub ask_quantity: u64,
}

impl TickerSnapshot {
    /// Mid of the touch, else the last trade, else the reference.
    pub fn mid(&self) -> Price {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) => Price::from_minor((b.price.minor() + a.price.minor()) / 2),
            _ if self.stats.trades > 0 => self.stats.last,
            _ => self.reference,
        }
    }
}

/// A symbol's whole state.
#[derive(Clone, Debug)]
pub struct TickerCore {
    pub book: OrderBook,
    pub reference: Price,
    pub stats: DayStats,
    pub candles: Candles,
    pub config: TickerConfig,
}

/// A journaled ticker command.
#[derive(Clone, Copy, Debug)]
pub enum TickerCmd {
    Book(BookCmd),
    Tick(Price),
    EndOfDay,
}

impl TickerCore {
    pub fn new(symbol: Symbol, tick: Price, reference: Price, config: TickerConfig) -> TickerCore {
        TickerCore {
            book: OrderBook::new(symbol, tick),
            reference,
            stats: DayStats::new(reference),
            candles: Candles::default(),
            config,
        }
    }

    pub fn snapshot(&self) -> TickerSnapshot {
        let q = self.book.quote();
        TickerSnapshot {
            symbol: self.book.symbol(),
            tick: self.book.tick(),
            reference: self.reference,
            bid: q.bid,
            ask: q.ask,
            stats: self.stats,
            resting: self.book.len(),
            ask_quantity: self.book.side_quantity(engine::Side::Sell),
        }
    }

    /// Apply one book command, appending its events.
    pub fn apply(
        &mut self,
        cmd: &BookCmd,
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) -> Result<(), BookError> {
        let start = out.len();
        let r = match *cmd {
            BookCmd::Place(ref o) => {
                self.book.place(o, ts, out);
                Ok(())
            }
            BookCmd::Cancel { id, owner } => self.book.cancel(id, owner, ts, out).map(|_| ()),
            BookCmd::Replace {
                id,
                owner,
                price,
                quantity,
            } => self.book.replace(id, owner, price, quantity, ts, out),
        };
        for e in &out[start..] {
            if let Event::Trade(t) = e {
                self.stats.on_trade(ts, t.price, t.quantity);
                let _ = self.candles.on_trade(ts, t.price, t.quantity);
            }
        }
        r
    }

    /// A new reference price.
    pub fn tick(&mut self, price: Price, ts: Timestamp) {
        if !price.is_positive() {
            return;
        }
        self.reference = price;
        if self.config.ticks_update_stats {
            self.stats.on_tick(ts, price);
            let _ = self.candles.on_tick(ts, price);
        }
    }

    /// Expire DAY orders and roll the day's statistics.
    pub fn end_of_day(&mut self, ts: Timestamp, out: &mut Vec<Event>) {
        self.book.expire_day_orders(ts, out);
        self.stats.roll();
    }

    fn replay(&mut self, ts: Timestamp, cmd: &TickerCmd) {
        let mut scratch = Vec::new();
        match cmd {
            TickerCmd::Book(c) => {
                let _ = self.apply(c, ts, &mut scratch);
            }
            TickerCmd::Tick(p) => self.tick(*p, ts),
            TickerCmd::EndOfDay => self.end_of_day(ts, &mut scratch),
        }
    }
}

/// Result of a batch: events in order, one result per command, and the
/// book's snapshot after the batch.
#[derive(Debug)]
pub struct BatchReply {
    pub events: Vec<Event>,
    pub results: Vec<Result<(), BookError>>,
    pub snapshot: TickerSnapshot,
}

/// Messages a ticker understands. Build them through `TickerHandle`.
#[derive(Debug)]
pub enum TickerMsg {
    Batch {
        ts: Timestamp,
        cmds: Vec<BookCmd>,
        reply: RpcReplyPort<BatchReply>,
    },
    Tick {
        price: Price,
        ts: Timestamp,
        /// One of the handle's in-flight permits, released once applied.
        permit: tokio::sync::OwnedSemaphorePermit,
    },
    Snapshot(RpcReplyPort<TickerSnapshot>),
    Depth {
        levels: usize,
        reply: RpcReplyPort<(Vec<DepthLevel>, Vec<DepthLevel>)>,
    },
    Order {
        id: OrderId,
        reply: RpcReplyPort<Option<OrderState>>,
    },
    Candles(RpcReplyPort<Vec<Candle>>),
    EndOfDay {
        ts: Timestamp,
        reply: RpcReplyPort<Vec<Event>>,
    },
    /// Fault injection: the actor panics (supervision tests).
    Crash,
    /// Fault injection: the actor panics on its next batch, before applying
    /// any of it (routing-failure tests).
    CrashOnNextBatch,
}

/// Journal of a ticker: snapshot plus timestamped commands.
pub type TickerJournal = Journal<TickerCore, (Timestamp, TickerCmd)>;

/// Start-up arguments: the initial state and the journal to rebuild from.
#[derive(Debug)]
pub struct TickerArgs {
    pub initial: TickerCore,
    pub journal: TickerJournal,
}

/// Live state of the actor.
#[derive(Debug)]
pub struct TickerState {
    core: TickerCore,
    journal: TickerJournal,
    crash_on_batch: bool,
}

/// The ticker behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct TickerActor;

impl Actor for TickerActor {
    type Msg = TickerMsg;
    type State = TickerState;
    type Arguments = TickerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<TickerMsg>,
        args: TickerArgs,
    ) -> Result<TickerState, ActorProcessingErr> {
        let (snap, log) = args.journal.load();
        let mut core = snap.unwrap_or(args.initial);
        for (ts, cmd) in &log {
            core.replay(*ts, cmd);
        }
        Ok(TickerState {
            core,
            journal: args.journal,
            crash_on_batch: false,
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<TickerMsg>,
        msg: TickerMsg,
        st: &mut TickerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TickerMsg::Batch { ts, cmds, reply } => {
                if st.crash_on_batch {
                    panic!(
                        "ticker {}: injected crash on a batch",
                        st.core.book.symbol()
                    );
                }
                let mut events = Vec::with_capacity(cmds.len() * 3);
                let mut results = Vec::with_capacity(cmds.len());
                for c in &cmds {
                    results.push(st.core.apply(c, ts, &mut events));
                }
                st.journal_append(cmds.into_iter().map(|c| (ts, TickerCmd::Book(c))));
                let _ = reply.send(BatchReply {
                    events,
                    results,
                    snapshot: st.core.snapshot(),
                });
            }
            TickerMsg::Tick { price, ts, permit } => {
                st.core.tick(price, ts);
                st.journal_append([(ts, TickerCmd::Tick(price))]);
                drop(permit);
            }
            TickerMsg::Snapshot(reply) => {
                let _ = reply.send(st.core.snapshot());
            }
            TickerMsg::Depth { levels, reply } => {
                let _ = reply.send(st.core.book.depth(levels));
            }
            TickerMsg::Order { id, reply } => {
                let _ = reply.send(st.core.book.order(id));
            }
            TickerMsg::Candles(reply) => {
                let _ = reply.send(st.core.candles.all());
            }
            TickerMsg::EndOfDay { ts, reply } => {
                let mut events = Vec::new();
                st.core.end_of_day(ts, &mut events);
                st.journal_append([(ts, TickerCmd::EndOfDay)]);
                let _ = reply.send(events);
            }
            TickerMsg::Crash => panic!("ticker {}: injected crash", st.core.book.symbol()),
            TickerMsg::CrashOnNextBatch => st.crash_on_batch = true,
        }
        Ok(())
    }
}

impl TickerState {
    fn journal_append(&mut self, cmds: impl IntoIterator<Item = (Timestamp, TickerCmd)>) {
        if self.journal.append(cmds, self.core.book.len()) {
            self.journal.snapshot(self.core.clone());
        }
    }
}

/// A cloneable, typed handle to a ticker. Survives restarts: the supervisor
/// swaps the actor reference behind it.
#[derive(Clone, Debug)]
pub struct TickerHandle {
    symbol: Symbol,
    tick: Price,
    actor: Arc<RwLock<ActorRef<TickerMsg>>>,
    limit: Arc<Semaphore>,
}

impl TickerHandle {
    pub fn new(symbol: Symbol, tick: Price, actor: ActorRef<TickerMsg>) -> TickerHandle {
        TickerHandle {
            symbol,
            tick,
            actor: Arc::new(RwLock::new(actor)),
            limit: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    pub fn tick_size(&self) -> Price {
        self.tick
    }
    pub(crate) fn set_actor(&self, actor: ActorRef<TickerMsg>) {
        *self.actor.write().unwrap_or_else(|p| p.into_inner()) = actor;
    }
    /// Requests sent and not yet answered (the handle's view of the mailbox).
    pub fn in_flight(&self) -> usize {
        MAX_IN_FLIGHT - self.limit.available_permits()
    }
    pub fn actor(&self) -> ActorRef<TickerMsg> {
        self.actor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn batch(&self, ts: Timestamp, cmds: Vec<BookCmd>) -> Result<BatchReply, ActorError> {
        call(&self.actor(), &self.limit, "ticker", |reply| {
            TickerMsg::Batch { ts, cmds, reply }
        })
        .await
    }
    /// Send a reference tick (no reply; ordered before later requests).
    /// Counts against the in-flight limit like a request until the ticker
    /// has applied it, so a tick source waits (backpressure) rather than
    /// filling the mailbox (audit M7).
    pub async fn tick(&self, price: Price, ts: Timestamp) -> Result<(), ActorError> {
        let permit = crate::permit(&self.limit, "ticker").await?;
        self.actor()
            .cast(TickerMsg::Tick { price, ts, permit })
            .map_err(|_| ActorError::Unavailable("ticker"))
    }
    pub async fn snapshot(&self) -> Result<TickerSnapshot, ActorError> {
        call(&self.actor(), &self.limit, "ticker", TickerMsg::Snapshot).await
    }
    pub async fn depth(
        &self,
        levels: usize,
    ) -> Result<(Vec<DepthLevel>, Vec<DepthLevel>), ActorError> {
        call(&self.actor(), &self.limit, "ticker", |reply| {
            TickerMsg::Depth { levels, reply }
        })
        .await
    }
    pub async fn order(&self, id: OrderId) -> Result<Option<OrderState>, ActorError> {
        call(&self.actor(), &self.limit, "ticker", |reply| {
            TickerMsg::Order { id, reply }
        })
        .await
    }
    pub async fn candles(&self) -> Result<Vec<Candle>, ActorError> {
        call(&self.actor(), &self.limit, "ticker", TickerMsg::Candles).await
    }
    pub async fn end_of_day(&self, ts: Timestamp) -> Result<Vec<Event>, ActorError> {
        call(&self.actor(), &self.limit, "ticker", |reply| {
            TickerMsg::EndOfDay { ts, reply }
        })
        .await
    }
    /// Fault injection for supervision tests: the actor panics.
    pub fn crash(&self) {
        let _ = self.actor().cast(TickerMsg::Crash);
    }
    /// Fault injection: the actor panics on its next batch of orders.
    pub fn crash_on_next_batch(&self) {
        let _ = self.actor().cast(TickerMsg::CrashOnNextBatch);
    }
}
