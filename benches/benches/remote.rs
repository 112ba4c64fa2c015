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

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::remote::{
    NatsServer, PIPELINE_ASKS_PER_TASK, PIPELINE_TASKS, REMOTE_ASKS_PER_ITER, REMOTE_TELLS_PER_ITER, RawClient,
    RawNatsPingPong, RawPingPong, RawServer, RemotePair, Transport, connect_and_handshake, connect_only, remote_asks,
    remote_pipelined, remote_tell_burst,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};

fn runtime() -> Runtime {
    Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("failed to build the tokio runtime")
}

/// A group with the settings shared by every workload: few, long samples.
fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
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

const TRANSPORTS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

/// The NATS server of the NATS workloads, or `None` after saying why not.
fn nats_server() -> Option<NatsServer> {
    let server = NatsServer::start();
    if server.is_none() {
        eprintln!("*** skipping the NATS workloads: nats-server not installed (apt-get install nats-server) ***");
    }
    server
}

fn tell(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_tell", REMOTE_TELLS_PER_ITER);
    for transport in TRANSPORTS {
        let pair = Arc::new(rt.block_on(RemotePair::start(transport)));
        let raw = rt.block_on(RawClient::connect(transport, RawServer::Direct));
        group.bench_function(format!("actor_remote_{}", transport.name()), |b| {
            b.iter_custom(|iters| {
                let pair = pair.clone();
                timed_on(&rt, async move {
                    let mut totals = pair.totals().await;
                    let start = Instant::now();
                    for _ in 0..iters {
                        totals = remote_tell_burst(&pair.remote, REMOTE_TELLS_PER_ITER, totals).await;
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("raw_{}_batched", transport.name()), |b| {
            b.iter_custom(|iters| {
                let raw = raw.clone();
                timed_on(&rt, async move {
                    let mut totals = raw.totals().await;
                    let start = Instant::now();
                    for _ in 0..iters {
                        totals = raw.tell_burst(REMOTE_TELLS_PER_ITER, totals).await;
                    }
                    start.elapsed()
                })
            })
        });
        let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
        rt.block_on(pair.shutdown());
    }
    if let Some(server) = nats_server() {
        let pair = Arc::new(rt.block_on(RemotePair::start_nats(&server.url)));
        group.bench_function("actor_remote_nats", |b| {
            b.iter_custom(|iters| {
                let pair = pair.clone();
                timed_on(&rt, async move {
                    let mut totals = pair.totals().await;
                    let start = Instant::now();
                    for _ in 0..iters {
                        totals = remote_tell_burst(&pair.remote, REMOTE_TELLS_PER_ITER, totals).await;
                    }
                    start.elapsed()
                })
            })
        });
        let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
        rt.block_on(pair.shutdown());
    }
    group.finish();
}

fn ask(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_ask", REMOTE_ASKS_PER_ITER);
    for transport in TRANSPORTS {
        let pair = Arc::new(rt.block_on(RemotePair::start(transport)));
        let ping_pong = Arc::new(tokio::sync::Mutex::new(rt.block_on(RawPingPong::connect(transport))));
        group.bench_function(format!("actor_remote_{}", transport.name()), |b| {
            b.iter_custom(|iters| {
                let pair = pair.clone();
                timed_on(&rt, async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        remote_asks(&pair.remote, REMOTE_ASKS_PER_ITER, i * REMOTE_ASKS_PER_ITER).await;
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("raw_{}_ping_pong", transport.name()), |b| {
            b.iter_custom(|iters| {
                let ping_pong = ping_pong.clone();
                timed_on(&rt, async move {
                    let mut ping_pong = ping_pong.lock().await;
                    let start = Instant::now();
                    for i in 0..iters {
                        ping_pong.pings(REMOTE_ASKS_PER_ITER, i * REMOTE_ASKS_PER_ITER).await;
                    }
                    start.elapsed()
                })
            })
        });
        if transport == Transport::Tcp {
            for (name, server) in [("raw_tcp_tasks", RawServer::Direct), ("raw_tcp_hops", RawServer::Hops)] {
                let raw = rt.block_on(RawClient::connect(transport, server));
                group.bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        let raw = raw.clone();
                        timed_on(&rt, async move {
                            let start = Instant::now();
                            for i in 0..iters {
                                raw.asks(REMOTE_ASKS_PER_ITER, i * REMOTE_ASKS_PER_ITER).await;
                            }
                            start.elapsed()
                        })
                    })
                });
            }
        }
        let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
        rt.block_on(pair.shutdown());
    }
    if let Some(server) = nats_server() {
        let pair = Arc::new(rt.block_on(RemotePair::start_nats(&server.url)));
        group.bench_function("actor_remote_nats", |b| {
            b.iter_custom(|iters| {
                let pair = pair.clone();
                timed_on(&rt, async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        remote_asks(&pair.remote, REMOTE_ASKS_PER_ITER, i * REMOTE_ASKS_PER_ITER).await;
                    }
                    start.elapsed()
                })
            })
        });
        let ping_pong = Arc::new(tokio::sync::Mutex::new(rt.block_on(RawNatsPingPong::connect(&server.url))));
        group.bench_function("raw_nats_ping_pong", |b| {
            b.iter_custom(|iters| {
                let ping_pong = ping_pong.clone();
                timed_on(&rt, async move {
                    let mut ping_pong = ping_pong.lock().await;
                    let start = Instant::now();
                    for i in 0..iters {
                        ping_pong.pings(REMOTE_ASKS_PER_ITER, i * REMOTE_ASKS_PER_ITER).await;
                    }
                    start.elapsed()
                })
            })
        });
        let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
        rt.block_on(pair.shutdown());
    }
    group.finish();
}

fn pipelined(c: &mut Criterion) {
    let rt = runtime();
    let asks = PIPELINE_TASKS * PIPELINE_ASKS_PER_TASK;
    let mut group = group(c, "remote_ask_pipelined", asks);
    let pair = Arc::new(rt.block_on(RemotePair::start(Transport::Tcp)));
    let raw = rt.block_on(RawClient::connect(Transport::Tcp, RawServer::Direct));
    let concurrent = format!("{PIPELINE_TASKS}x{PIPELINE_ASKS_PER_TASK}");
    group.bench_function("actor_remote_tcp/sequential", |b| {
        b.iter_custom(|iters| {
            let pair = pair.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    remote_asks(&pair.remote, asks, 0).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(format!("actor_remote_tcp/{concurrent}"), |b| {
        b.iter_custom(|iters| {
            let pair = pair.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    remote_pipelined(&pair.remote, PIPELINE_TASKS, PIPELINE_ASKS_PER_TASK).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_tcp_tasks/sequential", |b| {
        b.iter_custom(|iters| {
            let raw = raw.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    raw.asks(asks, 0).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(format!("raw_tcp_tasks/{concurrent}"), |b| {
        b.iter_custom(|iters| {
            let raw = raw.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    raw.pipelined(PIPELINE_TASKS, PIPELINE_ASKS_PER_TASK).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
    rt.block_on(pair.shutdown());
}

fn handshake(c: &mut Criterion) {
    let rt = runtime();
    let mut group = group(c, "remote_handshake", 1);
    let pair = Arc::new(rt.block_on(RemotePair::start(Transport::Tcp)));
    group.bench_function("actor_remote_tcp", |b| {
        b.iter_custom(|iters| {
            let pair = pair.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    connect_and_handshake(&pair.a, "dialer").await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_tcp_connect", |b| {
        b.iter_custom(|iters| {
            let pair = pair.clone();
            timed_on(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    connect_only(&pair.a).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    let pair = Arc::into_inner(pair).expect("no iteration holds the pair");
    rt.block_on(pair.shutdown());
}

criterion_group!(benches, tell, ask, pipelined, handshake);
criterion_main!(benches);
