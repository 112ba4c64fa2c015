//! The live observer: a small supervision tree at work, watched in a browser
//! or in the terminal.
//!
//! An observed system runs a supervisor ("workers") with two steady workers
//! and a flaky one that crashes every so often and is restarted in place, a
//! slow root actor ("slow") that gets bursts of jobs faster than it handles
//! them, so its mailbox fills and drains, and a sender that every couple of
//! seconds tells a name nobody holds ("missing"), which makes a dead letter.
//! `actor-observer` serves the page that shows all of it while it runs:
//! the tree, mailbox depths, messages per second and their recent history,
//! restarts with their times, the flaky worker's last panic with its flight
//! record (the jobs before the crash), and the dead letters grouped and
//! counted.
//!
//! Run with `cargo run --example observer` and open the address it prints;
//! it runs until Ctrl-C. `--tui` shows the same view in the terminal
//! instead (quit with `q` or Ctrl-C), `--seconds N` stops after N seconds
//! (without `--tui`), `--addr` sets where the page is served (default
//! 127.0.0.1:0, a free port on loopback).

use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use actor_observer::Observer;

const USAGE: &str = "\
usage: observer [--tui] [--seconds N] [--addr HOST:PORT]

Runs a small supervision tree and serves a live view of it at the printed
address (default 127.0.0.1:0: a free port on loopback) until Ctrl-C, or for
N seconds. Open it in a browser, or pass --tui to see it in this terminal
(q or Ctrl-C quits).";

/// How the flaky worker's panic messages start.
const CRASH: &str = "flaky worker fails on purpose";

/// Does a little work per job; the flaky one panics on every tenth.
#[derive(Default)]
struct Worker {
    done: u64,
    crash_every: Option<u64>,
    job_time: Duration,
}

#[actor]
impl Worker {
    /// Job number `n`; `Debug`, so that a flight record shows which.
    #[message(derive(Debug))]
    async fn job(&mut self, n: u64) {
        if !self.job_time.is_zero() {
            tokio::time::sleep(self.job_time).await;
        }
        self.done += 1;
        if self.crash_every.is_some_and(|every| self.done.is_multiple_of(every)) {
            panic!("{CRASH} at job {n}");
        }
    }
}

struct Args {
    seconds: Option<u64>,
    tui: bool,
    addr: String,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { seconds: None, tui: false, addr: "127.0.0.1:0".to_owned() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--tui" => args.tui = true,
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                args.seconds = Some(v.parse().map_err(|_| format!("--seconds: not a number: {v}"))?);
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
        let message = info.payload().downcast_ref::<String>().map_or("", String::as_str);
        if !message.starts_with(CRASH) {
            default_hook(info);
        }
    }));

    // `observe(true)` lists every actor with its parent, not just the roots,
    // and keeps each actor's last panic and restart times.
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
    // A flight recorder of 5: each panic carries the last five jobs.
    let flaky_spec = ChildSpec::new(|| Worker { crash_every: Some(10), ..Worker::default() })
        .options(SpawnOptions::new().name("flaky").flight_recorder(5));
    let flaky = workers.start_child(flaky_spec).await.expect("the supervisor is running");
    let slow = system.spawn_with(
        Worker { job_time: Duration::from_millis(50), ..Worker::default() },
        SpawnOptions::new().name("slow"),
    );

    // The load: steady work every 10 ms, a flaky job every 200 ms (so a
    // crash every two seconds), a burst of 15 slow jobs every second
    // (20 per second are handled), and a letter to nobody every 2 seconds.
    let load_system = system.clone();
    let load = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            for worker in &steady {
                let _ = worker.tell_job(n).await;
            }
            if n.is_multiple_of(20) {
                let _ = flaky.tell_job(n).await;
            }
            if n.is_multiple_of(100) {
                for _ in 0..15 {
                    let _ = slow.tell_job(n).await;
                }
            }
            if n.is_multiple_of(200) {
                let _ = load_system.tell_named::<Worker, _>("missing", Job { n }).await;
            }
            n += 1;
        }
    });

    let started = tokio::time::Instant::now();
    if args.tui {
        if let Err(e) = observer.run_terminal().await {
            eprintln!("cannot show the terminal view: {e}");
            std::process::exit(1);
        }
    } else {
        match args.seconds {
            Some(seconds) => tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(seconds)) => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            None => {
                println!("press Ctrl-C to stop");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    // The snapshot comes before the load stops: the load task holds the
    // only references to the workers, and dropping the last reference to
    // an actor stops it, so afterwards they would be on their way out.
    let snapshot = observer.snapshot();
    load.abort();
    let _ = load.await;

    let handled: u64 = snapshot.actors.iter().map(|a| a.processed).sum();
    let restarts: u32 = snapshot.actors.iter().map(|a| a.restarts).sum();
    let groups = snapshot.dead_letter_groups.len();
    println!(
        "after {} s: {} actors, {} messages handled, {} restarts, {} dead letters in {groups} group(s)",
        started.elapsed().as_secs_f64().round(),
        snapshot.live,
        handled,
        restarts,
        snapshot.dead_letters
    );
    observer.stop().await;
    system.shutdown().await;
}
