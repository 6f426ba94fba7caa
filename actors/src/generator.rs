//! `MarketGenerator`: the live random-walk price source. On a wall-clock
//! interval it steps a `PriceWalk` and publishes the ticks to a tick sink
//! and/or straight to the tickers. Callers hold a `GeneratorHandle`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{Gbm, Price, Symbol};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::ActorError;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::ports::TickSink;
use crate::walk::PriceWalk;

/// Messages of the live generator (sent through `GeneratorHandle`).
#[derive(Debug)]
pub(crate) enum GeneratorMsg {
    Step,
    Pause,
    Resume,
    SetPrice {
        symbol: Symbol,
        price: Price,
    },
    /// Move a symbol by a log-return (a news jump).
    Shock {
        symbol: Symbol,
        log_ret: f64,
    },
    /// A price from outside (a replay): the symbol leaves the walk until
    /// `until`, then walks on from the last such price.
    Hold {
        symbol: Symbol,
        price: Price,
        until: Instant,
    },
    /// Start walking a newly listed symbol (held off the walk until
    /// `held_until`, if given).
    Add {
        symbol: Symbol,
        model: Gbm,
        seed: u64,
        stream: u64,
        held_until: Option<Instant>,
    },
}

/// Start-up arguments of the live generator.
pub struct GeneratorArgs {
    pub walk: PriceWalk,
    pub interval: Duration,
    /// Where ticks are published (a Kafka topic or a channel), if anywhere.
    pub sink: Option<Arc<dyn TickSink>>,
    /// Apply ticks straight to these tickers (in-process market).
    pub directory: Option<Arc<Directory>>,
    /// Ticks are also published here (for streaming clients), if set.
    pub bus: Option<crate::bus::EventBus>,
    /// Wall clock, injected.
    pub clock: Clock,
}

impl std::fmt::Debug for GeneratorArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorArgs")
            .field("interval", &self.interval)
            .finish()
    }
}

#[derive(Debug)]
pub(crate) struct GeneratorState {
    args: GeneratorArgs,
    paused: bool,
    timer: tokio::task::JoinHandle<()>,
    /// Symbols off the walk, and until when.
    held: BTreeMap<Symbol, Instant>,
}

/// The typed face of a running generator. Every method is a cast: the
/// generator applies it on its next turn.
#[derive(Clone, Debug)]
pub struct GeneratorHandle {
    actor: ActorRef<GeneratorMsg>,
}

impl GeneratorHandle {
    /// Start a live generator.
    pub async fn spawn(args: GeneratorArgs) -> Result<GeneratorHandle, ActorError> {
        Actor::spawn(None, MarketGenerator, args)
            .await
            .map(|(actor, _)| GeneratorHandle { actor })
            .map_err(|_| ActorError::Unavailable("generator"))
    }
    fn cast(&self, msg: GeneratorMsg) -> Result<(), ActorError> {
        self.actor
            .cast(msg)
            .map_err(|_| ActorError::Unavailable("generator"))
    }
    /// Stop stepping the walk (prices set by hand still apply).
    pub fn pause(&self) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::Pause)
    }
    pub fn resume(&self) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::Resume)
    }
    /// Move a symbol's walk to `price` (and publish the tick).
    pub fn set_price(&self, symbol: Symbol, price: Price) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::SetPrice { symbol, price })
    }
    /// A price that came from outside (a replay) for `symbol`: it leaves
    /// the walk for `hold` (each such price renews it), so the prices it
    /// shows are exactly the outside ones; then it walks on from there.
    pub fn hold(&self, symbol: Symbol, price: Price, hold: Duration) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::Hold {
            symbol,
            price,
            until: Instant::now() + hold,
        })
    }
    /// Move a symbol by a log-return (a news jump).
    pub fn shock(&self, symbol: Symbol, log_ret: f64) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::Shock { symbol, log_ret })
    }
    /// Start walking a newly listed symbol on its own stream; with `hold`,
    /// only after that long without outside prices (a symbol listed by a
    /// replay starts off the walk).
    pub fn add(
        &self,
        symbol: Symbol,
        model: Gbm,
        seed: u64,
        stream: u64,
        hold: Option<Duration>,
    ) -> Result<(), ActorError> {
        self.cast(GeneratorMsg::Add {
            symbol,
            model,
            seed,
            stream,
            held_until: hold.map(|h| Instant::now() + h),
        })
    }
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

/// The live generator behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MarketGenerator;

impl Actor for MarketGenerator {
    type Msg = GeneratorMsg;
    type State = GeneratorState;
    type Arguments = GeneratorArgs;

    async fn pre_start(
        &self,
        me: ActorRef<GeneratorMsg>,
        args: GeneratorArgs,
    ) -> Result<GeneratorState, ActorProcessingErr> {
        let timer = me.send_interval(args.interval, || GeneratorMsg::Step);
        Ok(GeneratorState {
            args,
            paused: false,
            timer,
            held: BTreeMap::new(),
        })
    }

    async fn post_stop(
        &self,
        _me: ActorRef<GeneratorMsg>,
        st: &mut GeneratorState,
    ) -> Result<(), ActorProcessingErr> {
        st.timer.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<GeneratorMsg>,
        msg: GeneratorMsg,
        st: &mut GeneratorState,
    ) -> Result<(), ActorProcessingErr> {
        let ts = st.args.clock.now();
        let mut ticks = Vec::new();
        match msg {
            GeneratorMsg::Step if !st.paused => {
                let now = Instant::now();
                while let Some((&s, _)) = st.held.iter().find(|(_, until)| **until <= now) {
                    st.held.remove(&s);
                    st.args.walk.hold(s, false);
                    tracing::info!(symbol = %s, "no outside prices for a while: back on the random walk");
                }
                st.args
                    .walk
                    .step(st.args.interval.as_secs_f64(), ts, &mut ticks)
            }
            GeneratorMsg::Step => {}
            GeneratorMsg::Pause => st.paused = true,
            GeneratorMsg::Resume => st.paused = false,
            GeneratorMsg::SetPrice { symbol, price } => {
                ticks.extend(st.args.walk.set(symbol, price, ts))
            }
            GeneratorMsg::Hold {
                symbol,
                price,
                until,
            } => {
                if st.held.insert(symbol, until).is_none() {
                    tracing::info!(%symbol, "prices from outside: off the random walk while they arrive");
                }
                st.args.walk.hold(symbol, true);
                // The walk resumes from here; the outside price itself was
                // applied by whoever received it.
                let _ = st.args.walk.set(symbol, price, ts);
            }
            GeneratorMsg::Shock { symbol, log_ret } => {
                ticks.extend(st.args.walk.shock(symbol, log_ret, ts))
            }
            GeneratorMsg::Add {
                symbol,
                model,
                seed,
                stream,
                held_until,
            } => {
                st.args.walk.add(symbol, model, seed, stream);
                if let Some(until) = held_until {
                    st.args.walk.hold(symbol, true);
                    st.held.insert(symbol, until);
                }
            }
        }
        if ticks.is_empty() {
            return Ok(());
        }
        if let Some(dir) = &st.args.directory {
            for t in &ticks {
                if let Some(h) = dir.ticker(t.symbol) {
                    let _ = h.tick(t.price, t.ts).await;
                }
            }
        }
        if let Some(bus) = &st.args.bus {
            bus.publish(
                ticks
                    .iter()
                    .map(|t| crate::bus::MarketEvent::Tick {
                        symbol: t.symbol,
                        price: t.price,
                        ts: t.ts,
                    })
                    .collect(),
            );
        }
        if let Some(sink) = &st.args.sink {
            if let Err(e) = sink.publish(&ticks).await {
                tracing::warn!(error = %e, "tick sink refused a batch; the market keeps its last prices");
            }
        }
        Ok(())
    }
}
