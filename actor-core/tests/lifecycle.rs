//! Lifecycle: hooks, stop vs kill, failure, children, and system shutdown.

mod support;

use std::sync::{Arc, Mutex};

use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_core::{DeadLetterReason, error::AskError};
use support::{
    Add, Counter, Fail, Get, GetLog, Hold, both_flavours, both_flavours_bounded, both_flavours_with, log_of,
};

#[test]
fn hooks_run_in_order_and_stop_handles_what_is_queued() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let log = counter.ask(GetLog).await.unwrap();
        for _ in 0..100 {
            counter.tell(Add { n: 1 }).await.unwrap();
        }
        counter.stop();
        let reason = counter.wait_for_stop().await;
        assert!(reason.is_normal());
        assert_eq!(log_of(&log), vec!["start".to_string(), "stop: stopped normally".to_string()]);
        assert!(!counter.is_alive());
        // Everything queued before the stop was handled: nothing was dead-lettered.
        assert_eq!(counter.ask(Get).await.unwrap_err().into_inner().map(|_| ()), Some(()));
    });
}

#[test]
fn stop_handles_queued_messages_before_stopping() {
    both_flavours_with(Counter::default, |system, [counter]| async move {
        let (release, hold) = tokio::sync::oneshot::channel();
        counter.tell(Hold { rx: hold }).await.unwrap();
        let pending: Vec<_> = (1..=10)
            .map(|i| {
                let c = counter.clone();
                tokio::spawn(async move { c.ask(Add { n: i }).await })
            })
            .collect();
        while counter.mailbox_len() < 10 {
            tokio::task::yield_now().await;
        }
        counter.stop();
        release.send(()).unwrap();
        let mut replies = Vec::new();
        for p in pending {
            replies.push(p.await.unwrap().unwrap());
        }
        assert_eq!(replies.iter().max(), Some(&55));
        assert!(counter.wait_for_stop().await.is_normal());
        assert_eq!(system.dead_letter_count(), 0);
    });
}

#[test]
fn kill_reports_every_queued_message_as_a_dead_letter() {
    both_flavours_bounded(|system| async move {
        let mut dead = system.dead_letters();
        let counter = system.spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(8)));
        let (release, hold) = tokio::sync::oneshot::channel();
        counter.tell(Hold { rx: hold }).await.unwrap();
        while counter.mailbox_len() > 0 {
            tokio::task::yield_now().await;
        }
        for i in 0..8 {
            counter.try_tell(Add { n: i }).unwrap();
        }
        // The mailbox is full, yet the kill gets through on the system lane.
        assert!(counter.try_tell(Add { n: 99 }).unwrap_err().is_full());
        counter.kill();
        release.send(()).unwrap();
        assert!(matches!(counter.wait_for_stop().await, StopReason::Killed));
        for _ in 0..8 {
            let letter = dead.recv().await.unwrap();
            assert_eq!(letter.recipient, Some(counter.id()));
            assert_eq!(letter.reason, DeadLetterReason::DroppedOnStop);
            assert_eq!(letter.message_type, std::any::type_name::<Add>());
        }
        assert_eq!(system.dead_letter_count(), 8);
        // A tell after the stop is handed back and reported too.
        assert!(counter.tell(Add { n: 1 }).await.unwrap_err().is_closed());
        assert_eq!(dead.recv().await.unwrap().reason, DeadLetterReason::Stopped);
        assert_eq!(system.dead_letter_count(), 9);
    });
}

#[test]
fn dropping_the_last_reference_stops_the_actor() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let log = counter.ask(GetLog).await.unwrap();
        let weak = counter.downgrade();
        let clone = counter.clone();
        drop(counter);
        assert!(weak.upgrade().is_some(), "a clone still holds it");
        drop(clone);
        assert!(weak.upgrade().is_none());
        for _ in 0..1000 {
            if log_of(&log).len() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(log_of(&log).last().map(String::as_str), Some("stop: stopped normally"));
    });
}

#[test]
fn a_detached_actor_outlives_its_references_until_it_is_stopped() {
    both_flavours_bounded(|system| async move {
        let counter = system.spawn_with(Counter::default(), SpawnOptions::new().detached());
        system.register("kept", &counter).unwrap();
        let log = counter.ask(GetLog).await.unwrap();
        let weak = counter.downgrade();
        drop(counter);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        // Nobody holds a reference, and it runs on: reachable by name, and
        // a weak reference still upgrades.
        assert_eq!(log_of(&log), vec!["start".to_string()]);
        let again = weak.upgrade().expect("a detached actor can be reached");
        again.tell(Add { n: 2 }).await.unwrap();
        drop(again);
        let named = system.lookup::<Counter>("kept").expect("still registered");
        assert_eq!(named.ask(Get).await.unwrap(), 2);
        drop(named);
        // The shutdown ends it like any other actor.
        system.shutdown().await;
        assert_eq!(log_of(&log).last().map(String::as_str), Some("stop: stopped normally"));
        assert!(weak.upgrade().is_none_or(|r| !r.is_alive()));
    });
}

#[test]
#[should_panic(expected = "ActorSystem::new must be called inside a tokio runtime")]
fn a_system_made_outside_a_runtime_says_what_to_do() {
    let _ = ActorSystem::new();
}

#[test]
fn fail_stops_the_actor_with_the_error() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        counter.tell(Fail).await.unwrap();
        match counter.wait_for_stop().await {
            StopReason::Failed(e) => assert_eq!(e.to_string(), "gave up"),
            other => panic!("expected Failed, got {other}"),
        }
    });
}

/// An actor whose `on_start` fails.
struct Doomed;
impl Actor for Doomed {
    type Error = std::io::Error;
    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        Err(std::io::Error::other("no database"))
    }
}
impl Handler<Get> for Doomed {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        unreachable!("never started")
    }
}

#[test]
fn a_failed_start_stops_the_actor_and_fails_its_asks() {
    both_flavours(|| async {
        let doomed = ActorSystem::new().spawn(Doomed);
        let ask = doomed.ask(Get).await;
        assert!(matches!(ask, Err(AskError::NoReply) | Err(AskError::Closed(_))), "{ask:?}");
        assert!(matches!(doomed.wait_for_stop().await, StopReason::Failed(e) if e.to_string() == "no database"));
    });
}

/// A node of a tree: spawns `depth` levels of children below it and logs
/// its stop with its label.
struct Node {
    label: String,
    depth: usize,
    fanout: usize,
    log: Arc<Mutex<Vec<String>>>,
    kids: Vec<ActorRef<Node>>,
}
impl Actor for Node {
    type Error = std::convert::Infallible;
    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.depth > 0 {
            for i in 0..self.fanout {
                let child = Node {
                    label: format!("{}.{i}", self.label),
                    depth: self.depth - 1,
                    fanout: self.fanout,
                    log: self.log.clone(),
                    kids: Vec::new(),
                };
                self.kids.push(ctx.spawn_child(child));
            }
        }
        Ok(())
    }
    async fn on_stop(&mut self, ctx: &mut Context<Self>, _: &StopReason) {
        assert!(ctx.children().is_empty() || self.kids.iter().all(|k| !k.is_alive()));
        self.log.lock().unwrap().push(self.label.clone());
    }
}

struct Kids;
impl Message for Kids {
    type Reply = Vec<ActorRef<Node>>;
}
impl Handler<Kids> for Node {
    async fn handle(&mut self, _: Kids, _: &mut Context<Self>) -> Vec<ActorRef<Node>> {
        self.kids.clone()
    }
}

/// A tree of `Node`s under the root "r", `depth` levels below it, two
/// children each; hands back the root, its children and the log of stops.
async fn tree(system: &ActorSystem, depth: usize) -> (ActorRef<Node>, Vec<ActorRef<Node>>, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let root = system.spawn(Node { label: "r".into(), depth, fanout: 2, log: log.clone(), kids: Vec::new() });
    let kids = root.ask(Kids).await.unwrap();
    (root, kids, log)
}

#[test]
fn shutdown_of_a_three_level_tree_stops_children_before_parents_once_each() {
    both_flavours_bounded(|system| async move {
        let (_root, mids, log) = tree(&system, 2).await;
        for mid in &mids {
            assert_eq!(mid.ask(Kids).await.unwrap().len(), 2);
        }
        assert_eq!(system.actor_count(), 7);
        system.shutdown().await;
        assert_eq!(system.actor_count(), 0);

        let stopped = log.lock().unwrap().clone();
        assert_eq!(stopped.len(), 7, "every on_stop ran exactly once: {stopped:?}");
        let position = |label: &str| stopped.iter().position(|l| l == label).unwrap();
        for mid in ["r.0", "r.1"] {
            assert!(position(mid) < position("r"));
            for leaf in 0..2 {
                assert!(position(&format!("{mid}.{leaf}")) < position(mid));
            }
        }
        // Spawning after shutdown gives an actor that stops at once.
        let late = system.spawn(Counter::default());
        assert!(late.wait_for_stop().await.is_normal());
    });
}

/// Root actors spawned and stopped on several tasks while the system shuts
/// down: every one of them ends (those spawned after the shutdown began
/// stop at once), whichever worker spawned it and whichever ended it, and
/// none is left counted.
#[test]
fn a_shutdown_racing_root_spawns_and_stops_ends_every_actor() {
    both_flavours_bounded(|system| async move {
        let spawners: Vec<_> = (0..4)
            .map(|t| {
                let system = system.clone();
                tokio::spawn(async move {
                    let mut kept = Vec::new();
                    // Fewer under Miri, which runs this file too.
                    for i in 0..if cfg!(miri) { 24 } else { 300u64 } {
                        let actor = system.spawn(Counter::default());
                        // Some end at once, some are asked first, the rest
                        // wait for the shutdown.
                        match (t + i) % 3 {
                            0 => actor.stop(),
                            1 => {
                                let _ = actor.ask(Get).await;
                            }
                            _ => {}
                        }
                        kept.push(actor);
                        if i % 16 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    kept
                })
            })
            .collect();
        tokio::task::yield_now().await;
        system.shutdown().await;
        for spawner in spawners {
            for actor in spawner.await.unwrap() {
                assert!(actor.wait_for_stop().await.is_normal());
            }
        }
        assert_eq!(system.actor_count(), 0);
        assert!(system.stats().actors.is_empty());
    });
}

#[test]
fn a_stopped_child_leaves_its_parent_running() {
    both_flavours_bounded(|system| async move {
        let (root, kids, log) = tree(&system, 1).await;
        kids[0].stop();
        kids[0].wait_for_stop().await;
        assert!(root.is_alive());
        assert!(kids[1].is_alive());
        assert_eq!(*log.lock().unwrap(), vec!["r.0".to_string()]);
        system.shutdown().await;
    });
}

/// Hooks that panic, to check they are caught like handlers are.
struct Fragile {
    panic_in_start: bool,
}
impl Actor for Fragile {
    type Error = std::convert::Infallible;
    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.panic_in_start {
            panic!("cannot start");
        }
        Ok(())
    }
    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        tokio::task::yield_now().await;
        panic!("cannot stop cleanly");
    }
}

#[test]
fn panics_in_lifecycle_hooks_are_caught() {
    both_flavours_bounded(|system| async move {
        let bad_start = system.spawn(Fragile { panic_in_start: true });
        match bad_start.wait_for_stop().await {
            StopReason::Panicked(p) => {
                assert_eq!(p.message(), "cannot start");
                assert_eq!(p.message_type(), None);
            }
            other => panic!("expected a panic, got {other}"),
        }
        // A panic in on_stop is logged; the actor still terminates once,
        // with the reason it was stopping for.
        let bad_stop = system.spawn(Fragile { panic_in_start: false });
        bad_stop.stop();
        assert!(bad_stop.wait_for_stop().await.is_normal());
        system.shutdown().await;
        assert_eq!(system.actor_count(), 0);
    });
}

/// Counts live instances, and panics when dropped if told to.
struct DropProbe {
    live: Arc<std::sync::atomic::AtomicUsize>,
    panic_on_drop: bool,
}
impl DropProbe {
    fn new(live: &Arc<std::sync::atomic::AtomicUsize>, panic_on_drop: bool) -> Self {
        live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        DropProbe { live: live.clone(), panic_on_drop }
    }
}
impl Drop for DropProbe {
    fn drop(&mut self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        if self.panic_on_drop {
            panic!("cannot let go");
        }
    }
}
impl Actor for DropProbe {
    type Error = std::convert::Infallible;
}
impl Handler<Get> for DropProbe {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        7
    }
}

#[test]
fn the_state_is_dropped_before_waiters_hear_of_the_stop_and_a_panicking_drop_is_reported() {
    both_flavours_bounded(|system| async move {
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let calm = system.spawn(DropProbe::new(&live, false));
        let fragile = system.spawn(DropProbe::new(&live, true));
        assert_eq!(calm.ask(Get).await.unwrap(), 7);
        assert_eq!(fragile.ask(Get).await.unwrap(), 7);

        calm.stop();
        assert!(calm.wait_for_stop().await.is_normal());
        assert_eq!(live.load(std::sync::atomic::Ordering::SeqCst), 1, "the state went before the waiter woke");

        // A `Drop` that panics at a normal stop turns the stop into a panic,
        // and the waiter still hears of it.
        fragile.stop();
        match fragile.wait_for_stop().await {
            StopReason::Panicked(p) => assert_eq!(p.message(), "cannot let go"),
            other => panic!("expected a panic, got {other}"),
        }
        assert_eq!(live.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(system.actor_count(), 0);
    });
}

#[test]
fn an_actor_whose_runtime_is_dropped_is_reported_killed_with_its_queue() {
    let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let doomed = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (system, probe, holder, _never) = doomed.block_on(async {
        let system = ActorSystem::new();
        let probe = system.spawn(DropProbe::new(&live, false));
        assert_eq!(probe.ask(Get).await.unwrap(), 7);
        // Stuck on a message that never finishes, with two more queued.
        let holder = system.spawn(Counter::default());
        let (never, hold) = tokio::sync::oneshot::channel::<()>();
        holder.tell(Hold { rx: hold }).await.unwrap();
        holder.tell(Add { n: 1 }).await.unwrap();
        holder.tell(Add { n: 2 }).await.unwrap();
        // Lets the holder take `Hold` (then stuck in it) on this one thread.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        (system, probe, holder, never)
    });
    drop(doomed);

    let after = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    after.block_on(async {
        // Bounded: a torn-down actor nobody told about would hang here.
        let limit = std::time::Duration::from_secs(5);
        assert!(matches!(tokio::time::timeout(limit, probe.wait_for_stop()).await, Ok(StopReason::Killed)));
        assert!(matches!(tokio::time::timeout(limit, holder.wait_for_stop()).await, Ok(StopReason::Killed)));
    });
    assert_eq!(live.load(std::sync::atomic::Ordering::SeqCst), 0, "the torn-down actor's state was dropped");
    assert_eq!(system.dead_letter_count(), 2, "the two queued messages were reported");
    assert_eq!(system.actor_count(), 0);
}
