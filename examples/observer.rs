//! The live observer: a small supervision tree at work, watched in a browser.
//!
//! An observed system runs a supervisor ("workers") with two steady workers
//! and a flaky one that crashes every so often and is restarted in place, a
//! slow root actor ("slow") that gets bursts of jobs faster than it handles
//! them, so its mailbox fills and drains, and a sender that every couple of
//! seconds tells a name nobody holds ("missing"), which makes a dead letter.
//! `actor-observer` serves the page that shows all of it while it runs:
//! the tree, mailbox depths, messages per second, restarts, states and the
//! dead letters as they happen.
//!
//! Run with `cargo run --example observer` and open the address it prints;
//! `--seconds N` sets how long it runs (default 30), `--addr` where the page
//! is served (default 127.0.0.1:0, a free port on loopback).

use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use actor_observer::Observer;

const USAGE: &str = "\
usage: observer [--seconds N] [--addr HOST:PORT]

Runs a small supervision tree for N seconds (default 30) and serves a live
view of it at the printed address (default 127.0.0.1:0: a free port on
loopback). Open it in a browser.";

/// The flaky worker's panic message.
const CRASH: &str = "flaky worker fails its job on purpose";

/// Does a little work per job; the flaky one panics on every tenth.
#[derive(Default)]
struct Worker {
    done: u64,
    crash_every: Option<u64>,
    job_time: Duration,
}

#[actor]
impl Worker {
    #[message]
    async fn job(&mut self) {
        if !self.job_time.is_zero() {
            tokio::time::sleep(self.job_time).await;
        }
        self.done += 1;
        if self.crash_every.is_some_and(|n| self.done.is_multiple_of(n)) {
            panic!("{CRASH}");
        }
    }
}

struct Args {
    seconds: u64,
    addr: String,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { seconds: 30, addr: "127.0.0.1:0".to_owned() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                args.seconds = v.parse().map_err(|_| format!("--seconds: not a number: {v}"))?;
            }
            "--addr" => args.addr = it.next().ok_or("--addr needs a value")?,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };

    // Keep the planned crashes quiet; any other panic is still printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<String>().map(String::as_str) != Some(CRASH) {
            default_hook(info);
        }
    }));

    // `observe(true)` lists every actor with its parent, not just the roots.
    let system = ActorSystem::builder().observe(true).build();
    let observer = match Observer::serve(&system, args.addr.as_str()).await {
        Ok(observer) => observer,
        Err(e) => {
            eprintln!("cannot serve the observer on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("observer at {}", observer.url());

    let workers = system.spawn_with(
        Supervisor::new(Strategy::OneForOne).max_restarts(1_000, Duration::from_secs(1)),
        SpawnOptions::new().name("workers"),
    );
    let mut steady = Vec::new();
    for name in ["steady-1", "steady-2"] {
        let spec = ChildSpec::new(Worker::default).options(SpawnOptions::new().name(name));
        steady.push(workers.start_child(spec).await.expect("the supervisor is running"));
    }
    let flaky_spec = ChildSpec::new(|| Worker { crash_every: Some(10), ..Worker::default() })
        .options(SpawnOptions::new().name("flaky"));
    let flaky = workers.start_child(flaky_spec).await.expect("the supervisor is running");
    let slow = system.spawn_with(
        Worker { job_time: Duration::from_millis(50), ..Worker::default() },
        SpawnOptions::new().name("slow"),
    );

    // The load: steady work every 10 ms, a flaky job every 200 ms (so a
    // crash every two seconds), a burst of 15 slow jobs every second
    // (20 per second are handled), and a letter to nobody every 2 seconds.
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let mut n: u64 = 0;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        for worker in &steady {
            let _ = worker.tell_job().await;
        }
        if n.is_multiple_of(20) {
            let _ = flaky.tell_job().await;
        }
        if n.is_multiple_of(100) {
            for _ in 0..15 {
                let _ = slow.tell_job().await;
            }
        }
        if n.is_multiple_of(200) {
            let _ = system.tell_named::<Worker, _>("missing", Job).await;
        }
        n += 1;
    }

    let snapshot = observer.snapshot();
    let handled: u64 = snapshot.actors.iter().map(|a| a.processed).sum();
    let restarts: u32 = snapshot.actors.iter().map(|a| a.restarts).sum();
    println!(
        "after {} s: {} actors, {} messages handled, {} restarts, {} dead letters",
        args.seconds, snapshot.live, handled, restarts, snapshot.dead_letters
    );
    observer.stop().await;
    system.shutdown().await;
}
