//! Remote ask latency percentiles: sequential round trips through
//! `actor-remote` against raw sockets with the same frames, in one process
//! and one run, so that the ratios compare like with like.
//!
//! For each transport (loopback TCP, then a Unix socket) it measures four
//! clients of the same server-side work:
//!
//! - `actor_remote`: `remote.ping(n).await` on a reference looked up from
//!   another node;
//! - `raw_ping_pong`: the caller writes one frame and reads one frame;
//! - `raw_tasks`: the hand-written batched pipeline (queue, writer task,
//!   reader task), one ask at a time;
//! - `raw_hops`: as `raw_tasks`, against a server laid out like a node
//!   (reader, handler and writer tasks): the same task hand-offs as ours,
//!   without the framework's work around them.
//!
//! Each does 1,000 warm-up round trips, then the timed ones in blocks of
//! 1,000, the clients taking turns block by block so that a noisy moment
//! hits all of them. Every reply is checked.
//!
//! Run with `cargo run --release -p benches --bin remote_latency [-- ROUND_TRIPS]`
//! (default 10,000 per client and transport).

use std::time::{Duration, Instant};

use benches::remote::{RawClient, RawPingPong, RawServer, RemotePair, SinkClient, Transport};

const BLOCK: u64 = 1_000;

#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn percentile(&mut self, p: f64) -> Duration {
        self.0.sort_unstable();
        let rank = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }

    fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Measures `round_trips` sequential round trips on each client of one
/// transport and prints the percentiles.
async fn measure(transport: Transport, round_trips: u64) {
    let pair = RemotePair::start(transport).await;
    let mut ping_pong = RawPingPong::connect(transport).await;
    let tasks = RawClient::connect(transport, RawServer::Direct).await;
    let hops = RawClient::connect(transport, RawServer::Hops).await;

    // Warm-up.
    benches::remote::remote_asks(&pair.remote, BLOCK, 0).await;
    ping_pong.pings(BLOCK, 0).await;
    tasks.asks(BLOCK, 0).await;
    hops.asks(BLOCK, 0).await;

    let (mut ours, mut raw) = (Samples::default(), Samples::default());
    let (mut raw_tasks, mut raw_hops) = (Samples::default(), Samples::default());
    let blocks = round_trips.div_ceil(BLOCK);
    for block in 0..blocks {
        let base = block * BLOCK;
        for n in base..base + BLOCK {
            let start = Instant::now();
            let reply = pair.remote.ping(n).await.expect("the ping is answered");
            ours.0.push(start.elapsed());
            assert_eq!(reply, n + 1, "remote ping reply");
        }
        for n in base..base + BLOCK {
            let start = Instant::now();
            let reply = ping_pong.ping(n).await;
            raw.0.push(start.elapsed());
            assert_eq!(reply, n + 1, "raw ping reply");
        }
        for n in base..base + BLOCK {
            let start = Instant::now();
            tasks.asks(1, n).await;
            raw_tasks.0.push(start.elapsed());
        }
        for n in base..base + BLOCK {
            let start = Instant::now();
            hops.asks(1, n).await;
            raw_hops.0.push(start.elapsed());
        }
    }
    pair.shutdown().await;

    let (raw50, raw99) = (raw.percentile(0.50), raw.percentile(0.99));
    println!("\n{} ({} round trips each, interleaved in blocks of {BLOCK})", transport.name(), blocks * BLOCK);
    println!("| client | p50 | p99 | mean | p50 / raw_ping_pong p50 | p99 / raw_ping_pong p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, samples) in [
        ("actor_remote", &mut ours),
        ("raw_ping_pong", &mut raw),
        ("raw_tasks", &mut raw_tasks),
        ("raw_hops", &mut raw_hops),
    ] {
        let (p50, p99, mean) = (samples.percentile(0.50), samples.percentile(0.99), samples.mean());
        println!(
            "| {name} | {} | {} | {} | {:.2} | {:.2} |",
            micros(p50),
            micros(p99),
            micros(mean),
            p50.as_secs_f64() / raw50.as_secs_f64(),
            p99.as_secs_f64() / raw99.as_secs_f64()
        );
    }
}

fn main() {
    let round_trips: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("usage: remote_latency [ROUND_TRIPS]"),
        None => 10_000,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("failed to build the tokio runtime");
    runtime
        .block_on(runtime.spawn(async move {
            for transport in [Transport::Tcp, Transport::Unix] {
                measure(transport, round_trips).await;
            }
        }))
        .expect("the measurement panicked");
}
