//! Cluster sharding on nodes in one process, on loopback: entities reached
//! by id from every node, balanced placement, hand-off on a join and on a
//! graceful leave with nothing lost, duplicated or reordered, at most one
//! activation of an entity at a time, passivation, backpressure while no
//! node hosts, a crashed host's entities answering again elsewhere; and
//! the rates of tells and asks through a region, and a cold entity's cost.
//!
//! Every node of a test runs in this process, so the entities write what
//! they see into one shared [`Log`], which survives their moves.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::StopReason;
use actor_core::error::SendError;
use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, Node, ShardRegion, Sharding, ShardingOptions};

use support::fast_cluster as fast;

const SECRET: &str = "sharding cookie";

/// Bounds every test: a hang is a failure, not a stuck CI job.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    support::bounded(Duration::from_secs(90), f).await
}

/// What every activation of every entity did, across the nodes.
#[derive(Default)]
struct Log {
    /// (entity, sender) → the sequence numbers handled, in handling order.
    seen: HashMap<(String, String), Vec<u64>>,
    /// Activations running now, by entity.
    running: HashMap<String, u32>,
    /// The most activations of one entity that ever ran at once.
    most_at_once: u32,
    started: u64,
    stopped: u64,
}

impl Log {
    fn handled(&self) -> usize {
        self.seen.values().map(Vec::len).sum()
    }
}

type Shared = Arc<Mutex<Log>>;

/// A test entity: records what it handles, and where it runs.
struct Probe {
    id: String,
    node: String,
    log: Shared,
    total: u64,
}

impl Actor for Probe {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        let mut log = self.log.lock().unwrap();
        log.started += 1;
        let running = log.running.entry(self.id.clone()).or_default();
        *running += 1;
        let now = *running;
        log.most_at_once = log.most_at_once.max(now);
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        let mut log = self.log.lock().unwrap();
        log.stopped += 1;
        if let Some(running) = log.running.get_mut(&self.id) {
            *running -= 1;
        }
    }
}

#[actor(no_actor_impl)]
impl Probe {
    #[message(remote)]
    fn record(&mut self, sender: String, seq: u64) {
        self.log.lock().unwrap().seen.entry((self.id.clone(), sender)).or_default().push(seq);
    }

    #[message(remote)]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[message(remote)]
    fn whereami(&self) -> String {
        self.node.clone()
    }
}

struct Running {
    node: Node,
    cluster: Cluster,
    probes: ShardRegion<Probe>,
}

/// A node named `name` with its cluster (`config`), not joined yet.
async fn member(name: &str, config: ClusterConfig) -> (Node, Cluster) {
    let node = Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await.unwrap();
    let cluster = Cluster::start(&node, config).await.unwrap();
    (node, cluster)
}

async fn start(name: &str, log: &Shared, options: ShardingOptions) -> Running {
    start_in(name, log, fast(), options).await
}

/// `start` with cluster settings `config`.
async fn start_in(name: &str, log: &Shared, config: ClusterConfig, options: ShardingOptions) -> Running {
    let (node, cluster) = member(name, config).await;
    let (log, me) = (log.clone(), name.to_owned());
    let probes = Sharding::start_with(&cluster, options, move |id: &str| Probe {
        id: id.to_owned(),
        node: me.clone(),
        log: log.clone(),
        total: 0,
    })
    .await
    .unwrap();
    Running { node, cluster, probes }
}

/// `cluster_of` with the default options and a fresh log, which it
/// returns too.
async fn hosts(names: &[&str]) -> (Shared, Vec<Running>) {
    let log = Shared::default();
    let nodes = cluster_of(names, &log, ShardingOptions::default()).await;
    (log, nodes)
}

/// Starts the nodes `names` hosting `Probe`, joined through the first, and
/// waits until their regions agree on the placement.
async fn cluster_of(names: &[&str], log: &Shared, options: ShardingOptions) -> Vec<Running> {
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(start(name, log, options.clone()).await);
    }
    let seed = nodes[0].node.address().to_string();
    for running in &nodes[1..] {
        running.cluster.join(&[&seed]).await.unwrap();
    }
    settle(&nodes, names.len()).await;
    nodes
}

/// Polls `check` until it holds.
async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until every region sees `hosts` hosts, the same placement, and
/// nothing moving; returns how long that took.
async fn settle(nodes: &[Running], hosts: usize) -> Duration {
    let start = Instant::now();
    wait_until("the regions agree and nothing moves", Duration::from_secs(30), || {
        let first = nodes[0].probes.placement();
        nodes.iter().all(|n| {
            let stats = n.probes.stats();
            stats.hosts.len() == hosts && stats.is_settled() && stats.in_flight == 0 && n.probes.placement() == first
        })
    })
    .await;
    start.elapsed()
}

fn owned_by(placement: &[Option<String>]) -> HashMap<String, usize> {
    let mut owned = HashMap::new();
    for owner in placement.iter().flatten() {
        *owned.entry(owner.clone()).or_default() += 1;
    }
    owned
}

/// Checks that every sender's messages to every entity were handled once
/// each, in the order sent: `0..sent[sender]` for every entity.
fn assert_exactly_once_in_order(log: &Log, entities: &[String], sent: &HashMap<String, u64>) {
    for entity in entities {
        for (sender, &n) in sent {
            let seen = log.seen.get(&(entity.clone(), sender.clone())).map(Vec::as_slice).unwrap_or(&[]);
            let expected: Vec<u64> = (0..n).collect();
            assert_eq!(seen, expected.as_slice(), "entity {entity}, sender {sender}");
        }
    }
}

/// Sends `record` tells from `region` (as `sender`) to `entities` in turn,
/// numbering each (entity, sender) pair from 0, until `stop` is set;
/// returns how many rounds went out.
fn traffic(
    region: ShardRegion<Probe>,
    sender: String,
    entities: Vec<String>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let refs: Vec<ActorRef<Probe>> = entities.iter().map(|e| region.entity(e)).collect();
        let mut round = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for entity in &refs {
                entity.tell(Record { sender: sender.clone(), seq: round }).await.unwrap();
            }
            round += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        round
    })
}

/// `traffic` from the region of each of some nodes to the same 64
/// entities, until stopped.
struct Traffic {
    entities: Vec<String>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Each sending node's name, and its sender.
    senders: Vec<(String, tokio::task::JoinHandle<u64>)>,
}

impl Traffic {
    /// Starts sending from every region of `nodes` to entities named
    /// `prefix-0` to `prefix-63`.
    fn start(nodes: &[Running], prefix: &str) -> Self {
        let entities: Vec<String> = (0..64).map(|i| format!("{prefix}-{i}")).collect();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders = nodes
            .iter()
            .map(|n| {
                let name = n.node.name().to_owned();
                (name.clone(), traffic(n.probes.clone(), name, entities.clone(), stop.clone()))
            })
            .collect();
        Traffic { entities, stop, senders }
    }

    /// Stops the senders; returns how many rounds each sent, by node.
    async fn stop(&mut self) -> HashMap<String, u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut sent = HashMap::new();
        for (name, sender) in self.senders.drain(..) {
            sent.insert(name, sender.await.unwrap());
        }
        sent
    }

    /// Waits until `log` shows every message of the rounds `sent`.
    async fn until_handled(&self, log: &Shared, sent: &HashMap<String, u64>) {
        let total: u64 = sent.values().sum::<u64>() * self.entities.len() as u64;
        wait_until("every message was handled", Duration::from_secs(20), || {
            log.lock().unwrap().handled() as u64 >= total
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_reach_every_entity_from_anywhere_on_a_balanced_placement() {
    bounded(async {
        let (log, nodes) = hosts(&["a", "b", "c"]).await;
        let placement = nodes[0].probes.placement();
        let owned = owned_by(&placement);
        let mean = 256.0 / 3.0;
        for (node, n) in &owned {
            assert!(*n as f64 <= 1.2 * mean, "{node} owns {n} shards, more than 1.2 x {mean:.1}");
        }
        assert_eq!(owned.values().sum::<usize>(), 256);
        println!("figure: shards per node on 3 nodes: {owned:?}");

        let entities: Vec<String> = (0..300).map(|i| format!("e-{i}")).collect();
        for from in &nodes {
            for entity in &entities {
                from.probes.entity(entity).add(1).await.unwrap();
            }
        }
        for entity in &entities {
            let probe = nodes[1].probes.entity(entity);
            // Each of the three nodes added 1 to the one activation.
            assert_eq!(probe.add(0).await.unwrap(), 3, "{entity}");
            // It runs where the placement says.
            let owner = placement[nodes[1].probes.shard_of(entity) as usize].clone().unwrap();
            assert_eq!(probe.whereami().await.unwrap(), owner);
        }
        let active: usize = nodes.iter().map(|n| n.probes.stats().entities_active).sum();
        assert_eq!(active, 300);
        let log = log.lock().unwrap();
        assert_eq!(log.started, 300, "each entity was started once, on its first message");
        assert_eq!(log.most_at_once, 1);
        // The reference has the same id on every node.
        assert_eq!(nodes[0].probes.entity("e-1").id(), nodes[2].probes.entity("e-1").id());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_moves_about_a_third_of_the_shards_and_loses_or_reorders_nothing() {
    bounded(async {
        let (log, mut nodes) = hosts(&["a", "b"]).await;
        let before = nodes[0].probes.placement();
        let mut traffic = Traffic::start(&nodes, "acct");
        tokio::time::sleep(Duration::from_millis(200)).await;

        let joiner = start("c", &log, ShardingOptions::default()).await;
        joiner.cluster.join(&[&nodes[0].node.address().to_string()]).await.unwrap();
        nodes.push(joiner);
        let joined = Instant::now();
        wait_until("every region sees c", Duration::from_secs(20), || {
            nodes.iter().all(|n| n.probes.stats().hosts.len() == 3)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = traffic.stop().await;
        let settled = settle(&nodes, 3).await + joined.elapsed();
        traffic.until_handled(&log, &sent).await;

        let after = nodes[0].probes.placement();
        let moved = before.iter().zip(&after).filter(|(x, y)| x != y).count();
        let to_c = after.iter().filter(|o| o.as_deref() == Some("c")).count();
        println!("figure: a third node joined: {moved}/256 shards moved ({to_c} to it), settled in {settled:?}");
        assert!((50..=130).contains(&moved), "about a third of 256 shards should move, {moved} did");
        assert!(moved >= to_c);

        let log = log.lock().unwrap();
        assert_exactly_once_in_order(&log, &traffic.entities, &sent);
        assert_eq!(log.most_at_once, 1, "never two activations of an entity at once");
        let handed_off: u64 = nodes.iter().map(|n| n.probes.stats().entities_handed_off).sum();
        assert!(handed_off > 0, "some entities moved while traffic ran");
        let dead: u64 = nodes.iter().map(|n| n.probes.stats().dead_letters).sum();
        assert_eq!(dead, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_hands_every_shard_off_in_order() {
    bounded(async {
        let (log, nodes) = hosts(&["a", "b", "c"]).await;
        let mut traffic = Traffic::start(&nodes, "user");
        tokio::time::sleep(Duration::from_millis(200)).await;

        let leaving = Instant::now();
        nodes[2].probes.leave(Duration::from_secs(10)).await.unwrap();
        let took = leaving.elapsed();
        assert!(!nodes[2].probes.is_hosting());
        assert_eq!(nodes[2].probes.stats().entities_active, 0);
        // The leaver keeps sending, as a proxy.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = traffic.stop().await;
        settle(&nodes, 2).await;
        traffic.until_handled(&log, &sent).await;
        println!("figure: a graceful leave of one of 3 nodes handed its shards off in {took:?}");
        assert!(nodes[0].probes.placement().iter().all(|o| o.as_deref() != Some("c")));
        let log = log.lock().unwrap();
        assert_exactly_once_in_order(&log, &traffic.entities, &sent);
        assert_eq!(log.most_at_once, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_entity_is_passivated_and_started_again_by_its_next_message() {
    bounded(async {
        let log = Shared::default();
        let options = ShardingOptions::default().passivate_after(Some(Duration::from_millis(400)));
        let nodes = cluster_of(&["solo"], &log, options).await;
        let probes = &nodes[0].probes;
        assert_eq!(probes.entity("p").add(5).await.unwrap(), 5);
        assert_eq!(probes.entity("q").add(1).await.unwrap(), 1);
        assert_eq!(probes.stats().entities_active, 2);
        wait_until("both were passivated", Duration::from_secs(5), || {
            let stats = probes.stats();
            stats.entities_passivated == 2 && stats.entities_active == 0 && log.lock().unwrap().stopped == 2
        })
        .await;
        // Its state was in memory only: the next message starts it afresh.
        assert_eq!(probes.entity("p").add(1).await.unwrap(), 1);
        let stats = probes.stats();
        assert_eq!((stats.entities_active, stats.entities_started), (1, 3));
        // An entity in use is not passivated.
        let busy = probes.entity("busy");
        for _ in 0..10 {
            busy.add(1).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(busy.add(0).await.unwrap(), 10);
        // `stop` on the reference passivates at once, after what was sent.
        busy.tell(Add { n: 1 }).await.unwrap();
        busy.stop();
        wait_until("busy stopped", Duration::from_secs(5), || {
            log.lock().unwrap().running.get("busy").copied().unwrap_or(0) == 0
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn placement_names_every_shard_from_the_start() {
    bounded(async {
        let (_node, cluster) = member("early", fast()).await;
        let options = ShardingOptions::default().shards(8);
        // Read before the region's task has run once (one thread): no owner
        // is known yet, but every shard has its entry.
        let probes = Sharding::proxy::<Probe>(&cluster, options).await.unwrap();
        assert_eq!(probes.placement(), vec![None; 8]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_host_messages_wait_bounded_and_reach_the_first_host() {
    bounded(async {
        let log = Shared::default();
        let (node, cluster) = member("proxy", fast()).await;
        let options = ShardingOptions::default().buffer(4);
        let probes = Sharding::proxy::<Probe>(&cluster, options.clone()).await.unwrap();
        assert!(!probes.is_hosting());
        // One shard's window is 4 messages: the fifth waits or is refused.
        let entity = probes.entity("held");
        for seq in 0..4 {
            entity.tell(Record { sender: "proxy".into(), seq }).await.unwrap();
        }
        assert!(matches!(entity.try_tell(Record { sender: "proxy".into(), seq: 4 }), Err(SendError::Full(_))));
        let waiting =
            tokio::time::timeout(Duration::from_millis(100), entity.tell(Record { sender: "proxy".into(), seq: 4 }));
        assert!(waiting.await.is_err(), "tell waits for room while no node hosts");
        assert_eq!(probes.stats().held, 4);

        // A host appears: what was held goes to it, in order, and the
        // waiting sender gets room.
        let host = start("host", &log, options).await;
        host.cluster.join(&[&node.address().to_string()]).await.unwrap();
        entity.tell(Record { sender: "proxy".into(), seq: 4 }).await.unwrap();
        wait_until("the held messages arrived", Duration::from_secs(20), || log.lock().unwrap().handled() == 5).await;
        let log = log.lock().unwrap();
        assert_eq!(log.seen[&("held".to_owned(), "proxy".to_owned())], [0, 1, 2, 3, 4]);
        assert_eq!(probes.stats().entities_started, 0, "a proxy never hosts");
        assert_eq!(host.probes.stats().entities_started, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_hosts_entities_answer_again_on_the_others() {
    bounded(async {
        let (_, nodes) = hosts(&["a", "b", "c"]).await;
        // Entities that live on c.
        let on_c: Vec<String> = (0..1000)
            .map(|i| format!("e-{i}"))
            .filter(|e| nodes[0].probes.placement()[nodes[0].probes.shard_of(e) as usize].as_deref() == Some("c"))
            .take(20)
            .collect();
        for entity in &on_c {
            assert_eq!(nodes[0].probes.entity(entity).whereami().await.unwrap(), "c");
        }
        nodes[2].node.crash();
        let crashed = Instant::now();
        for entity in &on_c {
            let probe = nodes[0].probes.entity(entity);
            loop {
                match probe.whereami().timeout(Duration::from_millis(500)).await {
                    Ok(node) => {
                        assert_ne!(node, "c");
                        break;
                    }
                    Err(_) => {
                        assert!(crashed.elapsed() < Duration::from_secs(15), "{entity} never answered again");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
        let took = crashed.elapsed();
        println!("figure: a crashed host's entities answered again on the others {took:?} after the crash");
        // Failure detection here takes about a second (probe 200 ms,
        // suspicion 600 ms); the hand-off adds little on top.
        assert!(took < Duration::from_secs(4), "{took:?}");
        settle(&nodes[..2], 2).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_tell_and_ask_rates_across_three_nodes_and_the_cost_of_a_cold_entity() {
    bounded(async {
        let (log, nodes) = hosts(&["a", "b", "c"]).await;
        let probes = &nodes[0].probes;

        // The first message to an entity starts it on its owner; the
        // second finds it running.
        let ids: Vec<String> = (0..60).map(|i| format!("cold-{i}")).collect();
        let (mut cold, mut warm) = (Duration::ZERO, Duration::ZERO);
        for id in &ids {
            let entity = probes.entity(id);
            let start = Instant::now();
            entity.add(1).await.unwrap();
            cold += start.elapsed();
            let start = Instant::now();
            entity.add(1).await.unwrap();
            warm += start.elapsed();
        }
        let (cold, warm) = (cold / ids.len() as u32, warm / ids.len() as u32);
        println!("figure: an ask to a cold entity {cold:?} on average, to a running one {warm:?} (2/3 on other nodes)");
        assert!(cold < Duration::from_secs(1), "{cold:?}");

        // Tells from one node to 100 entities spread over the three.
        let refs: Vec<ActorRef<Probe>> = (0..100).map(|i| probes.entity(&format!("t-{i}"))).collect();
        for entity in &refs {
            entity.add(0).await.unwrap();
        }
        let tells = 20_000u64;
        let start = Instant::now();
        for seq in 0..tells / 100 {
            for entity in &refs {
                entity.tell(Record { sender: "a".into(), seq }).await.unwrap();
            }
        }
        wait_until("every tell was handled", Duration::from_secs(60), || log.lock().unwrap().handled() as u64 == tells)
            .await;
        let took = start.elapsed();
        println!("figure: {tells} tells through a region in {took:?}: {:.0}/s", tells as f64 / took.as_secs_f64());

        // Asks, 100 at a time.
        let asks = 5_000usize;
        let start = Instant::now();
        for _ in 0..asks / refs.len() {
            let answers = futures::future::join_all(refs.iter().map(|e| e.add(1))).await;
            assert!(answers.iter().all(Result::is_ok));
        }
        let took = start.elapsed();
        println!("figure: {asks} asks, 100 in flight, in {took:?}: {:.0}/s", asks as f64 / took.as_secs_f64());
    })
    .await;
}

/// A client that sees a join after the hosts did: its route markers go
/// to the old owners, which send them on to the new one, a region that has
/// never heard from the client. The acknowledgements must still reach the
/// client; lost, they held its messages for the moved shards until the
/// hand-off timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sees_a_join_late_is_not_held_until_the_hand_off_timeout() {
    bounded(async {
        // Suspicion slow enough that the client's freeze below is not
        // taken for a crash.
        let config = actor_remote::ClusterConfig { suspicion_timeout: Duration::from_secs(10), ..fast() };
        let options = ShardingOptions::default().handoff_timeout(Duration::from_secs(30));
        let log = Shared::default();
        let host = |name: &'static str| start_in(name, &log, config.clone(), options.clone());
        let a = host("a").await;
        let b = host("b").await;
        let seed = a.node.address().to_string();
        b.cluster.join(&[&seed]).await.unwrap();
        let (_node, cluster) = member("client", config.clone()).await;
        let client = Sharding::proxy::<Probe>(&cluster, options.clone()).await.unwrap();
        cluster.join(&[&seed]).await.unwrap();
        wait_until("the client sees both hosts", Duration::from_secs(10), || client.stats().hosts.len() == 2).await;
        let ids: Vec<String> = (0..400).map(|i| format!("late-{i}")).collect();
        for id in &ids {
            client.entity(id).add(1).await.unwrap();
        }

        // The client hears nothing of the membership while c joins and
        // the hosts hand c its shards.
        cluster.freeze(Duration::from_secs(2));
        let c = host("c").await;
        c.cluster.join(&[&seed]).await.unwrap();
        wait_until("the client sees c", Duration::from_secs(20), || client.stats().hosts.len() == 3).await;
        let seen = Instant::now();
        let on_c: Vec<&String> =
            ids.iter().filter(|id| client.placement()[client.shard_of(id) as usize].as_deref() == Some("c")).collect();
        assert!(!on_c.is_empty());
        for id in &on_c {
            client.entity(id).add(1).timeout(Duration::from_secs(25)).await.unwrap();
        }
        let took = seen.elapsed();
        println!("figure: a client that saw the join late reached the moved entities {took:?} after it saw c");
        assert!(took < Duration::from_secs(5), "held {took:?} (the hand-off timeout is 30 s)");
        wait_until("the client settles", Duration::from_secs(5), || client.stats().is_settled()).await;
    })
    .await;
}
