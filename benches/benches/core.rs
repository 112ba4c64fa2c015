//! Core benchmarks: the framework against hand-written tokio programs.
//!
//! The local workloads of [`benches::local`] (tell, ask, ping-pong, ring,
//! spawn, lifecycle, contended, fan-out), each on two runtime flavours (a
//! multi-thread runtime with two workers, and a current-thread runtime) and
//! three sides: `actor_core` (this framework, default mailbox),
//! `raw_bounded` and `raw_unbounded` (a task per actor over a bounded or
//! unbounded `mpsc` channel of the workload's own message type). Groups are
//! named `<workload>/<flavour>`; the throughput is the workload's
//! operations per iteration, so criterion's time per iteration divided by
//! it is the time per operation. `cargo run --release -p benches --bin
//! ratios` turns the results into the ratio table and chart.
//!
//! Then `ask_in_handler/<flavour>`: the cost of ask-cycle detection.
//!
//! The timed code runs as a task spawned onto the measured runtime (not in
//! `block_on` on the bench thread), so that on the multi-thread runtime the
//! driver and the actors all live on its worker threads, as they would in a
//! server, and the bench thread only waits. Each iteration sets its actors
//! up and tears them down outside the clock.

mod common;

use std::time::{Duration, Instant};

use actor_core::prelude::*;
use benches::local::{Side, Workload};
use benches::{Bump, Counter, Flavour, Get};
use common::timed_on;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// Sequential asks per iteration of `ask_in_handler`.
const ASKS_PER_ITER: u64 = 10_000;

/// A group with the settings shared by every workload: few, long samples.
fn group<'a>(c: &'a mut Criterion, workload: &str, flavour: Flavour, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    common::group(c, format!("{workload}/{}", flavour.name()), 15, Duration::from_millis(700), elements)
}

/// Every local workload, on both flavours and every side.
fn local(c: &mut Criterion) {
    for workload in Workload::ALL {
        let ops = workload.ops_per_iter();
        for flavour in Flavour::ALL {
            let runtime = flavour.tokio_runtime();
            let mut group = group(c, workload.name(), flavour, ops);
            for side in Side::ALL {
                group.bench_function(side.name(), |b| {
                    b.iter_custom(|iters| {
                        timed_on(&runtime, async move {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                total += workload.run(side, ops).await;
                            }
                            total
                        })
                    })
                });
            }
            group.finish();
        }
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
        let runtime = flavour.tokio_runtime();
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

criterion_group!(benches, local, ask_cycle_detection);
criterion_main!(benches);
