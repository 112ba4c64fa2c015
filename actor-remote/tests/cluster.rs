//! Clusters of 3-5 nodes in one process, on loopback: joining, the
//! cluster-wide registry, process groups, failure detection, graceful
//! leave, restart and rejoin, name conflicts.

mod support;

use std::time::{Duration, Instant};

use actor_core::StopReason;
use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, ClusterError, ClusterEvent, Node};

use support::counter::{Add, Counter, CounterClient};
use support::events::{Events, EventsClient};
use support::fast_cluster as fast;

const SECRET: &str = "cluster cookie";

/// Bounds every test: a hang is a failure, not a stuck CI job.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    support::bounded(Duration::from_secs(60), f).await
}

/// Another actor type, to check typed look-ups.
struct Other;

#[actor]
impl Other {
    #[message(remote)]
    fn ping(&self) {}
}

struct Running {
    node: Node,
    cluster: Cluster,
}

impl Running {
    /// Spawns `counter` on this node and registers it in the cluster as
    /// `name`.
    fn serve(&self, name: &str, counter: Counter) -> ActorRef<Counter> {
        let counter = self.node.system().spawn(counter);
        self.cluster.register(name, &counter).unwrap();
        counter
    }
}

async fn start(name: &str, config: ClusterConfig) -> Running {
    let node = Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await.unwrap();
    let cluster = Cluster::start(&node, config).await.unwrap();
    Running { node, cluster }
}

/// Starts `names.len()` nodes; all but the first join through the first.
async fn cluster_of(names: &[&str], config: ClusterConfig) -> Vec<Running> {
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(start(name, config.clone()).await);
    }
    let seed = nodes[0].node.address().to_string();
    for running in &nodes[1..] {
        running.cluster.join(&[&seed]).await.unwrap();
    }
    let everyone = names.len() - 1;
    wait_until("every node sees every other", || nodes.iter().all(|n| n.cluster.members().len() == everyone)).await;
    nodes
}

/// Polls `check` until it holds (the test's timeout bounds the wait).
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn names_of(running: &Running) -> Vec<String> {
    running.cluster.members().into_iter().map(|m| m.name).collect()
}

async fn subscribe(running: &Running) -> ActorRef<Events> {
    let events = running.node.system().spawn(Events::default());
    running.cluster.subscribe(events.recipient());
    events
}

/// `cluster_of`, and what its first node's subscriber sees.
async fn watched_cluster(names: &[&str], config: ClusterConfig) -> (Vec<Running>, ActorRef<Events>) {
    let nodes = cluster_of(names, config).await;
    let events = subscribe(&nodes[0]).await;
    (nodes, events)
}

async fn wait_for_event(
    events: &ActorRef<Events>,
    what: &str,
    pred: impl Fn(&ClusterEvent) -> bool,
) -> Vec<ClusterEvent> {
    let start = Instant::now();
    loop {
        let seen = events.seen().await.unwrap();
        if seen.iter().any(&pred) {
            return seen;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no {what} event; saw {seen:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_join_through_one_seed_and_names_resolve_from_every_node() {
    bounded(async {
        let nodes = cluster_of(&["n1", "n2", "n3", "n4", "n5"], fast()).await;
        assert_eq!(names_of(&nodes[4]), ["n1", "n2", "n3", "n4"]);
        // Only n1 was dialed by the others: the rest learned of each other
        // through membership.
        for (i, running) in nodes.iter().enumerate() {
            let _counter = running.serve(&format!("counter-{i}"), Counter::default());
        }
        wait_until("every name reached every node", || nodes.iter().all(|n| n.cluster.names().len() == 5)).await;
        for from in &nodes {
            for i in 0..5 {
                let counter = from.cluster.lookup::<Counter>(&format!("counter-{i}")).unwrap();
                assert_eq!(counter.is_local(), from.node.name() == format!("n{}", i + 1));
                counter.add(1).await.unwrap();
            }
        }
        // Each counter was reached once from each node.
        for i in 0..5 {
            let counter = nodes[0].cluster.lookup::<Counter>(&format!("counter-{i}")).unwrap();
            assert_eq!(counter.hits().await.unwrap(), 5);
        }
        let owner = nodes[3].cluster.whereis("counter-0").unwrap();
        assert_eq!(owner.node, "n1");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_ups_check_the_type_and_a_known_name_cannot_be_taken() {
    bounded(async {
        let nodes = cluster_of(&["a", "b", "c"], fast()).await;
        let _counter = nodes[0].serve("svc", Counter::default());
        wait_until("the name reached b", || nodes[1].cluster.whereis("svc").is_some()).await;
        let err = nodes[1].cluster.lookup::<Other>("svc").unwrap_err();
        assert!(matches!(err, ClusterError::WrongType { .. }), "{err}");
        let other = nodes[1].node.system().spawn(Counter::default());
        let err = nodes[1].cluster.register("svc", &other).unwrap_err();
        assert!(matches!(&err, ClusterError::NameTaken { owner, .. } if owner.node == "a"), "{err}");
        assert!(matches!(nodes[2].cluster.lookup::<Counter>("nobody"), Err(ClusterError::NotFound(_))));
        // A remote reference is not ours to register.
        let remote = nodes[1].cluster.lookup::<Counter>("svc").unwrap();
        assert_eq!(nodes[1].cluster.register("again", &remote), Err(ClusterError::NotLocal));
        // Unregistering frees it everywhere; stopping the actor too.
        assert!(nodes[0].cluster.unregister("svc"));
        wait_until("the name is gone everywhere", || nodes.iter().all(|n| n.cluster.whereis("svc").is_none())).await;
        nodes[1].cluster.register("svc", &other).unwrap();
        wait_until("b's svc reached a", || nodes[0].cluster.whereis("svc").is_some_and(|o| o.node == "b")).await;
        other.stop();
        wait_until("b's svc is gone on a after it stopped", || nodes[0].cluster.whereis("svc").is_none()).await;
    })
    .await;
}

/// Waits for `worker` to count `expected` hits, then checks that no more
/// arrive: each message exactly once.
async fn settled_hits(worker: &ActorRef<Counter>, expected: u64) {
    let start = Instant::now();
    while worker.hits().await.unwrap() < expected {
        assert!(start.elapsed() < Duration::from_secs(20), "only {} hits", worker.hits().await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(worker.hits().await.unwrap(), expected, "no message arrives twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_broadcast_reaches_every_member_exactly_once_and_round_robin_spreads() {
    bounded(async {
        let nodes = cluster_of(&["g1", "g2", "g3", "g4"], fast()).await;
        let mut members = Vec::new();
        for running in &nodes {
            for _ in 0..2 {
                let worker = running.node.system().spawn(Counter::default());
                running.cluster.join_group("workers", &worker).unwrap();
                running.cluster.join_group("workers", &worker).unwrap(); // one membership
                members.push(worker);
            }
        }
        wait_until("every node sees 8 workers", || {
            nodes.iter().all(|n| n.cluster.group::<Counter>("workers").len() == 8)
        })
        .await;
        assert!(nodes[0].cluster.group::<Other>("workers").is_empty(), "members of another type are skipped");
        for running in &nodes {
            assert_eq!(running.cluster.group::<Counter>("workers").tell_all(|| Add { n: 1 }).await, 8);
        }
        for worker in &members {
            settled_hits(worker, 4).await;
        }
        let group = nodes[1].cluster.group::<Counter>("workers");
        for _ in 0..16 {
            group.round_robin().unwrap().add(0).await.unwrap();
        }
        for worker in &members {
            settled_hits(worker, 6).await;
        }
        assert!(group.random().is_some());
        assert_eq!(nodes[2].cluster.groups(), ["workers"]);
        // A member that stops leaves the group everywhere.
        members[0].stop();
        wait_until("the stopped member left", || nodes[3].cluster.group::<Counter>("workers").len() == 7).await;
        assert!(nodes[0].cluster.leave_group("workers", &members[1]));
        wait_until("the removed member left", || nodes[3].cluster.group::<Counter>("workers").len() == 6).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_is_reported_down_in_time_and_its_names_and_members_vanish() {
    bounded(async {
        let config = fast();
        let nodes = cluster_of(&["d1", "d2", "d3", "d4"], config.clone()).await;
        let victim = &nodes[3];
        let counter = victim.serve("victim", Counter::default());
        victim.cluster.join_group("workers", &counter).unwrap();
        let survivor_worker = nodes[0].node.system().spawn(Counter::default());
        nodes[0].cluster.join_group("workers", &survivor_worker).unwrap();
        wait_until("everyone sees both workers", || {
            nodes
                .iter()
                .all(|n| n.cluster.group::<Counter>("workers").len() == 2 && n.cluster.whereis("victim").is_some())
        })
        .await;
        let remote = nodes[1].cluster.lookup::<Counter>("victim").unwrap();
        remote.add(1).await.unwrap();
        let mut subscribers = Vec::new();
        for running in &nodes[..3] {
            subscribers.push(subscribe(running).await);
        }

        let crashed_at = Instant::now();
        victim.node.crash();
        for (running, events) in nodes[..3].iter().zip(&subscribers) {
            wait_for_event(events, "NodeDown", |e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "d4")).await;
            let took = crashed_at.elapsed();
            assert!(
                took < config.detection_time() * 3,
                "{} took {took:?} to see the crash (detection time {:?})",
                running.node.name(),
                config.detection_time()
            );
            assert!(running.cluster.whereis("victim").is_none());
            assert_eq!(running.cluster.group::<Counter>("workers").len(), 1);
            assert!(!names_of(running).contains(&"d4".to_owned()));
            let seen = events.seen().await.unwrap();
            assert!(!seen.iter().any(|e| matches!(e, ClusterEvent::NodeLeft(_))), "a crash is not a leave: {seen:?}");
        }
        println!("crash seen by all survivors after {:?}", crashed_at.elapsed());
        // The reference held across the crash reports its node down.
        let reason = tokio::time::timeout(Duration::from_secs(5), remote.wait_for_stop()).await.unwrap();
        assert!(matches!(reason, StopReason::NodeDown), "{reason:?}");
        assert!(remote.add(1).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_is_reported_as_left_not_down() {
    bounded(async {
        let (nodes, events) = watched_cluster(&["l1", "l2", "l3"], fast()).await;
        // A subscriber first hears of the nodes already up.
        wait_for_event(&events, "initial NodeUp", |e| matches!(e, ClusterEvent::NodeUp(m) if m.name == "l3")).await;
        let _counter = nodes[2].serve("leaver", Counter::default());
        wait_until("the name reached l1", || nodes[0].cluster.whereis("leaver").is_some()).await;

        nodes[2].cluster.leave().await;
        let seen =
            wait_for_event(&events, "NodeLeft", |e| matches!(e, ClusterEvent::NodeLeft(m) if m.name == "l3")).await;
        assert!(nodes[0].cluster.whereis("leaver").is_none(), "a leaver's names go at once");
        // Long enough for SWIM's own news of the leave to arrive too.
        tokio::time::sleep(fast().detection_time()).await;
        let seen_later = events.seen().await.unwrap();
        assert!(
            !seen_later.iter().any(|e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "l3")),
            "a leave is not a crash: {seen_later:?}"
        );
        assert_eq!(seen_later.len(), seen.len(), "nothing more about l3: {seen_later:?}");
        wait_until("l2 also dropped l3", || names_of(&nodes[1]) == ["l1"]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_rejoins_and_its_names_resolve_again() {
    bounded(async {
        let (nodes, events) = watched_cluster(&["r1", "r2", "r3"], fast()).await;
        let _counter = nodes[2].serve("svc", Counter::default());
        wait_until("svc reached r1", || nodes[0].cluster.whereis("svc").is_some()).await;
        let old_incarnation = nodes[0].cluster.members().iter().find(|m| m.name == "r3").unwrap().incarnation;

        nodes[2].node.crash();
        wait_for_event(&events, "NodeDown", |e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "r3")).await;
        assert!(nodes[0].cluster.whereis("svc").is_none());

        // The same name, a new process (a new port too), joining through r2.
        let again = start("r3", fast()).await;
        again.cluster.join(&[&nodes[1].node.address().to_string()]).await.unwrap();
        let _counter = again.serve("svc", Counter::starting_at(100));
        wait_for_event(
            &events,
            "NodeUp of the new r3",
            |e| matches!(e, ClusterEvent::NodeUp(m) if m.name == "r3" && m.incarnation != old_incarnation),
        )
        .await;
        wait_until("r1 sees the new svc", || nodes[0].cluster.lookup::<Counter>("svc").is_ok()).await;
        let svc = nodes[0].cluster.lookup::<Counter>("svc").unwrap();
        assert_eq!(svc.add(1).await.unwrap(), 101, "the new process's actor answers");
        wait_until("everyone sees three members again", || {
            names_of(&nodes[0]) == ["r2", "r3"]
                && names_of(&nodes[1]) == ["r1", "r3"]
                && names_of(&again) == ["r1", "r2"]
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_is_suspected_but_not_declared_down_within_the_suspicion_timeout() {
    bounded(async {
        let config = ClusterConfig { suspicion_timeout: Duration::from_millis(1500), ..fast() };
        let (nodes, events) = watched_cluster(&["s1", "s2", "s3"], config.clone()).await;
        // Frozen for well under the suspicion timeout: probes to it fail,
        // it is suspected, then refutes the suspicion once it answers.
        nodes[2].cluster.freeze(Duration::from_millis(600));
        tokio::time::sleep(config.detection_time() * 2).await;
        let seen = events.seen().await.unwrap();
        assert!(!seen.iter().any(|e| matches!(e, ClusterEvent::NodeDown(_))), "a slow node is not dead: {seen:?}");
        assert_eq!(names_of(&nodes[0]), ["s2", "s3"]);

        // Frozen for longer than detection: declared down, then it notices
        // and rejoins under a renewed identity.
        nodes[2].cluster.freeze(config.detection_time() * 2);
        let seen =
            wait_for_event(&events, "NodeDown", |e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "s3")).await;
        let down_at = seen.iter().position(|e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "s3")).unwrap();
        let start = Instant::now();
        loop {
            let seen = events.seen().await.unwrap();
            if seen[down_at..].iter().any(|e| matches!(e, ClusterEvent::NodeUp(m) if m.name == "s3")) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "s3 did not rejoin: {seen:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        wait_until("s3 is a member again", || names_of(&nodes[0]) == ["s2", "s3"]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_a_name_resolve_to_one_winner_everywhere_and_are_reported() {
    bounded(async {
        // Two separate clusters each register "leader"; then they merge.
        let a = start("alpha", fast()).await;
        let b = start("beta", fast()).await;
        let c = start("gamma", fast()).await;
        c.cluster.join(&[&b.node.address().to_string()]).await.unwrap();
        let on_a = a.node.system().spawn(Counter::default());
        let on_b = b.node.system().spawn(Counter::default());
        a.cluster.register("leader", &on_a).unwrap();
        b.cluster.register("leader", &on_b).unwrap();
        wait_until("gamma sees beta's leader", || c.cluster.whereis("leader").is_some_and(|o| o.node == "beta")).await;
        let events_b = subscribe(&b).await;

        b.cluster.join(&[&a.node.address().to_string()]).await.unwrap();
        let nodes = [&a, &b, &c];
        wait_until("all three see each other", || nodes.iter().all(|n| n.cluster.members().len() == 2)).await;
        wait_until("every node resolves leader to alpha's", || {
            nodes.iter().all(|n| n.cluster.whereis("leader").is_some_and(|o| o.node == "alpha" && o.id == on_a.id()))
        })
        .await;
        // The loser's node always reports it (others do if they saw both
        // claims before the loser withdrew).
        {
            let events = &events_b;
            let seen = wait_for_event(events, "NameConflict", |e| matches!(e, ClusterEvent::NameConflict { .. })).await;
            let conflict = seen.iter().find(|e| matches!(e, ClusterEvent::NameConflict { .. })).unwrap();
            let ClusterEvent::NameConflict { name, winner, loser } = conflict else { unreachable!() };
            assert_eq!(name, "leader");
            assert_eq!((winner.node.as_str(), winner.id), ("alpha", on_a.id()));
            assert_eq!((loser.node.as_str(), loser.id), ("beta", on_b.id()));
        }
        // The loser withdrew its claim: beta's name table no longer lists it,
        // and the losing actor still runs.
        wait_until("beta withdrew", || b.cluster.names().get("leader").is_some_and(|o| o.node == "alpha")).await;
        assert!(on_b.is_alive());
        let leader = c.cluster.lookup::<Counter>("leader").unwrap();
        leader.add(1).await.unwrap();
        assert_eq!(on_a.hits().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_an_unreachable_seed_fails_and_a_lone_seed_starts_a_cluster() {
    bounded(async {
        let lone = start("lone", fast()).await;
        assert_eq!(lone.cluster.join(&[&lone.node.address().to_string()]).await, Ok(0));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = lone.cluster.join(&[&format!("tcp://127.0.0.1:{port}")]).await.unwrap_err();
        assert!(matches!(err, ClusterError::Join(_)), "{err}");
        assert_eq!(Cluster::start(&lone.node, fast()).await.unwrap_err(), ClusterError::AlreadyStarted);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_declared_down_by_its_only_peer_rejoins_after_its_down_is_forgotten() {
    bounded(async {
        let config = fast();
        let nodes = cluster_of(&["h1", "h2"], config.clone()).await;
        let events = subscribe(&nodes[1]).await;
        // The seed is deaf for longer than detection and than the memory
        // of the down: its only peer declares it down and forgets it, and
        // the seed, once it thaws, has suspected that peer in turn. With no
        // third member to vouch for either, the two must still find each
        // other again.
        nodes[0].cluster.freeze(config.detection_time() * 2 + config.remember_down);
        wait_for_event(&events, "NodeDown", |e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "h1")).await;
        wait_until("h1 and h2 see each other again", || names_of(&nodes[0]) == ["h2"] && names_of(&nodes[1]) == ["h1"])
            .await;
        // Events reach subscribers a moment after the member set changes.
        let start = Instant::now();
        loop {
            let seen = events.seen().await.unwrap();
            let down_at = seen.iter().position(|e| matches!(e, ClusterEvent::NodeDown(m) if m.name == "h1")).unwrap();
            if seen[down_at..].iter().any(|e| matches!(e, ClusterEvent::NodeUp(m) if m.name == "h1")) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "h1 came back without a NodeUp: {seen:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Counts the blobs it is told and their bytes. A blob is a `Vec<u8>`,
/// which `#[message(remote)]` encodes as one copy (serde alone would take
/// it byte by byte, slow enough in a debug build to keep the link idle).
#[derive(Default)]
struct Sink {
    blobs: u64,
    bytes: u64,
}

#[actor]
impl Sink {
    #[message(remote)]
    fn take(&mut self, blob: Vec<u8>) {
        self.blobs += 1;
        self.bytes += blob.len() as u64;
    }

    #[message(remote)]
    fn received(&self) -> (u64, u64) {
        (self.blobs, self.bytes)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_flooded_with_tells_keeps_its_nodes_up_and_loses_none() {
    bounded(async {
        // Failure detection at its fastest test setting (probe timeout 100
        // ms, suspicion 600 ms), while four senders on `q1` keep the link to
        // `q2` full of 64 KiB tells for three detection times: the link's
        // queue and resend buffer hold data the whole time, and membership
        // probes must not wait behind it.
        let config = fast();
        let nodes = cluster_of(&["q1", "q2", "q3"], config.clone()).await;
        let mut watchers = Vec::new();
        for running in &nodes {
            watchers.push(subscribe(running).await);
        }
        let sink = nodes[1].node.system().spawn(Sink::default());
        nodes[1].cluster.register("sink", &sink).unwrap();
        wait_until("q1 sees the sink", || nodes[0].cluster.whereis("sink").is_some()).await;
        let remote = nodes[0].cluster.lookup::<Sink>("sink").unwrap();

        const BLOB: usize = 64 * 1024;
        let flood_for = config.detection_time() * 3;
        let started = Instant::now();
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let remote = remote.clone();
                tokio::spawn(async move {
                    let mut sent = 0u64;
                    while started.elapsed() < flood_for {
                        remote.tell(Take { blob: vec![b'x'; BLOB] }).await.expect("the sink's node is up");
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        let mut sent = 0;
        for sender in senders {
            sent += sender.await.unwrap();
        }
        // Enough data to have kept the link busy: at least the resend
        // buffer several times over.
        assert!(sent as usize * BLOB > 4 * 4 * 1024 * 1024, "only {sent} blobs sent in {flood_for:?}");
        let (blobs, bytes) = remote.received().await.unwrap();
        assert_eq!((blobs, bytes), (sent, sent * BLOB as u64), "tells lost or doubled");
        println!(
            "{sent} tells of 64 KiB ({} MiB) in {:?}, no node down",
            (sent as usize * BLOB) >> 20,
            started.elapsed()
        );

        // A probe round more, so that a suspicion raised during the flood
        // had the time to become a `NodeDown`.
        tokio::time::sleep(config.detection_time()).await;
        for (running, watcher) in nodes.iter().zip(&watchers) {
            let seen = watcher.seen().await.unwrap();
            assert!(
                !seen.iter().any(|e| matches!(e, ClusterEvent::NodeDown(_))),
                "{} saw a node down during the flood: {seen:?}",
                running.node.name()
            );
            assert_eq!(running.cluster.members().len(), 2, "{} lost a member", running.node.name());
        }
    })
    .await;
}
