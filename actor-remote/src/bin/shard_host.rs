//! A test helper, not a tool: one host process of the multi-process
//! sharding test (`tests/sharding_processes.rs`), which starts several of
//! these, kills one with SIGKILL and starts another to join.
//!
//! ```text
//! shard-host --name h1 --secret S --seed tcp://127.0.0.1:PORT --dir DIR \
//!     [--shards 256] [--probe-ms 200] [--probe-timeout-ms 100] [--suspicion-ms 600] \
//!     [--exit-with-stdin]
//! ```
//!
//! The process starts a node on `tcp://127.0.0.1:0`, a cluster with the
//! given failure detection settings, and a region of the sharded type
//! `Ledger` (region name `ledger`); joins the cluster through `--seed`;
//! registers a `control` actor; prints `host NAME up`; then serves until
//! killed (or, with `--exit-with-stdin`, until its standard input closes:
//! the test's end, however it ends).
//!
//! A `Ledger` entity keeps, per sender, the last sequence number it
//! applied, how many it applied, how many it refused as already applied
//! (`dups`) and how many arrived after a gap (`gaps`):
//! `Ledger::Record { sender: u32, seq: u64 }` and `Ledger::Read -> (String,
//! Vec<(u32, u64, u64, u64, u64)>)` (the host, then `(sender, applied,
//! last, dups, gaps)` per sender). Its state is durable across a crash of
//! the process: every record is appended to `DIR/shard-NNN.log` (one
//! `write` per record, before the handler returns, so once a record is
//! acknowledged the kernel has it even if the process is killed), and the
//! first entity of a shard to start on a node replays that shard's file.
//! Only the shard's owner appends to it: the hand-off stops every entity of
//! a shard (closing the file) before the next owner starts one. The file
//! survives a process crash, not a power loss (nothing is synced).
//!
//! `Control::Stats -> (u64, u64, u64, u64, u64, bool, u64)` on the
//! `control` actor: entities running, shards owned, records handled, dead
//! letters, hosts seen, whether the region is settled (nothing moving or
//! held), and messages in flight from it (sent, not yet acknowledged).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, Node, ShardRegion, Sharding, ShardingOptions};

/// What one sender sent one entity, as the entity saw it.
#[derive(Clone, Copy, Default)]
struct Stream {
    applied: u64,
    last: u64,
    dups: u64,
    gaps: u64,
}

impl Stream {
    /// Applies `seq` unless it is not above the last one applied.
    fn record(&mut self, seq: u64) {
        if seq <= self.last {
            self.dups += 1;
            return;
        }
        if seq > self.last + 1 {
            self.gaps += 1;
        }
        self.last = seq;
        self.applied += 1;
    }
}

/// One shard's file, open on this node while an entity of the shard runs
/// here, with the state of the shard's entities replayed from it.
struct ShardLog {
    file: File,
    entities: HashMap<String, BTreeMap<u32, Stream>>,
    users: usize,
}

/// The shard files this process holds open.
struct Logs {
    dir: PathBuf,
    open: Mutex<HashMap<u32, Arc<Mutex<ShardLog>>>>,
}

static LOGS: OnceLock<Logs> = OnceLock::new();
static HANDLED: AtomicU64 = AtomicU64::new(0);
static DEAD: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn logs() -> &'static Logs {
    LOGS.get().expect("set before the region starts")
}

impl Logs {
    /// The log of `shard`, replayed from its file if no entity of the
    /// shard runs here yet.
    fn acquire(&self, shard: u32) -> std::io::Result<Arc<Mutex<ShardLog>>> {
        let mut open = self.open.lock().unwrap();
        if let Some(log) = open.get(&shard) {
            log.lock().unwrap().users += 1;
            return Ok(log.clone());
        }
        let path = self.dir.join(format!("shard-{shard:03}.log"));
        let file = OpenOptions::new().create(true).append(true).read(true).open(&path)?;
        let mut entities: HashMap<String, BTreeMap<u32, Stream>> = HashMap::new();
        for line in BufReader::new(File::open(&path)?).lines() {
            let line = line?;
            let mut fields = line.split(' ');
            let (Some(entity), Some(sender), Some(seq)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let (Ok(sender), Ok(seq)) = (sender.parse(), seq.parse()) else { continue };
            entities.entry(entity.to_owned()).or_default().entry(sender).or_default().record(seq);
        }
        let log = Arc::new(Mutex::new(ShardLog { file, entities, users: 1 }));
        open.insert(shard, log.clone());
        Ok(log)
    }

    /// Closes the file of `shard` once its last entity here stopped.
    fn release(&self, shard: u32) {
        let mut open = self.open.lock().unwrap();
        let last = open.get(&shard).is_some_and(|log| {
            let mut log = log.lock().unwrap();
            log.users -= 1;
            log.users == 0
        });
        if last {
            open.remove(&shard);
        }
    }
}

/// What `Ledger::Read` answers per sender: `(sender, applied, last, dups,
/// gaps)`.
type Streams = Vec<(u32, u64, u64, u64, u64)>;

/// The sharded entity: per-sender streams, durable in its shard's file.
struct Ledger {
    id: String,
    shard: u32,
    node: String,
    log: Option<Arc<Mutex<ShardLog>>>,
}

impl Actor for Ledger {
    type Error = std::io::Error;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), std::io::Error> {
        self.log = Some(logs().acquire(self.shard)?);
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        if self.log.take().is_some() {
            logs().release(self.shard);
        }
    }
}

#[actor(no_actor_impl)]
impl Ledger {
    #[message(remote)]
    fn record(&mut self, sender: u32, seq: u64) {
        let log = self.log.as_ref().expect("started");
        let mut log = log.lock().unwrap();
        log.entities.entry(self.id.clone()).or_default().entry(sender).or_default().record(seq);
        // One write, before the reply: on record once acknowledged.
        let line = format!("{} {sender} {seq}\n", self.id);
        log.file.write_all(line.as_bytes()).expect("the shard log is writable");
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }

    #[message(remote)]
    fn read(&self) -> (String, Streams) {
        let log = self.log.as_ref().expect("started");
        let log = log.lock().unwrap();
        let streams = log
            .entities
            .get(&self.id)
            .map(|s| s.iter().map(|(k, v)| (*k, v.applied, v.last, v.dups, v.gaps)).collect())
            .unwrap_or_default();
        (self.node.clone(), streams)
    }
}

/// What the test asks each host.
struct Control {
    ledgers: ShardRegion<Ledger>,
}

#[actor]
impl Control {
    /// Up to 20 dead letters seen on this node, described.
    #[message(remote)]
    fn dead_letters(&self) -> Vec<String> {
        DEAD.lock().unwrap().clone()
    }

    #[message(remote)]
    fn stats(&self) -> (u64, u64, u64, u64, u64, bool, u64) {
        let s = self.ledgers.stats();
        (
            s.entities_active as u64,
            s.shards_owned as u64,
            HANDLED.load(Ordering::Relaxed),
            s.dead_letters,
            s.hosts.len() as u64,
            s.is_settled(),
            s.in_flight as u64,
        )
    }
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

fn millis(args: &[String], flag: &str, default: u64) -> Result<Duration, std::num::ParseIntError> {
    Ok(Duration::from_millis(arg(args, flag).map_or(Ok(default), |v| v.parse())?))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(name), Some(secret), Some(seed), Some(dir)) =
        (arg(&args, "--name"), arg(&args, "--secret"), arg(&args, "--seed"), arg(&args, "--dir"))
    else {
        println!("shard-host --name NAME --secret SECRET --seed ADDRESS --dir DIR [--shards N] [--probe-ms N]");
        return Ok(());
    };
    if args.iter().any(|a| a == "--exit-with-stdin") {
        // Ends with the process that started it, even one killed before
        // it could kill its children: the pipe closes with it.
        std::thread::spawn(|| {
            let mut buf = [0u8; 64];
            while std::io::Read::read(&mut std::io::stdin(), &mut buf).is_ok_and(|n| n > 0) {}
            std::process::exit(0);
        });
    }
    let shards: u32 = arg(&args, "--shards").map_or(Ok(256), |v| v.parse())?;
    let config = ClusterConfig {
        probe_period: millis(&args, "--probe-ms", 200)?,
        probe_timeout: millis(&args, "--probe-timeout-ms", 100)?,
        suspicion_timeout: millis(&args, "--suspicion-ms", 600)?,
        gossip_interval: Duration::from_millis(50),
        sync_interval: Duration::from_millis(500),
        remember_down: Duration::from_secs(2),
        ..ClusterConfig::default()
    };
    let _ = LOGS.set(Logs { dir: PathBuf::from(dir), open: Mutex::new(HashMap::new()) });
    let node = Node::builder(ActorSystem::new()).name(&name).secret(secret).start().await?;
    let mut dead = node.system().dead_letters();
    tokio::spawn(async move {
        while let Ok(letter) = dead.recv().await {
            let mut seen = DEAD.lock().unwrap();
            if seen.len() < 20 {
                seen.push(format!("{:?}: {}", letter.reason, letter.detail.as_deref().unwrap_or("")));
            }
        }
    });
    let cluster = Cluster::start(&node, config).await?;
    let options = ShardingOptions::default().shards(shards).name("ledger").passivate_after(None);
    let shard_of = options.clone();
    let me = name.clone();
    let ledgers = Sharding::start_with(&cluster, options, move |id: &str| Ledger {
        id: id.to_owned(),
        shard: shard_of.shard_of(id),
        node: me.clone(),
        log: None,
    })
    .await?;
    let control = node.system().spawn(Control { ledgers });
    node.register("control", &control)?;
    cluster.join(&[seed.as_str()]).await?;
    println!("host {name} up");
    std::future::pending::<()>().await;
    Ok(())
}
