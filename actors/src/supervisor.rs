//! The supervisor: spawns tickers and account actors linked to itself and
//! restarts any that fail, rebuilding their state from their journals.
//! Handles keep working across a restart: the supervisor swaps the new
//! actor in behind them.

use std::collections::HashMap;

use engine::{AccountId, Fees};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::ActorError;
use crate::account::{AccountActor, AccountArgs, AccountHandle, AccountJournal};
use crate::ticker::{TickerActor, TickerArgs, TickerCore, TickerHandle, TickerJournal};

/// Shortest command log before a journal snapshot.
const COMPACT_EVERY: usize = 4_096;

enum Child {
    Ticker {
        handle: TickerHandle,
        initial: Box<TickerCore>,
        journal: TickerJournal,
    },
    Account {
        handle: AccountHandle,
        fees: Fees,
        fee_account: AccountId,
        journal: AccountJournal,
    },
}

#[derive(Debug)]
pub enum SupervisorMsg {
    SpawnTicker {
        initial: Box<TickerCore>,
        reply: RpcReplyPort<Result<TickerHandle, String>>,
    },
    SpawnAccounts {
        fees: Fees,
        fee_account: AccountId,
        reply: RpcReplyPort<Result<AccountHandle, String>>,
    },
    Restarts(RpcReplyPort<u64>),
}

pub struct SupervisorState {
    children: HashMap<ActorId, Child>,
    restarts: u64,
}

impl std::fmt::Debug for SupervisorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorState")
            .field("children", &self.children.len())
            .field("restarts", &self.restarts)
            .finish()
    }
}

/// The supervisor behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supervisor;

impl Supervisor {
    /// Start a supervisor; returns its handle.
    pub async fn start() -> Result<SupervisorHandle, ActorError> {
        let (actor, _) = Actor::spawn(None, Supervisor, ())
            .await
            .map_err(|_| ActorError::Unavailable("supervisor"))?;
        Ok(SupervisorHandle { actor })
    }
}

async fn spawn_ticker(
    me: &ActorRef<SupervisorMsg>,
    initial: &TickerCore,
    journal: &TickerJournal,
) -> Result<ActorRef<crate::ticker::TickerMsg>, String> {
    let args = TickerArgs {
        initial: initial.clone(),
        journal: journal.clone(),
    };
    Actor::spawn_linked(None, TickerActor, args, me.get_cell())
        .await
        .map(|(a, _)| a)
        .map_err(|e| e.to_string())
}

async fn spawn_accounts(
    me: &ActorRef<SupervisorMsg>,
    fees: Fees,
    fee_account: AccountId,
    journal: &AccountJournal,
) -> Result<ActorRef<crate::account::AccountMsg>, String> {
    let args = AccountArgs {
        fees,
        fee_account,
        journal: journal.clone(),
    };
    Actor::spawn_linked(None, AccountActor, args, me.get_cell())
        .await
        .map(|(a, _)| a)
        .map_err(|e| e.to_string())
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _me: ActorRef<SupervisorMsg>,
        _: (),
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            children: HashMap::new(),
            restarts: 0,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::SpawnTicker { initial, reply } => {
                let journal = TickerJournal::new(COMPACT_EVERY);
                let r = spawn_ticker(&me, &initial, &journal).await.map(|actor| {
                    let handle = TickerHandle::new(
                        initial.book.symbol(),
                        initial.book.tick(),
                        actor.clone(),
                    );
                    st.children.insert(
                        actor.get_id(),
                        Child::Ticker {
                            handle: handle.clone(),
                            initial,
                            journal,
                        },
                    );
                    handle
                });
                let _ = reply.send(r);
            }
            SupervisorMsg::SpawnAccounts {
                fees,
                fee_account,
                reply,
            } => {
                let journal = AccountJournal::new(COMPACT_EVERY);
                let r = spawn_accounts(&me, fees, fee_account, &journal)
                    .await
                    .map(|actor| {
                        let handle = AccountHandle::new(actor.clone());
                        st.children.insert(
                            actor.get_id(),
                            Child::Account {
                                handle: handle.clone(),
                                fees,
                                fee_account,
                                journal,
                            },
                        );
                        handle
                    });
                let _ = reply.send(r);
            }
            SupervisorMsg::Restarts(reply) => {
                let _ = reply.send(st.restarts);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<SupervisorMsg>,
        evt: SupervisionEvent,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let SupervisionEvent::ActorFailed(cell, err) = evt else {
            return Ok(());
        };
        let Some(child) = st.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        tracing::warn!(actor = %cell.get_id(), error = %err, "child failed; restarting from its journal");
        st.restarts += 1;
        match child {
            Child::Ticker {
                handle,
                initial,
                journal,
            } => {
                let actor = spawn_ticker(&me, &initial, &journal).await?;
                handle.set_actor(actor.clone());
                st.children.insert(
                    actor.get_id(),
                    Child::Ticker {
                        handle,
                        initial,
                        journal,
                    },
                );
            }
            Child::Account {
                handle,
                fees,
                fee_account,
                journal,
            } => {
                let actor = spawn_accounts(&me, fees, fee_account, &journal).await?;
                handle.set_actor(actor.clone());
                st.children.insert(
                    actor.get_id(),
                    Child::Account {
                        handle,
                        fees,
                        fee_account,
                        journal,
                    },
                );
            }
        }
        Ok(())
    }
}

/// A handle to the supervisor.
#[derive(Clone, Debug)]
pub struct SupervisorHandle {
    actor: ActorRef<SupervisorMsg>,
}

impl SupervisorHandle {
    async fn ask<R: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<R>) -> SupervisorMsg,
    ) -> Result<R, ActorError> {
        match self.actor.call(build, None).await {
            Ok(ractor::rpc::CallResult::Success(r)) => Ok(r),
            _ => Err(ActorError::Unavailable("supervisor")),
        }
    }
    pub async fn spawn_ticker(&self, initial: TickerCore) -> Result<TickerHandle, ActorError> {
        self.ask(|reply| SupervisorMsg::SpawnTicker {
            initial: Box::new(initial),
            reply,
        })
        .await?
        .map_err(|_| ActorError::Unavailable("ticker"))
    }
    pub async fn spawn_accounts(
        &self,
        fees: Fees,
        fee_account: AccountId,
    ) -> Result<AccountHandle, ActorError> {
        self.ask(|reply| SupervisorMsg::SpawnAccounts {
            fees,
            fee_account,
            reply,
        })
        .await?
        .map_err(|_| ActorError::Unavailable("account"))
    }
    /// How many children were restarted so far.
    pub async fn restarts(&self) -> Result<u64, ActorError> {
        self.ask(SupervisorMsg::Restarts).await
    }
    /// Stop the supervisor and every child.
    pub fn stop(&self) {
        self.actor.stop_children(None);
        self.actor.stop(None);
    }
}
