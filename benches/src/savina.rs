//! The Savina-derived suite: the same workloads on this framework, on a raw
//! tokio baseline and (feature `peers`) on kameo, ractor, xtra and actix.
//!
//! Each workload is written once against the [`Framework`] adapter (in
//! `micro.rs` for the workloads driven from outside, `classic.rs` for those
//! in which actors message each other) and checks its result, panicking on
//! a wrong one, so that a broken adapter cannot post a fast time.

use std::future::Future;
use std::time::Duration;

mod adapter;
mod classic;
mod micro;
pub mod report;

#[cfg(feature = "peers")]
pub use self::adapter::{Actix, Kameo, Ractor, Xtra};
pub use self::adapter::{Behavior, Framework, Ours, Raw, RawEnvelope, RawRef};
pub use self::classic::{
    BigMsg, BigNode, Coordinator, CoordinatorMsg, Counter, CounterMsg, Creature, CreatureMsg, Mall, MeetRequest,
    Pinger, PingerMsg, Ponger, PongerMsg, Producer, RingMsg, RingNode, Worker, WorkerMsg,
};
pub use self::micro::{AccMsg, Accumulator, Sink, Squarer};
pub use crate::Flavour;

/// Workload sizes: the nominal (Savina-like) sizes times a scale factor.
///
/// Message counts are scaled; so are the rounds or pings of the
/// multi-actor workloads, and the number of actors that fork-join creation
/// and the spawn measurement create. Ring sizes, Big's 120 actors,
/// fork-join's 60 actors, chameneos' 100 creatures and fan-out's 100
/// workers stay fixed.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// The factor applied to every nominal size.
    pub scale: f64,
}

impl Sizes {
    /// Sizes at `scale` (1.0 is nominal).
    pub fn new(scale: f64) -> Self {
        assert!(scale > 0.0, "the scale factor must be positive");
        Sizes { scale }
    }

    fn scaled(self, nominal: u64) -> u64 {
        ((nominal as f64 * self.scale).round() as u64).max(2)
    }

    /// Tells of the tell and contended workloads (nominal 1 M).
    pub fn tells(self) -> u64 {
        self.scaled(1_000_000)
    }

    /// Sequential asks of the ask-latency workload (nominal 100 k).
    pub fn asks(self) -> u64 {
        self.scaled(100_000)
    }

    /// Round trips of ping-pong (nominal 1 M).
    pub fn round_trips(self) -> u64 {
        self.scaled(1_000_000)
    }

    /// Hops of the thread ring (nominal 1 M).
    pub fn hops(self) -> u64 {
        self.scaled(1_000_000)
    }

    /// Increments of counting (nominal 1 M).
    pub fn counts(self) -> u64 {
        self.scaled(1_000_000)
    }

    /// Big: 120 actors, pings per actor (nominal 20,000).
    pub fn big(self) -> (u64, u64) {
        (120, self.scaled(20_000))
    }

    /// Fork-join throughput: 60 actors, messages per actor (nominal 10,000).
    pub fn fork_join_throughput(self) -> (u64, u64) {
        (60, self.scaled(10_000))
    }

    /// Actors created by fork-join creation (nominal 40,000).
    pub fn created_actors(self) -> u64 {
        self.scaled(40_000)
    }

    /// Chameneos: 100 creatures, meetings (nominal 200,000).
    pub fn chameneos(self) -> (u64, u64) {
        (100, self.scaled(200_000))
    }

    /// Fan-out / fan-in: 100 workers, rounds (nominal 10,000).
    pub fn fan_out_in(self) -> (u64, u64) {
        (100, self.scaled(10_000))
    }

    /// Idle actors of the spawn and memory measurement (nominal 100,000).
    pub fn idle_actors(self) -> u64 {
        self.scaled(100_000)
    }
}

/// What one run of a workload measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The time of the measured part.
    pub elapsed: Duration,
    /// The median latency, for the ask workload.
    pub p50: Option<Duration>,
    /// The 99th-percentile latency, for the ask workload.
    pub p99: Option<Duration>,
}

impl Outcome {
    fn timed(elapsed: Duration) -> Self {
        Outcome { elapsed, p50: None, p99: None }
    }
}

/// The senders of a contended workload: runs `sender(to.clone(), s)` for
/// each `s` of `0..senders` as a task of its own, all at once, and
/// returns once every one is done.
pub(crate) async fn run_senders<T: Clone, Fut>(senders: u64, to: &T, sender: impl Fn(T, u64) -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..senders).map(|s| tokio::spawn(sender(to.clone(), s))).collect();
    for task in tasks {
        task.await.expect("a sender task panicked");
    }
}

/// The timed workloads, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One actor, `tells` tells, a barrier ask.
    Tell,
    /// Sequential asks, with p50 and p99 latency.
    Ask,
    /// Round trips between two actors.
    PingPong,
    /// A token around a ring of 100 actors.
    ThreadRing100,
    /// A token around a ring of 1,000 actors.
    ThreadRing1000,
    /// A producer actor sends increments to a counter actor.
    Counting,
    /// 120 actors pinging random peers.
    Big,
    /// One sender, 60 receivers.
    ForkJoinThroughput,
    /// Spawn, message and finish many short-lived actors.
    ForkJoinCreation,
    /// Creatures meeting in pairs through a mall.
    Chameneos,
    /// 4 senders, 1 actor.
    Contended4,
    /// 64 senders, 1 actor.
    Contended64,
    /// A coordinator and 100 workers, in rounds.
    FanOutIn,
}

impl Workload {
    /// Every timed workload, in report order.
    pub const ALL: [Workload; 13] = [
        Workload::Tell,
        Workload::Ask,
        Workload::PingPong,
        Workload::ThreadRing100,
        Workload::ThreadRing1000,
        Workload::Counting,
        Workload::Big,
        Workload::ForkJoinThroughput,
        Workload::ForkJoinCreation,
        Workload::Chameneos,
        Workload::Contended4,
        Workload::Contended64,
        Workload::FanOutIn,
    ];

    /// Whether the workload's check needs one sender's messages handled in
    /// the order they were sent (a barrier queued behind tells, a count
    /// read after them).
    pub fn needs_order(self) -> bool {
        matches!(
            self,
            Workload::Tell
                | Workload::Counting
                | Workload::ForkJoinThroughput
                | Workload::Contended4
                | Workload::Contended64
        )
    }

    /// The short name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Tell => "tell",
            Workload::Ask => "ask",
            Workload::PingPong => "ping_pong",
            Workload::ThreadRing100 => "thread_ring_100",
            Workload::ThreadRing1000 => "thread_ring_1000",
            Workload::Counting => "counting",
            Workload::Big => "big",
            Workload::ForkJoinThroughput => "fork_join_throughput",
            Workload::ForkJoinCreation => "fork_join_creation",
            Workload::Chameneos => "chameneos",
            Workload::Contended4 => "contended_4",
            Workload::Contended64 => "contended_64",
            Workload::FanOutIn => "fan_out_in",
        }
    }

    /// What one run does, at `sizes`.
    pub fn describe(self, sizes: Sizes) -> String {
        match self {
            Workload::Tell => format!("1 actor, {} tells, barrier ask", sizes.tells()),
            Workload::Ask => format!("{} sequential asks", sizes.asks()),
            Workload::PingPong => format!("{} round trips, 2 actors", sizes.round_trips()),
            Workload::ThreadRing100 => format!("100 actors, {} hops", sizes.hops()),
            Workload::ThreadRing1000 => format!("1,000 actors, {} hops", sizes.hops()),
            Workload::Counting => format!("producer actor -> counter actor, {} messages", sizes.counts()),
            Workload::Big => {
                let (actors, pings) = sizes.big();
                format!("{actors} actors x {pings} pings (+ pongs)")
            }
            Workload::ForkJoinThroughput => {
                let (actors, each) = sizes.fork_join_throughput();
                format!("1 sender, {actors} actors x {each} messages")
            }
            Workload::ForkJoinCreation => format!("spawn + 1 message each, {} actors", sizes.created_actors()),
            Workload::Chameneos => {
                let (creatures, meetings) = sizes.chameneos();
                format!("{creatures} creatures, {meetings} meetings")
            }
            Workload::Contended4 => format!("4 senders -> 1 actor, {} tells", sizes.tells()),
            Workload::Contended64 => format!("64 senders -> 1 actor, {} tells", sizes.tells()),
            Workload::FanOutIn => {
                let (width, rounds) = sizes.fan_out_in();
                format!("1 coordinator, {width} workers x {rounds} rounds")
            }
        }
    }

    /// Looks a workload up by [`name`](Workload::name).
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Runs this workload once on `F` and `flavour`.
    ///
    /// # Panics
    ///
    /// If the workload's result is wrong.
    pub fn run<F: Framework>(self, flavour: Flavour, sizes: Sizes) -> Outcome {
        match self {
            Workload::Tell => F::run(flavour, move |s| micro::tell::<F>(s, sizes)),
            Workload::Ask => F::run(flavour, move |s| micro::ask::<F>(s, sizes)),
            Workload::PingPong => F::run(flavour, move |s| classic::ping_pong::<F>(s, sizes)),
            Workload::ThreadRing100 => F::run(flavour, move |s| classic::thread_ring::<F>(s, sizes, 100)),
            Workload::ThreadRing1000 => F::run(flavour, move |s| classic::thread_ring::<F>(s, sizes, 1_000)),
            Workload::Counting => F::run(flavour, move |s| classic::counting::<F>(s, sizes)),
            Workload::Big => F::run(flavour, move |s| classic::big::<F>(s, sizes)),
            Workload::ForkJoinThroughput => F::run(flavour, move |s| micro::fork_join_throughput::<F>(s, sizes)),
            Workload::ForkJoinCreation => F::run(flavour, move |s| micro::fork_join_creation::<F>(s, sizes)),
            Workload::Chameneos => F::run(flavour, move |s| classic::chameneos::<F>(s, sizes)),
            Workload::Contended4 => F::run(flavour, move |s| micro::contended::<F>(s, sizes, 4)),
            Workload::Contended64 => F::run(flavour, move |s| micro::contended::<F>(s, sizes, 64)),
            Workload::FanOutIn => F::run(flavour, move |s| classic::fan_out_in::<F>(s, sizes)),
        }
    }
}

/// One measurement of idle actors, taken in a fresh process.
#[derive(Debug, Clone, Copy)]
pub struct IdleSample {
    /// How many actors were spawned.
    pub actors: u64,
    /// Time to spawn them all, tell each one message and ask each once.
    pub spawn: Duration,
    /// Resident set size before spawning, in bytes.
    pub rss_before: u64,
    /// Resident set size with all of them idle, in bytes.
    pub rss_after: u64,
}

impl IdleSample {
    /// RSS growth per actor, in bytes.
    pub fn bytes_per_actor(self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.actors as f64
    }
}

/// The resident set size of this process, in bytes (Linux only).
///
/// # Panics
///
/// If `/proc/self/status` cannot be read or has no `VmRSS` line.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("cannot read /proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("no VmRSS line in /proc/self/status");
    let kib: u64 =
        line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().expect("VmRSS is not a number");
    kib * 1024
}

/// Spawns `actors` idle actors on `F` (each told once and asked once) and
/// measures the time and the RSS growth. Meant to run in a fresh process.
pub fn measure_idle<F: Framework>(flavour: Flavour, actors: u64) -> IdleSample {
    F::run(flavour, move |system| async move {
        // Warm up the runtime, the allocator and lazily built state.
        let (_, warm) = micro::spawn_idle::<F>(&system, 1_000).await;
        for actor in &warm {
            F::stop(actor).await;
        }
        drop(warm);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_before = rss_bytes();
        let (spawn, idle) = micro::spawn_idle::<F>(&system, actors).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_after = rss_bytes();
        // The caller exits the process next; stopping 100,000 actors one by
        // one would only add time.
        std::mem::forget(idle);
        std::mem::forget(system);
        IdleSample { actors, spawn, rss_before, rss_after }
    })
}

/// A framework, by name, with its workloads behind plain function pointers.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The name used in tables, charts and on the command line.
    pub name: &'static str,
    /// Runs one workload once.
    pub run: fn(Workload, Flavour, Sizes) -> Outcome,
    /// Measures idle actors (see [`measure_idle`]).
    pub idle: fn(Flavour, u64) -> IdleSample,
    /// Whether the framework handles one sender's messages to one actor in
    /// the order they were sent ([`Framework::KEEPS_ORDER`]).
    pub keeps_order: bool,
}

fn entry<F: Framework>() -> Entry {
    Entry {
        name: F::NAME,
        run: |w, flavour, sizes| w.run::<F>(flavour, sizes),
        idle: measure_idle::<F>,
        keeps_order: F::KEEPS_ORDER,
    }
}

/// Every framework compiled in: this one and raw tokio first, then the
/// peers when the `peers` feature is on.
pub fn frameworks() -> Vec<Entry> {
    #[allow(unused_mut)]
    let mut all = vec![entry::<Ours>(), entry::<Raw>()];
    #[cfg(feature = "peers")]
    all.extend([entry::<Kameo>(), entry::<Ractor>(), entry::<Xtra>(), entry::<Actix>()]);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workload gives the right answer on every framework and both
    /// flavours, at a tiny size.
    #[test]
    fn every_workload_checks_out_everywhere() {
        let sizes = Sizes::new(0.002);
        for framework in frameworks() {
            for flavour in Flavour::ALL {
                // A framework that reorders fails the checks that need order
                // (the runner reports it so); the rest must still hold.
                for workload in Workload::ALL.into_iter().filter(|w| framework.keeps_order || !w.needs_order()) {
                    let outcome = (framework.run)(workload, flavour, sizes);
                    assert!(outcome.elapsed > Duration::ZERO, "{} {workload:?}", framework.name);
                }
            }
        }
    }

    #[test]
    fn idle_actors_are_measured() {
        for framework in frameworks() {
            let sample = (framework.idle)(Flavour::Current, 100);
            assert_eq!(sample.actors, 100, "{}", framework.name);
        }
    }
}
