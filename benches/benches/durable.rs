//! Durable mailbox throughput, with fsync on, against the transient mailbox.
//!
//! One iteration sends [`MESSAGES`] numbers to a counter and waits until the
//! counter has handled them all; the throughput is messages per second.
//!
//! - `transient`: actor-core's in-memory mailbox (`tell`, then a `Get` ask
//!   as a barrier), one sender.
//! - `durable/N_senders`: `actor_durable`, the same numbers split over `N`
//!   concurrent senders; each `tell` returns once its message is committed
//!   and synced, and the iteration ends when the last message is handled
//!   and its acknowledgement committed. With one sender every tell waits
//!   for its own fsync; with many, the committer gathers the tells that
//!   arrive during a commit into the next one (group commit).
//!
//! The store lives in a temporary directory under the target directory
//! (cargo's `CARGO_TARGET_TMPDIR`, on the build's disk rather than a tmpfs),
//! and nothing turns redb's fsync off.

use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_durable::{Delivery, DurableRef, Store, spawn_durable};
use benches::{Add, Counter, Get};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};

/// Messages per iteration.
const MESSAGES: u64 = 512;

/// A counter fed by a durable queue.
#[derive(Default)]
struct DurableCounter {
    sum: u64,
}

impl Actor for DurableCounter {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<u64>> for DurableCounter {
    async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) {
        self.sum += d.message;
    }
}

impl Handler<Get> for DurableCounter {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.sum
    }
}

fn runtime() -> Runtime {
    Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("failed to build the tokio runtime")
}

/// Sends `0..MESSAGES` over `senders` concurrent tasks, waits until all are
/// handled, and checks the sum.
async fn durable_round(counter: &DurableRef<DurableCounter, u64>, senders: u64) {
    let before = counter.actor_ref().ask(Get).await.unwrap();
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for i in (s..MESSAGES).step_by(senders as usize) {
                    last = last.max(counter.tell(i).await.expect("durable tell failed"));
                }
                last
            })
        })
        .collect();
    let mut last = 0;
    for task in tasks {
        last = last.max(task.await.unwrap());
    }
    assert!(counter.wait_acked(last).await, "the durable counter stopped");
    let after = counter.actor_ref().ask(Get).await.unwrap();
    assert_eq!(after - before, MESSAGES * (MESSAGES - 1) / 2, "durable workload lost or duplicated messages");
}

async fn transient_round(counter: &ActorRef<Counter>) {
    let before = counter.ask(Get).await.unwrap();
    for i in 0..MESSAGES {
        counter.tell(Add(i)).await.unwrap();
    }
    let after = counter.ask(Get).await.unwrap();
    assert_eq!(after - before, MESSAGES * (MESSAGES - 1) / 2, "transient workload lost or duplicated messages");
}

fn durable_vs_transient(c: &mut Criterion) {
    let runtime = runtime();
    let dir = tempfile::Builder::new().prefix("durable-bench").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::open(dir.path().join("bench.redb")).unwrap();
    let (system, transient, durable) = runtime.block_on(async {
        let system = ActorSystem::new();
        let transient = system.spawn(Counter::default());
        let durable = spawn_durable(&system, DurableCounter::default(), &store, "bench").unwrap();
        (system, transient, durable)
    });

    let mut group = c.benchmark_group("durable_tell");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(MESSAGES));

    group.bench_function("transient", |b| {
        b.iter_custom(|iters| {
            let counter = transient.clone();
            runtime
                .block_on(runtime.spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        transient_round(&counter).await;
                    }
                    start.elapsed()
                }))
                .unwrap()
        })
    });
    for senders in [1, 8, 64] {
        group.bench_function(format!("durable/{senders}_senders"), |b| {
            b.iter_custom(|iters| {
                let counter = durable.clone();
                runtime
                    .block_on(runtime.spawn(async move {
                        let start = Instant::now();
                        for _ in 0..iters {
                            durable_round(&counter, senders).await;
                        }
                        start.elapsed()
                    }))
                    .unwrap()
            })
        });
    }
    group.finish();

    drop((transient, durable));
    runtime.block_on(system.shutdown());
}

criterion_group!(benches, durable_vs_transient);
criterion_main!(benches);
