//! A small replicated key-value store over the cluster: every node runs a
//! `Replica` actor in the process group `kv`. A write is asked of every
//! replica and succeeds once a quorum (2 of 3) has acknowledged it; a read
//! asks every replica and takes the newest version among the first quorum
//! of answers. So the store keeps serving reads and writes when one node's
//! process is killed.
//!
//! Run with `cargo run --example cluster_kv` (one command: it starts three
//! replica processes n1..n3, writes, shows every replica agreeing, kills n2
//! with SIGKILL, and writes and reads again on the survivors). A replica
//! node can also be started by hand:
//! `cluster_kv --node NAME [--seed tcp://HOST:PORT]` (without `--seed` it
//! is the first node and prints its address for the others), and
//! `cluster_kv --seed tcp://HOST:PORT` then writes and reads through them
//! (a quorum of 2 replicas must be up).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::{Cluster, Group, Node};
use examples::cluster::{Watcher, config};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::task::JoinSet;

const SECRET: &str = "example cookie";
/// How many replicas the store is meant to have, and how many must answer.
const REPLICAS: usize = 3;
const QUORUM: usize = REPLICAS / 2 + 1;
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// A value and the version the writer gave it (higher is newer).
type Versioned = (u64, String);

/// One node's copy of the store.
struct Replica {
    node: String,
    data: BTreeMap<String, Versioned>,
}

#[actor]
impl Replica {
    /// Stores `value` unless the replica already has a newer version.
    #[message(remote)]
    fn put(&mut self, key: String, version: u64, value: String) -> String {
        let entry = self.data.entry(key).or_insert((0, String::new()));
        if version > entry.0 {
            *entry = (version, value);
        }
        self.node.clone()
    }

    #[message(remote)]
    fn get(&mut self, key: String) -> (String, Option<Versioned>) {
        (self.node.clone(), self.data.get(&key).cloned())
    }

    /// Everything this replica holds, for the agreement check.
    #[message(remote)]
    fn dump(&mut self) -> (String, BTreeMap<String, Versioned>) {
        (self.node.clone(), self.data.clone())
    }
}

/// A replica node: joins the cluster (through `seed`, unless it is the
/// first node) and puts its `Replica` in the group.
async fn replica_node(name: &str, seed: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, config()).await?;
    if let Some(seed) = seed {
        cluster.join(&[seed]).await?;
    }
    let replica = node.system().spawn(Replica { node: name.to_owned(), data: BTreeMap::new() });
    cluster.join_group("kv", &replica)?;
    println!("replica {name} joined at {}", node.address());
    std::future::pending::<()>().await;
    Ok(())
}

/// The client side of the store: versions come from one writer, this one.
struct Store {
    group: Group<Replica>,
    version: u64,
}

impl Store {
    /// Writes to every replica; `Ok(acks)` if a quorum acknowledged.
    async fn put(&mut self, key: &str, value: &str) -> Result<usize, usize> {
        self.version += 1;
        let mut asks = JoinSet::new();
        for replica in self.group.members() {
            let (key, value, version) = (key.to_owned(), value.to_owned(), self.version);
            asks.spawn(async move { replica.put(key, version, value).timeout(ASK_TIMEOUT).await });
        }
        let acks = asks.join_all().await.into_iter().filter(Result::is_ok).count();
        if acks >= QUORUM { Ok(acks) } else { Err(acks) }
    }

    /// Reads from a quorum of replicas; the newest version wins.
    async fn get(&self, key: &str) -> Result<Option<String>, usize> {
        let mut asks = JoinSet::new();
        for replica in self.group.members() {
            let key = key.to_owned();
            asks.spawn(async move { replica.get(key).timeout(ASK_TIMEOUT).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = asks.join_next().await {
            if let Ok(Ok((_node, value))) = answer {
                answers.push(value);
                if answers.len() == QUORUM {
                    break;
                }
            }
        }
        if answers.len() < QUORUM {
            return Err(answers.len());
        }
        Ok(answers.into_iter().flatten().max().map(|(_, value)| value))
    }

    /// Prints what every live replica holds; returns whether they agree.
    async fn show_replicas(&self) -> bool {
        let mut contents = Vec::new();
        for replica in self.group.members() {
            if let Ok((node, data)) = replica.dump().timeout(ASK_TIMEOUT).await {
                let pairs: Vec<_> = data.iter().map(|(k, (_, v))| format!("{k}={v}")).collect();
                println!("{node} holds {}", pairs.join(" "));
                contents.push(data);
            }
        }
        contents.windows(2).all(|w| w[0] == w[1])
    }
}

async fn put(store: &mut Store, key: &str, value: &str) {
    match store.put(key, value).await {
        Ok(acks) => println!("put {key}={value}: ok, {acks} acks (quorum {QUORUM} of {REPLICAS})"),
        Err(acks) => panic!("put {key}={value} failed: only {acks} acks"),
    }
}

async fn get(store: &Store, key: &str) {
    match store.get(key).await {
        Ok(value) => println!("get {key}: {} (quorum read)", value.as_deref().unwrap_or("<none>")),
        Err(answers) => panic!("get {key} failed: only {answers} answers"),
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const USAGE: &str = "\
usage: cluster_kv                                 (the whole demo, one command)
       cluster_kv --node NAME [--seed tcp://HOST:PORT]   (one replica node)
       cluster_kv --seed tcp://HOST:PORT                 (a client of those replicas)";

fn main() -> std::process::ExitCode {
    examples::main(Some(USAGE), run)
}

async fn run(args: examples::Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(name) = args.value("--node") {
        return replica_node(&name, args.value("--seed").as_deref()).await;
    }

    let node = Node::builder(ActorSystem::new()).name("client").secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, config()).await?;
    cluster.subscribe(node.system().spawn(Watcher).recipient());
    if let Some(seed) = args.value("--seed") {
        // A client of replicas started by hand: write, read, and show them.
        cluster.join(&[&seed]).await?;
        let group = cluster.group::<Replica>("kv");
        wait_until("a quorum of replicas", || group.len() >= QUORUM).await;
        let mut store = Store { group, version: 0 };
        put(&mut store, "hello", "world").await;
        get(&store, "hello").await;
        println!("{}", if store.show_replicas().await { "every replica agrees" } else { "the replicas disagree" });
        node.shutdown().await;
        return Ok(());
    }
    let seed = node.address().to_string();
    let me = std::env::current_exe()?;
    let mut children = Vec::new();
    for name in ["n1", "n2", "n3"] {
        let mut child = Command::new(&me)
            .args(["--node", name, "--seed", &seed])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??.unwrap_or_default();
        assert!(line.starts_with(&format!("replica {name} joined")), "{name} said {line:?}");
        println!("replica {name} joined");
        children.push(child);
    }
    let group = cluster.group::<Replica>("kv");
    wait_until("three replicas", || group.len() == REPLICAS && cluster.members().len() == REPLICAS).await;
    println!("cluster of {} nodes, {} replicas", cluster.members().len() + 1, group.len());

    let mut store = Store { group, version: 0 };
    for (key, value) in [("alpha", "1"), ("beta", "2"), ("gamma", "3")] {
        put(&mut store, key, value).await;
    }
    get(&store, "beta").await;
    assert!(store.show_replicas().await, "the replicas disagree");
    println!("every replica agrees");

    children[1].start_kill()?;
    children[1].wait().await?;
    println!("killed n2 (SIGKILL)");
    // Right away, before the cluster has noticed: n2's ask fails, the
    // others make the quorum.
    put(&mut store, "beta", "20").await;
    get(&store, "beta").await;

    let (group, cluster_ref) = (&store.group, &cluster);
    wait_until("n2 down", || group.len() == 2 && cluster_ref.members().iter().all(|m| m.name != "n2")).await;
    println!("n2 is gone from the group; {} replicas left", store.group.len());
    put(&mut store, "delta", "4").await;
    get(&store, "delta").await;
    get(&store, "alpha").await;
    assert!(store.show_replicas().await, "the survivors disagree");
    println!("the survivors agree");
    node.shutdown().await;
    println!("done");
    Ok(())
}
