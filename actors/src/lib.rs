//! Actors around the engine.
//!
//! Owns the live state of a market: `TickerActor`s (one per symbol: book,
//! reference price, day statistics, candles), `AccountActor`s (ledgers of one
//! or many accounts), the order-routing pipeline (`matcher`), the price
//! generator, supervision with state rebuilt from a journal, the event bus,
//! the simulation kernel, and the ports (traits) adapters implement.
//!
//! Callers use typed handles (`MarketHandle`, `TickerHandle`,
//! `AccountHandle`) and never build raw messages. Handles bound the number of
//! requests in flight per actor (ractor mailboxes are unbounded).
//! This crate never knows SQL, Redis, Kafka or HTTP.

pub mod account;
pub mod bus;
pub mod clock;
pub mod directory;
pub mod facts;
pub mod generator;
pub mod kernel;
pub mod listing;
pub mod market;
pub mod matcher;
pub mod memory;
pub mod ports;
pub mod recovery;
pub mod router;
pub mod session;
pub mod supervisor;
pub mod task;
pub mod ticker;
pub mod walk;

pub use account::{AccountActor, AccountHandle, AccountMsg};
pub use bus::{EventBus, MarketEvent};
pub use clock::Clock;
pub use directory::Directory;
pub use generator::GeneratorHandle;
pub use kernel::{Action, Kernel, KernelConfig, Population, RunStats, WakeCtx};
pub use listing::Listing;
pub use market::{MarketError, MarketHandle};
pub use matcher::{Command, PlaceError};
pub use router::OrderRouter;
pub use supervisor::Supervisor;
pub use ticker::{TickerActor, TickerConfig, TickerHandle, TickerMsg, TickerSnapshot};
pub use walk::{Origin, PriceTick, PriceWalk};

/// Errors talking to an actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error("the {0} actor is unavailable (stopped or restarting)")]
    Unavailable(&'static str),
    #[error("the {0} actor did not answer in time")]
    Timeout(&'static str),
}

/// One of a handle's in-flight permits, held until the message it goes
/// with has been handled (casts that must count against the limit).
pub(crate) async fn permit(
    limit: &std::sync::Arc<tokio::sync::Semaphore>,
    who: &'static str,
) -> Result<tokio::sync::OwnedSemaphorePermit, ActorError> {
    limit
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ActorError::Unavailable(who))
}

/// Send a call through a handle's in-flight limit and map ractor's errors.
pub(crate) async fn call<M, R>(
    actor: &ractor::ActorRef<M>,
    limit: &tokio::sync::Semaphore,
    who: &'static str,
    build: impl FnOnce(ractor::RpcReplyPort<R>) -> M,
) -> Result<R, ActorError>
where
    M: ractor::Message,
    R: Send + 'static,
{
    let _permit = limit
        .acquire()
        .await
        .map_err(|_| ActorError::Unavailable(who))?;
    match actor.call(build, None).await {
        Ok(ractor::rpc::CallResult::Success(r)) => Ok(r),
        Ok(ractor::rpc::CallResult::Timeout) => Err(ActorError::Timeout(who)),
        Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(ActorError::Unavailable(who)),
    }
}

/// Requests a handle lets into one actor's mailbox at once.
pub const MAX_IN_FLIGHT: usize = 4_096;
