//! `ActorSystem::stats`: the actor tree, messages handled, restarts and
//! mailbox depths, read while the system runs.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use actor_core::ActorState;
use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use test_support::{Worker, WorkerClient};

/// Asks `worker` to work until it answers (within 5 s): once it has been
/// restarted in place, the same reference works again.
async fn work_once_restarted(worker: &ActorRef<Worker>) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while worker.work().await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
}

/// A one-for-one supervisor in `system`, with one `Worker` child started
/// with `options`.
async fn supervised_worker(system: &ActorSystem, options: SpawnOptions) -> (ActorRef<Supervisor>, ActorRef<Worker>) {
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
    let worker = supervisor.start_child(ChildSpec::new(Worker::default).options(options)).await.unwrap();
    (supervisor, worker)
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "an observed restart is stamped with the wall clock (SystemTime), which Miri's isolation has not"
)]
async fn stats_show_the_tree_counts_and_restarts() {
    let system = ActorSystem::builder().observe(true).build();
    let supervisor = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let worker = supervisor.start_child(ChildSpec::new(Worker::default)).await.unwrap();
    for _ in 0..5 {
        worker.work().await.unwrap();
    }
    let _ = worker.crash().await;
    // Restarted in place: the same reference works.
    work_once_restarted(&worker).await;

    let stats = system.stats();
    assert_eq!(stats.live, 2);
    let roots: Vec<_> = stats.children_of(None).collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].name.as_deref(), Some("sup"));
    let children: Vec<_> = stats.children_of(Some(supervisor.id())).collect();
    assert_eq!(children.len(), 1, "the worker is the supervisor's child");
    let w = children[0];
    assert_eq!(w.id, worker.id());
    assert_eq!(w.restarts, 1);
    assert!(w.processed >= 7, "5 works, the crash, and the work after: {}", w.processed);
    assert_eq!(w.state, ActorState::Running);
}

#[tokio::test]
async fn mailbox_depth_is_visible_while_an_actor_is_busy() {
    let system = ActorSystem::builder().observe(true).build();
    let worker = system.spawn(Worker::default());
    worker.tell_hold(200).await.unwrap();
    for _ in 0..10 {
        worker.tell_work().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stats = system.stats();
    let w = stats.actors.iter().find(|a| a.id == worker.id()).unwrap();
    // The ten queued, and (counted until its batch of permits is given
    // back) possibly the one in hand.
    assert!((10..=11).contains(&w.mailbox_len), "{}", w.mailbox_len);
    assert_eq!(worker.work().await.unwrap(), 11);
    worker.stop();
    worker.wait_for_stop().await;
    assert!(system.stats().actors.iter().all(|a| a.id != worker.id()), "a stopped actor leaves the stats");
}

#[tokio::test]
async fn without_observe_only_root_actors_are_listed() {
    let system = ActorSystem::new();
    let (supervisor, _worker) = supervised_worker(&system, SpawnOptions::new()).await;
    let stats = system.stats();
    assert_eq!(stats.live, 2);
    assert_eq!(stats.actors.len(), 1);
    assert_eq!(stats.actors[0].id, supervisor.id());
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "stamps panics and restarts with the wall clock (SystemTime), which Miri's isolation has not"
)]
async fn an_observed_system_keeps_the_last_panic_with_its_flight_record_and_the_restart_times() {
    let system = ActorSystem::builder().observe(true).build();
    let (supervisor, worker) = supervised_worker(&system, SpawnOptions::new().flight_recorder(3)).await;
    let before = std::time::SystemTime::now();
    let fresh = system.stats();
    let w = fresh.actors.iter().find(|a| a.id == worker.id()).unwrap();
    assert_eq!((w.last_panic.as_ref(), w.recent_restarts.len()), (None, 0), "nothing failed yet");

    for why in ["first failure", "second failure"] {
        worker.work().await.unwrap();
        assert!(worker.fail(why.to_owned()).await.is_err());
        // Restarted in place: wait until the same reference works again.
        work_once_restarted(&worker).await;
    }

    let stats = system.stats();
    let w = stats.actors.iter().find(|a| a.id == worker.id()).unwrap();
    assert_eq!(w.restarts, 2);
    assert_eq!(w.recent_restarts.len(), 2);
    assert!(before <= w.recent_restarts[0] && w.recent_restarts[0] <= w.recent_restarts[1]);
    let panic = w.last_panic.as_ref().expect("the last panic is kept");
    assert_eq!(panic.error.message(), "second failure");
    assert!(panic.error.message_type().is_some_and(|t| t.ends_with("Fail")));
    assert!(before <= panic.at && panic.at <= w.recent_restarts[1]);
    let record = panic.error.flight_record().expect("spawned with a flight recorder");
    let last = record.entries().last().unwrap();
    assert!(last.message_type.ends_with("Fail"));
    assert_eq!(last.rendering.as_deref(), Some(r#"Fail { why: "second failure" }"#));
    // Two clones of one snapshot compare equal; the supervisor never failed.
    assert_eq!(stats.clone(), stats);
    let sup = stats.actors.iter().find(|a| a.id == supervisor.id()).unwrap();
    assert!(sup.last_panic.is_none() && sup.recent_restarts.is_empty());
}

#[tokio::test]
async fn without_observe_no_failures_are_kept() {
    let system = ActorSystem::new();
    let (supervisor, worker) = supervised_worker(&system, SpawnOptions::new()).await;
    assert!(worker.fail("lost".to_owned()).await.is_err());
    let stats = system.stats();
    let sup = stats.actors.iter().find(|a| a.id == supervisor.id()).unwrap();
    assert!(sup.last_panic.is_none() && sup.recent_restarts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "stamps panics and restarts with the wall clock (SystemTime), which Miri's isolation has not"
)]
async fn a_restart_counted_in_the_stats_always_comes_with_its_time_and_its_panic() {
    let system = ActorSystem::builder().observe(true).build();
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne).max_restarts(1_000, Duration::from_secs(60)));
    let worker = supervisor.start_child(ChildSpec::new(Worker::default)).await.unwrap();
    let id = worker.id();
    let done = Arc::new(AtomicBool::new(false));
    // The highest restart count the reader has read so far.
    let seen = Arc::new(AtomicU32::new(0));
    // A reader on its own thread, reading the stats as fast as it can
    // while the worker fails and is restarted.
    let reader = std::thread::spawn({
        let (system, done, seen) = (system.clone(), done.clone(), seen.clone());
        move || {
            let mut reads = 0u32;
            while !done.load(Relaxed) {
                let stats = system.stats();
                if let Some(w) = stats.actors.iter().find(|a| a.id == id) {
                    reads += 1;
                    seen.fetch_max(w.restarts, Relaxed);
                    if w.restarts > 0 {
                        assert!(!w.recent_restarts.is_empty(), "restart {} counted without its time", w.restarts);
                        assert!(w.last_panic.is_some(), "restart {} counted without its panic", w.restarts);
                    }
                }
            }
            reads
        }
    });
    for n in 0..50 {
        assert!(worker.fail(format!("failure {n}")).await.is_err());
        work_once_restarted(&worker).await;
    }
    // The reader runs until it has read the last restart: on a busy
    // machine its thread may sleep through the whole run above.
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.load(Relaxed) < 50 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the reader reads all 50 restarts");
    done.store(true, Relaxed);
    let reads = reader.join().expect("every read saw a counted restart with its time and panic");
    assert!(reads > 0, "the reader read the worker's stats");
}
