//! A small cluster: work spreads over worker processes through a process
//! group, and keeps flowing when one worker's process is killed.
//!
//! Run with `cargo run --example cluster_workers` (one command: it starts
//! three worker processes, joins them, hands out jobs round-robin, kills one
//! worker with SIGKILL, and hands out more). A single worker node can also
//! be started by hand: `cluster_workers --worker NAME --seed tcp://HOST:PORT`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::{Cluster, Node};
use examples::cluster::{Watcher, config};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SECRET: &str = "example cookie";

/// Does jobs: here, squares numbers, and says which node it runs on.
struct Worker {
    node: String,
}

#[actor]
impl Worker {
    #[message(remote)]
    fn square(&mut self, n: u64) -> (String, u64) {
        (self.node.clone(), n * n)
    }
}

async fn worker(name: &str, seed: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, config()).await?;
    cluster.join(&[seed]).await?;
    for _ in 0..2 {
        cluster.join_group("workers", &node.system().spawn(Worker { node: name.to_owned() }))?;
    }
    println!("worker {name} joined");
    std::future::pending::<()>().await;
    Ok(())
}

async fn jobs(group: &actor_remote::Group<Worker>, from: u64, count: u64) -> BTreeMap<String, u64> {
    let mut per_node = BTreeMap::new();
    // Nodes whose workers failed a job: until membership drops them from
    // the group, their other workers would fail too, so retries skip them.
    let mut failed_nodes: Vec<String> = Vec::new();
    for n in from..from + count {
        // A job whose worker was lost with its node is retried on another
        // node.
        loop {
            let Some(worker) = pick(group, &failed_nodes) else { panic!("no workers left") };
            match worker.square(n).timeout(Duration::from_secs(2)).await {
                Ok((node, square)) => {
                    assert_eq!(square, n * n);
                    *per_node.entry(node).or_insert(0) += 1;
                    break;
                }
                Err(e) => {
                    let node = worker.node().unwrap_or("this node").to_owned();
                    println!("job {n} failed on {node} ({e}), retrying on another node");
                    failed_nodes.push(node);
                }
            }
        }
    }
    per_node
}

/// The next worker round-robin, skipping those on nodes that failed.
fn pick(group: &actor_remote::Group<Worker>, failed_nodes: &[String]) -> Option<ActorRef<Worker>> {
    for _ in 0..group.len() {
        let worker = group.round_robin()?;
        if !failed_nodes.iter().any(|n| worker.node() == Some(n.as_str())) {
            return Some(worker);
        }
    }
    None
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        let seed = args.iter().position(|a| a == "--seed").map(|j| args[j + 1].clone()).ok_or("--seed is needed")?;
        return worker(&args[i + 1], &seed).await;
    }

    let node = Node::builder(ActorSystem::new()).name("coordinator").secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, config()).await?;
    cluster.subscribe(node.system().spawn(Watcher).recipient());
    let seed = node.address().to_string();
    let me = std::env::current_exe()?;
    let mut children = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let child = Command::new(&me)
            .args(["--worker", name, "--seed", &seed])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        children.push(child);
    }
    for child in &mut children {
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??.unwrap_or_default();
        println!("{line}");
    }
    let group = cluster.group::<Worker>("workers");
    let start = Instant::now();
    while group.len() < 6 || cluster.members().len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(20), "the workers did not all join");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("cluster of {} nodes, {} workers in the group", cluster.members().len() + 1, group.len());

    let spread = jobs(&group, 0, 60).await;
    println!("60 jobs done: {spread:?}");
    assert!(spread.len() == 3, "work went to every node");

    children[1].start_kill()?;
    children[1].wait().await?;
    println!("killed w2");
    let spread = jobs(&group, 60, 60).await;
    println!("60 more jobs done: {spread:?}");
    let start = Instant::now();
    while group.len() != 4 || cluster.members().iter().any(|m| m.name == "w2") {
        assert!(start.elapsed() < Duration::from_secs(20), "w2 was not detected as down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("w2 detected down after {:?}; {} workers left", start.elapsed(), group.len());
    let spread = jobs(&group, 120, 40).await;
    println!("40 more jobs done: {spread:?}");
    assert!(!spread.contains_key("w2"));
    node.shutdown().await;
    println!("all 160 jobs done");
    Ok(())
}
