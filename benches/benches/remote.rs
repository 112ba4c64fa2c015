//! Remote benchmarks: two nodes in one process over loopback, against raw
//! sockets carrying the same frames (see `benches::remote`).
//!
//! Groups:
//!
//! - `remote_tell`: [`REMOTE_TELLS_PER_ITER`] tells of a 32-byte message from
//!   node `b` to an actor on node `a`, then a barrier ask that checks the
//!   count and the sum; against `raw_<transport>_batched`, the hand-written
//!   queue + batching writer + reader with the same frames and barrier.
//! - `remote_ask`: [`REMOTE_ASKS_PER_ITER`] sequential asks; against
//!   `raw_<transport>_ping_pong` (the caller writes a frame and reads the
//!   reply, no task in between), `raw_tcp_tasks` (the same sequential
//!   asks through the raw batched pipeline's writer and reader tasks) and
//!   `raw_tcp_hops` (as `raw_tcp_tasks`, with a server laid out like a
//!   node: reader, handler and writer tasks).
//! - `remote_ask_pipelined`: [`PIPELINE_TASKS`] concurrent askers of
//!   [`PIPELINE_ASKS_PER_TASK`] asks each, against the same number of asks
//!   sent one after the other, for us and the raw pipeline.
//! - `remote_handshake`: one new connection per iteration: a TCP connect to
//!   node `a` and the dialing side of the handshake against `a`'s
//!   accepting side (what `Node::connect` runs before the connection
//!   carries frames), against the TCP connect alone.
//!
//! `remote_tell` and `remote_ask` also run `actor_remote_nats`: the same
//! two nodes talking through a `nats-server` the bench starts on a free
//! loopback port (skipped, saying so, when it is not installed), and
//! `remote_ask` runs `raw_nats_ping_pong`, the floor of a round trip
//! through that server with async-nats alone.
//!
//! Everything runs on one multi-thread runtime with 2 workers (both nodes,
//! the raw servers and clients); the timed loop runs as a task on it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::remote::{
    NatsServer, PIPELINE_ASKS_PER_TASK, PIPELINE_TASKS, REMOTE_ASKS_PER_ITER, REMOTE_TELLS_PER_ITER, RawClient,
    RawNatsPingPong, RawPingPong, RawServer, RemotePair, Transport, connect_and_handshake, connect_only, remote_asks,
    remote_pipelined, remote_tell_burst,
};
use common::timed_on;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};

fn runtime() -> Runtime {
    Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("failed to build the tokio runtime")
}

/// A group with the settings shared by every workload: few, long samples.
fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    common::group(c, name.to_owned(), 10, Duration::from_secs(1), elements)
}

const TRANSPORTS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

/// The NATS server of the NATS workloads, or `None` after saying why not.
fn nats_server() -> Option<NatsServer> {
    let server = NatsServer::start();
    if server.is_none() {
        eprintln!("*** skipping the NATS workloads: nats-server not installed (apt-get install nats-server) ***");
    }
    server
}

/// Adds the benchmark `$name` to `$group`: each sample clones `$state`,
/// runs the `before` statement, then times `iters` rounds of `$round`
/// (with the round's number bound to `$i`), all as one task on `$rt`.
macro_rules! bench {
    ($group:expr, $rt:expr, $name:expr, $state:ident, |$i:pat_param| $round:expr $(, before: $setup:stmt)?) => {
        $group.bench_function($name, |b| {
            b.iter_custom(|iters| {
                let $state = $state.clone();
                timed_on($rt, async move {
                    $($setup)?
                    let start = Instant::now();
                    for $i in 0..iters {
                        $round;
                    }
                    start.elapsed()
                })
            })
        })
    };
}

/// Stops the pair once no benchmark holds it any more.
fn shut_down(rt: &Runtime, pair: Arc<RemotePair>) {
    let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
    rt.block_on(pair.shutdown());
}

/// Bursts of tells from node `b` to node `a` of `pair`, as benchmark `name`.
fn our_tells(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, pair: &Arc<RemotePair>) {
    let n = REMOTE_TELLS_PER_ITER;
    bench!(group, rt, name, pair,
        |_| totals = remote_tell_burst(&pair.remote, n, totals).await,
        before: let mut totals = pair.totals().await);
}

/// Bursts of tells through the raw batched pipeline over `transport`, as
/// benchmark `raw_<transport>_batched`.
fn raw_tells(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, transport: Transport) {
    let raw = rt.block_on(RawClient::connect(transport, RawServer::Direct));
    let n = REMOTE_TELLS_PER_ITER;
    bench!(group, rt, format!("raw_{}_batched", transport.name()), raw,
        |_| totals = raw.tell_burst(n, totals).await,
        before: let mut totals = raw.totals().await);
}

/// Sequential asks from node `b` to node `a` of `pair`, as benchmark `name`.
fn our_asks(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, pair: &Arc<RemotePair>) {
    let n = REMOTE_ASKS_PER_ITER;
    bench!(group, rt, name, pair, |i| remote_asks(&pair.remote, n, i * n).await);
}

fn tell(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_tell", REMOTE_TELLS_PER_ITER);
    for transport in TRANSPORTS {
        let pair = Arc::new(rt.block_on(RemotePair::start(transport)));
        our_tells(&mut group, &rt, &format!("actor_remote_{}", transport.name()), &pair);
        raw_tells(&mut group, &rt, transport);
        shut_down(&rt, pair);
    }
    if let Some(server) = nats_server() {
        let pair = Arc::new(rt.block_on(RemotePair::start_nats(&server.url)));
        our_tells(&mut group, &rt, "actor_remote_nats", &pair);
        shut_down(&rt, pair);
    }
    group.finish();
}

fn ask(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_ask", REMOTE_ASKS_PER_ITER);
    let n = REMOTE_ASKS_PER_ITER;
    for transport in TRANSPORTS {
        let pair = Arc::new(rt.block_on(RemotePair::start(transport)));
        let ping_pong = Arc::new(tokio::sync::Mutex::new(rt.block_on(RawPingPong::connect(transport))));
        our_asks(&mut group, &rt, &format!("actor_remote_{}", transport.name()), &pair);
        bench!(group, &rt, format!("raw_{}_ping_pong", transport.name()), ping_pong,
            |i| ping_pong.pings(n, i * n).await,
            before: let mut ping_pong = ping_pong.lock().await);
        if transport == Transport::Tcp {
            for (name, server) in [("raw_tcp_tasks", RawServer::Direct), ("raw_tcp_hops", RawServer::Hops)] {
                let raw = rt.block_on(RawClient::connect(transport, server));
                bench!(group, &rt, name, raw, |i| raw.asks(n, i * n).await);
            }
        }
        shut_down(&rt, pair);
    }
    if let Some(server) = nats_server() {
        let pair = Arc::new(rt.block_on(RemotePair::start_nats(&server.url)));
        our_asks(&mut group, &rt, "actor_remote_nats", &pair);
        let ping_pong = Arc::new(tokio::sync::Mutex::new(rt.block_on(RawNatsPingPong::connect(&server.url))));
        bench!(group, &rt, "raw_nats_ping_pong", ping_pong,
            |i| ping_pong.pings(n, i * n).await,
            before: let mut ping_pong = ping_pong.lock().await);
        shut_down(&rt, pair);
    }
    group.finish();
}

fn pipelined(c: &mut Criterion) {
    let rt = runtime();
    let (tasks, each) = (PIPELINE_TASKS, PIPELINE_ASKS_PER_TASK);
    let asks = tasks * each;
    let mut group = group(c, "remote_ask_pipelined", asks);
    let pair = Arc::new(rt.block_on(RemotePair::start(Transport::Tcp)));
    let raw = rt.block_on(RawClient::connect(Transport::Tcp, RawServer::Direct));
    let concurrent = format!("{tasks}x{each}");
    bench!(group, &rt, "actor_remote_tcp/sequential", pair, |_| remote_asks(&pair.remote, asks, 0).await);
    let ours = format!("actor_remote_tcp/{concurrent}");
    bench!(group, &rt, ours, pair, |_| remote_pipelined(&pair.remote, tasks, each).await);
    bench!(group, &rt, "raw_tcp_tasks/sequential", raw, |_| raw.asks(asks, 0).await);
    bench!(group, &rt, format!("raw_tcp_tasks/{concurrent}"), raw, |_| raw.pipelined(tasks, each).await);
    group.finish();
    shut_down(&rt, pair);
}

fn handshake(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_handshake", 1);
    let pair = Arc::new(rt.block_on(RemotePair::start(Transport::Tcp)));
    bench!(group, &rt, "actor_remote_tcp", pair, |_| connect_and_handshake(&pair.a, "dialer").await);
    bench!(group, &rt, "raw_tcp_connect", pair, |_| connect_only(&pair.a).await);
    group.finish();
    shut_down(&rt, pair);
}

criterion_group!(benches, tell, ask, pipelined, handshake);
criterion_main!(benches);
