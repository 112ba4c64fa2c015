//! The same job done twice against a slow worker: with `ask`, where the caller
//! waits for every reply (synchronous message passing, a phone call), and
//! with `tell`, where the caller queues every job at once and goes on with
//! its own work (asynchronous, an email), collecting the result at the end
//! with a single "barrier" `ask`.
//!
//! The barrier works because messages from one sender are handled in the
//! order sent: when the worker answers it, every job told before it is done.
//!
//! Run with `cargo run --example sync_vs_async`.

use std::time::{Duration, Instant};

use actor_core::prelude::*;

const JOBS: u64 = 5;
const JOB_TIME: Duration = Duration::from_millis(100);

/// Squares numbers, slowly, and keeps a running sum.
#[derive(Default)]
struct Worker {
    sum: u64,
}

#[actor]
impl Worker {
    /// One job: takes `JOB_TIME`, returns `n * n` and adds it to the sum.
    #[message]
    async fn square(&mut self, n: u64) -> u64 {
        tokio::time::sleep(JOB_TIME).await;
        self.sum += n * n;
        n * n
    }

    /// The sum so far; asked last, it waits behind every queued job.
    #[message]
    fn total(&self) -> u64 {
        self.sum
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), actor_core::Error> {
    let system = ActorSystem::new();

    // 1. ask: the caller is blocked until each reply arrives.
    let worker = system.spawn(Worker::default());
    let start = Instant::now();
    let mut sync_sum = 0;
    for n in 1..=JOBS {
        let asked = Instant::now();
        let square = worker.square(n).await?;
        sync_sum += square;
        println!("ask: job {n} -> {square}, the caller waited {} ms for the reply", asked.elapsed().as_millis());
    }
    let sync_time = start.elapsed();
    println!("ask: result {sync_sum} in {} ms; blocked: the caller, for every job", sync_time.as_millis());

    // 2. tell: the caller hands over every job and is free at once.
    let worker = system.spawn(Worker::default());
    let start = Instant::now();
    for n in 1..=JOBS {
        worker.tell_square(n).await?;
    }
    let queued = start.elapsed();
    println!("tell: {JOBS} jobs queued in {} ms; blocked: nobody, the caller is free", queued.as_millis());
    // The caller's own work overlaps with the worker's.
    tokio::time::sleep(JOB_TIME * 2).await;
    println!("tell: the caller did {} ms of its own work meanwhile", (JOB_TIME * 2).as_millis());
    let barrier = Instant::now();
    let async_sum = worker.total().await?;
    let async_time = start.elapsed();
    println!(
        "tell: result {async_sum} in {} ms; blocked: the caller, once, for {} ms at the barrier ask",
        async_time.as_millis(),
        barrier.elapsed().as_millis()
    );

    assert_eq!(sync_sum, async_sum, "both ways compute the same result");
    println!("same result both ways: {sync_sum}");
    system.shutdown().await;
    Ok(())
}
