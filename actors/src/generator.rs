//! `MarketGenerator`: the random-walk price source.
//!
//! `PriceWalk` is the pure part: one GBM model and one ChaCha stream per
//! symbol, stepped by the simulation kernel per step. `MarketGenerator` is
//! the live actor: on a wall-clock interval it steps the walk and publishes
//! the ticks to a tick sink and/or straight to the tickers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::{Gbm, GbmParams, Price, Symbol, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::directory::Directory;
use crate::ports::TickSink;

/// A reference-price tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceTick {
    pub symbol: Symbol,
    pub price: Price,
    pub ts: Timestamp,
    /// Per-symbol sequence number, from 1; consumers drop duplicates by it.
    pub seq: u64,
}

#[derive(Clone, Debug)]
struct Walker {
    model: Gbm,
    rng: ChaCha8Rng,
    seq: u64,
}

/// A GBM walk per symbol, each with its own seeded stream.
#[derive(Clone, Debug, Default)]
pub struct PriceWalk {
    walkers: BTreeMap<Symbol, Walker>,
}

impl PriceWalk {
    /// Add a symbol. Its stream is `stream` of the ChaCha generator seeded
    /// with `seed`, so adding symbols never changes another's path.
    pub fn add(&mut self, symbol: Symbol, model: Gbm, seed: u64, stream: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        self.walkers.insert(symbol, Walker { model, rng, seq: 0 });
    }
    pub fn price(&self, symbol: Symbol) -> Option<Price> {
        self.walkers.get(&symbol).map(|w| w.model.price())
    }
    pub fn params(&self, symbol: Symbol) -> Option<GbmParams> {
        self.walkers.get(&symbol).map(|w| w.model.params())
    }
    pub fn symbols(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.walkers.keys().copied()
    }
    pub fn len(&self) -> usize {
        self.walkers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.walkers.is_empty()
    }
    /// Advance every symbol by `dt_secs` of trading time.
    pub fn step(&mut self, dt_secs: f64, ts: Timestamp, out: &mut Vec<PriceTick>) {
        for (s, w) in self.walkers.iter_mut() {
            let price = w.model.step(dt_secs, &mut w.rng);
            w.seq += 1;
            out.push(PriceTick {
                symbol: *s,
                price,
                ts,
                seq: w.seq,
            });
        }
    }
    /// Set a symbol's price (admin or replay); returns the tick.
    pub fn set(&mut self, symbol: Symbol, price: Price, ts: Timestamp) -> Option<PriceTick> {
        let w = self.walkers.get_mut(&symbol)?;
        w.model.set_price(price);
        w.seq += 1;
        Some(PriceTick {
            symbol,
            price: w.model.price(),
            ts,
            seq: w.seq,
        })
    }
    /// Shock a symbol by a log-return (the random-ticker agent's jump).
    pub fn shock(&mut self, symbol: Symbol, log_ret: f64, ts: Timestamp) -> Option<PriceTick> {
        let w = self.walkers.get_mut(&symbol)?;
        let price = w.model.jump_by(log_ret);
        w.seq += 1;
        Some(PriceTick {
            symbol,
            price,
            ts,
            seq: w.seq,
        })
    }
}

/// Messages of the live generator.
#[derive(Debug)]
pub enum GeneratorMsg {
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
    /// Start walking a newly listed symbol.
    Add {
        symbol: Symbol,
        model: Gbm,
        seed: u64,
        stream: u64,
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
    /// Wall clock, injected (nanoseconds since the epoch).
    pub clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl std::fmt::Debug for GeneratorArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorArgs")
            .field("interval", &self.interval)
            .finish()
    }
}

#[derive(Debug)]
pub struct GeneratorState {
    args: GeneratorArgs,
    paused: bool,
    timer: tokio::task::JoinHandle<()>,
}

/// Start a live generator.
pub async fn spawn(args: GeneratorArgs) -> Result<ActorRef<GeneratorMsg>, ractor::SpawnErr> {
    Actor::spawn(None, MarketGenerator, args)
        .await
        .map(|(a, _)| a)
}

/// The live generator behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarketGenerator;

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
        let ts = (st.args.clock)();
        let mut ticks = Vec::new();
        match msg {
            GeneratorMsg::Step if !st.paused => {
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
            GeneratorMsg::Shock { symbol, log_ret } => {
                ticks.extend(st.args.walk.shock(symbol, log_ret, ts))
            }
            GeneratorMsg::Add {
                symbol,
                model,
                seed,
                stream,
            } => st.args.walk.add(symbol, model, seed, stream),
        }
        if ticks.is_empty() {
            return Ok(());
        }
        if let Some(dir) = &st.args.directory {
            for t in &ticks {
                if let Some(h) = dir.ticker(t.symbol) {
                    let _ = h.tick(t.price, t.ts);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> PriceWalk {
        let mut w = PriceWalk::default();
        for (i, s) in ["AAA", "BBB"].iter().enumerate() {
            let gbm = Gbm::new(
                Price::from_minor(10_000),
                Price::from_minor(1),
                GbmParams {
                    volatility: 0.4,
                    ..Default::default()
                },
            )
            .unwrap();
            w.add(Symbol::new(s).unwrap(), gbm, 9, i as u64);
        }
        w
    }

    #[test]
    fn each_symbol_has_its_own_stream_and_sequence() {
        let mut w = walk();
        let mut out = Vec::new();
        for k in 0..100 {
            w.step(60.0, Timestamp(k), &mut out);
        }
        let a: Vec<Price> = out
            .iter()
            .filter(|t| t.symbol.as_str() == "AAA")
            .map(|t| t.price)
            .collect();
        let b: Vec<Price> = out
            .iter()
            .filter(|t| t.symbol.as_str() == "BBB")
            .map(|t| t.price)
            .collect();
        assert_ne!(a, b);
        assert_eq!(
            out.iter()
                .filter(|t| t.symbol.as_str() == "AAA")
                .map(|t| t.seq)
                .collect::<Vec<_>>(),
            (1..=100).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_ticks() {
        let run = || {
            let mut w = walk();
            let mut out = Vec::new();
            w.step(1.0, Timestamp(0), &mut out);
            w.shock(Symbol::new("AAA").unwrap(), 0.1, Timestamp(1));
            w.step(1.0, Timestamp(2), &mut out);
            out
        };
        assert_eq!(run(), run());
    }
}
