//! The run loop's unsafe paths, driven the way the aliasing rules find
//! hardest, for Miri (`cargo +nightly miri test -p actor-core --test
//! soundness`, under Stacked and Tree Borrows; see CONTRIBUTING.md). They run
//! as ordinary tests too.
//!
//! Each handler and hook here keeps pointers into its own future across an
//! await (a local borrowed over a `yield_now`), reads and writes the actor's
//! state and its context on both sides of the await, and is interrupted in
//! the ways the run loop must survive: a signal while it is in flight, a
//! panic mid-await, a future too large for the slot, a child's exit hook,
//! an `on_stop` that awaits and is aborted past its shutdown timeout, and a
//! runtime dropped with a handler pending.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::prelude::*;
use tokio::task::yield_now;

/// What the hooks saw, readable after the actor is gone.
type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Borrows its state and context across awaits in every handler and hook.
struct Juggler {
    total: u64,
    log: Log,
}

impl Actor for Juggler {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        let id = ctx.id();
        let label = format!("start {id}");
        let held = &label; // a pointer into this future, kept across the await
        yield_now().await;
        self.log.lock().unwrap().push(held.split(' ').next().unwrap().to_owned());
        assert_eq!(ctx.id(), id);
        Ok(())
    }

    async fn on_stop(&mut self, ctx: &mut Context<Self>, reason: &StopReason) {
        let before = reason.to_string();
        let held = &before;
        yield_now().await;
        assert_eq!(*held, reason.to_string(), "the reason outlives the hook");
        let _ = ctx.id();
        self.log.lock().unwrap().push(format!("stop {} at {}", held, self.total));
    }
}

struct Add(u64);
impl Message for Add {
    type Reply = u64;
}
impl Handler<Add> for Juggler {
    async fn handle(&mut self, Add(n): Add, ctx: &mut Context<Self>) -> u64 {
        let mut scratch = [n; 4];
        let slot = &mut scratch[2]; // into this future's own state
        yield_now().await;
        *slot += 1;
        let me = ctx.actor_ref();
        yield_now().await;
        self.total += scratch.iter().sum::<u64>() - 1 - 3 * n;
        assert!(me.is_alive());
        self.total
    }
}

/// Too large for the slot: the boxed path, with the same borrows.
struct Big([u64; 64]);
impl Message for Big {
    type Reply = u64;
}
impl Handler<Big> for Juggler {
    async fn handle(&mut self, Big(words): Big, ctx: &mut Context<Self>) -> u64 {
        let copy = words;
        let first = &copy[0];
        yield_now().await;
        let _ = ctx.id();
        self.total += *first + copy.iter().skip(1).sum::<u64>();
        self.total
    }
}

/// Panics halfway, with a borrow of its own state live.
struct Crash;
impl Message for Crash {
    type Reply = ();
}
impl Handler<Crash> for Juggler {
    async fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        let note = String::from("halfway");
        let held = &note;
        yield_now().await;
        let _ = ctx.id();
        panic!("{held}");
    }
}

fn juggler() -> (Juggler, Log) {
    let log = Log::default();
    (Juggler { total: 0, log: log.clone() }, log)
}

#[tokio::test]
async fn handlers_and_hooks_that_borrow_across_awaits() {
    let system = ActorSystem::new();
    let (actor, log) = juggler();
    let actor = system.spawn(actor);
    for n in 1..=20 {
        assert_eq!(actor.ask(Add(n)).await.unwrap(), n * (n + 1) / 2);
    }
    assert_eq!(actor.ask(Big([1; 64])).await.unwrap(), 210 + 64);
    actor.stop();
    assert!(matches!(actor.wait_for_stop().await, StopReason::Normal));
    assert_eq!(entries(&log), ["start", "stop stopped normally at 274"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_and_a_panic_while_a_handler_is_in_flight() {
    let system = ActorSystem::new();
    let (state, log) = juggler();
    let actor = system.spawn(state);
    // Many asks in flight from other tasks while the actor is killed: each
    // ends answered or failed, and the loop never touches the borrowed
    // state meanwhile.
    let asks: Vec<_> = (0..8)
        .map(|n| {
            let actor = actor.clone();
            tokio::spawn(async move { actor.ask(Add(n)).await.is_ok() })
        })
        .collect();
    actor.kill();
    for ask in asks {
        let _answered = ask.await.unwrap();
    }
    assert!(matches!(actor.wait_for_stop().await, StopReason::Killed));
    assert_eq!(entries(&log).last().map(|s| s.starts_with("stop killed")), Some(true), "{:?}", entries(&log));

    let (state, _) = juggler();
    let actor = system.spawn(state);
    let err = actor.ask(Crash).await.unwrap_err();
    assert!(err.to_string().contains("halfway"), "{err}");
    assert!(matches!(actor.wait_for_stop().await, StopReason::Panicked(_)));
    system.shutdown().await;
}

/// A parent whose `on_child_exit` borrows the exit across awaits.
struct Parent {
    exits: Arc<AtomicUsize>,
}
impl Actor for Parent {
    type Error = std::convert::Infallible;

    async fn on_child_exit(&mut self, ctx: &mut Context<Self>, exit: &actor_core::supervision::ChildExit) {
        let id = exit.id;
        let held = &id;
        yield_now().await;
        assert_eq!(*held, exit.id);
        let _ = ctx.children();
        self.exits.fetch_add(1, Ordering::SeqCst);
    }
}

struct SpawnChildren(usize);
impl Message for SpawnChildren {
    type Reply = Vec<ActorRef<Juggler>>;
}
impl Handler<SpawnChildren> for Parent {
    async fn handle(&mut self, SpawnChildren(n): SpawnChildren, ctx: &mut Context<Self>) -> Vec<ActorRef<Juggler>> {
        (0..n).map(|_| ctx.spawn_child(juggler().0)).collect()
    }
}

#[tokio::test]
async fn child_exit_hooks_borrow_the_exit_across_awaits() {
    let system = ActorSystem::new();
    let exits = Arc::new(AtomicUsize::new(0));
    let parent = system.spawn(Parent { exits: exits.clone() });
    let children = parent.ask(SpawnChildren(3)).await.unwrap();
    for child in &children {
        child.stop();
        child.wait_for_stop().await;
    }
    // The hooks run in the parent's task, one after another.
    tokio::time::timeout(Duration::from_secs(10), async {
        while exits.load(Ordering::SeqCst) < 3 {
            yield_now().await;
        }
    })
    .await
    .expect("every child's exit reached the parent's hook");
    system.shutdown().await;
}

/// An `on_stop` that never finishes, with a guard whose destructor reads
/// the reason: aborted past its shutdown timeout, the hook is dropped
/// before anything it borrows.
struct Stubborn {
    dropped_with: Arc<Mutex<Option<String>>>,
}
struct Guard<'a> {
    reason: &'a StopReason,
    out: Arc<Mutex<Option<String>>>,
}
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        *self.out.lock().unwrap() = Some(self.reason.to_string());
    }
}
impl Actor for Stubborn {
    type Error = std::convert::Infallible;

    async fn on_stop(&mut self, _: &mut Context<Self>, reason: &StopReason) {
        let _guard = Guard { reason, out: self.dropped_with.clone() };
        std::future::pending::<()>().await;
    }
}

struct SpawnStubborn(Arc<Mutex<Option<String>>>);
impl Message for SpawnStubborn {
    type Reply = ActorRef<Stubborn>;
}
impl Handler<SpawnStubborn> for Parent {
    async fn handle(&mut self, SpawnStubborn(out): SpawnStubborn, ctx: &mut Context<Self>) -> ActorRef<Stubborn> {
        let options = SpawnOptions::new().shutdown_timeout(Duration::from_millis(20));
        ctx.spawn_child_with(Stubborn { dropped_with: out }, options)
    }
}

#[tokio::test(start_paused = true)]
async fn an_on_stop_aborted_past_its_timeout_is_dropped_before_what_it_borrows() {
    let system = ActorSystem::new();
    let parent = system.spawn(Parent { exits: Arc::default() });
    let seen = Arc::new(Mutex::new(None));
    let child = parent.ask(SpawnStubborn(seen.clone())).await.unwrap();
    parent.stop();
    parent.wait_for_stop().await;
    assert!(matches!(child.wait_for_stop().await, StopReason::Killed), "aborted, reported as a kill");
    assert_eq!(seen.lock().unwrap().as_deref(), Some("stopped normally"), "the guard read the reason as it dropped");
}

/// A handler that never finishes, in a runtime that is dropped.
struct Sleeper;
impl Actor for Sleeper {
    type Error = std::convert::Infallible;
}
struct Forever(Arc<AtomicUsize>);
impl Message for Forever {
    type Reply = ();
}
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
impl Handler<Forever> for Sleeper {
    async fn handle(&mut self, Forever(drops): Forever, ctx: &mut Context<Self>) {
        let counted = Counted(drops);
        let held = &counted;
        let _ = ctx.id();
        std::future::pending::<()>().await;
        assert_eq!(held.0.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn a_runtime_dropped_mid_handler_drops_the_handler_first() {
    let drops = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let sleeper = runtime.block_on(async {
        let system = ActorSystem::new();
        let sleeper = system.spawn(Sleeper);
        sleeper.tell(Forever(drops.clone())).await.unwrap();
        for _ in 0..4 {
            yield_now().await;
        }
        sleeper
    });
    drop(runtime);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the pending handler was dropped");
    assert!(!sleeper.is_alive());
}
