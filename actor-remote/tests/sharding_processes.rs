//! Cluster sharding across real processes: three `shard-host` processes
//! and this test's node as a client that hosts nothing (it is the seed).
//!
//! 1. Every one of `SHARDING_PROCS_ENTITIES` entities (100,000 by default;
//!    at least 10,000) is told one record; the balance of the placement
//!    and the entities per host are checked.
//! 2. Two senders ask records of 1,500 of those entities, one at a time
//!    per entity and sender, each number retried until acknowledged; one
//!    host is killed with SIGKILL mid-traffic. Every asked entity of that
//!    host, and one more entity of each of its shards, must answer again
//!    from the others within the failure-detection time plus one second,
//!    with nothing it had acknowledged lost (its state is durable in
//!    per-shard files, see `src/bin/shard_host.rs`), and in the end every
//!    acknowledged record applied exactly once, in order.
//! 3. A fourth host joins while two more senders tell numbered records to
//!    600 entities without waiting: the share of shards that moved is
//!    checked, and every entity saw every sender's numbers once each, in
//!    order, with no dead letter.
//!
//! At the end the shard files are read back: every record of every entity
//! is there, once. `cargo test -p actor-remote --test sharding_processes
//! -- --nocapture` prints the figures.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, Node, ShardRegion, Sharding, ShardingOptions};
use futures::StreamExt;
use support::sharding::{moved, owned};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

const SECRET: &str = "sharding across processes";
const SHARDS: u32 = 256;
/// Entities the senders of the crash phase ask (one at a time each).
const ASKED: usize = 1_500;
/// Entities the senders of the join phase tell (without waiting).
const TOLD: usize = 600;

// ---- Mirrors of the host binary's actors ----------------------------------

const MIRROR: &str = "the mirrors of the host binary's actors are never spawned";

/// The binary's `Ledger` entity, as a type: the same name and messages,
/// hence the same wire names. Never spawned here (this node is a proxy).
struct Ledger;

/// `(sender, applied, last, dups, gaps)` per sender.
type Streams = Vec<(u32, u64, u64, u64, u64)>;

#[actor]
impl Ledger {
    #[message(remote)]
    fn record(&mut self, sender: u32, seq: u64) {
        unreachable!("{MIRROR} ({sender} {seq})")
    }

    #[message(remote)]
    fn read(&self) -> (String, Streams) {
        unreachable!("{MIRROR}")
    }
}

/// The binary's `control` actor, as a type.
struct Control;

/// Entities running, shards owned, records handled, dead letters, hosts
/// seen, settled (nothing moving or held), messages in flight.
type HostStats = (u64, u64, u64, u64, u64, bool, u64);

#[actor]
impl Control {
    #[message(remote)]
    fn dead_letters(&self) -> Vec<String> {
        unreachable!("{MIRROR}")
    }

    #[message(remote)]
    fn stats(&self) -> HostStats {
        unreachable!("{MIRROR}")
    }
}

// ---- The host processes ---------------------------------------------------

/// The host processes and their shard files; every process still running
/// is killed, and the files removed, when it is dropped (also when the
/// test panics).
struct Hosts {
    dir: PathBuf,
    seed: String,
    config: ClusterConfig,
    children: Vec<(String, Child)>,
}

impl Hosts {
    fn new(seed: String, config: ClusterConfig) -> Hosts {
        let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("sharding-processes-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Hosts { dir, seed, config, children: Vec::new() }
    }

    /// Starts host `name`; returns once it has joined the cluster.
    async fn start(&mut self, name: &str) {
        let ms = |d: Duration| d.as_millis().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_shard-host"))
            .args(["--name", name, "--secret", SECRET, "--seed", &self.seed, "--shards", &SHARDS.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--probe-ms", &ms(self.config.probe_period)])
            .args(["--probe-timeout-ms", &ms(self.config.probe_timeout)])
            .args(["--suspicion-ms", &ms(self.config.suspicion_timeout)])
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the shard-host binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the host starts in time")
            .expect("its output is readable")
            .expect("the host prints that it is up");
        assert_eq!(line, format!("host {name} up"));
        self.children.push((name.to_owned(), child));
    }

    /// Kills host `name` with SIGKILL and reaps it.
    async fn kill(&mut self, name: &str) {
        let i = self.children.iter().position(|(n, _)| n == name).expect("a host of that name");
        let (_, mut child) = self.children.remove(i);
        child.start_kill().unwrap();
        tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `check` holds, looking every 20 ms; past `limit`, fails
/// naming `what`.
async fn until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

/// Every host's stats. The `control` actor is looked up afresh each time
/// (a reference is bound to one connection, and the cluster may replace
/// it); a host that does not answer within 5 s fails the test.
async fn stats(node: &Node, hosts: &[&str]) -> BTreeMap<String, HostStats> {
    let mut out = BTreeMap::new();
    for name in hosts {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let answer = match node.lookup::<Control>(name, "control").await {
                Ok(control) => control.stats().timeout(Duration::from_secs(2)).await.map_err(|e| format!("{e:?}")),
                Err(e) => Err(format!("{e:?}")),
            };
            match answer {
                Ok(s) => {
                    out.insert(name.to_string(), s);
                    break;
                }
                Err(e) => assert!(Instant::now() < deadline, "{name} did not report: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    out
}

/// Whether the client and every host of `names` see those hosts and
/// nothing moving or held; `quiet`: nothing in flight either (no traffic).
async fn settled(proxy: &ShardRegion<Ledger>, node: &Node, names: &[&str], quiet: bool) -> bool {
    let own = proxy.stats();
    if own.hosts.len() != names.len() || !own.is_settled() || (quiet && own.in_flight != 0) {
        return false;
    }
    stats(node, names).await.values().all(|s| s.4 == names.len() as u64 && s.5 && (!quiet || s.6 == 0))
}

/// Waits until [`settled`]; past `limit`, fails with what every region
/// reports.
async fn settle(
    proxy: &ShardRegion<Ledger>,
    node: &Node,
    names: &[&str],
    quiet: bool,
    what: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    while !settled(proxy, node, names, quiet).await {
        if start.elapsed() > limit {
            panic!(
                "{what}: not settled after {limit:?}; the client: {:?}; the hosts (entities, shards, handled, dead \
                 letters, hosts, settled): {:?}",
                proxy.stats(),
                stats(node, names).await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

/// Dead letters so far on the client and the hosts of `names`; a few of
/// the hosts' are printed, to tell what they were.
async fn dead_letters(node: &Node, names: &[&str], proxy: &ShardRegion<Ledger>) -> u64 {
    let mut total = proxy.stats().dead_letters;
    for (name, stats) in stats(node, names).await {
        total += stats.3;
        let control = node.lookup::<Control>(&name, "control").await.unwrap();
        for letter in control.dead_letters().timeout(Duration::from_secs(2)).await.unwrap().iter().take(3) {
            println!("a dead letter on {name}: {letter}");
        }
    }
    total
}

/// The largest number of shards on one host over the mean.
fn balance(placement: &[Option<String>]) -> (BTreeMap<String, usize>, f64) {
    let owned: BTreeMap<String, usize> = owned(placement).into_iter().collect();
    let mean = placement.len() as f64 / owned.len() as f64;
    let max = *owned.values().max().unwrap() as f64;
    (owned, max / mean)
}

/// `(entity, sender)` → every number in the shard files, in file order.
fn read_files(dir: &Path) -> HashMap<(String, u32), Vec<u64>> {
    let mut out: HashMap<(String, u32), Vec<u64>> = HashMap::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for line in text.lines() {
            let mut f = line.split(' ');
            let (entity, sender, seq) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            out.entry((entity.to_owned(), sender.parse().unwrap())).or_default().push(seq.parse().unwrap());
        }
    }
    out
}

/// The stream of `sender` in what an entity read back (all zero if it
/// never heard from it).
fn stream_of(streams: &Streams, sender: u32) -> (u32, u64, u64, u64, u64) {
    streams.iter().find(|s| s.0 == sender).copied().unwrap_or((sender, 0, 0, 0, 0))
}

fn entity_count() -> usize {
    std::env::var("SHARDING_PROCS_ENTITIES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_host_processes_balance_survive_a_sigkill_and_a_join_in_order() {
    support::bounded(Duration::from_secs(150), run()).await;
}

async fn run() {
    let began = Instant::now();
    let n = entity_count();
    assert!(n >= 10_000, "SHARDING_PROCS_ENTITIES must be at least 10,000 (a probe entity per shard)");
    let _ = tracing_subscriber::fmt().with_max_level(tracing::Level::WARN).with_test_writer().try_init();
    let config = ClusterConfig {
        probe_period: Duration::from_millis(500),
        probe_timeout: Duration::from_millis(250),
        suspicion_timeout: Duration::from_millis(1000),
        ..support::fast_cluster()
    };
    let detection = config.detection_time();
    let node = Node::builder(ActorSystem::new())
        .name("driver")
        .secret(SECRET)
        .limits(support::fast_limits())
        .start()
        .await
        .unwrap();
    let cluster = Cluster::start(&node, config.clone()).await.unwrap();
    // At most 32 messages a shard in this node's custody: a flood of tells
    // would otherwise queue megabytes on the connections, behind which the
    // membership probes wait long enough for a busy host to be declared
    // down.
    let options = ShardingOptions::default().shards(SHARDS).name("ledger").passivate_after(None).buffer(32);
    let proxy = Sharding::proxy::<Ledger>(&cluster, options).await.unwrap();
    let mut hosts = Hosts::new(node.address().to_string(), config);
    for name in ["h1", "h2", "h3"] {
        hosts.start(name).await;
    }
    let mut ctl = vec!["h1", "h2", "h3"];
    settle(&proxy, &node, &ctl, true, "three hosts", Duration::from_secs(20)).await;

    // ---- 1. Every entity touched once: balance, entities per host. ----
    let ids: Arc<Vec<String>> = Arc::new((0..n).map(|i| format!("e-{i}")).collect());
    let touch_start = Instant::now();
    let mut tasks = Vec::new();
    for part in 0..4 {
        let (proxy, ids) = (proxy.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for id in ids.iter().skip(part).step_by(4) {
                proxy.entity(id).tell(Record { sender: 0, seq: 1 }).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    until("every touch handled", Duration::from_secs(60), || async {
        stats(&node, &ctl).await.values().map(|s| s.2).sum::<u64>() >= n as u64
    })
    .await;
    let touch = touch_start.elapsed();
    settle(&proxy, &node, &ctl, true, "after the touch", Duration::from_secs(20)).await;
    let placement = proxy.placement();
    let (shares, ratio) = balance(&placement);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for id in ids.iter() {
        *expected.entry(placement[proxy.shard_of(id) as usize].clone().unwrap()).or_default() += 1;
    }
    let per_host: BTreeMap<String, u64> = stats(&node, &ctl).await.into_iter().map(|(h, s)| (h, s.0)).collect();
    assert!(ratio <= 1.2, "shards per host {shares:?}: {ratio:.2}x the mean");
    assert_eq!(per_host, expected, "entities per host, against the placement");

    // ---- 2. Traffic, and a SIGKILL mid-way. ----
    let victim = "h2";
    let asked: Arc<Vec<String>> = Arc::new(ids[..ASKED].to_vec());
    let on_victim: Arc<Vec<bool>> =
        Arc::new(asked.iter().map(|id| placement[proxy.shard_of(id) as usize].as_deref() == Some(victim)).collect());
    let acked: Arc<[Vec<AtomicU64>; 2]> =
        Arc::new([(0..ASKED).map(|_| AtomicU64::new(0)).collect(), (0..ASKED).map(|_| AtomicU64::new(0)).collect()]);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    // The longest any one ask took to be answered or to fail, in
    // microseconds: none may wait for its timeout (10 s).
    let longest = Arc::new(AtomicU64::new(0));
    const LANES: usize = 24;
    let mut lanes = Vec::new();
    for sender in 0..2usize {
        for lane in 0..LANES {
            let (proxy, asked, acked, stop, failures, longest) =
                (proxy.clone(), asked.clone(), acked.clone(), stop.clone(), failures.clone(), longest.clone());
            lanes.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    for k in (lane..ASKED).step_by(LANES) {
                        let seq = acked[sender][k].load(Ordering::Relaxed) + 1;
                        let first_try = Instant::now();
                        let mut sent = Instant::now();
                        // Until acknowledged: a retry of a number that was
                        // applied is refused by the entity as a duplicate.
                        loop {
                            let entity = proxy.entity(&asked[k]);
                            let answer = entity.record(sender as u32 + 1, seq).timeout(Duration::from_secs(10)).await;
                            longest.fetch_max(sent.elapsed().as_micros() as u64, Ordering::Relaxed);
                            match answer {
                                Ok(()) => break,
                                Err(_) => {
                                    failures.fetch_add(1, Ordering::Relaxed);
                                    assert!(
                                        first_try.elapsed() < Duration::from_secs(30),
                                        "{} never acknowledged {seq}",
                                        asked[k]
                                    );
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                    sent = Instant::now();
                                }
                            }
                        }
                        acked[sender][k].store(seq, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kill: u64 = acked.iter().flatten().map(|a| a.load(Ordering::Relaxed)).sum();
    hosts.kill(victim).await;
    let kill_at = Instant::now();
    // When this node's membership sees it down.
    let detected = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            while cluster.members().iter().any(|m| m.name == victim) {
                assert!(kill_at.elapsed() < Duration::from_secs(20), "{victim} never seen down");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            kill_at.elapsed()
        })
    };
    // What was acknowledged when the host died: none of it may be lost.
    let at_kill: Vec<[u64; 2]> = (0..ASKED).map(|k| [0, 1].map(|s| acked[s][k].load(Ordering::Relaxed))).collect();
    // Probes, each asking until answered: every asked entity of the victim,
    // and one entity touched in step 1 only for each of its shards.
    let victim_shards: Vec<u32> = (0..SHARDS).filter(|s| placement[*s as usize].as_deref() == Some(victim)).collect();
    let mut probed: Vec<(String, [u64; 2])> =
        (0..ASKED).filter(|k| on_victim[*k]).map(|k| (asked[k].clone(), at_kill[k])).collect();
    let victim_asked = probed.len();
    for shard in &victim_shards {
        let id = ids[ASKED..].iter().find(|id| proxy.shard_of(id) == *shard).expect("an entity per shard");
        probed.push((id.clone(), [0, 0]));
    }
    let mut probes = Vec::new();
    for (id, acknowledged) in probed {
        let proxy = proxy.clone();
        probes.push(tokio::spawn(async move {
            loop {
                match proxy.entity(&id).read().timeout(Duration::from_millis(300)).await {
                    Ok((host, streams)) => {
                        let took = kill_at.elapsed();
                        assert_ne!(host, victim, "{id} answered from the killed host");
                        assert_eq!(stream_of(&streams, 0), (0, 1, 1, 0, 0), "{id}: its record of step 1");
                        for (sender, acknowledged) in acknowledged.iter().enumerate() {
                            let last = stream_of(&streams, sender as u32 + 1).2;
                            assert!(last >= *acknowledged, "{id}: {acknowledged} acknowledged, {last} after the move");
                        }
                        return took;
                    }
                    Err(_) => {
                        assert!(kill_at.elapsed() < Duration::from_secs(20), "{id} never answered again");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    let mut back = Vec::new();
    for probe in probes {
        back.push(probe.await.unwrap());
    }
    let detected = detected.await.unwrap();
    let asked_back = back[..victim_asked].iter().max().copied().unwrap_or_default();
    let shard_back = back[victim_asked..].iter().max().copied().unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for lane in lanes {
        lane.await.unwrap();
    }
    let longest_ask = Duration::from_micros(longest.load(Ordering::Relaxed));
    let total_acked: u64 = acked.iter().flatten().map(|a| a.load(Ordering::Relaxed)).sum();
    ctl.retain(|name| *name != victim);
    settle(&proxy, &node, &ctl, true, "the survivors", Duration::from_secs(20)).await;

    // Every acknowledged record applied once, in order; the state of the
    // killed host's entities intact.
    let reads = futures::stream::iter(0..ASKED)
        .map(|k| {
            let entity = proxy.entity(&asked[k]);
            async move { (k, entity.read().timeout(Duration::from_secs(5)).await) }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    let mut dups_on_victim = 0;
    for (k, read) in reads {
        let (host, streams) = read.unwrap_or_else(|e| panic!("{} did not answer: {e:?}", asked[k]));
        assert_ne!(host, victim);
        assert_eq!(stream_of(&streams, 0), (0, 1, 1, 0, 0), "{}: the record of step 1", asked[k]);
        for sender in 0..2 {
            let a = acked[sender][k].load(Ordering::Relaxed);
            let stream = stream_of(&streams, sender as u32 + 1);
            assert_eq!((stream.1, stream.2, stream.4), (a, a, 0), "{}: sender {}", asked[k], sender + 1);
            if on_victim[k] {
                dups_on_victim += stream.3;
            } else {
                assert_eq!(stream.3, 0, "{}: a record of a live host's entity applied twice", asked[k]);
            }
        }
    }

    // ---- 3. A host joins while two senders tell without waiting. ----
    let dead_letters_before_join = dead_letters(&node, &ctl, &proxy).await;
    let placement_before = proxy.placement();
    let rounds: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..2usize {
        let (proxy, ids, rounds, stop) = (proxy.clone(), ids.clone(), rounds.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                for id in &ids[..TOLD] {
                    proxy.entity(id).tell(Record { sender: sender as u32 + 3, seq: round }).await.unwrap();
                }
                rounds[sender].store(round, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let join_at = Instant::now();
    hosts.start("h4").await;
    ctl.push("h4");
    until("h4 in the placement", Duration::from_secs(20), || async {
        proxy.placement().iter().any(|o| o.as_deref() == Some("h4"))
    })
    .await;
    let h4_seen = join_at.elapsed();
    // Traffic runs: nothing moving or held, messages in flight allowed.
    let join_settled = settle(&proxy, &node, &ctl, false, "the join", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    settle(&proxy, &node, &ctl, true, "after the join", Duration::from_secs(20)).await;
    let placement_after = proxy.placement();
    let shards_moved = moved(&placement_before, &placement_after);
    let to_new = placement_after.iter().filter(|o| o.as_deref() == Some("h4")).count();
    let (shares_after, ratio_after) = balance(&placement_after);
    let told: Vec<u64> = rounds.iter().map(|r| r.load(Ordering::Relaxed)).collect();
    let reads = futures::stream::iter(ids[..TOLD].iter().cloned())
        .map(|id| {
            let entity = proxy.entity(&id);
            async move { (id, entity.read().timeout(Duration::from_secs(5)).await) }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    for (id, read) in reads {
        let (_, streams) = read.unwrap_or_else(|e| panic!("{id} did not answer: {e:?}"));
        for (sender, rounds) in told.iter().enumerate() {
            let sender = sender as u32 + 3;
            let stream = stream_of(&streams, sender);
            assert_eq!(
                stream,
                (sender, *rounds, *rounds, 0, 0),
                "{id}: sender {sender}'s records, in order, once each"
            );
        }
    }
    let ideal = SHARDS as f64 / 3.0;
    assert!(ratio_after <= 1.2, "after the join: {shares_after:?}: {ratio_after:.2}x the mean");
    assert!(to_new as f64 >= ideal / 2.0, "the new host took {to_new} shards");
    assert!((shards_moved as f64) <= 2.0 * ideal, "{shards_moved} shards moved on the join");

    // ---- The shard files: every record, once each. ----
    let files = read_files(&hosts.dir);
    for id in ids.iter() {
        assert_eq!(files.get(&(id.clone(), 0)).map(Vec::as_slice), Some(&[1][..]), "{id}: its step-1 record");
    }
    for (k, id) in asked.iter().enumerate() {
        for sender in 0..2 {
            let seqs = &files[&(id.clone(), sender as u32 + 1)];
            let mut applied = Vec::new();
            for seq in seqs {
                if applied.last().is_none_or(|last| seq > last) {
                    applied.push(*seq);
                }
            }
            let want: Vec<u64> = (1..=acked[sender][k].load(Ordering::Relaxed)).collect();
            assert_eq!(applied, want, "{id}: sender {}'s applied records in the files", sender + 1);
        }
    }
    for id in &ids[..TOLD] {
        for (sender, rounds) in told.iter().enumerate() {
            let want: Vec<u64> = (1..=*rounds).collect();
            let seqs = files.get(&(id.clone(), sender as u32 + 3)).cloned().unwrap_or_default();
            assert_eq!(seqs, want, "{id}: sender {}'s records in the files", sender + 3);
        }
    }
    let dead_letters = dead_letters(&node, &ctl, &proxy).await;
    assert_eq!(dead_letters, dead_letters_before_join, "dead letters during the join");
    let took = began.elapsed();

    println!("---- sharding across processes: 3 hosts + a client, {SHARDS} shards, {n} entities ----");
    println!("shards per host: {shares:?}: max {ratio:.2}x the mean");
    println!("entities per host: {per_host:?}");
    println!("touched {n} entities (one tell each) in {touch:.2?}: {:.0} entities/s", n as f64 / touch.as_secs_f64());
    println!(
        "SIGKILL of {victim} ({} shards, {victim_asked} of {ASKED} asked entities): every entity asked answered again from \
         the others {asked_back:.2?} after the kill, an entity of each shard {shard_back:.2?} after; seen down here \
         {detected:.2?} after (failure detection configured: {detection:.2?})",
        victim_shards.len()
    );
    println!(
        "records acknowledged: {before_kill} before the kill, {total_acked} in all; {} asks retried; {dups_on_victim} \
         retried records already applied by the killed host and refused once; the longest ask took \
         {longest_ask:.2?} to be answered or to fail",
        failures.load(Ordering::Relaxed)
    );
    println!(
        "h4 joined: {shards_moved} of {SHARDS} shards moved ({:.1} %, ideal {:.1} %), {to_new} to h4; shards per \
         host {shares_after:?} ({ratio_after:.2}x the mean); h4 in the client's view {h4_seen:.2?} after its process \
         started, every region settled {join_settled:.2?} later, traffic running",
        100.0 * shards_moved as f64 / SHARDS as f64,
        100.0 / 3.0
    );
    println!(
        "per-sender order across the hand-offs: {TOLD} entities x 2 senders x {told:?} rounds told, every one once in \
         order; no dead letter during the join ({dead_letters} in all, from the kill)"
    );
    println!("test took {took:.1?}");

    // Within the failure detection (as it took in this run, not less than
    // configured) plus one second.
    let bound = detected.max(detection) + Duration::from_secs(1);
    assert!(asked_back.max(shard_back) <= bound, "back after {asked_back:?} and {shard_back:?}, over {bound:?}");
    // An ask passed on to the killed host by a survivor that had not yet
    // seen it down used to wait for its timeout.
    assert!(longest_ask <= bound + Duration::from_secs(1), "an ask took {longest_ask:?}");
}
