//! Ping-pong between two processes over TCP, with a remote reference and
//! the typed client, and what a node's death looks like from the other one.
//!
//! Run it in one command (it starts the pong process itself, plays, then
//! kills it and reports the loss):
//!
//! ```text
//! cargo run --example distributed_ping
//! ```
//!
//! or as two processes, one command each:
//!
//! ```text
//! cargo run --example distributed_ping -- --serve --listen tcp://127.0.0.1:7070
//! cargo run --example distributed_ping -- --connect tcp://127.0.0.1:7070 --rounds 1000
//! ```
//!
//! The pinger asks `ping` through the typed client (`ponger.ping(n)`), and
//! also tells `serve` with a reference to its own `Scorer` actor inside the
//! message: the pong process answers through that reference, across the
//! wire. It monitors the ponger; when the pong process dies, the monitor
//! fires with `NodeDown` and asks fail at once with a typed error.

use std::process::Stdio;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::{Limits, Node};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

const SECRET: &str = "distributed-ping example";

/// The pong side.
#[derive(Default)]
struct Ponger {
    served: u64,
}

#[actor]
impl Ponger {
    /// Answers a ping with the next number.
    #[message(remote)]
    fn ping(&mut self, n: u64) -> u64 {
        self.served += 1;
        n + 1
    }

    /// Hits the ball back to `to`, a reference that came over the wire.
    #[message(remote)]
    async fn serve(&mut self, n: u64, to: ActorRef<Scorer>) {
        self.served += 1;
        let _ = to.tell_point(n + 1).await;
    }
}

/// The ping side's score keeper: counts returns, and says when the match
/// is over or the other node was lost.
struct Scorer {
    points: u64,
    expected: u64,
    done: Option<oneshot::Sender<u64>>,
    lost: Option<oneshot::Sender<StopReason>>,
}

#[actor]
impl Scorer {
    #[message(remote)]
    fn point(&mut self, n: u64) {
        assert_eq!(n, self.points * 2 + 1, "returns arrive in order");
        self.points += 1;
        if self.points == self.expected
            && let Some(done) = self.done.take()
        {
            let _ = done.send(self.points);
        }
    }

    #[message]
    fn watch(&mut self, ponger: ActorRef<Ponger>, ctx: &mut Context<Self>) {
        ctx.monitor(&ponger);
    }
}

impl Handler<Terminated> for Scorer {
    async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
        if let Some(lost) = self.lost.take() {
            let _ = lost.send(notice.reason);
        }
    }
}

fn limits() -> Limits {
    Limits {
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

/// The pong process: serve until killed.
async fn serve(listen: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder(ActorSystem::new()).name("pong").secret(SECRET).listen(listen)?.start().await?;
    let ponger = node.system().spawn(Ponger::default());
    node.register("ponger", &ponger)?;
    println!("pong node listening on {}", node.address());
    std::future::pending::<()>().await;
    Ok(())
}

/// The ping process: play `rounds` each way, then wait for the loss if
/// `expect_loss`.
async fn play(
    address: &str,
    rounds: u64,
    kill: Option<tokio::process::Child>,
) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder(ActorSystem::new()).name("ping").secret(SECRET).limits(limits()).start().await?;
    let peer = node.connect(address).await?;
    let ponger: ActorRef<Ponger> = node.lookup(&peer, "ponger").await?;
    println!("ping node connected to node {peer:?}");

    // 1. Asks through the typed client: each waits for its answer.
    let started = Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        n = ponger.ping(n).await?;
    }
    assert_eq!(n, rounds);
    let asked = started.elapsed();
    println!(
        "{rounds} pings asked and answered in order ({:.1} us per round trip)",
        asked.as_secs_f64() * 1e6 / rounds as f64
    );

    // 2. Tells carrying a reference: the answers come back as tells to it.
    let (done_tx, done_rx) = oneshot::channel();
    let (lost_tx, lost_rx) = oneshot::channel();
    let scorer = node.system().spawn(Scorer { points: 0, expected: rounds, done: Some(done_tx), lost: Some(lost_tx) });
    scorer.watch(ponger.clone()).await?;
    for i in 0..rounds {
        ponger.tell_serve(i * 2, scorer.clone()).await?;
    }
    let points = tokio::time::timeout(Duration::from_secs(30), done_rx).await??;
    println!("{points} serves returned through a reference sent across the wire");

    // 3. The other node dies.
    let Some(mut child) = kill else { return Ok(()) };
    child.kill().await?;
    let killed = Instant::now();
    let reason = tokio::time::timeout(Duration::from_secs(10), lost_rx).await??;
    println!("monitor fired after the pong process was killed: {reason}");
    let err = ponger.ping(0).await.expect_err("the pong node is gone");
    println!("ask to the lost node failed at once: {err} (after {} ms)", killed.elapsed().as_millis());
    assert!(err.is_node_down());
    node.shutdown().await;
    println!("match over");
    Ok(())
}

const USAGE: &str = "\
distributed_ping                       one command: starts the pong process, plays, kills it
distributed_ping --serve [--listen tcp://127.0.0.1:7070]
distributed_ping --connect tcp://127.0.0.1:7070 [--rounds 1000]";

fn main() -> std::process::ExitCode {
    examples::main(Some(USAGE), run)
}

async fn run(args: examples::Args) -> Result<(), Box<dyn std::error::Error>> {
    let rounds: u64 = args.value("--rounds").map_or(Ok(1000), |r| r.parse())?;
    if args.has("--serve") {
        return serve(&args.value("--listen").unwrap_or_else(|| "tcp://127.0.0.1:7070".into())).await;
    }
    if let Some(address) = args.value("--connect") {
        return play(&address, rounds, None).await;
    }

    // One command: the pong process is this program, started again.
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--serve", "--listen", "tcp://127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await??.ok_or("no address")?;
    let address = line.rsplit(' ').next().ok_or("no address")?.to_owned();
    println!("started the pong process ({line})");
    play(&address, rounds, Some(child)).await
}
