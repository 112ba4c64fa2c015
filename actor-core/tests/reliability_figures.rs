//! The figures of RELIABILITY.md, measured: asks to dead, dying and killed
//! actors fail fast (p99 within 50 ms, none hangs); a restart never starts
//! the new incarnation before the old one's `on_stop` has finished; a
//! bounded mailbox under a 64-sender flood keeps memory flat, and an
//! unbounded one grows with the flood (as documented).
//!
//! The normal suite runs small versions; `RELIABILITY_FULL=1` runs the full
//! counts. The tests of this file run one at a time (they measure time and
//! memory).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::error::AskError;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};

use support::bounded_by;

/// One test at a time: they measure latency and memory.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs a measurement on two worker threads, alone (see [`SERIAL`]), and
/// bounded by `limit`: a hang is a failure.
fn measure(limit: Duration, body: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let _serial = SERIAL.lock().await;
        bounded_by(limit, body).await;
    });
}

fn scale(quick: usize, full: usize) -> usize {
    if std::env::var("RELIABILITY_FULL").is_ok_and(|v| v == "1") { full } else { quick }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// Sleeps in its handler and in `on_stop`, so that there is a message in
/// hand and a stop that takes a while.
struct Busy {
    handle_for: Duration,
    stop_for: Duration,
}
impl Actor for Busy {
    type Error = std::convert::Infallible;
    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        tokio::time::sleep(self.stop_for).await;
    }
}
struct Work;
impl Message for Work {
    type Reply = u32;
}
impl Handler<Work> for Busy {
    async fn handle(&mut self, _: Work, _: &mut Context<Self>) -> u32 {
        tokio::time::sleep(self.handle_for).await;
        1
    }
}

/// Holds the actor in its handler until the gate opens; says when it
/// has entered.
struct Wait(Arc<tokio::sync::Notify>, tokio::sync::oneshot::Sender<()>);
impl Message for Wait {
    type Reply = ();
}
impl Handler<Wait> for Busy {
    async fn handle(&mut self, Wait(gate, entered): Wait, _: &mut Context<Self>) {
        let _ = entered.send(());
        gate.notified().await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Fate {
    /// The actor has stopped before the ask.
    Dead,
    /// The actor is stopping (running a 5 ms `on_stop`) when asked.
    Dying,
    /// The ask is queued behind a message in hand when the actor is killed.
    Killed,
}

/// One ask to an actor of `fate`; how long from the fatal moment (or the
/// ask, for a dead actor) to the error.
async fn one(system: &ActorSystem, fate: Fate) -> Duration {
    let actor = system.spawn(Busy { handle_for: Duration::from_millis(1), stop_for: Duration::from_millis(5) });
    let (start, result) = match fate {
        Fate::Dead => {
            actor.stop();
            actor.wait_for_stop().await;
            let start = Instant::now();
            (start, actor.ask(Work).await)
        }
        Fate::Dying => {
            assert_eq!(actor.ask(Work).await.unwrap(), 1);
            actor.stop();
            tokio::task::yield_now().await;
            let start = Instant::now();
            (start, actor.ask(Work).await)
        }
        Fate::Killed => {
            // A message in hand that waits for the gate, one ask queued
            // behind it; kill, then open the gate.
            let gate = Arc::new(tokio::sync::Notify::new());
            let (entered, in_handler) = tokio::sync::oneshot::channel();
            let in_hand = tokio::spawn({
                let actor = actor.clone();
                let gate = gate.clone();
                async move { actor.ask(Wait(gate, entered)).await }
            });
            in_handler.await.unwrap();
            let queued = tokio::spawn({
                let actor = actor.clone();
                async move { actor.ask(Work).await }
            });
            while actor.mailbox_len() == 0 && !queued.is_finished() {
                tokio::task::yield_now().await;
            }
            actor.kill();
            let start = Instant::now();
            gate.notify_one();
            let _ = in_hand.await;
            (start, queued.await.unwrap())
        }
    };
    let took = start.elapsed();
    match (fate, result) {
        (Fate::Dead | Fate::Dying, Err(AskError::Closed(_))) => {}
        (Fate::Killed, Err(AskError::NoReply | AskError::Closed(_))) => {}
        (fate, other) => panic!("{fate:?}: expected a typed failure, got {other:?}"),
    }
    took
}

#[test]
#[cfg_attr(miri, ignore = "measures wall-clock latencies and RSS, which mean nothing in an interpreter")]
fn asks_to_dead_dying_and_killed_actors_fail_within_50_ms_p99() {
    measure(Duration::from_secs(240), async {
        let runs = scale(1_000, 10_000);
        let system = ActorSystem::new();
        for fate in [Fate::Dead, Fate::Dying, Fate::Killed] {
            let mut samples = Vec::with_capacity(runs);
            // 50 at a time, so that the runs overlap as real traffic does.
            for _ in 0..runs / 50 {
                let batch: Vec<_> = (0..50)
                    .map(|_| {
                        let system = system.clone();
                        tokio::spawn(async move {
                            tokio::time::timeout(Duration::from_secs(5), one(&system, fate)).await.expect("an ask hung")
                        })
                    })
                    .collect();
                for run in batch {
                    samples.push(run.await.unwrap());
                }
            }
            let worst = *samples.iter().max().unwrap();
            let p99 = p99(&mut samples);
            println!("figure ask-{fate:?}: {runs} runs, p99 {p99:?}, max {worst:?}, none hung");
            assert!(p99 < Duration::from_millis(50), "{fate:?}: p99 {p99:?}");
        }
        system.shutdown().await;
    });
}

/// Logs its lifecycle; `on_stop` takes a while.
struct Phased {
    incarnation: u64,
    next: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    violations: Arc<AtomicU64>,
    stops: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<(u64, &'static str)>>>,
}
impl Actor for Phased {
    type Error = std::convert::Infallible;
    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.stopping.load(Ordering::SeqCst) {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        self.incarnation = self.next.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push((self.incarnation, "start"));
        Ok(())
    }
    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        self.stopping.store(true, Ordering::SeqCst);
        self.log.lock().unwrap().push((self.incarnation, "stop begins"));
        tokio::time::sleep(Duration::from_millis(3)).await;
        tokio::task::yield_now().await;
        self.log.lock().unwrap().push((self.incarnation, "stop ends"));
        self.stops.fetch_add(1, Ordering::SeqCst);
        self.stopping.store(false, Ordering::SeqCst);
    }
}
struct Crash;
impl Message for Crash {
    type Reply = ();
}
impl Handler<Crash> for Phased {
    async fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("crash on purpose");
    }
}
struct Ping;
impl Message for Ping {
    type Reply = u64;
}
impl Handler<Ping> for Phased {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u64 {
        self.incarnation
    }
}

#[test]
#[cfg_attr(miri, ignore = "measures wall-clock latencies and RSS, which mean nothing in an interpreter")]
fn a_restart_never_starts_the_new_incarnation_before_the_old_on_stop_finished() {
    measure(Duration::from_secs(120), async {
        std::panic::set_hook(Box::new(|_| {}));
        let restarts = scale(200, 2_000) as u64;
        let system = ActorSystem::new();
        let supervisor =
            system.spawn(Supervisor::new(Strategy::OneForOne).max_restarts(u32::MAX, Duration::from_secs(1)));
        let (next, stopping, violations, stops) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let spec = {
            let (next, stopping, violations, stops, log) =
                (next.clone(), stopping.clone(), violations.clone(), stops.clone(), log.clone());
            ChildSpec::new(move || Phased {
                incarnation: 0,
                next: next.clone(),
                stopping: stopping.clone(),
                violations: violations.clone(),
                stops: stops.clone(),
                log: log.clone(),
            })
        };
        let child = supervisor.start_child(spec).await.unwrap();
        for i in 0..restarts {
            assert!(child.ask(Crash).await.unwrap_err().is_panic());
            // Messages sent during the restart wait for the new incarnation.
            assert_eq!(child.ask(Ping).await.unwrap(), i + 1);
        }
        let log = log.lock().unwrap().clone();
        // In the log, every "start" of incarnation n+1 comes after "stop
        // ends" of incarnation n.
        for n in 0..restarts {
            let ended = log.iter().position(|e| *e == (n, "stop ends"));
            let started = log.iter().position(|e| *e == (n + 1, "start"));
            assert!(matches!((ended, started), (Some(e), Some(s)) if e < s), "incarnation {n}: {ended:?} {started:?}");
        }
        println!(
            "figure restart-order: {restarts} restarts, each old on_stop (3 ms) finished before the new on_start; \
             {} on_stop runs, {} overlaps",
            stops.load(Ordering::SeqCst),
            violations.load(Ordering::SeqCst)
        );
        assert_eq!(violations.load(Ordering::SeqCst), 0);
        system.shutdown().await;
        let _ = std::panic::take_hook();
    });
}

/// Handles 1 KiB messages; can be held (not handling) until released.
struct Sink {
    hold: Arc<tokio::sync::Notify>,
    held: bool,
    handled: Arc<AtomicU64>,
}
impl Actor for Sink {
    type Error = std::convert::Infallible;
}
struct Blob(#[allow(dead_code)] Vec<u8>);
impl Message for Blob {
    type Reply = ();
}
impl Handler<Blob> for Sink {
    async fn handle(&mut self, _: Blob, _: &mut Context<Self>) {
        if self.held {
            self.hold.notified().await;
            self.held = false;
        }
        let n = self.handled.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(64) {
            tokio::task::yield_now().await;
        }
    }
}

/// Floods `mailbox` from 64 senders, `per_sender` 1 KiB messages each;
/// returns RSS (KiB) before the flood, after its warm-up tenth, the peak
/// after that, and the messages sent.
async fn flood(mailbox: Mailbox, per_sender: usize, held: bool) -> (u64, u64, u64, u64) {
    let before = rss_kib();
    let system = ActorSystem::new();
    let hold = Arc::new(tokio::sync::Notify::new());
    let handled = Arc::new(AtomicU64::new(0));
    let sink = system
        .spawn_with(Sink { hold: hold.clone(), held, handled: handled.clone() }, SpawnOptions::new().mailbox(mailbox));
    let sent = Arc::new(AtomicU64::new(0));
    let total = (64 * per_sender) as u64;
    let senders: Vec<_> = (0..64)
        .map(|_| {
            let sink = sink.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                for _ in 0..per_sender {
                    sink.tell(Blob(vec![7u8; 1024])).await.unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while sent.load(Ordering::Relaxed) < total / 10 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let warm = rss_kib();
    let mut peak = warm;
    while !senders.iter().all(|s| s.is_finished()) {
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    peak = peak.max(rss_kib());
    for s in senders {
        s.await.unwrap();
    }
    hold.notify_one();
    system.shutdown().await;
    assert_eq!(handled.load(Ordering::SeqCst) + system.dead_letter_count(), total);
    (before, warm, peak, total)
}

#[test]
#[cfg_attr(miri, ignore = "measures wall-clock latencies and RSS, which mean nothing in an interpreter")]
fn a_bounded_mailbox_keeps_memory_flat_under_a_64_sender_flood_and_an_unbounded_one_grows() {
    measure(Duration::from_secs(240), async {
        let per_sender = scale(2_000, 20_000);
        // Bounded first, on a small heap: growth after the warm-up tenth.
        let (_, warm, peak, total) = flood(Mailbox::bounded(1_000), per_sender, false).await;
        let bounded_growth = peak.saturating_sub(warm);
        // Unbounded, with the consumer held: every message stays queued;
        // growth from before the flood.
        let (u_before, _, u_peak, _) = flood(Mailbox::unbounded(), per_sender / 4, true).await;
        let unbounded_growth = u_peak.saturating_sub(u_before);
        let queued_kib = (64 * (per_sender / 4)) as u64;
        println!(
            "figure memory: bounded(1000), 64 senders x {per_sender} x 1 KiB ({} MiB sent): RSS {warm} KiB after \
             warm-up, peak +{bounded_growth} KiB; unbounded with a held consumer, {} MiB queued: +{unbounded_growth} KiB",
            total / 1024,
            queued_kib / 1024,
        );
        assert!(bounded_growth < 16 * 1024, "a bounded mailbox grew RSS by {bounded_growth} KiB");
        assert!(unbounded_growth > queued_kib / 2, "an unbounded mailbox holds what is queued");
    });
}
