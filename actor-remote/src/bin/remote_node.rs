//! A standalone node serving one counter actor, for trying a connection from
//! another process (and for the crate's multi-process tests).
//!
//! ```text
//! remote-node --listen tcp://127.0.0.1:4000 --name counter-node --secret cookie
//! ```
//!
//! Prints `listening <address>` once it accepts peers, then serves until
//! killed. The counter is registered as `counter` and accepts the remote
//! messages `Counter::Add { n: u64 } -> u64`, `Counter::Slow { millis:
//! u64 } -> u64` (replies after sleeping that long), `Counter::Record {
//! sender: u32, seq: u64 }` (counts a sender's numbered message, and any
//! that is not above the sender's last as a violation of its order) and
//! `Counter::Report -> (u64, u64)` (messages recorded, violations).
//!
//! Options for the delivery tests: `--log FILE` appends every recorded
//! `sender seq` line to `FILE` as it is handled, one write each, so what
//! the process handled is on record even if it is killed; `--busy-ms N`
//! makes every 100th recorded message take `N` ms, with a mailbox of 64,
//! so that deliveries wait for room.
//!
//! For the flood tests: `Counter::Take { sender: u32, seq: u64, blob:
//! String }` counts a numbered blob and its bytes, and any whose number is
//! not the one after the sender's last (from 0) as a break of exactly-once,
//! in-order delivery; `Counter::Taken -> (u64, u64, u64)` reports (blobs,
//! breaks, bytes). `--cluster PROBE_MS,TIMEOUT_MS,SUSPICION_MS` starts
//! cluster membership with those timings (probe period, probe timeout,
//! suspicion timeout) and prints every cluster event it sees as a `cluster
//! <event>` line, so that a test reads this side's view of its peers;
//! `--credit-window N` sets `Limits::credit_window` (what a link may hold
//! toward one actor: with large tells, how much data can queue).

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, ClusterEvent, Limits, Node};

#[derive(Default)]
struct Counter {
    total: u64,
    last: HashMap<u32, u64>,
    received: u64,
    violations: u64,
    log: Option<std::fs::File>,
    busy: Duration,
    /// Per sender, the number its next blob should carry.
    next_blob: HashMap<u32, u64>,
    blobs: u64,
    blob_breaks: u64,
    blob_bytes: u64,
}

#[actor]
impl Counter {
    #[message(remote)]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[message(remote)]
    async fn record(&mut self, sender: u32, seq: u64) {
        if self.last.get(&sender).is_some_and(|&last| seq <= last) {
            self.violations += 1;
        }
        self.last.insert(sender, seq);
        self.received += 1;
        if let Some(log) = &mut self.log {
            // One write per message, unbuffered: on record once handled.
            log.write_all(format!("{sender} {seq}\n").as_bytes()).expect("the log is writable");
        }
        if !self.busy.is_zero() && self.received.is_multiple_of(100) {
            tokio::time::sleep(self.busy).await;
        }
    }

    #[message(remote)]
    fn report(&self) -> (u64, u64) {
        (self.received, self.violations)
    }

    #[message(remote)]
    fn take(&mut self, sender: u32, seq: u64, blob: String) {
        let next = self.next_blob.entry(sender).or_insert(0);
        if seq != *next {
            self.blob_breaks += 1;
        }
        *next = seq + 1;
        self.blobs += 1;
        self.blob_bytes += blob.len() as u64;
    }

    #[message(remote)]
    fn taken(&self) -> (u64, u64, u64) {
        (self.blobs, self.blob_breaks, self.blob_bytes)
    }

    #[message(remote)]
    async fn slow(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
}

/// Prints the cluster events it is sent, one line each, as they come.
struct Printer;

impl Actor for Printer {
    type Error = std::convert::Infallible;
}

impl Handler<ClusterEvent> for Printer {
    async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) {
        println!("cluster {event:?}");
    }
}

/// Starts membership on `node` with the timings `PROBE_MS,TIMEOUT_MS,SUSPICION_MS`
/// and prints its events.
async fn start_cluster(node: &Node, timings: &str) -> Result<Cluster, Box<dyn std::error::Error>> {
    let millis: Vec<u64> = timings.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let [probe, timeout, suspicion] = millis[..] else {
        return Err(format!("--cluster wants PROBE_MS,TIMEOUT_MS,SUSPICION_MS, not {timings:?}").into());
    };
    let config = ClusterConfig {
        probe_period: Duration::from_millis(probe),
        probe_timeout: Duration::from_millis(timeout),
        suspicion_timeout: Duration::from_millis(suspicion),
        ..ClusterConfig::default()
    };
    let cluster = Cluster::start(node, config).await?;
    cluster.subscribe(node.system().spawn(Printer).recipient());
    Ok(cluster)
}

fn arg(args: &[String], flag: &str, default: &str) -> String {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "remote-node [--listen tcp://127.0.0.1:0|unix:/path|nats://host:port/NAME] [--name NAME] [--secret SECRET] \
             [--log FILE] [--busy-ms N] [--cluster PROBE_MS,TIMEOUT_MS,SUSPICION_MS] [--credit-window N]"
        );
        return Ok(());
    }
    let mut limits = Limits::default();
    if args.iter().any(|a| a == "--credit-window") {
        limits.credit_window = arg(&args, "--credit-window", "").parse()?;
    }
    let node = Node::builder(ActorSystem::new())
        .limits(limits)
        .name(arg(&args, "--name", "remote-node"))
        .secret(arg(&args, "--secret", "cookie"))
        .listen(&arg(&args, "--listen", "tcp://127.0.0.1:0"))?
        .start()
        .await?;
    let log = match args.iter().position(|a| a == "--log") {
        Some(_) => Some(std::fs::OpenOptions::new().create(true).append(true).open(arg(&args, "--log", ""))?),
        None => None,
    };
    let busy = Duration::from_millis(arg(&args, "--busy-ms", "0").parse()?);
    let counter = Counter { log, busy, ..Counter::default() };
    let counter = if busy.is_zero() {
        node.system().spawn(counter)
    } else {
        node.system().spawn_with(counter, SpawnOptions::new().mailbox(Mailbox::bounded(64)))
    };
    node.register("counter", &counter)?;
    // Held for the life of the process, like the node.
    let _cluster = match args.iter().position(|a| a == "--cluster") {
        Some(_) => Some(start_cluster(&node, &arg(&args, "--cluster", "")).await?),
        None => None,
    };
    println!("listening {}", node.address());
    std::future::pending::<()>().await;
    Ok(())
}
