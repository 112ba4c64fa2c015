//! A soak run: a mixed local and remote workload for a set time, reporting
//! throughput and memory as it goes, and failing if memory still grows
//! after the warm-up.
//!
//! Run with `cargo run --release --example soak` (10 minutes), or
//! `cargo run --release --example soak -- --secs 30` (what CI runs).
//!
//! Two nodes on loopback in this process. The workload, all at once:
//! four tasks telling and asking eight local actors; two tasks telling and
//! asking an actor on the other node; one task that spawns short-lived
//! actors, asks them, makes one in fifty panic, and stops them. Every
//! interval it prints the messages per second of each kind, the actors
//! churned, and the resident set size. After the run, the RSS samples past
//! the warm-up (the first fifth) must stay within 10% (or 8 MiB) of the
//! first of them, and no ask may have failed unexpectedly; otherwise the
//! run exits with status 1.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::Node;

#[derive(Default)]
struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    #[message(remote)]
    fn add(&mut self, n: u64) -> u64 {
        self.total = self.total.wrapping_add(n);
        self.total
    }

    #[message]
    fn fail(&mut self) {
        panic!("a failure on purpose");
    }
}

fn arg(flag: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mib() -> f64 {
    let kib: u64 = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib as f64 / 1024.0
}

#[derive(Default)]
struct Counts {
    local: AtomicU64,
    remote: AtomicU64,
    churned: AtomicU64,
    panics: AtomicU64,
    unexpected: AtomicU64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let secs = arg("--secs", 600);
    let every = Duration::from_secs(arg("--every", (secs / 20).clamp(1, 30)));
    let deadline = Instant::now() + Duration::from_secs(secs);
    std::panic::set_hook(Box::new(|_| {}));

    let a = Node::builder(ActorSystem::new()).name("soak-a").secret("soak").start().await?;
    let b = Node::builder(ActorSystem::new()).name("soak-b").secret("soak").start().await?;
    let far = a.system().spawn(Tally::default());
    a.register("tally", &far)?;
    let peer = b.connect(&a.address().to_string()).await?;
    let remote: ActorRef<Tally> = b.lookup(&peer, "tally").await?;
    let local: Arc<Vec<ActorRef<Tally>>> = Arc::new((0..8).map(|_| b.system().spawn(Tally::default())).collect());
    let counts = Arc::new(Counts::default());

    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let (local, counts) = (local.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while Instant::now() < deadline {
                let target = &local[(i % 8) as usize];
                for _ in 0..100 {
                    let _ = target.tell_add(1).await;
                }
                if target.add(1).await.is_err() {
                    counts.unexpected.fetch_add(1, Ordering::Relaxed);
                }
                counts.local.fetch_add(101, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for _ in 0..2 {
        let (remote, counts) = (remote.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                for _ in 0..50 {
                    let _ = remote.tell_add(1).await;
                }
                if remote.add(1).timeout(Duration::from_secs(5)).await.is_err() {
                    counts.unexpected.fetch_add(1, Ordering::Relaxed);
                }
                counts.remote.fetch_add(51, Ordering::Relaxed);
            }
        }));
    }
    {
        let (system, counts) = (b.system().clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let short = system.spawn(Tally::default());
                if i.is_multiple_of(50) {
                    if short.fail().await.is_ok() {
                        counts.unexpected.fetch_add(1, Ordering::Relaxed);
                    }
                    counts.panics.fetch_add(1, Ordering::Relaxed);
                } else if short.add(i).await.is_err() {
                    counts.unexpected.fetch_add(1, Ordering::Relaxed);
                }
                short.stop();
                short.wait_for_stop().await;
                counts.churned.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }

    println!("soak: {secs} s, reporting every {every:?}");
    println!(
        "{:>7} {:>12} {:>12} {:>10} {:>8} {:>9}",
        "t (s)", "local msg/s", "remote msg/s", "actors/s", "panics", "RSS MiB"
    );
    let start = Instant::now();
    let mut samples = Vec::new();
    let (mut last_local, mut last_remote, mut last_churn) = (0, 0, 0);
    while Instant::now() < deadline {
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
        let (l, r, c) = (
            counts.local.load(Ordering::Relaxed),
            counts.remote.load(Ordering::Relaxed),
            counts.churned.load(Ordering::Relaxed),
        );
        let secs = every.as_secs_f64();
        let rss = rss_mib();
        samples.push(rss);
        println!(
            "{:>7.0} {:>12.0} {:>12.0} {:>10.0} {:>8} {:>9.1}",
            start.elapsed().as_secs_f64(),
            (l - last_local) as f64 / secs,
            (r - last_remote) as f64 / secs,
            (c - last_churn) as f64 / secs,
            counts.panics.load(Ordering::Relaxed),
            rss
        );
        (last_local, last_remote, last_churn) = (l, r, c);
    }
    for task in tasks {
        task.await?;
    }
    let warm = samples.len() / 5;
    let after = &samples[warm.min(samples.len().saturating_sub(1))..];
    let base = after[0];
    let peak = after.iter().copied().fold(base, f64::max);
    let allowed = (base * 0.10).max(8.0);
    let unexpected = counts.unexpected.load(Ordering::Relaxed);
    println!(
        "soak done: {} local and {} remote messages, {} actors churned ({} panicked), {unexpected} unexpected failures; \
         RSS after warm-up {base:.1} MiB, peak {peak:.1} MiB (allowed growth {allowed:.1} MiB)",
        counts.local.load(Ordering::Relaxed),
        counts.remote.load(Ordering::Relaxed),
        counts.churned.load(Ordering::Relaxed),
        counts.panics.load(Ordering::Relaxed),
    );
    a.shutdown().await;
    b.shutdown().await;
    if peak - base > allowed || unexpected > 0 {
        println!("soak FAILED: memory grew after warm-up or asks failed");
        std::process::exit(1);
    }
    println!("soak ok: memory flat after warm-up");
    Ok(())
}
