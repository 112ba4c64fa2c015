//! What only the NATS transport has: a server that dies under the nodes,
//! discovery, queue groups and their signatures, and its typed errors.
//! Each test starts its own `nats-server` on a free loopback port (see
//! `support/nats.rs`); the behaviour shared with TCP is in
//! `conformance.rs`.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::error::{AskError, SendError};
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_core::{DeadLetter, DeadLetterReason};
use actor_remote::async_nats;
use actor_remote::{Limits, NatsOptions, Node, NodeError};
use support::fast_limits;
use support::nats::NatsServer;

const SECRET: &str = "nats cookie";

fn options() -> NatsOptions {
    // Come back fast after a server restart.
    NatsOptions::new()
        .connect_options(async_nats::ConnectOptions::new().reconnect_delay_callback(|_| Duration::from_millis(50)))
}

async fn node_on(server: &NatsServer, name: &str, secret: &str, limits: Limits) -> Node {
    Node::builder(ActorSystem::new())
        .secret(secret)
        .limits(limits)
        .listen(&format!("{}/{name}", server.url()))
        .unwrap()
        .nats(options())
        .start()
        .await
        .unwrap()
}

/// Nodes named `names` on `server`, with this file's secret and fast
/// limits.
async fn nodes_on<const N: usize>(server: &NatsServer, names: [&str; N]) -> [Node; N] {
    let mut nodes = Vec::with_capacity(N);
    for name in names {
        nodes.push(node_on(server, name, SECRET, fast_limits()).await);
    }
    nodes.try_into().unwrap()
}

/// Nodes `a` and `b` on `server` with `limits`, a tally registered on
/// `a`, and `b`'s reference to it.
async fn tally_pair(server: &NatsServer, limits: Limits) -> (Node, Node, ActorRef<Tally>, ActorRef<Tally>) {
    let a = node_on(server, "a", SECRET, limits.clone()).await;
    let b = node_on(server, "b", SECRET, limits).await;
    let tally = support::spawn_named(&a, "tally", Tally::default());
    let peer = b.connect(&a.address().to_string()).await.unwrap();
    let remote = b.lookup(&peer, "tally").await.unwrap();
    (a, b, tally, remote)
}

/// Runs a test body with a fresh server, bounded in time; returns without
/// running it when the server is not installed (outside CI).
async fn with_server<F, Fut>(test: F)
where
    F: FnOnce(NatsServer) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(server) = support::nats::start() else { return };
    support::bounded(Duration::from_secs(60), test(server)).await;
}

/// Counts what it receives and checks that sequence numbers only grow
/// (no duplicate, no reordering; gaps are what the test accounts for).
#[derive(Default)]
struct Tally {
    count: u64,
    last: Option<u64>,
    increasing: bool,
    delivered: Option<Arc<AtomicU64>>,
    whoami: String,
}

#[actor]
impl Tally {
    #[message(remote)]
    async fn record(&mut self, seq: u64) {
        if self.count == 0 {
            self.increasing = true;
        }
        self.increasing &= self.last.is_none_or(|last| seq > last);
        self.last = Some(seq);
        self.count += 1;
        if let Some(delivered) = &self.delivered {
            delivered.fetch_add(1, Ordering::Relaxed);
        }
        if self.count.is_multiple_of(500) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[message(remote)]
    fn stats(&self) -> (u64, bool) {
        (self.count, self.increasing)
    }

    #[message(remote)]
    async fn slow(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    #[message(remote)]
    fn whoami(&mut self) -> String {
        self.count += 1;
        self.whoami.clone()
    }

    #[message(remote)]
    fn count(&self) -> u64 {
        self.count
    }
}

/// Collects the dead letters of `systems`.
fn collect_dead_letters(systems: &[&ActorSystem]) -> Arc<Mutex<Vec<DeadLetter>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    for system in systems {
        let mut letters = system.dead_letters();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(letter) = letters.recv().await {
                seen.lock().unwrap().push(letter);
            }
        });
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_nats_server_fails_pending_asks_fast_with_node_down() {
    with_server(|mut server| async move {
        // The default heartbeat timeout (3 s): a failure within it comes
        // from NATS reporting the lost server, not from silence.
        let slow_limits = Limits::default();
        let (_a, _b, _tally, remote) = tally_pair(&server, slow_limits).await;
        assert_eq!(remote.slow(1).await.unwrap(), 1);

        let pending = support::spawn_ask(&remote, |remote| async move { remote.slow(60_000).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let killed = Instant::now();
        server.stop();
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        let took = killed.elapsed();
        assert!(took < Duration::from_millis(1500), "failed fast, not at the heartbeat timeout: {took:?}");
        // And new asks fail at once while the server is gone.
        let err = remote.slow(1).timeout(Duration::from_secs(5)).await.unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
    })
    .await;
}

/// A flood of tells while the server dies and comes back: the peer
/// process lives on, so its link survives the lost connections. Every tell
/// is delivered exactly once and in order, or refused at the sender with
/// `NodeDown`; none becomes a dead letter, and the nodes reconnect by
/// themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_survive_the_server_dying_and_arrive_exactly_once_in_order() {
    with_server(|mut server| async move {
        let [a, b] = nodes_on(&server, ["a", "b"]).await;
        let delivered = Arc::new(AtomicU64::new(0));
        let tally = a.system().spawn_with(
            Tally { delivered: Some(delivered.clone()), ..Tally::default() },
            SpawnOptions::new().mailbox(Mailbox::bounded(256)),
        );
        a.register("tally", &tally).unwrap();
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let remote: ActorRef<Tally> = b.lookup(&peer, "tally").await.unwrap();
        let letters = collect_dead_letters(&[a.system(), b.system()]);

        const N: u64 = 100_000;
        let sender = tokio::spawn({
            let remote = remote.clone();
            async move {
                let mut refused = 0u64;
                for seq in 0..N {
                    match remote.tell_record(seq).await {
                        Ok(()) => {}
                        Err(SendError::NodeDown(_)) => refused += 1,
                        Err(e) => panic!("tell {seq}: {e:?}"),
                    }
                }
                refused
            }
        });
        while delivered.load(Ordering::Relaxed) < N / 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.stop();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.restart();
        let refused = sender.await.unwrap();

        // Everything is accounted for once the resend buffer has drained.
        let deadline = Instant::now() + Duration::from_secs(30);
        while delivered.load(Ordering::Relaxed) + refused < N && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = delivered.load(Ordering::Relaxed);
        let dead = letters.lock().unwrap().len() as u64;
        let stats = b.link_stats(&peer).unwrap();
        println!(
            "sent {N}: delivered {got}, refused {refused}, dead letters {dead}; link {stats:?} (sender), {:?} (receiver)",
            a.link_stats("b")
        );
        assert_eq!(got + refused, N, "every tell delivered or refused, none lost");
        assert_eq!(dead, 0, "no dead letter while the peer lives: {:?}", letters.lock().unwrap().first());
        // The nodes are back together, and nothing arrived twice or out of order.
        let (count, increasing) = loop {
            match remote.stats().timeout(Duration::from_secs(2)).await {
                Ok(stats) => break stats,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        assert_eq!(count, got);
        assert!(increasing, "no duplicate, no reordering");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_find_each_other_through_the_server_by_discovery() {
    with_server(|server| async move {
        let [a, b, c] = nodes_on(&server, ["alpha", "beta", "gamma"]).await;
        let _tally = support::spawn_named(&c, "tally", Tally { whoami: "gamma's tally".into(), ..Tally::default() });

        // An answer late past the wait (a loaded machine) is simply not in
        // that round: ask again, a bounded number of times.
        let mut found = Vec::new();
        for _ in 0..10 {
            found = a.discover(Duration::from_millis(300)).await.unwrap();
            if found.len() >= 2 {
                break;
            }
        }
        let names: Vec<_> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["beta", "gamma"], "every other node, not itself");
        let gamma = found.iter().find(|p| p.name == "gamma").unwrap();
        assert_eq!(gamma.address, c.address().to_string());
        let peer = a.connect(&gamma.address).await.unwrap();
        let remote: ActorRef<Tally> = a.lookup(&peer, "tally").await.unwrap();
        assert_eq!(remote.whoami().await.unwrap(), "gamma's tally");
        drop(b);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spreads_tells_and_asks_over_members_on_two_nodes() {
    with_server(|server| async move {
        let [a, b, c] = nodes_on(&server, ["a", "b", "c"]).await;
        let on_a = a.system().spawn(Tally { whoami: "a".into(), ..Tally::default() });
        let on_b = b.system().spawn(Tally { whoami: "b".into(), ..Tally::default() });
        a.serve_group("workers", &on_a).await.unwrap();
        b.serve_group("workers", &on_b).await.unwrap();

        let group: ActorRef<Tally> = c.group("workers").await.unwrap();
        let mut answers = std::collections::HashMap::<String, u32>::new();
        for _ in 0..200 {
            // The typed client, as for any reference.
            *answers.entry(group.whoami().await.unwrap()).or_default() += 1;
        }
        assert_eq!(answers.values().sum::<u32>(), 200);
        assert!(answers.get("a").copied().unwrap_or(0) > 20, "both members serve: {answers:?}");
        assert!(answers.get("b").copied().unwrap_or(0) > 20, "both members serve: {answers:?}");

        // Tells are acknowledged once queued: all of them arrive.
        for seq in 0..1_000 {
            group.tell_record(seq).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let total = on_a.count().await.unwrap() + on_b.count().await.unwrap();
            if total == 1_200 {
                break;
            }
            assert!(Instant::now() < deadline, "{total} of 1,200 arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(on_a.count().await.unwrap() > 200 && on_b.count().await.unwrap() > 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_without_members_is_a_typed_error_and_a_dead_letter() {
    with_server(|server| async move {
        let c = node_on(&server, "c", SECRET, fast_limits()).await;
        let letters = collect_dead_letters(&[c.system()]);
        let group: ActorRef<Tally> = c.group("nobody-home").await.unwrap();
        let err = group.whoami().await.unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        // The group is known empty for a moment: a tell fails at once...
        assert!(matches!(group.tell_record(1).await, Err(SendError::NodeDown(_))));
        // ...and becomes a dead letter saying why.
        let deadline = Instant::now() + Duration::from_secs(5);
        while letters.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "no dead letter");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(letters.lock().unwrap()[0].reason, DeadLetterReason::NodeDown);
        // After a second it tries again; a tell that finds nobody is a
        // dead letter naming the cause.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        group.tell_record(2).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = letters
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.detail.as_deref().unwrap_or("").contains("no member of the group"));
            if found {
                break;
            }
            assert!(Instant::now() < deadline, "{:?}", letters.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_not_signed_with_the_secret_are_refused() {
    with_server(|server| async move {
        let a = node_on(&server, "a", SECRET, fast_limits()).await;
        let worker = a.system().spawn(Tally::default());
        a.serve_group("workers", &worker).await.unwrap();

        // A plain NATS client, no signature.
        let raw = async_nats::connect(server.url()).await.unwrap();
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::from_static(b"Tally::Whoami please"))
            .timeout(Some(Duration::from_millis(300)));
        let err = raw.send_request("actors.group.workers", request).await.unwrap_err();
        assert_eq!(err.kind(), async_nats::client::RequestErrorKind::TimedOut, "unanswered: {err}");

        // A node with another secret: its messages are not delivered.
        let intruder = node_on(&server, "intruder", "guess", fast_limits()).await;
        let group: ActorRef<Tally> = intruder.group("workers").await.unwrap();
        let err = group.whoami().timeout(Duration::from_millis(300)).await.unwrap_err();
        assert!(matches!(err, AskError::Timeout), "{err:?}");
        assert_eq!(worker.count().await.unwrap(), 0, "nothing reached the actor");

        // The right secret still works.
        let friend = node_on(&server, "friend", SECRET, fast_limits()).await;
        let group: ActorRef<Tally> = friend.group("workers").await.unwrap();
        assert_eq!(group.whoami().await.unwrap(), "");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_unreachable_servers_are_typed_errors() {
    with_server(|server| async move {
        let err = support::node_listening("other", SECRET, &format!("{}/a", server.url())).await.unwrap_err();
        assert!(matches!(&err, NodeError::Nats(why) if why.contains("\"other\"")), "{err}");
        assert!(Node::builder(ActorSystem::new()).listen(&format!("{}/a.b", server.url())).is_err());
        assert!(NatsOptions::new().prefix("a b").is_err());

        let nowhere = format!("nats://127.0.0.1:{}/a", support::free_port());
        let err = Node::builder(ActorSystem::new()).secret(SECRET).listen(&nowhere).unwrap().start().await.unwrap_err();
        assert!(matches!(err, NodeError::Nats(_)), "{err}");

        let tcp = Node::builder(ActorSystem::new()).secret(SECRET).start().await.unwrap();
        assert!(matches!(tcp.discover(Duration::from_millis(10)).await, Err(NodeError::Nats(_))));
        assert!(matches!(tcp.group::<Tally>("workers").await, Err(NodeError::Nats(_))));
        let a = node_on(&server, "a", SECRET, fast_limits()).await;
        assert!(matches!(a.group::<Tally>("two.tokens").await, Err(NodeError::Nats(_))));
        // A TCP node dials a NATS node: it connects to the server itself.
        let peer = tcp.connect(&a.address().to_string()).await.unwrap();
        assert_eq!(peer, "a");
    })
    .await;
}

/// Another client of the server that can read the connection's subjects
/// publishes chunks into it, with the right next sequence number and a
/// real tell frame inside: refused for their signature (the connection
/// fails and comes back), never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_forged_into_a_connection_reach_no_actor() {
    with_server(|server| async move {
        use futures::StreamExt;
        let quiet = Limits { heartbeat_interval: Duration::from_millis(500), ..fast_limits() };
        let (_a, _b, tally, remote) = tally_pair(&server, quiet).await;

        remote.tell_record(1).await.unwrap();
        assert_eq!(remote.stats().await.unwrap(), (1, true));
        // From now on the connection is quiet but for heartbeats: the spy
        // sees one, and forges the chunk that would come next.
        let spy = async_nats::connect(server.url()).await.unwrap();
        let mut chunks = spy.subscribe("_INBOX.>").await.unwrap();
        spy.flush().await.unwrap();

        let frame = actor_remote::fuzzing::length_prefixed(&actor_remote::fuzzing::tell_frame(
            tally.id(),
            "Tally::Record",
            &[99],
        ));
        // One forgery into each direction (the spy cannot tell them apart),
        // unsigned as an old peer would send it, then a signed one with a
        // made-up tag.
        let mut forged_into = Vec::new();
        while forged_into.len() < 2 {
            let chunk = tokio::time::timeout(Duration::from_secs(5), chunks.next()).await.unwrap().unwrap();
            if chunk.payload.len() < 25 || forged_into.contains(&chunk.subject) {
                continue;
            }
            let seq = u64::from_be_bytes(chunk.payload[1..9].try_into().unwrap());
            for signed in [false, true] {
                let mut fake = vec![if signed { 0x81 } else { 0x01 }];
                fake.extend_from_slice(&(seq + 1).to_be_bytes());
                fake.extend_from_slice(&chunk.payload[9..25]);
                if signed {
                    fake.extend_from_slice(&[0u8; 16]);
                }
                fake.extend_from_slice(&frame);
                spy.publish(chunk.subject.clone(), fake.into()).await.unwrap();
            }
            forged_into.push(chunk.subject);
        }
        spy.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The nodes reconnect; the forged tell never reached the actor.
        let stats = loop {
            match remote.stats().timeout(Duration::from_secs(2)).await {
                Ok(stats) => break stats,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        assert_eq!(stats, (1, true), "only the real tell arrived");
        assert_eq!(tally.stats().await.unwrap(), (1, true));
    })
    .await;
}

/// A peer process killed with SIGKILL sends nothing more: no close chunk,
/// no goodbye. Heartbeats over NATS find the silence: a monitor on its
/// actor fires with `NodeDown` and a pending ask fails; the process comes
/// back under the same name and the node that dialed it reconnects
/// through the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_peer_process_is_seen_down_by_heartbeats_and_comes_back() {
    use support::remote_node::{self, Counter, CounterClient};
    with_server(|server| async move {
        let address = format!("{}/peer", server.url());
        let mut child = remote_node::start(&address, SECRET).await;
        let node = node_on(&server, "here", SECRET, fast_limits()).await;
        let peer = node.connect(&address).await.unwrap();
        assert_eq!(peer, "peer");
        let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
        assert_eq!(counter.add(2).await.unwrap(), 2);

        let watching = support::watch(node.system(), &counter).await;
        assert_eq!(counter.add(0).await.unwrap(), 2);
        let pending = support::spawn_ask(&counter, |counter| async move { counter.slow(60_000).await });
        tokio::time::sleep(Duration::from_millis(50)).await;

        child.kill().await.unwrap();
        let killed = Instant::now();
        let reason = tokio::time::timeout(Duration::from_secs(5), watching.terminated()).await.unwrap().reason;
        assert!(matches!(reason, StopReason::NodeDown), "{reason:?}");
        assert!(pending.await.unwrap().unwrap_err().is_node_down());
        // heartbeat_timeout is 1 s here: detected within 1.25 s of silence.
        let took = killed.elapsed();
        assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "seen after {took:?}");

        let _child = remote_node::start(&address, SECRET).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !node.peers().contains(&peer) {
            assert!(Instant::now() < deadline, "the node redialed the restarted peer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let fresh: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
        assert_eq!(fresh.add(5).await.unwrap(), 5, "the restarted peer starts from zero");
    })
    .await;
}

/// Servers started at once, as the tests of this suite start theirs, each
/// listen on a port of their own: a test never talks to another's server
/// (whose stop would fail its asks with `NodeDown`).
#[test]
fn servers_started_at_once_each_have_their_own_port() {
    if support::nats::binary().is_none() && std::env::var_os("CI").is_none() {
        return;
    }
    let servers: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| support::nats::start().expect("a server")))
        .map(|t| t.join().unwrap())
        .collect();
    let mut urls: Vec<_> = servers.iter().map(|s| s.url()).collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), servers.len(), "{urls:?}");
}
