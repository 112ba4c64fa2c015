//! Resident memory per idle actor, against a raw tokio task and channel.
//!
//! Run with `cargo run --release -p benches --bin idle_memory`.
//!
//! Without arguments, this program runs each side several times, each in a
//! fresh child process (itself, with `--side <name>`), and prints a table of
//! the medians. A child builds a multi-thread runtime with two workers,
//! warms it up, reads its resident set size (`VmRSS` in `/proc/self/status`),
//! spawns [`ACTORS`] idle counters while keeping a reference to each, asks
//! every one of them once (so that each has started and is parked waiting
//! for its next message), waits briefly, reads `VmRSS` again, and prints the
//! growth divided by the number of counters.
//!
//! The growth includes the 8-byte reference kept per counter on both sides
//! (an `ActorRef` or an `mpsc::Sender`).

use std::process::{Command, ExitCode};
use std::time::Duration;

use actor_core::prelude::*;
use benches::{Counter, RawCounter, Target};

/// How many idle counters each side spawns.
const ACTORS: usize = 100_000;

/// How many fresh processes measure each side; the table shows the median.
const RUNS: usize = 3;

/// The two sides, by the names the benchmarks use.
const SIDES: [&str; 2] = ["actor_core", "raw_tokio"];

/// The resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("cannot read /proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("no VmRSS line in /proc/self/status");
    let kib: u64 =
        line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().expect("VmRSS is not a number");
    kib * 1024
}

/// One measurement, as printed by a child on its last line of output.
#[derive(Debug, Clone, Copy)]
struct Sample {
    before: u64,
    after: u64,
}

impl Sample {
    fn per_actor(self) -> f64 {
        self.after.saturating_sub(self.before) as f64 / ACTORS as f64
    }

    fn to_line(self) -> String {
        format!("rss_before={} rss_after={}", self.before, self.after)
    }

    fn parse(line: &str) -> Option<Sample> {
        let mut before = None;
        let mut after = None;
        for field in line.split_whitespace() {
            match field.split_once('=')? {
                ("rss_before", v) => before = v.parse().ok(),
                ("rss_after", v) => after = v.parse().ok(),
                _ => {}
            }
        }
        Some(Sample { before: before?, after: after? })
    }
}

/// Spawns `ACTORS` counters through `spawn`, keeps them, checks that each
/// is up with one ask, and returns the RSS before and after.
async fn measure<T: Target>(mut spawn: impl FnMut(u64) -> T) -> (Sample, Vec<T>) {
    // Warm up: let the runtime, the allocator and any lazily initialised
    // state reach their steady size before the first reading.
    let warm: Vec<T> = (0..1_000).map(&mut spawn).collect();
    for (seed, counter) in (0..).zip(&warm) {
        assert_eq!(counter.get().await, seed);
    }
    drop(warm);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let before = rss_bytes();
    let counters: Vec<T> = (0..ACTORS as u64).map(spawn).collect();
    for (seed, counter) in (0..).zip(&counters) {
        assert_eq!(counter.get().await, seed, "counter {seed} is not up");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    (Sample { before, after }, counters)
}

/// The child's job: measure one side in this (fresh) process.
fn child(side: &str) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("failed to build the tokio runtime");
    let sample = runtime.block_on(async {
        match side {
            "actor_core" => {
                let system = ActorSystem::new();
                let (sample, counters) = measure(|seed| system.spawn(Counter::new(seed))).await;
                assert_eq!(system.actor_count(), ACTORS);
                drop(counters);
                system.shutdown().await;
                Some(sample)
            }
            "raw_tokio" => {
                let (sample, counters) = measure(|seed| {
                    let (counter, task) = RawCounter::spawn(seed);
                    // Detach: a dropped JoinHandle does not stop the task, and
                    // keeping it would add to the measured growth.
                    drop(task);
                    counter
                })
                .await;
                drop(counters);
                Some(sample)
            }
            _ => None,
        }
    });
    match sample {
        Some(sample) => {
            println!("{}", sample.to_line());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("unknown side {side:?}; expected one of {SIDES:?}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one side in a fresh child process.
fn run_child(side: &str) -> Sample {
    let exe = std::env::current_exe().expect("cannot find this executable");
    let output = Command::new(exe).args(["--side", side]).output().expect("cannot start a child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child for {side} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().rev().find_map(Sample::parse).unwrap_or_else(|| panic!("child for {side} printed no sample"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, side] if flag == "--side" => return child(side),
        _ => {
            eprintln!("usage: idle_memory [--side actor_core|raw_tokio]");
            return ExitCode::FAILURE;
        }
    }

    println!(
        "RSS growth per idle counter: {ACTORS} counters, 2-worker multi-thread runtime, \
         median of {RUNS} fresh processes per side\n"
    );
    println!("| side       | bytes per counter | runs (bytes per counter)      |");
    println!("|------------|------------------:|-------------------------------|");
    let mut medians = Vec::new();
    for side in SIDES {
        let per_actor: Vec<f64> = (0..RUNS).map(|_| run_child(side).per_actor()).collect();
        let runs = per_actor.iter().map(|b| format!("{b:.0}")).collect::<Vec<_>>().join(", ");
        let m = median(per_actor);
        println!("| {side:<10} | {m:>17.0} | {runs:<29} |");
        medians.push(m);
    }
    if let [ours, raw] = medians[..] {
        println!("\nactor_core - raw_tokio: {:.0} bytes per counter", ours - raw);
        println!("actor_core / raw_tokio: {:.2}x", ours / raw);
    }
    ExitCode::SUCCESS
}
