//! Sharding benchmarks: sharded entities on three nodes in one process over
//! loopback TCP (256 shards, driven from node `a`, so about two thirds of
//! the entities are on another node), against one plain remote actor on
//! another node (`RemotePair`, as in the `remote` bench), the same messages
//! (see `benches::sharding`).
//!
//! Groups:
//!
//! - `sharding_tell`: [`SHARD_TELLS_PER_ITER`] tells of a 32-byte message,
//!   spread over 100 entities, then a barrier that asks every entity for
//!   its count and sum and checks them; against the same tells to the one
//!   plain remote actor and its barrier ask.
//! - `sharding_ask`: 3,200 asks, sequential (rotating over the 100
//!   entities, or over those on nodes `b` and `c` only: `sharded_remote`)
//!   or 64 askers of 50 asks each, one entity each, all in flight at once;
//!   against the same to the plain actor.
//! - `sharding_cold`: one ask to an entity id never used before (a counter
//!   makes a fresh id per iteration: the entity starts on its owner), one
//!   ask to a running entity (rotating over the 100), the same two for
//!   entities on `b` and `c` only (`cold_remote`, `warm_remote`: ids whose
//!   shard `a` does not own), and one ask to the plain actor. Passivation
//!   is off, so the cold entities stay: one per iteration, their count
//!   printed at the end.
//!
//! Everything runs on one multi-thread runtime with 2 workers (the three
//! cluster nodes, the pair's two and the driver); the timed loop runs as a
//! task on it.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::ActorRef;
use benches::remote::{Received, RemotePair, Sink, Transport, remote_asks, remote_tell_burst};
use benches::sharding::{
    ENTITIES, SHARD_TELLS_PER_ITER, ShardedCluster, ask_once, concurrent_asks, sharded_asks, sharded_tell_burst,
};
use common::timed_on;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Mutex;

/// Askers in flight at once, and the asks each sends.
const ASKERS: usize = 64;
const ASKS_PER_ASKER: u64 = 50;
const ASKS_PER_ITER: u64 = ASKERS as u64 * ASKS_PER_ASKER;

/// What every benchmark of the run shares: the cluster, the baseline pair,
/// the totals the next tell burst starts from, and the next cold id.
struct Bed {
    cluster: ShardedCluster,
    /// The warm entities on `b` and `c`, and the shards `a` does not own.
    remote_entities: Vec<ActorRef<Sink>>,
    remote_shards: Vec<bool>,
    pair: RemotePair,
    sharded_totals: Mutex<Vec<Received>>,
    plain_totals: Mutex<Received>,
    cold: AtomicU64,
}

/// Adds the benchmark `name` to `group`: each sample times `iters` rounds
/// of `round(bed, i)`, as one task on `rt`.
fn bench<F, Fut>(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, bed: &Arc<Bed>, round: F)
where
    F: Fn(Arc<Bed>, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (bed, round) = (bed.clone(), round.clone());
            timed_on(rt, async move {
                let start = Instant::now();
                for i in 0..iters {
                    round(bed.clone(), i).await;
                }
                start.elapsed()
            })
        })
    });
}

fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    common::group(c, name.to_owned(), 10, Duration::from_secs(1), elements)
}

fn sharding(c: &mut Criterion) {
    let rt = Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("the tokio runtime");
    let bed = rt.block_on(async {
        let cluster = ShardedCluster::start().await;
        let pair = RemotePair::start(Transport::Tcp).await;
        let sharded_totals = Mutex::new(cluster.totals().await);
        let plain_totals = Mutex::new(pair.totals().await);
        let (remote_entities, remote_shards) = (cluster.remote_entities(), cluster.remote_shards());
        let cold = AtomicU64::new(0);
        Arc::new(Bed { cluster, remote_entities, remote_shards, pair, sharded_totals, plain_totals, cold })
    });
    println!("warm entities on b and c: {} of {ENTITIES}", bed.remote_entities.len());
    println!("shards and entities per node (a, b, c): {:?}", bed.cluster.spread());

    let n = SHARD_TELLS_PER_ITER;
    let mut tell = group(c, "sharding_tell", n);
    bench(&mut tell, &rt, "sharded_100_entities", &bed, move |bed, _| async move {
        let mut totals = bed.sharded_totals.lock().await;
        *totals = sharded_tell_burst(&bed.cluster.entities, n, std::mem::take(&mut *totals)).await;
    });
    bench(&mut tell, &rt, "plain_remote", &bed, move |bed, _| async move {
        let mut totals = bed.plain_totals.lock().await;
        *totals = remote_tell_burst(&bed.pair.remote, n, *totals).await;
    });
    tell.finish();

    let mut ask = group(c, "sharding_ask", ASKS_PER_ITER);
    bench(&mut ask, &rt, "sharded/sequential", &bed, |bed, _| async move {
        sharded_asks(&bed.cluster.entities, ASKS_PER_ITER, 0).await;
    });
    bench(&mut ask, &rt, "sharded_remote/sequential", &bed, |bed, _| async move {
        sharded_asks(&bed.remote_entities, ASKS_PER_ITER, 0).await;
    });
    let concurrent = format!("{ASKERS}x{ASKS_PER_ASKER}");
    bench(&mut ask, &rt, &format!("sharded/{concurrent}"), &bed, |bed, _| async move {
        concurrent_asks(&bed.cluster.entities[..ASKERS], ASKS_PER_ASKER).await;
    });
    bench(&mut ask, &rt, "plain_remote/sequential", &bed, |bed, i| async move {
        remote_asks(&bed.pair.remote, ASKS_PER_ITER, i).await;
    });
    bench(&mut ask, &rt, &format!("plain_remote/{concurrent}"), &bed, |bed, _| async move {
        concurrent_asks(&vec![bed.pair.remote.clone(); ASKERS], ASKS_PER_ASKER).await;
    });
    ask.finish();

    let mut cold = group(c, "sharding_cold", 1);
    bench(&mut cold, &rt, "sharded/cold", &bed, |bed, i| async move {
        let id = bed.cold.fetch_add(1, Ordering::Relaxed);
        ask_once(bed.cluster.region(), &format!("cold-{id}"), i).await;
    });
    bench(&mut cold, &rt, "sharded/warm", &bed, |bed, i| async move {
        sharded_asks(&bed.cluster.entities, 1, i).await;
    });
    bench(&mut cold, &rt, "sharded/cold_remote", &bed, |bed, i| async move {
        let region = bed.cluster.region();
        let id = loop {
            let id = format!("cold-{}", bed.cold.fetch_add(1, Ordering::Relaxed));
            if bed.remote_shards[region.shard_of(&id) as usize] {
                break id;
            }
        };
        ask_once(region, &id, i).await;
    });
    bench(&mut cold, &rt, "sharded/warm_remote", &bed, |bed, i| async move {
        sharded_asks(&bed.remote_entities, 1, i).await;
    });
    bench(&mut cold, &rt, "plain_remote", &bed, |bed, i| async move {
        remote_asks(&bed.pair.remote, 1, i).await;
    });
    cold.finish();

    println!(
        "cold entities started: {}; shards and entities per node (a, b, c): {:?}",
        bed.cold.load(Ordering::Relaxed),
        bed.cluster.spread()
    );
    let bed = Arc::into_inner(bed).expect("no iteration holds the bed");
    rt.block_on(async {
        bed.pair.shutdown().await;
        bed.cluster.shutdown().await;
    });
}

criterion_group!(benches, sharding);
criterion_main!(benches);
