//! The memory of stopped actors comes back: once an actor has stopped and
//! the last reference to it is gone, its memory is freed, also when no
//! other actor is spawned afterwards. Counted with an allocator that keeps
//! a running total of the bytes allocated and not yet freed.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use actor_core::prelude::*;

use support::run_bounded;

/// The system allocator, counting the bytes it has out.
struct Counting;

static OUT: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method hands the call to `System` unchanged and only adds
// to or subtracts from a counter; layouts and pointers pass through as given.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        OUT.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: our caller's guarantees on `layout`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        OUT.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this `layout` (our caller's guarantee).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        OUT.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: our caller's guarantees on `ptr`, `layout` and `new_size`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Actors spawned, stopped and dropped per round: about 3 MB of memory if
/// nothing of them came back. Under Miri, which runs this file to check the
/// counting allocator above, a hundred: too few to exceed the bound
/// either way, so there the test checks only that nothing is undefined.
const ACTORS: usize = if cfg!(miri) { 100 } else { 10_000 };

/// What may stay allocated after a round: the census' list of root actors
/// keeps room for 64 entries of 16 bytes once it has emptied, on each of
/// the three threads here at most; far less than one stopped actor per
/// hundred (about 900 bytes each) left behind would hold.
const BOUND: isize = 16_000;

struct Idle;

impl Actor for Idle {
    type Error = std::convert::Infallible;
}

struct Ping;

impl Message for Ping {
    type Reply = ();
}

impl Handler<Ping> for Idle {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

/// Spawns `n` root actors, asks each once, stops each and waits for it,
/// then drops every reference.
async fn round(system: &ActorSystem, n: usize) {
    let actors: Vec<_> = (0..n).map(|_| system.spawn(Idle)).collect();
    for actor in &actors {
        actor.ask(Ping).await.expect("a live actor answers");
    }
    for actor in &actors {
        actor.stop();
    }
    for actor in &actors {
        assert!(actor.wait_for_stop().await.is_normal());
    }
    drop(actors);
}

/// The tests of this file run one at a time: the count is the process's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Warms up on a system of its own (the runtime's and the allocator's own
/// structures, the run queue say, grow to their working size; that system
/// goes, with everything it kept), then runs a round on a fresh system and
/// waits until what it allocated has come back, within a bound.
async fn nothing_stays() {
    let warm_up = ActorSystem::new();
    round(&warm_up, ACTORS).await;
    warm_up.shutdown().await;
    drop(warm_up);
    let system = ActorSystem::new();
    let before = OUT.load(Ordering::Relaxed);
    round(&system, ACTORS).await;
    // On two workers a task may still be finishing on the other worker
    // when its waiter returns, so the count is read again until it is under
    // the bound, for up to 10 s.
    let bound = BOUND;
    let start = Instant::now();
    let mut held = OUT.load(Ordering::Relaxed) - before;
    while held >= bound && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        held = OUT.load(Ordering::Relaxed) - before;
    }
    assert!(held < bound, "{held} bytes still allocated after {ACTORS} actors stopped (bound {bound})");
    assert_eq!(system.actor_count(), 0);
    system.shutdown().await;
}

#[test]
fn stopped_root_actors_leave_nothing_allocated() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run_bounded(Duration::from_secs(60), |_| nothing_stays());
}

/// The same on two workers, where an actor is often spawned on one thread
/// and loses its last reference on another.
#[test]
fn stopped_root_actors_leave_nothing_allocated_on_two_workers() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), tokio::spawn(nothing_stays())).await })
        .expect("finished in time")
        .expect("the test's task ran to its end");
}
