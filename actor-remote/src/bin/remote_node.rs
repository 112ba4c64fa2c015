//! A standalone node serving one counter actor, for trying a connection from
//! another process (and for the crate's multi-process tests).
//!
//! ```text
//! remote-node --listen tcp://127.0.0.1:4000 --name counter-node --secret cookie
//! ```
//!
//! Prints `listening <address>` once it accepts peers, then serves until
//! killed. The counter is registered as `counter` and accepts the remote
//! messages `Counter::Add { n: u64 } -> u64` and `Counter::Slow { millis:
//! u64 } -> u64` (replies after sleeping that long).

use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::Node;

#[derive(Default)]
struct Counter {
    total: u64,
}

#[actor]
impl Counter {
    #[message(remote)]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
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
            "remote-node [--listen tcp://127.0.0.1:0|unix:/path|nats://host:port/NAME] [--name NAME] [--secret SECRET]"
        );
        return Ok(());
    }
    let node = Node::builder(ActorSystem::new())
        .name(arg(&args, "--name", "remote-node"))
        .secret(arg(&args, "--secret", "cookie"))
        .listen(&arg(&args, "--listen", "tcp://127.0.0.1:0"))?
        .start()
        .await?;
    let counter = node.system().spawn(Counter::default());
    node.register("counter", &counter)?;
    println!("listening {}", node.address());
    std::future::pending::<()>().await;
    Ok(())
}
