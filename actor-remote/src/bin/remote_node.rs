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

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_remote::Node;

#[derive(Default)]
struct Counter {
    total: u64,
    last: HashMap<u32, u64>,
    received: u64,
    violations: u64,
    log: Option<std::fs::File>,
    busy: Duration,
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
    async fn slow(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
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
             [--log FILE] [--busy-ms N]"
        );
        return Ok(());
    }
    let node = Node::builder(ActorSystem::new())
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
    println!("listening {}", node.address());
    std::future::pending::<()>().await;
    Ok(())
}
