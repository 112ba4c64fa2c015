//! The seed text's pipe between a parent and a child process, with actors:
//! the parent spawns the child, and they exchange messages over a Unix
//! domain socket (the transport for processes on one machine).
//!
//! ```text
//! cargo run --example pipe_parent_child            # 5 lines
//! cargo run --example pipe_parent_child -- --lines 100
//! ```
//!
//! The parent listens on a socket in a fresh temporary directory and starts
//! this same program as its child with `--child <socket>`. The child's node
//! connects back and offers a `Shouter` actor; the parent looks it up and
//! sends it lines. Each line goes down as a tell carrying a reference to the
//! parent's `Collector`, and comes back up through that reference, as the
//! second half of the pipe. Last, the parent stops the child's actor
//! remotely, and the child process exits when it sees it stop.

use std::path::PathBuf;
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::Node;
use tokio::sync::oneshot;

const SECRET: &str = "pipe example";

/// The child's actor: shouts lines back up the pipe.
struct Shouter {
    shouted: u64,
}

#[actor]
impl Shouter {
    #[message(remote)]
    async fn shout(&mut self, line: String, reply_to: ActorRef<Collector>) {
        self.shouted += 1;
        let _ = reply_to.tell_collect(self.shouted, line.to_uppercase()).await;
    }
}

/// The parent's actor: gathers what comes back.
struct Collector {
    lines: Vec<String>,
    expected: usize,
    done: Option<oneshot::Sender<Vec<String>>>,
}

#[actor]
impl Collector {
    #[message(remote)]
    fn collect(&mut self, seq: u64, line: String) {
        self.lines.push(format!("{seq}: {line}"));
        if self.lines.len() == self.expected
            && let Some(done) = self.done.take()
        {
            let _ = done.send(self.lines.clone());
        }
    }
}

/// The child process: connect to the parent, offer the shouter, exit when
/// the parent stops it.
async fn child(socket: &str) -> Result<(), Box<dyn std::error::Error>> {
    let here = PathBuf::from(socket.trim_start_matches("unix:")).with_file_name("child.sock");
    let node = Node::builder(ActorSystem::new())
        .name("child")
        .secret(SECRET)
        .listen(&format!("unix:{}", here.display()))?
        .start()
        .await?;
    let shouter = node.system().spawn(Shouter { shouted: 0 });
    node.register("shouter", &shouter)?;
    node.connect(socket).await?;
    let reason = shouter.wait_for_stop().await;
    eprintln!("child: shouter stopped ({reason}), {} exiting", std::process::id());
    node.shutdown().await;
    Ok(())
}

async fn parent(lines: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("pipe-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = format!("unix:{}", dir.join("parent.sock").display());
    let node = Node::builder(ActorSystem::new()).name("parent").secret(SECRET).listen(&socket)?.start().await?;
    println!("parent {} listening on a Unix socket", std::process::id());

    let mut child =
        tokio::process::Command::new(std::env::current_exe()?).args(["--child", &socket]).kill_on_drop(true).spawn()?;
    println!("parent spawned child {}", child.id().unwrap_or_default());

    // The child connects to us; wait for it, then find its actor.
    let started = tokio::time::Instant::now();
    while !node.peers().iter().any(|p| p == "child") {
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the child did not connect".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shouter: ActorRef<Shouter> = node.lookup("child", "shouter").await?;

    let (done_tx, done_rx) = oneshot::channel();
    let collector = node.system().spawn(Collector { lines: Vec::new(), expected: lines, done: Some(done_tx) });
    for i in 1..=lines {
        let line = format!("hello from the parent, line {i}");
        println!("parent -> child: {line}");
        shouter.tell_shout(line, collector.clone()).await?;
    }
    let back = tokio::time::timeout(Duration::from_secs(10), done_rx).await??;
    for line in &back {
        println!("child -> parent: {line}");
    }

    shouter.stop();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await??;
    println!("child exited ({status}); {} lines went down the pipe and {} came back", lines, back.len());
    node.shutdown().await;
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

const USAGE: &str = "\
pipe_parent_child [--lines N]   (the program starts its own child process)";

fn main() -> std::process::ExitCode {
    examples::main(Some(USAGE), run)
}

async fn run(args: examples::Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(socket) = args.value("--child") {
        return child(&socket).await;
    }
    let lines = args.value("--lines").map_or(Ok(5), |n| n.parse())?;
    parent(lines).await
}
