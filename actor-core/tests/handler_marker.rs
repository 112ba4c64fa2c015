//! The run loop marks the thread while it builds and polls a handler (or
//! `on_start`): asks made there enter the graph of waits (an ask of the
//! actor itself fails at once with `AskError::Deadlock`), and a reply left
//! unanswered by a panic reaches its asker as the panic. Code polled
//! anywhere else, between messages or in another task on the same thread,
//! is not a handler: its asks wait like any other.

mod support;

use std::sync::{Arc, Mutex};

use actor_core::error::{AskError, PanicError};
use actor_core::prelude::*;

use support::{both_flavours, bounded};

/// What an ask of the actor itself came to, as text.
fn outcome<M>(result: Result<u64, AskError<M>>) -> String {
    match result {
        Ok(n) => format!("ok {n}"),
        Err(AskError::Deadlock(..)) => "deadlock".to_owned(),
        Err(e) => format!("other: {e}"),
    }
}

/// Asks itself from its handlers and hooks; records what `on_start` saw.
#[derive(Default)]
struct Probe {
    seen_at_start: Arc<Mutex<Option<String>>>,
    ask_self_at_start: bool,
    handled: u64,
}

impl Actor for Probe {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.ask_self_at_start {
            let me = ctx.actor_ref();
            let first = outcome(me.ask(Quick).await);
            tokio::task::yield_now().await;
            let after_await = outcome(me.ask(Quick).await);
            *self.seen_at_start.lock().unwrap() = Some(format!("{first}, {after_await}"));
        }
        Ok(())
    }

    async fn on_panic(&mut self, _: &mut Context<Self>, _: &PanicError) -> PanicAction {
        PanicAction::Resume
    }
}

/// Answers at once.
struct Quick;
impl Message for Quick {
    type Reply = u64;
}
impl Handler<Quick> for Probe {
    async fn handle(&mut self, _: Quick, _: &mut Context<Self>) -> u64 {
        self.handled += 1;
        self.handled
    }
}

/// Asks itself before any await, after a yield and after a timer.
struct AskSelf;
impl Message for AskSelf {
    type Reply = [String; 3];
}
impl Handler<AskSelf> for Probe {
    async fn handle(&mut self, _: AskSelf, ctx: &mut Context<Self>) -> [String; 3] {
        let me = ctx.actor_ref();
        let first = outcome(me.ask(Quick).await);
        tokio::task::yield_now().await;
        let after_yield = outcome(me.ask(Quick).await);
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        let after_sleep = outcome(me.ask(Quick).await);
        [first, after_yield, after_sleep]
    }
}

/// Awaits a while before answering: the run loop returns `Pending` with a
/// handler in progress.
struct Slow;
impl Message for Slow {
    type Reply = u64;
}
impl Handler<Slow> for Probe {
    async fn handle(&mut self, _: Slow, _: &mut Context<Self>) -> u64 {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.handled += 1;
        self.handled
    }
}

/// Panics: in the handler's construction, in its first poll, or after an
/// await.
#[derive(Clone, Copy)]
enum Boom {
    Building,
    FirstPoll,
    AfterAwait,
}
impl Message for Boom {
    type Reply = u64;
}
impl Handler<Boom> for Probe {
    fn handle(&mut self, boom: Boom, _: &mut Context<Self>) -> impl Future<Output = u64> + Send {
        if let Boom::Building = boom {
            panic!("boom while building");
        }
        async move {
            if let Boom::AfterAwait = boom {
                tokio::task::yield_now().await;
            }
            panic!("boom in the handler");
        }
    }
}

/// Starts a plain task that asks the actor; the handler returns at once.
struct SpawnAsker(tokio::sync::oneshot::Sender<String>);
impl Message for SpawnAsker {
    type Reply = ();
}
impl Handler<SpawnAsker> for Probe {
    async fn handle(&mut self, SpawnAsker(tx): SpawnAsker, ctx: &mut Context<Self>) {
        let me = ctx.actor_ref();
        tokio::spawn(async move {
            let _ = tx.send(outcome(me.ask(Quick).await));
        });
    }
}

#[test]
fn a_handler_asking_its_own_actor_fails_with_deadlock_before_and_after_awaits() {
    both_flavours(|| async {
        bounded(async {
            let probe = ActorSystem::new().spawn(Probe::default());
            let seen = probe.ask(AskSelf).await.unwrap();
            assert_eq!(seen, ["deadlock", "deadlock", "deadlock"].map(str::to_owned));
            // And again after other handlers ran, finished or pending.
            probe.ask(Quick).await.unwrap();
            probe.ask(Slow).await.unwrap();
            let seen = probe.ask(AskSelf).await.unwrap();
            assert_eq!(seen, ["deadlock", "deadlock", "deadlock"].map(str::to_owned));
        })
        .await;
    });
}

#[test]
fn on_start_asking_its_own_actor_fails_with_deadlock_before_and_after_an_await() {
    both_flavours(|| async {
        bounded(async {
            let seen = Arc::new(Mutex::new(None));
            let probe = ActorSystem::new().spawn(Probe {
                seen_at_start: seen.clone(),
                ask_self_at_start: true,
                ..Probe::default()
            });
            // Handled after `on_start`: the hook's asks were refused, not queued.
            assert_eq!(probe.ask(Quick).await.unwrap(), 1);
            assert_eq!(seen.lock().unwrap().as_deref(), Some("deadlock, deadlock"));
        })
        .await;
    });
}

#[test]
fn a_panic_reaches_its_asker_wherever_the_handler_panicked() {
    both_flavours(|| async {
        bounded(async {
            let probe = ActorSystem::new().spawn(Probe::default());
            for boom in [Boom::Building, Boom::FirstPoll, Boom::AfterAwait, Boom::FirstPoll] {
                let err = probe.ask(boom).await.unwrap_err();
                assert!(err.is_panic(), "{err:?}");
                // `on_panic` resumed: the actor goes on, and plain code
                // after the panic is no handler.
                assert!(probe.ask(Quick).await.is_ok());
            }
        })
        .await;
    });
}

/// On one thread, the actor's task and plain tasks take turns: whatever the
/// run loop last did (finished a handler, yielded after a batch, left a
/// handler pending, caught a panic), a plain task's ask of the actor is
/// queued and answered, not refused as a cycle.
#[tokio::test(flavor = "current_thread")]
async fn plain_tasks_between_messages_on_the_same_thread_are_no_handler() {
    bounded(async {
        let probe = ActorSystem::new().spawn(Probe::default());
        // Plain tasks that ask while the actor works through a long queue
        // (it yields every so many messages) and through pending handlers.
        let askers: Vec<_> = (0..20)
            .map(|i| {
                let probe = probe.clone();
                tokio::spawn(async move {
                    for _ in 0..i % 4 {
                        tokio::task::yield_now().await;
                    }
                    outcome(probe.ask(Quick).await)
                })
            })
            .collect();
        for round in 0..500u64 {
            match round % 50 {
                7 => probe.tell(Slow).await.unwrap(),
                13 => probe.tell(Boom::AfterAwait).await.unwrap(),
                29 => probe.tell(Boom::FirstPoll).await.unwrap(),
                _ => probe.tell(Quick).await.unwrap(),
            }
            if round % 100 == 0 {
                tokio::task::yield_now().await;
                // This task itself is plain code too.
                assert!(probe.ask(Quick).await.is_ok());
            }
        }
        for asker in askers {
            let seen = asker.await.unwrap();
            assert!(seen.starts_with("ok "), "{seen}");
        }
        // A task a handler spawns is not the handler either.
        let (tx, rx) = tokio::sync::oneshot::channel();
        probe.tell(SpawnAsker(tx)).await.unwrap();
        let seen = rx.await.unwrap();
        assert!(seen.starts_with("ok "), "{seen}");
    })
    .await;
}

/// Aborts its own actor while the handler is being built: the future is
/// dropped unpolled, outside the handler, so its reply just closes.
struct AbortWhileBuilding;
impl Message for AbortWhileBuilding {
    type Reply = u64;
}
impl Handler<AbortWhileBuilding> for Probe {
    fn handle(&mut self, _: AbortWhileBuilding, ctx: &mut Context<Self>) -> impl Future<Output = u64> + Send {
        ctx.actor_ref().abort();
        async { unreachable!("an abort raised before the first poll drops the future unpolled") }
    }
}

#[test]
fn an_abort_raised_before_the_first_poll_drops_the_handler_unpolled_and_its_ask_gets_no_reply() {
    both_flavours(|| async {
        bounded(async {
            let probe = ActorSystem::new().spawn(Probe::default());
            assert_eq!(probe.ask(Quick).await.unwrap(), 1);
            assert!(matches!(probe.ask(AbortWhileBuilding).await, Err(AskError::NoReply)));
            assert!(matches!(probe.wait_for_stop().await, StopReason::Aborted));
        })
        .await;
    });
}
