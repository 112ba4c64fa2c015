//! A pool spreads CPU-bound work over every core: the primes below a limit
//! are counted in chunks, first by one actor, then by a `Pool` with one
//! worker per core, and the two timings are compared.
//!
//! A handler that computes without awaiting occupies its tokio worker thread
//! until it returns, so one actor uses one core however many messages wait
//! for it. A pool of as many actors as the runtime has threads keeps every
//! core busy; least-loaded routing hands each chunk to the worker with the
//! shortest queue.
//!
//! Run with `cargo run --release --example parallel_map` (`-- --limit N`
//! changes the amount of work). A debug build spends its time elsewhere
//! than in the work being spread, so its speed-up means little.

use std::ops::Range;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_core::{Pool, Routing};
use tokio::task::JoinSet;

/// Counts the primes in a range of numbers.
#[derive(Default)]
struct PrimeCounter;

impl Actor for PrimeCounter {
    type Error = std::convert::Infallible;
}

struct CountPrimes(Range<u64>);
impl Message for CountPrimes {
    type Reply = u64;
}

impl Handler<CountPrimes> for PrimeCounter {
    async fn handle(&mut self, CountPrimes(range): CountPrimes, _: &mut Context<Self>) -> u64 {
        range.filter(|&n| is_prime(n)).count() as u64
    }
}

/// Trial division: slow on purpose, so that there is work to share.
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    (3..).step_by(2).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

/// The chunks `0..limit` is cut into: many more than there are workers, so
/// that a worker that draws cheap chunks picks up more of them.
fn chunks(limit: u64, count: u64) -> impl Iterator<Item = Range<u64>> {
    let size = limit.div_ceil(count);
    (0..count).map(move |i| (i * size).min(limit)..((i + 1) * size).min(limit))
}

/// Sends every chunk to `pool` at once and adds up the replies.
async fn count_with(pool: &Pool<PrimeCounter>, limit: u64) -> Result<(u64, Duration), actor_core::Error> {
    let started = Instant::now();
    let mut asks = JoinSet::new();
    for range in chunks(limit, 256) {
        let pool = pool.clone();
        asks.spawn(async move { pool.ask(CountPrimes(range)).await });
    }
    let mut total = 0;
    while let Some(reply) = asks.join_next().await {
        total += reply.expect("an ask task does not panic")?;
    }
    Ok((total, started.elapsed()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), actor_core::Error> {
    let mut args = std::env::args().skip(1);
    let limit = match (args.next().as_deref(), args.next()) {
        (Some("--limit"), Some(n)) => n.parse().expect("--limit takes a number"),
        (None, _) => 2_000_000,
        _ => panic!("usage: parallel_map [--limit N]"),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let system = ActorSystem::new();
    println!("counting the primes below {limit} in 256 chunks, on {cores} cores");
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for a speed-up that means something)");
    }

    // The baseline: a single actor, behind the same interface.
    let single = Pool::from_workers(vec![system.spawn(PrimeCounter)], Routing::RoundRobin);
    let (alone, alone_time) = count_with(&single, limit).await?;
    println!("one actor: {alone} primes in {:.2} s", alone_time.as_secs_f64());

    let pool = Pool::builder(cores, PrimeCounter::default).routing(Routing::LeastLoaded).spawn(&system).await?;
    let (pooled, pool_time) = count_with(&pool, limit).await?;
    println!("pool of {cores} workers: {pooled} primes in {:.2} s", pool_time.as_secs_f64());

    println!("speed-up: {:.2}x", alone_time.as_secs_f64() / pool_time.as_secs_f64());
    if alone == pooled {
        println!("the results agree: {pooled} primes");
    } else {
        println!("the results DIFFER: {alone} vs {pooled}");
        std::process::exit(1);
    }
    system.shutdown().await;
    Ok(())
}
