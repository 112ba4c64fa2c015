//! Resident memory per idle actor: ours against the hand-written tokio
//! actor of the spawn workload, over a bounded and an unbounded channel.
//!
//! Run with `cargo run --release -p benches --bin idle_memory`.
//!
//! Without arguments, this program measures each side several times, each
//! in a fresh child process (itself, with `--side <name>`), the sides taking
//! turns, prints a table of the medians and writes them to
//! `target/criterion/idle_memory.json`, where the `ratios` binary reads
//! them (`--json PATH` writes elsewhere).
//!
//! A child builds a multi-thread runtime with two workers, warms it up
//! (spawns, asks and drops 1,000 actors), reads its resident set size
//! (`VmRSS` in `/proc/self/status`), spawns [`ACTORS`] idle actors with
//! [`spawn_idle`] (each asked once, so that it has started and is parked
//! waiting for its next message), waits briefly, reads `VmRSS` again, and
//! prints the growth. The growth includes the reference kept per actor on
//! every side (an `ActorRef` or an `mpsc` sender, 8 bytes). Linux only.
//!
//! `idle_memory --by-state` measures ours only, once per size of actor
//! state from 8 to 168 bytes (an actor of that size, asked once, in a
//! fresh process each), and prints bytes per actor for each: the figure
//! depends on the size through the allocator (benches/README.md, "Idle
//! memory and the actor's size"). It writes no JSON.
//!
//! Built with `--features jemalloc`, the program measures under jemalloc
//! instead of the system's allocator (glibc's on Linux).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use actor_core::prelude::*;
use benches::local::{Side, spawn_idle};

/// How many idle actors each child spawns.
const ACTORS: u64 = 100_000;

/// How many fresh processes measure each side; the table shows the median.
const RUNS: usize = 3;

/// The resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("cannot read /proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("no VmRSS line in /proc/self/status");
    let kib: u64 =
        line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().expect("VmRSS is not a number");
    kib * 1024
}

/// An actor of `8 + 8 * N` bytes of state, for `--by-state`.
#[derive(Debug)]
struct Padded<const N: usize> {
    sum: u64,
    pad: [u64; N],
}

impl<const N: usize> Actor for Padded<N> {
    type Error = std::convert::Infallible;
}

/// Reads a [`Padded`] actor's state.
#[derive(Debug)]
struct Read;

impl Message for Read {
    type Reply = u64;
}

impl<const N: usize> Handler<Read> for Padded<N> {
    async fn handle(&mut self, _msg: Read, _ctx: &mut Context<Self>) -> u64 {
        self.sum + self.pad.iter().sum::<u64>()
    }
}

/// `n` idle [`Padded`] actors, each asked once, as `spawn_idle` does.
async fn spawn_sized<const N: usize>(system: &ActorSystem, n: u64) -> Vec<ActorRef<Padded<N>>> {
    let actors: Vec<_> = (0..n).map(|seed| system.spawn(Padded::<N> { sum: seed, pad: [0; N] })).collect();
    for (seed, actor) in (0..).zip(&actors) {
        assert_eq!(actor.ask(Read).await.expect("idle: no reply"), seed, "idle: wrong reply");
    }
    actors
}

/// The child side of `--by-state`: as [`child`], with [`Padded`] actors.
fn child_sized<const N: usize>() -> Sample {
    measure(async |system: &ActorSystem, n| spawn_sized::<N>(system, n).await)
}

/// `--state N`: the child for `8 + 8 * N` bytes of state.
fn child_state(words: usize) -> Option<Sample> {
    macro_rules! sizes {
        ($($n:literal)*) => {
            match words {
                $($n => Some(child_sized::<$n>()),)*
                _ => None,
            }
        };
    }
    sizes!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20)
}

/// `--by-state`: one fresh process per size of state.
fn by_state() -> ExitCode {
    let exe = std::env::current_exe().expect("cannot find this executable");
    println!("RSS growth per idle actor of ours by bytes of actor state: {ACTORS} actors, one fresh process each\n");
    println!("| state | bytes per actor |");
    println!("|---:|---:|");
    for words in 0..=20 {
        let output =
            Command::new(&exe).args(["--state", &words.to_string()]).output().expect("cannot start a child process");
        assert!(output.status.success(), "child for state {words} failed: {}", output.status);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let sample = stdout.lines().rev().find_map(Sample::parse).expect("the child printed no sample");
        println!("| {} B | {:.0} |", 8 + 8 * words, sample.per_actor());
    }
    ExitCode::SUCCESS
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

/// The child's job: measure one side in this (fresh) process.
fn child(side: Side) -> Sample {
    measure(async |system: &ActorSystem, n| {
        let idle = spawn_idle(side, system, n).await;
        assert_eq!(idle.len(), n);
        idle
    })
}

/// Spawns idle actors with `spawn` on a fresh system in this process and
/// returns the resident set size before and after the [`ACTORS`] of them.
fn measure<T>(spawn: impl AsyncFn(&ActorSystem, u64) -> T) -> Sample {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("failed to build the tokio runtime");
    runtime.block_on(async {
        let system = ActorSystem::new();
        // Warm up: let the runtime, the allocator and any lazily
        // initialised state reach their steady size before the first
        // reading.
        drop(spawn(&system, 1_000).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_bytes();
        let idle = spawn(&system, ACTORS).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_bytes();
        // The process exits next: tearing 100,000 actors down is not part
        // of the measure.
        std::mem::forget(idle);
        std::mem::forget(system);
        Sample { before, after }
    })
}

/// Runs one side in a fresh child process.
fn run_child(side: Side) -> Sample {
    let exe = std::env::current_exe().expect("cannot find this executable");
    let output = Command::new(exe).args(["--side", side.name()]).output().expect("cannot start a child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child for {} failed: {}\n{}",
        side.name(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .rev()
        .find_map(Sample::parse)
        .unwrap_or_else(|| panic!("child for {} printed no sample", side.name()))
}

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Where the results go by default: `criterion/idle_memory.json` in the
/// target directory this binary was built into.
fn default_json() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find this executable");
    // target/<profile>/idle_memory -> target/
    let target = exe.parent().and_then(|p| p.parent()).expect("the executable is in a target directory");
    target.join("criterion").join("idle_memory.json")
}

/// The results as JSON: bytes per actor of every run, per side.
fn to_json(runs: &[(Side, Vec<f64>)]) -> String {
    let sides: Vec<String> = runs
        .iter()
        .map(|(side, bytes)| {
            let list: Vec<String> = bytes.iter().map(|b| format!("{b:.1}")).collect();
            format!("    \"{}\": [{}]", side.name(), list.join(", "))
        })
        .collect();
    format!(
        "{{\n  \"actors\": {ACTORS},\n  \"flavour\": \"multi\",\n  \"bytes_per_actor\": {{\n{}\n  }}\n}}\n",
        sides.join(",\n")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = match args.as_slice() {
        [] => default_json(),
        [flag, path] if flag == "--json" => PathBuf::from(path),
        [flag, side] if flag == "--side" => {
            let Some(side) = Side::from_name(side) else {
                eprintln!("unknown side {side:?}");
                return ExitCode::FAILURE;
            };
            println!("{}", child(side).to_line());
            return ExitCode::SUCCESS;
        }
        [flag] if flag == "--by-state" => return by_state(),
        [flag, words] if flag == "--state" => {
            let Some(sample) = words.parse().ok().and_then(child_state) else {
                eprintln!("--state takes 0 to 20 (words of state past the first)");
                return ExitCode::FAILURE;
            };
            println!("{}", sample.to_line());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: idle_memory [--json PATH | --by-state]");
            return ExitCode::FAILURE;
        }
    };

    println!(
        "RSS growth per idle actor: {ACTORS} actors, 2-worker multi-thread runtime, \
         median of {RUNS} fresh processes per side (sides taking turns)\n"
    );
    let mut runs: Vec<(Side, Vec<f64>)> = Side::ALL.iter().map(|&side| (side, Vec::new())).collect();
    for _ in 0..RUNS {
        for (side, bytes) in &mut runs {
            bytes.push(run_child(*side).per_actor());
        }
    }
    println!("| side | bytes per actor | runs |");
    println!("|---|---:|---|");
    for (side, bytes) in &runs {
        let list = bytes.iter().map(|b| format!("{b:.0}")).collect::<Vec<_>>().join(", ");
        println!("| {} | {:.0} | {list} |", side.name(), median(bytes));
    }
    if let Some(parent) = json.parent() {
        std::fs::create_dir_all(parent).expect("cannot create the output directory");
    }
    std::fs::write(&json, to_json(&runs)).expect("cannot write the results");
    eprintln!("\nwrote {}", json.display());
    ExitCode::SUCCESS
}

/// With `--features jemalloc`: jemalloc instead of the system allocator.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
