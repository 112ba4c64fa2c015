//! `ActorRef::abort`: the handler in progress is dropped at its await
//! point, what is queued becomes dead letters, `on_stop` sees
//! `StopReason::Aborted`, and a supervisor treats it like a kill.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Restart, Strategy, Supervisor};
use actor_core::{DeadLetterReason, error::AskError};
use support::{Log, both_flavours_bounded, bounded, eventually, log_of};

/// Records its lifecycle; its handlers and hooks can be made to wait forever.
#[derive(Default)]
struct Stuck {
    log: Log,
    /// `on_start` waits forever.
    hang_on_start: bool,
    /// `on_stop` waits forever (after logging).
    hang_on_stop: bool,
    /// Counts starts across incarnations (supervised tests).
    starts: Arc<AtomicU32>,
}

impl Stuck {
    fn note(&self, event: impl Into<String>) {
        self.log.lock().unwrap().push(event.into());
    }
}

impl Actor for Stuck {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.note("start");
        if self.hang_on_start {
            let _guard = Noted(self.log.clone(), "on_start dropped");
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, reason: &StopReason) {
        self.note(format!("stop: {reason}"));
        if self.hang_on_stop {
            let _guard = Noted(self.log.clone(), "on_stop dropped");
            std::future::pending::<()>().await;
        }
    }
}

/// Logs its message when dropped: shows that a future was dropped
/// unfinished, and when.
struct Noted(Log, &'static str);
impl Drop for Noted {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(self.1.into());
    }
}

/// Waits forever, after telling the test it has started.
struct Forever(tokio::sync::oneshot::Sender<()>);
impl Message for Forever {
    type Reply = u32;
}
impl Handler<Forever> for Stuck {
    async fn handle(&mut self, Forever(entered): Forever, _: &mut Context<Self>) -> u32 {
        let _guard = Noted(self.log.clone(), "handler dropped");
        let _ = entered.send(());
        std::future::pending::<()>().await;
        unreachable!("nothing wakes a pending future")
    }
}

struct Ping;
impl Message for Ping {
    type Reply = u32;
}
impl Handler<Ping> for Stuck {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u32 {
        self.starts.load(Ordering::SeqCst)
    }
}

/// Starts `stuck`; hands back its reference and its log.
fn spawn_stuck(system: &ActorSystem, stuck: Stuck) -> (ActorRef<Stuck>, Log) {
    let log = stuck.log.clone();
    (system.spawn(stuck), log)
}

/// Sends `Forever` as an ask from another task; returns that ask once its
/// handler has started.
async fn stick(actor: &ActorRef<Stuck>) -> tokio::task::JoinHandle<Result<u32, AskError<Forever>>> {
    let (entered, started) = tokio::sync::oneshot::channel();
    let ask = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(Forever(entered)).await })
    };
    bounded(started).await.expect("the handler started");
    ask
}

#[test]
fn abort_drops_a_handler_awaiting_forever_and_dead_letters_the_queue() {
    both_flavours_bounded(|system| async move {
        let mut dead = system.dead_letters();
        let (actor, log) = spawn_stuck(&system, Stuck::default());
        let in_progress = stick(&actor).await;
        let queued: Vec<_> = (0..3)
            .map(|_| {
                let actor = actor.clone();
                tokio::spawn(async move { actor.ask(Ping).await })
            })
            .collect();
        eventually(|| actor.mailbox_len() == 3).await;

        actor.abort();
        assert!(matches!(actor.wait_for_stop().await, StopReason::Aborted));
        assert!(!actor.is_alive());
        assert!(matches!(in_progress.await.unwrap(), Err(AskError::NoReply)));
        for ask in queued {
            assert!(matches!(ask.await.unwrap(), Err(AskError::NoReply)));
        }
        for _ in 0..3 {
            let letter = dead.recv().await.unwrap();
            assert_eq!(letter.recipient, Some(actor.id()));
            assert_eq!(letter.reason, DeadLetterReason::DroppedOnStop);
        }
        // The handler's future was dropped before `on_stop` ran, which saw
        // the reason.
        assert_eq!(log_of(&log), ["start", "handler dropped", "stop: aborted"]);
    });
}

#[test]
fn abort_stops_an_idle_actor_with_on_stop() {
    both_flavours_bounded(|system| async move {
        let (actor, log) = spawn_stuck(&system, Stuck::default());
        assert_eq!(actor.ask(Ping).await.unwrap(), 1);
        actor.abort();
        let reason = actor.wait_for_stop().await;
        assert!(matches!(reason, StopReason::Aborted));
        assert!(reason.is_abnormal());
        assert_eq!(reason.to_string(), "aborted");
        assert_eq!(log_of(&log), ["start", "stop: aborted"]);
    });
}

#[test]
fn abort_of_a_stopped_actor_does_nothing() {
    both_flavours_bounded(|system| async move {
        let (actor, log) = spawn_stuck(&system, Stuck::default());
        actor.stop();
        assert!(actor.wait_for_stop().await.is_normal());
        actor.abort();
        actor.abort();
        assert!(actor.wait_for_stop().await.is_normal());
        assert_eq!(log_of(&log), ["start", "stop: stopped normally"]);
    });
}

/// Waits until `log` has `entries` lines (the actor is then stuck in a
/// hook), aborts, and checks the reason the actor ends with and its log.
async fn abort_stuck(actor: &ActorRef<Stuck>, log: &Log, entries: usize, reason: StopReason, expected: &[&str]) {
    eventually(|| log_of(log).len() == entries).await;
    actor.abort();
    assert_eq!(actor.wait_for_stop().await.to_string(), reason.to_string());
    assert_eq!(log_of(log), expected);
}

#[test]
fn abort_drops_an_on_start_that_never_ends() {
    both_flavours_bounded(|system| async move {
        let (actor, log) = spawn_stuck(&system, Stuck { hang_on_start: true, ..Stuck::default() });
        abort_stuck(&actor, &log, 1, StopReason::Aborted, &["start", "on_start dropped", "stop: aborted"]).await;
    });
}

#[tokio::test(flavor = "current_thread")]
async fn an_abort_before_the_first_poll_drops_on_start_unpolled() {
    // On one thread the actor's task first runs at the await below, after
    // the abort: `on_start` is made but never polled, and `on_stop` runs.
    let system = ActorSystem::new();
    let stuck = Stuck::default();
    let starts = stuck.starts.clone();
    let (actor, log) = spawn_stuck(&system, stuck);
    actor.abort();
    let reason = bounded(actor.wait_for_stop()).await;
    assert!(matches!(reason, StopReason::Aborted), "{reason}");
    assert_eq!(starts.load(Ordering::SeqCst), 0);
    assert_eq!(log_of(&log), ["stop: aborted"]);
}

#[test]
fn a_later_abort_drops_an_on_stop_that_never_ends() {
    both_flavours_bounded(|system| async move {
        let (actor, log) = spawn_stuck(&system, Stuck { hang_on_stop: true, ..Stuck::default() });
        actor.kill();
        // The actor ends with the reason it was stopping for.
        abort_stuck(&actor, &log, 2, StopReason::Killed, &["start", "stop: killed", "on_stop dropped"]).await;
    });
}

#[test]
fn an_aborted_permanent_child_is_restarted_in_place_like_a_killed_one() {
    both_flavours_bounded(|system| async move {
        let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
        let starts = Arc::new(AtomicU32::new(0));
        let log = Log::default();
        let spec = {
            let (starts, log) = (starts.clone(), log.clone());
            ChildSpec::new(move || Stuck { log: log.clone(), starts: starts.clone(), ..Stuck::default() })
        };
        let child = supervisor.start_child(spec.restart(Restart::Permanent)).await.unwrap();
        let in_progress = stick(&child).await;
        child.abort();
        assert!(matches!(in_progress.await.unwrap(), Err(AskError::NoReply)));
        // Restarted in place, as after a kill: the same reference reaches
        // the new incarnation, which the abort does not touch.
        assert_eq!(child.ask(Ping).await.unwrap(), 2);
        assert!(child.is_alive());
        assert_eq!(log_of(&log), ["start", "handler dropped", "stop: aborted", "start"]);
    });
}

#[test]
fn an_aborted_temporary_child_is_not_restarted() {
    both_flavours_bounded(|system| async move {
        let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
        let starts = Arc::new(AtomicU32::new(0));
        let spec = {
            let starts = starts.clone();
            ChildSpec::new(move || Stuck { starts: starts.clone(), ..Stuck::default() })
        };
        let child = supervisor.start_child(spec.restart(Restart::Temporary)).await.unwrap();
        let in_progress = stick(&child).await;
        child.abort();
        assert!(matches!(child.wait_for_stop().await, StopReason::Aborted));
        assert!(matches!(in_progress.await.unwrap(), Err(AskError::NoReply)));
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert!(supervisor.is_alive());
    });
}
