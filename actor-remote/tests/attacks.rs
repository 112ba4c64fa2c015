//! Attacks on the handshake and the channel, with real nodes on loopback
//! and attackers that speak the wire format: the relay of the old
//! handshake, reflection, a replayed record, a forced downgrade, and
//! records changed on the way (flipped, dropped, duplicated, reordered,
//! truncated); then what an authenticated peer may not do: send past its
//! credit window, fill the peer table, make a node dial an address of its
//! choosing, or get a wire name cut. Malformed and oversized handshake
//! frames are refused. Each test prints its figures on a `figure` line.

mod support;

use std::time::{Duration, Instant};

use actor_core::error::{AskError, RemoteErrorKind};
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_remote::{HandshakeError, Limits, Node, NodeError, fuzzing};
use support::mitm::{Action, Mitm, Plan, Way};
use support::{bounded, logs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "attack cookie";

#[derive(Default)]
struct Ledger {
    seen: Vec<u64>,
}

#[actor]
impl Ledger {
    #[message(remote)]
    fn note(&mut self, n: u64) {
        self.seen.push(n);
    }

    #[message(remote)]
    fn count(&self) -> u64 {
        self.seen.len() as u64
    }

    #[message(remote)]
    async fn nap(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    #[message(
        remote,
        wire_name = "Ledger::Long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    )]
    fn long(&mut self) -> u64 {
        0
    }

    /// 254 ASCII bytes and a two-byte character: 256 bytes, over the limit
    /// by one, in the middle of a character.
    #[message(
        remote,
        wire_name = "Ledger::xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxé"
    )]
    fn straddle(&mut self) {}

    /// Local only.
    #[message]
    fn seen(&self) -> Vec<u64> {
        self.seen.clone()
    }
}

/// Receives references to ledgers of other nodes.
#[derive(Default)]
struct Desk;

#[actor]
impl Desk {
    #[message(remote)]
    async fn forward(&mut self, to: ActorRef<Ledger>, n: u64) -> bool {
        to.tell_note(n).await.is_ok()
    }
}

fn limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(2),
        hello_timeout: Duration::from_secs(1),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..Limits::default()
    }
}

async fn node_with(name: &str, limits: Limits) -> Node {
    support::node_with(name, SECRET, limits).await
}

async fn node(name: &str) -> Node {
    node_with(name, limits()).await
}

/// A node named `name` with a ledger registered as `ledger`.
async fn ledger_node(name: &str) -> (Node, ActorRef<Ledger>) {
    let node = node(name).await;
    let ledger = support::spawn_named(&node, "ledger", Ledger::default());
    (node, ledger)
}

/// Runs `test` bounded by `limit`, capturing the logs for its checks.
async fn logged<F: std::future::Future>(limit: Duration, test: F) -> F::Output {
    logs::capture();
    bounded(limit, test).await
}

/// A node named `name` that dials `address` and looks up the ledger
/// there.
async fn dial_ledger(name: &str, address: &str) -> (Node, ActorRef<Ledger>) {
    let node = node(name).await;
    let peer = node.connect(address).await.unwrap();
    let ledger = node.lookup(&peer, "ledger").await.unwrap();
    (node, ledger)
}

fn socket_address(node: &Node) -> String {
    node.address().to_string().strip_prefix("tcp://").unwrap().to_owned()
}

/// Reads one length-prefixed unit (a handshake frame or a record) body.
async fn read_unit(socket: &mut TcpStream) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    socket.read_exact(&mut prefix).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    socket.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// Waits (bounded) until the far side closes `socket`; returns how long.
async fn closed(socket: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the node kept the socket open for 10 s"),
        }
    }
}

/// Checks that `seen` is `1, 2, ..., n`: nothing changed, nothing twice,
/// nothing out of order.
fn assert_prefix(seen: &[u64], what: &str) {
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seen, &expected[..], "{what}: the ledger saw something it was not sent in order");
}

/// The relay, as far as the new handshake lets it go: an attacker
/// without the secret dials both nodes and relays every unit each sends
/// to the other; then dials one claiming the other's name, and relays
/// what the other says. Neither node ever counts the other (or anyone) as
/// a peer, and no message reaches an actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_attack_gets_no_connection_through() {
    bounded(Duration::from_secs(30), async {
        let (a, ledger_a) = ledger_node("relay-a").await;
        let (c, ledger_c) = ledger_node("relay-c").await;
        let start = Instant::now();

        // 1. Both nodes accept; the attacker splices the two connections.
        let to_a = TcpStream::connect(socket_address(&a)).await.unwrap();
        let to_c = TcpStream::connect(socket_address(&c)).await.unwrap();
        let (mut ar, mut aw) = to_a.into_split();
        let (mut cr, mut cw) = to_c.into_split();
        let splice = tokio::join!(tokio::io::copy(&mut ar, &mut cw), tokio::io::copy(&mut cr, &mut aw));
        let spliced = start.elapsed();
        drop(splice);

        // 2. The attacker tells c it is `relay-a` (a hello says nothing
        // secret), and relays a's hello and whatever a sends after it.
        let mut to_c = TcpStream::connect(socket_address(&c)).await.unwrap();
        let mut to_a = TcpStream::connect(socket_address(&a)).await.unwrap();
        to_c.write_all(&fuzzing::hello_frame("relay-a")).await.unwrap();
        to_a.write_all(&fuzzing::hello_frame("someone")).await.unwrap();
        let from_a = read_unit(&mut to_a).await.expect("a says hello");
        let c_hello = read_unit(&mut to_c).await.expect("c says hello");
        // Whatever a says next (nothing: it waits for a Noise message it
        // will not get) goes to c, and c's hello to a.
        to_a.write_all(&fuzzing::length_prefixed(&c_hello)).await.unwrap();
        to_c.write_all(&fuzzing::length_prefixed(&from_a)).await.unwrap();
        let refused_c = closed(&mut to_c).await;
        let refused_a = closed(&mut to_a).await;

        println!(
            "figure relay: spliced acceptors refused in {spliced:?}; a forged dialer hello to c with a's \
             messages relayed: closed by c after {refused_c:?}, by a after {refused_a:?}; no peer on either node"
        );
        assert!(a.peers().is_empty() && c.peers().is_empty(), "{:?} {:?}", a.peers(), c.peers());
        assert_eq!(ledger_a.count().await.unwrap() + ledger_c.count().await.unwrap(), 0);
        // And the two nodes still connect to each other for real.
        let peer = a.connect(&c.address().to_string()).await.unwrap();
        assert_eq!(peer, "relay-c");
    })
    .await;
}

/// A node dials an attacker that sends the node's own units back (on the
/// same connection, or on a connection it opens to the node): refused,
/// never a peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_handshakes_are_refused() {
    bounded(Duration::from_secs(30), async {
        let (a, _ledger) = ledger_node("mirror").await;

        // An echo: whatever the node sends comes back.
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_address = format!("tcp://{}", echo.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((socket, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let echoed = a.connect(&echo_address).await.unwrap_err();

        // A splice back to the node's own listener.
        let splice = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let splice_address = format!("tcp://{}", splice.local_addr().unwrap());
        let target = socket_address(&a);
        tokio::spawn(async move {
            while let Ok((socket, _)) = splice.accept().await {
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(back) = TcpStream::connect(target).await else { return };
                    let (mut r1, mut w1) = socket.into_split();
                    let (mut r2, mut w2) = back.into_split();
                    let _ = tokio::join!(tokio::io::copy(&mut r1, &mut w2), tokio::io::copy(&mut r2, &mut w1));
                });
            }
        });
        let spliced = a.connect(&splice_address).await.unwrap_err();
        println!("figure reflection: echoed: {echoed}; spliced to itself: {spliced}");
        assert!(matches!(echoed, NodeError::Handshake(HandshakeError::Protocol(_))), "{echoed:?}");
        assert!(
            matches!(spliced, NodeError::Handshake(HandshakeError::Protocol(_) | HandshakeError::RefusedByPeer(_))),
            "{spliced:?}"
        );
        assert!(a.peers().is_empty());
    })
    .await;
}

/// A record recorded on one connection and put into a later connection of
/// the same two nodes: the later connection closes there, the tell it
/// carried does not run twice, and the nodes reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_record_replayed_into_a_later_connection_is_refused() {
    logged(Duration::from_secs(30), async {
        let (a, ledger) = ledger_node("replay-a").await;
        // Connection 0 is recorded; connection 1 gets the replay before
        // its seventh unit (after the handshake, the resume and stream
        // frames that open the link's streams, and the lookup).
        let first = Mitm::start(&a.address().to_string(), None).await;
        {
            let (b, remote) = dial_ledger("replay-b", &first.address).await;
            for n in 1..=3 {
                remote.tell_note(n).await.unwrap();
                assert_eq!(remote.count().await.unwrap(), n);
            }
            b.shutdown().await;
        }
        // Unit 6 of the dialer's side: the record that carried tell 1.
        let replayed = first.recorded(Way::ToAcceptor, 6).expect("recorded");
        while !a.peers().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let plan = Plan { connection: 0, way: Way::ToAcceptor, unit: 6, action: Action::InsertBefore(replayed) };
        let second = Mitm::start(&a.address().to_string(), Some(plan)).await;
        let (_b, remote) = dial_ledger("replay-b", &second.address).await;
        let start = Instant::now();
        let first_try = remote.tell_note(4).await;
        // The connection closes at the replayed record; b reconnects.
        let total = loop {
            match remote.count().timeout(Duration::from_secs(2)).await {
                Ok(total) => break total,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let seen = ledger.seen().await.unwrap();
        let reason = logs::lines_with(&["closing the connection", "replay-b", "failed authentication"]);
        println!(
            "figure replay-record: a record of an earlier connection put into a later one: the connection closed \
             and b was answered again after {:?} ({} connections); ledger {seen:?}; tell 4 {first_try:?}",
            start.elapsed(),
            second.connections()
        );
        assert!(second.applied());
        assert!(!reason.is_empty(), "the node logged why it closed the connection");
        assert!(second.connections() >= 2, "the replay closed the connection");
        assert!(seen.starts_with(&[1, 2, 3]) && seen.iter().filter(|&&n| n == 1).count() == 1, "{seen:?}");
        assert!(total == 3 || total == 4, "{total}");
    })
    .await;
}

/// A version 2 node meets this one (both ways), and an attacker on the
/// path rewrites the version in a hello: refused with an error naming both
/// versions, never a conversation in the older protocol; a hello changed
/// anywhere else fails the Noise handshake (the hellos are its prologue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_downgrade_is_refused_and_an_old_peer_is_told_both_versions() {
    bounded(Duration::from_secs(30), async {
        let (a, _ledger) = ledger_node("versions-a").await;

        // A version 2 node dials a.
        let mut socket = TcpStream::connect(socket_address(&a)).await.unwrap();
        socket.write_all(&fuzzing::version_2_hello("old")).await.unwrap();
        let _hello = read_unit(&mut socket).await.expect("a says hello");
        let refusal = read_unit(&mut socket).await.and_then(|f| fuzzing::refusal_of(&f)).expect("a refusal");
        assert!(refusal.contains("version 2") && refusal.contains(" 4"), "{refusal}");

        // a dials a version 2 node.
        let old = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let old_address = format!("tcp://{}", old.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = old.accept().await {
                let _ = socket.write_all(&fuzzing::version_2_hello("old")).await;
                let mut sink = Vec::new();
                let _ = socket.read_to_end(&mut sink).await;
            }
        });
        let dialing_old = a.connect(&old_address).await.unwrap_err();
        assert!(
            matches!(dialing_old, NodeError::Handshake(HandshakeError::Version { ours: 4, theirs: 2 })),
            "{dialing_old:?}"
        );

        // On the path: the dialer's version rewritten to 2 (the byte after
        // the magic), then the acceptor's, then another byte of a hello.
        fn downgrade(hello: &mut [u8]) {
            assert_eq!(hello[4], 4, "the version follows the magic");
            hello[4] = 2;
        }
        fn nudge(hello: &mut [u8]) {
            // The last byte: the credit window, the last field.
            *hello.last_mut().unwrap() ^= 1;
        }
        let mut outcomes = Vec::new();
        for (way, change) in [
            (Way::ToAcceptor, downgrade as fn(&mut [u8])),
            (Way::ToDialer, downgrade as fn(&mut [u8])),
            (Way::ToAcceptor, nudge as fn(&mut [u8])),
            (Way::ToDialer, nudge as fn(&mut [u8])),
        ] {
            let plan = Plan { connection: 0, way, unit: 0, action: Action::Rewrite(change) };
            let mitm = Mitm::start(&a.address().to_string(), Some(plan)).await;
            let b = node("versions-b").await;
            let err = b.connect(&mitm.address).await.unwrap_err();
            assert!(mitm.applied());
            outcomes.push(err.to_string());
            match err {
                NodeError::Handshake(HandshakeError::RefusedByPeer(why)) => {
                    assert!(why.contains("version 2") || why.contains("authentication"), "{why}")
                }
                NodeError::Handshake(
                    HandshakeError::Version { ours: 4, theirs: 2 } | HandshakeError::Authentication,
                ) => {}
                other => panic!("{other:?}"),
            }
            b.shutdown().await;
        }
        println!("figure downgrade: a version 2 hello was told {refusal:?}; dialing a version 2 node: {dialing_old}");
        for outcome in &outcomes {
            println!("figure downgrade: a hello changed on the path: {outcome}");
        }
        assert!(a.peers().is_empty());
    })
    .await;
}

/// Records changed on the way after the handshake: a flipped bit, a
/// dropped, duplicated or reordered record, a connection cut inside a
/// record. Each closes the connection with a logged reason; what the
/// ledger saw is exactly the tells sent before, in order, each once; the
/// nodes reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_changed_on_the_way_close_the_connection_and_reach_no_actor() {
    logged(Duration::from_secs(60), async {
        let cases: [(&str, Action, &str); 5] = [
            ("flip", Action::Flip(20), "failed authentication"),
            ("drop", Action::Drop, "failed authentication"),
            ("duplicate", Action::Duplicate, "failed authentication"),
            ("reorder", Action::SwapWithNext, "failed authentication"),
            ("truncate", Action::Truncate, "inside a record"),
        ];
        for (case, action, reason) in cases {
            let (a, ledger) = ledger_node(&format!("tamper-a-{case}")).await;
            // Units of the dialer: hello, Noise message, verdict, resume,
            // stream, lookup; the eighth is a tell or an ask of the loop
            // below.
            let plan = Plan { connection: 0, way: Way::ToAcceptor, unit: 7, action };
            let mitm = Mitm::start(&a.address().to_string(), Some(plan)).await;
            let name = format!("tamper-b-{case}");
            let (b, remote) = dial_ledger(&name, &mitm.address).await;
            let start = Instant::now();
            let mut failed_at = None;
            for n in 1..=40u64 {
                let _ = remote.tell_note(n).await;
                if remote.count().timeout(Duration::from_secs(3)).await.is_err() {
                    failed_at = Some(n);
                    break;
                }
            }
            let failed_at = failed_at.expect("the changed record closed the connection");
            let detected = start.elapsed();
            let seen = ledger.seen().await.unwrap();
            assert!(mitm.applied(), "{case}");
            assert_prefix(&seen, case);
            assert!((seen.len() as u64) <= failed_at, "{case}: {seen:?}, failed at {failed_at}");
            // Some logged reason, the expected one unless the socket was
            // reset first (the relay closing with bytes unread).
            let logged = logs::lines_with(&["closing the connection", &name, reason]);
            let reset = logs::lines_with(&["closing the connection", &name, "reset"]);
            assert!(!logged.is_empty() || !reset.is_empty(), "{case}: no logged reason containing {reason:?}");
            // The nodes reconnect, and the ledger goes on from there.
            let again = loop {
                match remote.count().timeout(Duration::from_secs(2)).await {
                    Ok(count) => break count,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            println!(
                "figure tamper-{case}: closed at tell {failed_at}, {detected:?} after the first tell; the ledger saw \
                 1..={} in order; answered again (count {again}) on connection {}",
                seen.len(),
                mitm.connections()
            );
            b.shutdown().await;
            a.shutdown().await;
        }
    })
    .await;
}

/// An authenticated peer that ignores its credit: it sends more tells to
/// an actor whose mailbox is full than the window it was given. The node
/// closes the connection at the first message past the window, says why,
/// and what waits for the mailbox is at most the window. A node that
/// keeps to the (smaller) window it was told is slowed down, never closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_exceeds_its_credit_is_disconnected_with_a_logged_reason() {
    logged(Duration::from_secs(30), async {
        const WINDOW: usize = 8;
        let a = node_with("credit-a", Limits { credit_window: WINDOW, ..limits() }).await;
        let busy = a.system().spawn_with(Ledger::default(), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
        a.register("busy", &busy).unwrap();
        // Hold the ledger for 1.5 s: its mailbox fills at once.
        let hold = tokio::spawn({
            let busy = busy.clone();
            async move { busy.nap(1_500).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;

        let socket = TcpStream::connect(socket_address(&a)).await.unwrap();
        let (mut socket, mut session) = fuzzing::dial_handshake(socket, "credit-greedy", SECRET.as_bytes()).await.unwrap();
        let sent = 1_000u64;
        let tells: Vec<Vec<u8>> =
            (1..=sent).map(|n| fuzzing::tell_frame(busy.id(), "Ledger::Note", &[n as u8 & 0x7F])).collect();
        let sealed = session.seal_frames(&tells);
        let start = Instant::now();
        let _ = socket.write_all(&sealed).await;
        let _ = closed(&mut socket).await;
        let took = start.elapsed();
        let logged = logs::lines_with(&["closing the connection", "credit-greedy", "past its credit window"]);
        assert!(!logged.is_empty(), "the node logged why");
        assert_eq!(hold.await.unwrap().unwrap(), 1_500);
        let delivered = busy.count().await.unwrap();
        println!(
            "figure credit-overrun: window {WINDOW}, {sent} tells sent at once to a full mailbox: closed \
             {took:?} after the write; {delivered} delivered by then; logged: {}",
            logged[0].split("reason=").nth(1).unwrap_or_default()
        );
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(delivered as usize <= WINDOW, "{delivered} delivered, window {WINDOW}");

        // A node with a larger window of its own keeps to a's.
        let b = node("credit-b").await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let remote: ActorRef<Ledger> = b.lookup(&peer, "busy").await.unwrap();
        let hold = tokio::spawn({
            let busy = busy.clone();
            async move { busy.nap(500).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut in_flight = 0;
        while remote.try_tell(Note { n: 1 }).is_ok() {
            in_flight += 1;
            assert!(in_flight <= WINDOW, "more than the window in flight");
        }
        hold.await.unwrap().unwrap();
        let answered = remote.count().timeout(Duration::from_secs(5)).await.unwrap();
        println!("figure credit-kept: a sender with a window of 1024 toward a node granting {WINDOW}: {in_flight} in flight, never closed");
        assert_eq!(a.peers(), vec!["credit-b".to_owned()]);
        assert!(answered >= in_flight as u64);
    })
    .await;
}

/// Handshake frames that are too long, empty, of an unknown kind, or not
/// what the protocol expects: each connection is refused at once, the
/// node never counts a peer, and it still serves a good one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_handshake_frames_are_refused() {
    bounded(Duration::from_secs(30), async {
        let (a, ledger) = ledger_node("malformed").await;
        let hello = fuzzing::hello_frame("intruder");
        let with = |tail: &[u8]| [hello.clone(), tail.to_vec()].concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("a 4 GiB hello", vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]),
            ("a hello over 1 KiB", [&2000u32.to_be_bytes()[..], &[0u8; 2000]].concat()),
            ("a hello of garbage", fuzzing::length_prefixed(b"GET / HTTP/1.1\r\n")),
            ("an empty hello", fuzzing::length_prefixed(b"")),
            ("a Noise message over 1 KiB", with(&[0, 0, 0x10, 0, 0])),
            ("an empty frame after the hello", with(&fuzzing::length_prefixed(b""))),
            ("an unknown frame kind", with(&fuzzing::length_prefixed(&[7, 1, 2, 3]))),
            ("a forged Noise message", with(&fuzzing::length_prefixed(&[0; 49]))),
            ("a truncated Noise message", with(&fuzzing::length_prefixed(&[0; 10]))),
            ("a record before any Noise message", with(&fuzzing::length_prefixed(&[9; 40]))),
        ];
        let mut slowest = Duration::ZERO;
        for (what, bytes) in &cases {
            let mut socket = TcpStream::connect(socket_address(&a)).await.unwrap();
            let _ = socket.write_all(bytes).await;
            let took = closed(&mut socket).await;
            assert!(took < Duration::from_secs(2), "{what}: closed after {took:?}");
            slowest = slowest.max(took);
        }
        assert!(a.peers().is_empty());
        let (_b, remote) = dial_ledger("malformed-good", &a.address().to_string()).await;
        assert_eq!(remote.count().await.unwrap(), 0);
        assert_eq!(ledger.count().await.unwrap(), 0);
        println!(
            "figure malformed-handshake: {} kinds of bad handshake frame, each closed within {slowest:?}; a good \
             peer served after",
            cases.len()
        );
    })
    .await;
}

/// Authenticated peers cannot fill the peer table: past `max_peers` a new
/// name is refused (saying why) until a peer that is down for good can be
/// forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_table_is_bounded() {
    bounded(Duration::from_secs(30), async {
        const MAX: usize = 4;
        let a = node_with("table", Limits { max_peers: MAX, ..limits() }).await;
        let mut held = Vec::new();
        for i in 0..MAX {
            let socket = TcpStream::connect(socket_address(&a)).await.unwrap();
            held.push(fuzzing::dial_handshake(socket, &format!("table-{i}"), SECRET.as_bytes()).await.unwrap());
        }
        let socket = TcpStream::connect(socket_address(&a)).await.unwrap();
        let refused = fuzzing::dial_handshake(socket, "table-extra", SECRET.as_bytes()).await.unwrap_err();
        assert!(
            matches!(&refused, HandshakeError::RefusedByPeer(why) if why.contains("at most 4 peers")),
            "{refused:?}"
        );
        assert_eq!(a.peers().len(), MAX);
        // The held peers leave; a never dialed them, so they can go.
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !a.peers().is_empty() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut admitted = 0;
        for i in 0..2 * MAX {
            let socket = TcpStream::connect(socket_address(&a)).await.unwrap();
            if let Ok(session) = fuzzing::dial_handshake(socket, &format!("table-new-{i}"), SECRET.as_bytes()).await {
                admitted += 1;
                drop(session);
                // Each leaves before the next comes.
                while !a.peers().is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        println!(
            "figure peer-table: max_peers {MAX}: the 5th name while 4 are connected: {refused}; {admitted} of {} \
             new names admitted once the first left",
            2 * MAX
        );
        assert_eq!(admitted, 2 * MAX);
    })
    .await;
}

/// A message naming an actor of a node this node has never met does not
/// make it dial that node: the message is refused, with the reason, and
/// the named node never hears from it. Once connected, the same message
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_in_a_message_does_not_make_the_node_dial() {
    bounded(Duration::from_secs(30), async {
        let a = node("dial-a").await;
        let b = node("dial-b").await;
        let (c, ledger) = ledger_node("dial-c").await;
        let _desk = support::spawn_named(&a, "desk", Desk);
        b.connect(&a.address().to_string()).await.unwrap();
        b.connect(&c.address().to_string()).await.unwrap();
        let desk_from_b: ActorRef<Desk> = b.lookup("dial-a", "desk").await.unwrap();
        let ledger_from_b: ActorRef<Ledger> = b.lookup("dial-c", "ledger").await.unwrap();

        let refused = desk_from_b.forward(ledger_from_b.clone(), 1).await.unwrap_err();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!c.peers().contains(&"dial-a".to_owned()), "a dialed c");
        assert!(!a.peers().contains(&"dial-c".to_owned()));
        match &refused {
            AskError::Remote(e) => {
                assert_eq!(e.kind(), RemoteErrorKind::Undecodable, "{e}");
                assert!(e.to_string().contains("not connected"), "{e}");
            }
            other => panic!("{other:?}"),
        }

        a.connect(&c.address().to_string()).await.unwrap();
        assert!(desk_from_b.forward(ledger_from_b, 2).await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(ledger.seen().await.unwrap(), vec![2]);
        println!("figure no-dial: a reference to a node never met was refused: {refused}");
    })
    .await;
}

/// A wire name longer than a frame carries is refused at the sender with a
/// typed error (an ask) or a dead letter (a tell), never cut inside a
/// character; the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wire_name_over_the_limit_is_refused_at_the_sender() {
    bounded(Duration::from_secs(30), async {
        let (a, _ledger) = ledger_node("names-a").await;
        let (b, remote) = dial_ledger("names-b", &a.address().to_string()).await;
        let mut letters = b.system().dead_letters();

        let err = remote.long().await.unwrap_err();
        match &err {
            AskError::Remote(e) => {
                assert_eq!(e.kind(), RemoteErrorKind::Refused);
                assert!(e.to_string().contains("at most 255"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        remote.tell_straddle().await.unwrap();
        let letter = tokio::time::timeout(Duration::from_secs(5), letters.recv()).await.unwrap().unwrap();
        let detail = letter.detail.clone().unwrap_or_default();
        assert!(detail.contains("256 bytes"), "{detail}");
        // Nothing was sent: the connection is the same, and still serves.
        remote.tell_note(1).await.unwrap();
        assert_eq!(remote.count().await.unwrap(), 1);
        assert_eq!(a.peers(), vec!["names-b".to_owned()]);
        println!("figure wire-name: ask: {err}; tell: dead letter {detail:?}");
    })
    .await;
}
