//! Supervision: restart strategies, restart intensity and failing upward,
//! restarts in place that keep references and queued messages.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actor_core::RestartIntensity;
use actor_core::prelude::*;
use actor_core::supervision::{ChildExit, ChildSpec, Restart, Strategy, Supervisor};
use support::{LIMIT, both_flavours, eventually, run_bounded};

/// Counts its starts (shared across incarnations) and its handled messages
/// (per incarnation).
struct Worker {
    starts: Arc<AtomicU32>,
    handled: u32,
}

impl Worker {
    fn spec(starts: &Arc<AtomicU32>) -> ChildSpec<Worker> {
        let starts = starts.clone();
        ChildSpec::new(move || Worker { starts: starts.clone(), handled: 0 })
    }
}

/// Starts a `Worker` under `supervisor` with `restart`; hands back the
/// worker and its start count.
async fn start_worker(supervisor: &ActorRef<Supervisor>, restart: Restart) -> (ActorRef<Worker>, Arc<AtomicU32>) {
    let starts = Arc::new(AtomicU32::new(0));
    let worker = supervisor.start_child(Worker::spec(&starts).restart(restart)).await.unwrap();
    (worker, starts)
}

/// A permanent `Worker` under a one-for-one supervisor with `backoff`,
/// just failed: its restart waits out the backoff. Hands back the
/// supervisor, the worker and its start count.
async fn worker_in_backoff(
    system: &ActorSystem,
    backoff: Duration,
) -> (ActorRef<Supervisor>, ActorRef<Worker>, Arc<AtomicU32>) {
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne).backoff(backoff));
    let (worker, starts) = start_worker(&supervisor, Restart::Permanent).await;
    assert!(worker.ask(Boom).await.unwrap_err().is_panic());
    (supervisor, worker, starts)
}

impl Actor for Worker {
    type Error = std::convert::Infallible;
    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[actor(no_actor_impl)]
impl Worker {
    #[message]
    fn boom(&mut self) {
        panic!("boom");
    }

    #[message]
    fn work(&mut self) -> u32 {
        self.handled += 1;
        self.handled
    }
}

/// Records the exits of its children; starts a supervisor as its child.
#[derive(Default)]
struct Parent {
    exits: Vec<ChildExit>,
}
impl Actor for Parent {
    type Error = std::convert::Infallible;
    async fn on_child_exit(&mut self, _: &mut Context<Self>, exit: &ChildExit) {
        self.exits.push(exit.clone());
    }
}

#[actor(no_actor_impl)]
impl Parent {
    #[message]
    fn start_supervisor(&mut self, supervisor: Supervisor, ctx: &mut Context<Self>) -> ActorRef<Supervisor> {
        ctx.spawn_child(supervisor)
    }

    #[message]
    fn exits(&self) -> Vec<ChildExit> {
        self.exits.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_storm_is_cut_off_after_the_intensity_and_the_supervisor_fails_upward() {
    let system = ActorSystem::new();
    let parent = system.spawn(Parent::default());
    let supervisor = parent
        .ask(StartSupervisor {
            supervisor: Supervisor::new(Strategy::OneForOne).max_restarts(3, Duration::from_secs(1)),
        })
        .await
        .unwrap();
    let (worker, starts) = start_worker(&supervisor, Restart::Permanent).await;

    for _ in 0..4 {
        assert!(worker.ask(Boom).await.unwrap_err().is_panic());
    }
    let reason = supervisor.wait_for_stop().await;
    match &reason {
        StopReason::TooManyRestarts(limit) => {
            assert_eq!(**limit, RestartIntensity::new(3, Duration::from_secs(1)));
        }
        other => panic!("expected the supervisor to give up, got {other}"),
    }
    assert!(reason.is_abnormal());
    assert_eq!(reason.to_string(), "more than 3 restarts within 1s; the supervisor gave up");
    // The initial start and exactly three restarts.
    assert_eq!(starts.load(Ordering::SeqCst), 4);
    // The worker went down with its supervisor.
    assert!(matches!(worker.wait_for_stop().await, StopReason::Panicked(_)));
    // The parent was told, with the reason.
    let exits = parent.ask(Exits).await.unwrap();
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].id, supervisor.id());
    assert!(matches!(exits[0].reason, StopReason::TooManyRestarts(_)));
    assert!(!exits[0].awaiting_restart);
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_time_stay_within_the_intensity() {
    let system = ActorSystem::new();
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne).max_restarts(2, Duration::from_secs(1)));
    let (worker, starts) = start_worker(&supervisor, Restart::Permanent).await;
    for _ in 0..6 {
        assert!(worker.ask(Boom).await.unwrap_err().is_panic());
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(worker.ask(Work).await.unwrap(), 1);
    assert_eq!(starts.load(Ordering::SeqCst), 7);
    assert!(supervisor.is_alive());
}

/// Three workers under `strategy`; the middle one fails. Returns each
/// worker's start count once things settle.
async fn fail_the_middle_child(strategy: Strategy) -> [u32; 3] {
    let system = ActorSystem::new();
    let supervisor = system.spawn(Supervisor::new(strategy));
    let starts: Vec<_> = (0..3).map(|_| Arc::new(AtomicU32::new(0))).collect();
    let mut workers = Vec::new();
    for s in &starts {
        workers.push(supervisor.start_child(Worker::spec(s)).await.unwrap());
    }
    for w in &workers {
        assert_eq!(w.ask(Work).await.unwrap(), 1);
    }
    assert!(workers[1].ask(Boom).await.unwrap_err().is_panic());
    eventually(|| starts[1].load(Ordering::SeqCst) == 2).await;
    if strategy != Strategy::OneForOne {
        eventually(|| starts[2].load(Ordering::SeqCst) == 2).await;
    }
    if strategy == Strategy::OneForAll {
        eventually(|| starts[0].load(Ordering::SeqCst) == 2).await;
    }
    // Restarted workers start from a fresh state; the others keep theirs.
    for (w, s) in workers.iter().zip(&starts) {
        let expected = if s.load(Ordering::SeqCst) == 2 { 1 } else { 2 };
        assert_eq!(w.ask(Work).await.unwrap(), expected);
    }
    let counts = [0, 1, 2].map(|i| starts[i].load(Ordering::SeqCst));
    system.shutdown().await;
    counts
}

#[test]
fn one_for_one_restarts_only_the_failed_child() {
    both_flavours(|| async { assert_eq!(fail_the_middle_child(Strategy::OneForOne).await, [1, 2, 1]) });
}

#[test]
fn one_for_all_restarts_every_child() {
    both_flavours(|| async { assert_eq!(fail_the_middle_child(Strategy::OneForAll).await, [2, 2, 2]) });
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_those_started_after_it() {
    both_flavours(|| async { assert_eq!(fail_the_middle_child(Strategy::RestForOne).await, [1, 2, 2]) });
}

#[tokio::test(start_paused = true)]
async fn messages_sent_while_a_child_restarts_wait_for_the_new_incarnation() {
    let system = ActorSystem::new();
    let (_supervisor, worker, starts) = worker_in_backoff(&system, Duration::from_millis(100)).await;
    // During the backoff the reference stays valid and messages queue.
    for _ in 0..5 {
        worker.tell(Work).await.unwrap();
    }
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert_eq!(worker.ask(Work).await.unwrap(), 6);
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert_eq!(system.dead_letter_count(), 0);
}

#[test]
fn a_temporary_child_is_not_restarted() {
    run_bounded(LIMIT, |system| async move {
        let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
        let (worker, starts) = start_worker(&supervisor, Restart::Temporary).await;
        assert!(worker.ask(Boom).await.unwrap_err().is_panic());
        assert!(matches!(worker.wait_for_stop().await, StopReason::Panicked(_)));
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert!(supervisor.is_alive());
    });
}

#[test]
fn a_transient_child_that_stops_normally_stays_stopped_and_a_permanent_one_comes_back() {
    run_bounded(LIMIT, |system| async move {
        let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
        let transient_starts = Arc::new(AtomicU32::new(0));
        let permanent_starts = Arc::new(AtomicU32::new(0));
        let transient =
            supervisor.start_child(Worker::spec(&transient_starts).restart(Restart::Transient)).await.unwrap();
        let permanent = supervisor.start_child(Worker::spec(&permanent_starts)).await.unwrap();

        transient.stop();
        assert!(transient.wait_for_stop().await.is_normal());
        permanent.stop();
        assert!(permanent.wait_for_stop().await.is_normal());
        // The permanent child is started again, as a new actor.
        eventually(|| permanent_starts.load(Ordering::SeqCst) == 2).await;
        // The transient child has left the supervisor's list: the permanent
        // one is now first.
        let again: ActorRef<Worker> = supervisor.child(0).await.unwrap().expect("a worker");
        assert_ne!(again.id(), permanent.id());
        assert_eq!(again.ask(Work).await.unwrap(), 1);
        assert_eq!(transient_starts.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_supervision_tree_restarts_its_subtree_from_specs() {
    run_bounded(LIMIT, |system| async move {
        let starts = Arc::new(AtomicU32::new(0));
        let leaf_starts = starts.clone();
        let top = system.spawn(
            Supervisor::new(Strategy::OneForOne)
                .child(ChildSpec::new(move || Supervisor::new(Strategy::OneForOne).child(Worker::spec(&leaf_starts)))),
        );
        let middle: ActorRef<Supervisor> = top.child(0).await.unwrap().expect("the middle supervisor");
        let worker: ActorRef<Worker> = middle.child(0).await.unwrap().expect("the worker");
        assert_eq!(worker.ask(Work).await.unwrap(), 1);
        system.shutdown().await;
        assert!(!worker.is_alive() && !middle.is_alive() && !top.is_alive());
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    });
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_while_it_waits_for_its_restart_is_not_brought_back() {
    let system = ActorSystem::new();
    let (supervisor, worker, starts) = worker_in_backoff(&system, Duration::from_secs(1)).await;
    // The restart is pending (backoff); stop the child from outside.
    worker.stop();
    assert!(matches!(worker.wait_for_stop().await, StopReason::Panicked(_)));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(supervisor.child::<Worker>(0).await.unwrap().is_none(), "it left the supervisor's list");
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert_eq!(system.actor_count(), 1, "only the supervisor is left");
}

/// Never finishes the message in hand.
struct Stuck;
impl Actor for Stuck {
    type Error = std::convert::Infallible;
}
impl Handler<Work> for Stuck {
    async fn handle(&mut self, _: Work, _: &mut Context<Self>) -> u32 {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_child_that_outlives_its_shutdown_timeout_is_aborted_and_its_queue_reported() {
    let system = ActorSystem::new();
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
    let stuck =
        supervisor.start_child(ChildSpec::new(|| Stuck).shutdown_timeout(Duration::from_millis(100))).await.unwrap();
    stuck.tell(Work).await.unwrap();
    for _ in 0..3 {
        stuck.tell(Work).await.unwrap();
    }
    let started = tokio::time::Instant::now();
    supervisor.stop();
    assert!(supervisor.wait_for_stop().await.is_normal());
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert!(matches!(stuck.wait_for_stop().await, StopReason::Killed));
    // The three queued messages were reported, not dropped silently.
    assert_eq!(system.dead_letter_count(), 3);
}
