//! Two processes that know only a NATS server's address find each other
//! through it and talk: discovery, a remote reference with the typed
//! client, a queue group, and a monitor that sees the other process die.
//!
//! Needs a NATS server (`apt-get install nats-server`, then
//! `nats-server -a 127.0.0.1 -p 4222`). One command starts the worker
//! process itself, plays, then kills it:
//!
//! ```text
//! cargo run --example nats_nodes -- --server nats://127.0.0.1:4222
//! ```
//!
//! or one command per process:
//!
//! ```text
//! cargo run --example nats_nodes -- --server nats://127.0.0.1:4222 --worker
//! cargo run --example nats_nodes -- --server nats://127.0.0.1:4222 --front
//! ```
//!
//! Neither process is told the other's address: the worker listens on the
//! server as `worker`, registers a counter and joins the queue group
//! `adders`; the front node listens as `front`, asks the server who is
//! there (`Node::discover`), connects to what it finds, and uses the
//! counter and the group like local actors.

use std::process::Stdio;
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::Node;
use tokio::io::{AsyncBufReadExt, BufReader};

const SECRET: &str = "nats-nodes example";

/// The worker's counter.
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

    /// Which process answered.
    #[message(remote)]
    fn pid(&self) -> u32 {
        std::process::id()
    }
}

/// Forwards the `Terminated` notice of the actor it watches.
struct Watcher(Option<tokio::sync::oneshot::Sender<StopReason>>);

impl Actor for Watcher {
    type Error = std::convert::Infallible;
}

struct Watch(ActorRef<Counter>);

impl Message for Watch {
    type Reply = ();
}

impl Handler<Watch> for Watcher {
    async fn handle(&mut self, Watch(target): Watch, ctx: &mut Context<Self>) {
        ctx.monitor(&target);
    }
}

impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, t: Terminated, _: &mut Context<Self>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(t.reason);
        }
    }
}

async fn start(server: &str, name: &str) -> Result<Node, Box<dyn std::error::Error>> {
    Ok(Node::builder(ActorSystem::new()).secret(SECRET).listen(&format!("{server}/{name}"))?.start().await?)
}

/// The worker process: a counter under a name and in a queue group.
async fn worker(server: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = start(server, "worker").await?;
    let counter = node.system().spawn(Counter::default());
    node.register("counter", &counter)?;
    node.serve_group("adders", &counter).await?;
    println!("worker listening as {}", node.address());
    // Until killed.
    std::future::pending::<()>().await;
    Ok(())
}

/// The front process: finds the worker through the server and uses it.
async fn front(server: &str, child: Option<tokio::process::Child>) -> Result<(), Box<dyn std::error::Error>> {
    let node = start(server, "front").await?;
    let found = loop {
        let found = node.discover(Duration::from_millis(200)).await?;
        if let Some(peer) = found.into_iter().find(|p| p.name == "worker") {
            break peer;
        }
    };
    println!("discovered node {} at {}", found.name, found.address);
    let peer = node.connect(&found.address).await?;
    let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await?;
    for _ in 0..1_000 {
        counter.tell_add(1).await?;
    }
    println!("1000 tells then an ask: total {}", counter.add(0).await?);

    let adders: ActorRef<Counter> = node.group("adders").await?;
    println!("the queue group answered from process {}", adders.pid().await?);

    let Some(mut child) = child else { return Ok(()) };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watcher = node.system().spawn(Watcher(Some(tx)));
    watcher.ask(Watch(counter.clone())).await?;
    counter.add(0).await?;
    child.kill().await?;
    let reason = tokio::time::timeout(Duration::from_secs(10), rx).await??;
    println!("monitor fired after the worker process was killed: {reason}");
    match counter.add(1).await {
        Err(e) if e.is_node_down() => println!("ask to the lost node failed at once: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    examples::main(None, run)
}

async fn run(args: examples::Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = args.value("--server").unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    if args.has("--worker") {
        return worker(&server).await;
    }
    if args.has("--front") {
        return front(&server, None).await;
    }
    // One command: start the worker as a second process of this program.
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--server", &server, "--worker"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    match tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
        Ok(Ok(Some(line))) => println!("{line}"),
        _ => return Err("the worker process did not start (is a NATS server running?)".into()),
    }
    front(&server, Some(child)).await?;
    println!("done");
    Ok(())
}
