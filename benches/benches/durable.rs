//! Durable mailbox throughput, with fsync on, against the transient mailbox;
//! then a table of rates, fsyncs and time to acknowledgement, from the same
//! run and the same store.
//!
//! One iteration sends `n` messages of 64 bytes (a `u64` and 56 bytes of
//! padding) to a counter and waits until the counter has handled them all
//! and every acknowledgement is committed; the throughput is messages per
//! second, end to end.
//!
//! - `transient`: actor-core's in-memory mailbox (`tell`, then a `Get` ask
//!   as a barrier), one sender.
//! - `awaited/N_producers`: `DurableRef::tell`, each awaited before the
//!   next (one synced commit per message and producer, shared between
//!   producers by group commit).
//! - `pipelined/N_producers_K_in_flight`: `DurableRef::send`, each producer
//!   keeping up to `K` receipts outstanding and awaiting the oldest when
//!   it has `K`.
//!
//! The store lives in a temporary directory under the target directory
//! (cargo's `CARGO_TARGET_TMPDIR`, on the build's disk rather than a tmpfs),
//! and nothing turns fsync off.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_durable::{Delivery, DurableRef, Store, spawn_durable};
use benches::{Add, Counter, Get};
use criterion::{Criterion, SamplingMode, Throughput};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{Mutex, Semaphore, mpsc};

/// Messages per iteration of the transient function.
const TRANSIENT_MESSAGES: u64 = 512;

/// A 64-byte message: a number and 56 bytes of padding.
type Payload = (u64, Vec<u8>);

fn payload(n: u64) -> Payload {
    (n, vec![n as u8; 56])
}

/// A counter fed by a durable queue.
#[derive(Default)]
struct DurableCounter {
    sum: u64,
}

impl Actor for DurableCounter {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<Payload>> for DurableCounter {
    async fn handle(&mut self, d: Delivery<Payload>, _: &mut Context<Self>) {
        self.sum += d.message.0;
    }
}

impl Handler<Get> for DurableCounter {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.sum
    }
}

type Durable = DurableRef<DurableCounter, Payload>;

fn runtime() -> Runtime {
    Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("failed to build the tokio runtime")
}

/// How producers send.
#[derive(Clone, Copy, Debug)]
struct Workload {
    producers: u64,
    /// 1: each tell awaited; more: receipts outstanding per producer.
    in_flight: usize,
    /// Messages per round.
    messages: u64,
}

impl Workload {
    fn name(&self) -> String {
        if self.in_flight == 1 {
            format!("awaited/{}_producers", self.producers)
        } else {
            format!("pipelined/{}_producers_{}_in_flight", self.producers, self.in_flight)
        }
    }
}

/// The workloads, fastest-to-measure last. The first three are the ones
/// the table is about: one producer awaiting each tell (the only way
/// before receipts), one producer with 1,024 in flight, eight producers.
const WORKLOADS: [Workload; 5] = [
    Workload { producers: 1, in_flight: 1, messages: 256 },
    Workload { producers: 1, in_flight: 1024, messages: 16_384 },
    Workload { producers: 8, in_flight: 1, messages: 1024 },
    Workload { producers: 8, in_flight: 128, messages: 16_384 },
    Workload { producers: 64, in_flight: 1, messages: 4096 },
];

/// Sends `0..messages` split over the workload's producers, waits until all
/// are handled and acknowledged, and checks the sum. With `latencies`,
/// records each message's time from `send` to its receipt resolving.
async fn durable_round(counter: &Durable, w: Workload, latencies: Option<Arc<Mutex<Vec<Duration>>>>) {
    let before = counter.actor_ref().ask(Get).await.unwrap();
    let tasks: Vec<_> = (0..w.producers)
        .map(|p| {
            let counter = counter.clone();
            let latencies = latencies.clone();
            tokio::spawn(async move {
                let mine = (p..w.messages).step_by(w.producers as usize);
                match latencies {
                    None => produce(&counter, mine, w.in_flight).await,
                    Some(out) => produce_timed(&counter, mine, w.in_flight, out).await,
                }
            })
        })
        .collect();
    let mut last = 0;
    for task in tasks {
        last = last.max(task.await.unwrap());
    }
    assert!(counter.wait_acked(last).await, "the durable counter stopped");
    let after = counter.actor_ref().ask(Get).await.unwrap();
    assert_eq!(after - before, w.messages * (w.messages - 1) / 2, "durable workload lost or duplicated messages");
}

/// One producer: up to `in_flight` receipts outstanding. Returns the last
/// sequence number.
async fn produce(counter: &Durable, numbers: impl Iterator<Item = u64>, in_flight: usize) -> u64 {
    let mut window = VecDeque::with_capacity(in_flight);
    let mut last = 0;
    for n in numbers {
        if window.len() == in_flight {
            let receipt: actor_durable::Receipt<Payload> = window.pop_front().unwrap();
            last = receipt.await.expect("durable tell failed");
        }
        window.push_back(counter.send(payload(n)).await.expect("durable tell failed"));
    }
    for receipt in window {
        last = receipt.await.expect("durable tell failed");
    }
    last
}

/// As `produce`, timing each message: a second task awaits the receipts in
/// order (they resolve in order) and stamps each as it resolves, so the
/// time is not inflated by the producer being busy sending.
async fn produce_timed(
    counter: &Durable,
    numbers: impl Iterator<Item = u64>,
    in_flight: usize,
    out: Arc<Mutex<Vec<Duration>>>,
) -> u64 {
    let room = Arc::new(Semaphore::new(in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, actor_durable::Receipt<Payload>)>();
    let stamper = {
        let room = room.clone();
        tokio::spawn(async move {
            let (mut last, mut times) = (0, Vec::new());
            while let Some((sent, receipt)) = rx.recv().await {
                last = receipt.await.expect("durable tell failed");
                times.push(sent.elapsed());
                room.add_permits(1);
            }
            out.lock().await.extend(times);
            last
        })
    };
    for n in numbers {
        room.acquire().await.unwrap().forget();
        let sent = Instant::now();
        let receipt = counter.send(payload(n)).await.expect("durable tell failed");
        tx.send((sent, receipt)).unwrap();
    }
    drop(tx);
    stamper.await.unwrap()
}

async fn transient_round(counter: &ActorRef<Counter>) {
    let before = counter.ask(Get).await.unwrap();
    for i in 0..TRANSIENT_MESSAGES {
        counter.tell(Add(i)).await.unwrap();
    }
    let after = counter.ask(Get).await.unwrap();
    assert_eq!(
        after - before,
        TRANSIENT_MESSAGES * (TRANSIENT_MESSAGES - 1) / 2,
        "transient workload lost or duplicated messages"
    );
}

struct Setup {
    runtime: Runtime,
    system: ActorSystem,
    transient: ActorRef<Counter>,
    durable: Durable,
    store: Store,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let runtime = runtime();
    let dir = tempfile::Builder::new().prefix("durable-bench").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::open(dir.path().join("bench.redb")).unwrap();
    let (system, transient, durable) = runtime.block_on(async {
        let system = ActorSystem::new();
        let transient = system.spawn(Counter::default());
        let durable = spawn_durable(&system, DurableCounter::default(), &store, "bench").unwrap();
        (system, transient, durable)
    });
    Setup { runtime, system, transient, durable, store, _dir: dir }
}

/// Times `iters` rounds in a task of the runtime, as the actors' callers
/// run in production, not on the bench's thread. A round is hundreds of
/// messages; the reference cloned for each costs nothing beside them.
fn time_rounds<R, F>(runtime: &Runtime, iters: u64, mut round: R) -> Duration
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    runtime
        .block_on(runtime.spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                round().await;
            }
            start.elapsed()
        }))
        .unwrap()
}

fn durable_vs_transient(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group("durable_tell");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.sampling_mode(SamplingMode::Flat);

    group.throughput(Throughput::Elements(TRANSIENT_MESSAGES));
    group.bench_function("transient", |b| {
        b.iter_custom(|iters| {
            let counter = s.transient.clone();
            time_rounds(&s.runtime, iters, move || {
                let counter = counter.clone();
                async move { transient_round(&counter).await }
            })
        })
    });
    for w in WORKLOADS {
        group.throughput(Throughput::Elements(w.messages));
        group.bench_function(w.name(), |b| {
            b.iter_custom(|iters| {
                let counter = s.durable.clone();
                time_rounds(&s.runtime, iters, move || {
                    let counter = counter.clone();
                    async move { durable_round(&counter, w, None).await }
                })
            })
        });
    }
    group.finish();
}

/// One row of the table: a workload run for about `secs`.
struct Row {
    w: Workload,
    messages: u64,
    elapsed: Duration,
    commits: u64,
    ops: u64,
    syncs: u64,
    latencies: Vec<Duration>,
}

fn measure(s: &Setup, w: Workload, secs: f64) -> Row {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let before = s.store.stats();
    let start = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || start.elapsed().as_secs_f64() < secs {
        let (counter, out) = (s.durable.clone(), latencies.clone());
        s.runtime.block_on(s.runtime.spawn(async move { durable_round(&counter, w, Some(out)).await })).unwrap();
        rounds += 1;
    }
    let elapsed = start.elapsed();
    let after = s.store.stats();
    let mut latencies = std::mem::take(&mut *latencies.blocking_lock());
    latencies.sort();
    Row {
        w,
        messages: rounds * w.messages,
        elapsed,
        commits: after.commits - before.commits,
        ops: after.ops - before.ops,
        syncs: after.syncs - before.syncs,
        latencies,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn table(s: &Setup) {
    let secs = std::env::var("DURABLE_TABLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3.0);
    let rows: Vec<Row> = WORKLOADS.iter().map(|w| measure(s, *w, secs)).collect();
    let base = rows[0].messages as f64 / rows[0].elapsed.as_secs_f64();
    println!();
    println!("durable tells, 64-byte messages, end to end (handled and acknowledged), ~{secs} s each:");
    println!();
    println!(
        "| producers | in flight each | tells/s | vs 1 awaiting | fsyncs/s | writes per commit | ack p50 | ack p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let secs = r.elapsed.as_secs_f64();
        let rate = r.messages as f64 / secs;
        println!(
            "| {} | {} | {:.0} | {:.1}x | {:.0} | {:.1} | {:.2} ms | {:.2} ms |",
            r.w.producers,
            r.w.in_flight,
            rate,
            rate / base,
            r.syncs as f64 / secs,
            r.ops as f64 / r.commits.max(1) as f64,
            percentile(&r.latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&r.latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
    println!();
    println!("(writes per commit counts tells and acknowledgements; fsyncs/s counts every sync of the file)");
}

fn main() {
    let s = setup();
    let mut c = Criterion::default().configure_from_args();
    durable_vs_transient(&mut c, &s);
    c.final_summary();
    // `cargo bench -- <filter>` runs only what matches; the table runs with
    // the whole bench or with the filter `table`.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.as_deref().is_none_or(|f| f == "table") {
        table(&s);
    }
    let Setup { runtime, system, transient, durable, store, _dir } = s;
    drop((transient, durable, store));
    runtime.block_on(system.shutdown());
}
