//! Core benchmarks: the framework against a raw tokio baseline.
//!
//! Three workloads (tell throughput, ask round trip, spawn/ask/stop
//! lifecycle), each run on two runtime flavours (a multi-thread runtime with
//! two workers, and a current-thread runtime) and on two implementations:
//! `actor_core` (this framework) and `raw_tokio` (a task and a bounded mpsc
//! channel). Groups are named `<workload>/<flavour>` so that the two
//! functions of a group can be compared directly.
//!
//! The timed code runs as a task spawned onto the measured runtime (not in
//! `block_on` on the bench thread), so that on the multi-thread runtime the
//! sender and the receiver both live on its worker threads, as they would in
//! a server, and the bench thread only waits.

use std::future::Future;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use benches::{
    ASKS_PER_ITER, Bump, Counter, Get, LIFECYCLES_PER_ITER, RawCounter, TELLS_PER_ITER, Target, actor_lifecycle,
    ask_round_trips, raw_lifecycle, tell_burst,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};

/// The runtime flavours every workload runs on.
#[derive(Clone, Copy)]
enum Flavour {
    /// Multi-thread runtime, two worker threads.
    Multi,
    /// Current-thread runtime.
    Current,
}

impl Flavour {
    const ALL: [Flavour; 2] = [Flavour::Multi, Flavour::Current];

    fn name(self) -> &'static str {
        match self {
            Flavour::Multi => "multi",
            Flavour::Current => "current",
        }
    }

    fn runtime(self) -> Runtime {
        let mut builder = match self {
            Flavour::Multi => {
                let mut b = Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
            Flavour::Current => Builder::new_current_thread(),
        };
        builder.enable_all().build().expect("failed to build the tokio runtime")
    }
}

/// A group with the settings shared by every workload: few, long samples.
fn group<'a>(c: &'a mut Criterion, workload: &str, flavour: Flavour, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(format!("{workload}/{}", flavour.name()));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(elements));
    group
}

/// Runs `work` as a task on `runtime` and returns the time it reports.
fn timed_on<F>(runtime: &Runtime, work: F) -> Duration
where
    F: Future<Output = Duration> + Send + 'static,
{
    runtime.block_on(runtime.spawn(work)).expect("benchmark task panicked")
}

/// The workloads that drive one long-lived counter.
#[derive(Clone, Copy)]
enum CounterWorkload {
    /// [`TELLS_PER_ITER`] tells and a barrier ask.
    Tell,
    /// [`ASKS_PER_ITER`] sequential asks.
    Ask,
}

impl CounterWorkload {
    fn name(self) -> &'static str {
        match self {
            CounterWorkload::Tell => "tell",
            CounterWorkload::Ask => "ask",
        }
    }

    fn elements(self) -> u64 {
        match self {
            CounterWorkload::Tell => TELLS_PER_ITER,
            CounterWorkload::Ask => ASKS_PER_ITER,
        }
    }

    /// One iteration, starting from the counter's current `sum`; returns
    /// the sum after. Panics on a wrong result.
    async fn step<T: Target>(self, target: &T, sum: u64) -> u64 {
        match self {
            CounterWorkload::Tell => tell_burst(target, TELLS_PER_ITER, sum).await,
            CounterWorkload::Ask => ask_round_trips(target, ASKS_PER_ITER, sum).await,
        }
    }
}

/// Benchmarks `workload` against one long-lived `target`. The counter's
/// starting sum is read before the clock starts.
fn bench_counter<T: Target>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    runtime: &Runtime,
    target: &T,
    workload: CounterWorkload,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let target = target.clone();
            timed_on(runtime, async move {
                let mut sum = target.get().await;
                let start = Instant::now();
                for _ in 0..iters {
                    sum = workload.step(&target, sum).await;
                }
                start.elapsed()
            })
        })
    });
}

/// Tell throughput and ask round trip, on both flavours and both sides.
fn counters(c: &mut Criterion) {
    for workload in [CounterWorkload::Tell, CounterWorkload::Ask] {
        for flavour in Flavour::ALL {
            let runtime = flavour.runtime();
            // Both counters are spawned onto the measured runtime: the system
            // takes the runtime it is created in.
            let (system, actor, raw, raw_task) = runtime.block_on(async {
                let system = ActorSystem::new();
                let actor = system.spawn(Counter::default());
                let (raw, raw_task) = RawCounter::spawn(0);
                (system, actor, raw, raw_task)
            });

            let mut group = group(c, workload.name(), flavour, workload.elements());
            bench_counter(&mut group, "actor_core", &runtime, &actor, workload);
            bench_counter(&mut group, "raw_tokio", &runtime, &raw, workload);
            group.finish();

            drop((actor, raw));
            runtime.block_on(async {
                system.shutdown().await;
                raw_task.await.expect("raw counter task failed");
            });
        }
    }
}

/// Spawn, first ask, stop, wait for the stop: [`LIFECYCLES_PER_ITER`] times
/// per iteration, one after the other.
fn lifecycle(c: &mut Criterion) {
    for flavour in Flavour::ALL {
        let runtime = flavour.runtime();
        let system = runtime.block_on(async { ActorSystem::new() });

        let mut group = group(c, "lifecycle", flavour, LIFECYCLES_PER_ITER);
        group.bench_function("actor_core", |b| {
            b.iter_custom(|iters| {
                let system = system.clone();
                timed_on(&runtime, async move {
                    let start = Instant::now();
                    for seed in 0..iters * LIFECYCLES_PER_ITER {
                        actor_lifecycle(&system, seed).await;
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function("raw_tokio", |b| {
            b.iter_custom(|iters| {
                timed_on(&runtime, async move {
                    let start = Instant::now();
                    for seed in 0..iters * LIFECYCLES_PER_ITER {
                        raw_lifecycle(seed).await;
                    }
                    start.elapsed()
                })
            })
        });
        group.finish();

        assert_eq!(system.actor_count(), 0, "lifecycle benchmark leaked actors");
        runtime.block_on(system.shutdown());
    }
}

/// Asks made from inside a handler enter the graph of waits that detects
/// ask cycles (a lock, an insert and a removal per ask); asks from a plain
/// task do not, nor asks of a handler marked `REENTRANT`. `from_handler`
/// against `from_handler_exempt` is the detection's cost alone (both pay
/// the run loop's per-poll work); `from_task` is the plain baseline.
struct Relay<T: Actor> {
    target: ActorRef<T>,
}

/// A counter whose `Bump` handler is exempt from cycle detection.
#[derive(Default)]
struct ExemptCounter(u64);

impl Actor for ExemptCounter {
    type Error = std::convert::Infallible;
}

impl Handler<Bump> for ExemptCounter {
    const REENTRANT: bool = true;

    async fn handle(&mut self, Bump(n): Bump, _: &mut Context<Self>) -> u64 {
        self.0 += n;
        self.0
    }
}

impl<T: Actor> Actor for Relay<T> {
    type Error = std::convert::Infallible;
}

/// Makes `n` asks of `Bump(1)` to the target and returns the last reply.
struct RunAsks(u64);

impl Message for RunAsks {
    type Reply = u64;
}

impl<T: Handler<Bump>> Handler<RunAsks> for Relay<T> {
    async fn handle(&mut self, RunAsks(n): RunAsks, _: &mut Context<Self>) -> u64 {
        let mut last = 0;
        for _ in 0..n {
            last = self.target.ask(Bump(1)).await.expect("the counter answers");
        }
        last
    }
}

fn ask_cycle_detection(c: &mut Criterion) {
    for flavour in Flavour::ALL {
        let runtime = flavour.runtime();
        let (system, counter, relay, exempt) = runtime.block_on(async {
            let system = ActorSystem::new();
            let counter = system.spawn(Counter::new(0));
            let relay = system.spawn(Relay { target: counter.clone() });
            let exempt = system.spawn(Relay { target: system.spawn(ExemptCounter::default()) });
            (system, counter, relay, exempt)
        });
        let mut group = group(c, "ask_in_handler", flavour, ASKS_PER_ITER);
        group.bench_function("from_handler", |b| {
            b.iter_custom(|iters| {
                let (counter, relay) = (counter.clone(), relay.clone());
                timed_on(&runtime, async move {
                    let before = counter.ask(Get).await.unwrap();
                    let start = Instant::now();
                    let mut last = before;
                    for _ in 0..iters {
                        last = relay.ask(RunAsks(ASKS_PER_ITER)).await.unwrap();
                    }
                    let elapsed = start.elapsed();
                    assert_eq!(last, before + iters * ASKS_PER_ITER, "every ask was answered");
                    elapsed
                })
            })
        });
        group.bench_function("from_handler_exempt", |b| {
            b.iter_custom(|iters| {
                let exempt = exempt.clone();
                timed_on(&runtime, async move {
                    let start = Instant::now();
                    let mut total = 0;
                    for _ in 0..iters {
                        total = exempt.ask(RunAsks(ASKS_PER_ITER)).await.unwrap();
                    }
                    let elapsed = start.elapsed();
                    assert!(total >= iters * ASKS_PER_ITER, "every ask was answered");
                    elapsed
                })
            })
        });
        group.bench_function("from_task", |b| {
            b.iter_custom(|iters| {
                let counter = counter.clone();
                timed_on(&runtime, async move {
                    let before = counter.ask(Get).await.unwrap();
                    let start = Instant::now();
                    let mut last = before;
                    for _ in 0..iters * ASKS_PER_ITER {
                        last = counter.ask(Bump(1)).await.unwrap();
                    }
                    let elapsed = start.elapsed();
                    assert_eq!(last, before + iters * ASKS_PER_ITER, "every ask was answered");
                    elapsed
                })
            })
        });
        group.finish();
        runtime.block_on(system.shutdown());
    }
}

criterion_group!(benches, counters, lifecycle, ask_cycle_detection);
criterion_main!(benches);
