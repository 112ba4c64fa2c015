//! Reliability at scale, local: shutdown under load accounts for every
//! message, thousands of panicking actors never disturb healthy ones, and a
//! flooded bounded mailbox stays within its bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use actor_core::error::AskError;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;

/// Counts what it handles; panics on request.
struct Tally {
    handled: Arc<AtomicU64>,
}
#[actor]
impl Tally {
    #[message]
    async fn tick(&mut self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if self.handled.load(Ordering::Relaxed).is_multiple_of(1000) {
            tokio::task::yield_now().await;
        }
    }

    #[message]
    fn maybe_panic(&mut self, panic: bool) -> u32 {
        assert!(!panic, "random failure");
        7
    }
}

/// A small, seeded generator: the same run every time.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Counts scaled down under Miri, an interpreter: the same paths, fewer times.
const fn scaled(n: usize) -> usize {
    if cfg!(miri) { n / 100 } else { n }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_100_000_queued_messages_accounts_for_every_one() {
    let system = ActorSystem::new();
    let handled = Arc::new(AtomicU64::new(0));
    let actors: Vec<_> = (0..4)
        .map(|_| {
            system.spawn_with(Tally { handled: handled.clone() }, SpawnOptions::new().mailbox(Mailbox::unbounded()))
        })
        .collect();
    for _ in 0..scaled(25_000) {
        for actor in &actors {
            actor.try_tell(Tick).unwrap();
        }
    }
    system.shutdown().await;
    let handled = handled.load(Ordering::SeqCst);
    let dead = system.dead_letter_count();
    assert_eq!(handled + dead, 4 * scaled(25_000) as u64, "handled {handled} + dead letters {dead}");
    assert_eq!(system.actor_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_panicking_actors_never_disturb_healthy_ones() {
    std::panic::set_hook(Box::new(|_| {}));
    let system = ActorSystem::new();
    let counter = Arc::new(AtomicU64::new(0));
    let doomed_count = scaled(10_000) as u64;
    let doomed: Arc<Vec<_>> =
        Arc::new((0..doomed_count).map(|_| system.spawn(Tally { handled: counter.clone() })).collect());
    let healthy: Arc<Vec<_>> = Arc::new((0..100).map(|_| system.spawn(Tally { handled: counter.clone() })).collect());

    let (answered, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    // One task makes the doomed actors panic at random...
    {
        let doomed = doomed.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            for _ in 0..scaled(20_000) {
                let target = &doomed[(rng.next() % doomed_count) as usize];
                let panic = rng.next().is_multiple_of(2);
                match target.ask(MaybePanic { panic }).timeout(Duration::from_secs(10)).await {
                    Ok(7) => {}
                    Err(AskError::Panicked(_) | AskError::Closed(_) | AskError::NoReply) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("an ask to a doomed actor must answer or fail typed: {other:?}"),
                }
            }
        }));
    }
    // ...while four others keep asking healthy ones, which must all answer.
    for seed in 1..=4u64 {
        let healthy = healthy.clone();
        let answered = answered.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift(seed * 7919);
            for _ in 0..scaled(5_000) {
                let target = &healthy[(rng.next() % 100) as usize];
                assert_eq!(target.ask(MaybePanic { panic: false }).timeout(Duration::from_secs(10)).await.unwrap(), 7);
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let _ = std::panic::take_hook();
    assert_eq!(answered.load(Ordering::SeqCst), 4 * scaled(5_000));
    assert!(failed.load(Ordering::SeqCst) > scaled(5_000), "half the doomed asks panic");
    assert!(healthy.iter().all(ActorRef::is_alive));
    system.shutdown().await;
    assert_eq!(system.actor_count(), 0);
}

/// Handles slowly, so that senders pile up.
struct Slow;
impl Actor for Slow {
    type Error = std::convert::Infallible;
}
impl Handler<Tick> for Slow {
    async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_mailbox_flooded_by_64_senders_stays_within_its_bound() {
    let system = ActorSystem::new();
    let slow = system.spawn_with(Slow, SpawnOptions::new().mailbox(Mailbox::bounded(100)));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..64)
        .map(|_| {
            let (slow, stop) = (slow.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sent = 0;
                while sent < scaled(500).max(4) || !stop.load(Ordering::Relaxed) {
                    slow.tell(Tick).await.unwrap();
                    sent += 1;
                }
            })
        })
        .collect();
    // Sampled until the flood has been seen (a loaded machine may keep this
    // thread off the CPU through a short one), and for a while after.
    let (mut peak, mut samples) = (0, 0u32);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (peak <= 50 || samples < scaled(20_000) as u32) && tokio::time::Instant::now() < deadline {
        peak = peak.max(slow.mailbox_len());
        samples += 1;
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    assert!(peak <= 100, "the mailbox held {peak} messages, past its bound of 100");
    assert!(peak > 50, "the flood did fill the mailbox (peak {peak} in {samples} samples)");
}

/// A loop of sends that always find room still gives the rest of its
/// thread a turn, as a loop over tokio's own channels does: on a
/// one-thread runtime, a task spawned before the loop runs while the loop
/// goes on. (Unbounded, the mailbox never makes a sender wait; a remote
/// actor's credit window is the same for a node's reader and timers.)
#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_sends_that_never_wait_still_lets_other_tasks_run() {
    let system = ActorSystem::new();
    let handled = Arc::new(AtomicU64::new(0));
    let tally =
        system.spawn_with(Tally { handled: handled.clone() }, SpawnOptions::new().mailbox(Mailbox::unbounded()));
    let mut told = 0;
    for asks in [false, true] {
        let ran = Arc::new(AtomicBool::new(false));
        tokio::spawn({
            let ran = ran.clone();
            async move { ran.store(true, Ordering::Relaxed) }
        });
        let (mut sent, mut replies) = (0, Vec::new());
        while !ran.load(Ordering::Relaxed) && sent < 100_000 {
            if asks {
                replies.push(tally.ask(MaybePanic { panic: false }).send().await.unwrap());
            } else {
                tally.tell(Tick).await.unwrap();
                told += 1;
            }
            sent += 1;
        }
        assert!(sent <= 1_000, "another task waited through {sent} sends (asks: {asks})");
        for reply in replies {
            assert_eq!(reply.await.unwrap(), 7, "every ask is answered");
        }
    }
    assert_eq!(tally.ask(MaybePanic { panic: false }).await.unwrap(), 7);
    assert_eq!(handled.load(Ordering::Relaxed), told, "every tell is handled");
}
