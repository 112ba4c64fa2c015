//! Two nodes in one process, on loopback: messaging, refs in messages,
//! monitors, failures, limits and the Unix socket transport.

use std::time::Duration;

use actor_core::DeadLetterReason;
use actor_core::error::{AskError, ErrorKind, RemoteError, RemoteErrorKind, SendError};
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_remote::{HandshakeError, Limits, Node, NodeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

use support::counter::{Add, Counter, CounterClient, Record, Served, Total};
use support::fast_limits;

const SECRET: &str = "test cookie";

/// Bounds every test: a hang is a failure, not a stuck CI job.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f).await.expect("the test finished in time")
}

struct Inbox {
    got: Vec<String>,
}

#[actor]
impl Inbox {
    #[message(remote)]
    fn deliver(&mut self, text: String) {
        self.got.push(text);
    }

    #[message(remote)]
    fn got(&self) -> Vec<String> {
        self.got.clone()
    }
}

/// Keeps the inboxes it makes: a reference held by another node does not
/// keep an actor alive.
#[derive(Default)]
struct Greeter {
    made: Vec<ActorRef<Inbox>>,
}

#[actor]
impl Greeter {
    /// Answers to the inbox it is given: a reference that crossed the wire.
    #[message(remote)]
    async fn greet(&mut self, name: String, reply_to: ActorRef<Inbox>) -> bool {
        reply_to.tell_deliver(format!("hello, {name}")).await.is_ok()
    }

    /// Hands out a reference to a fresh inbox of this node.
    #[message(remote)]
    fn make_inbox(&mut self, ctx: &mut Context<Self>) -> ActorRef<Inbox> {
        let inbox = ctx.spawn_child(Inbox { got: vec!["made here".into()] });
        self.made.push(inbox.clone());
        inbox
    }

    #[message(remote)]
    fn forget_inboxes(&mut self) {
        self.made.clear();
    }
}

async fn node(name: &str) -> Node {
    node_with(name, fast_limits()).await
}

async fn node_with(name: &str, limits: Limits) -> Node {
    support::node_with(name, SECRET, limits).await
}

/// Two nodes, `b` connected to `a`; returns `a`'s name as `b` knows it.
async fn pair() -> (Node, Node, String) {
    let a = node("a").await;
    let b = node("b").await;
    let peer = b.connect(&a.address().to_string()).await.unwrap();
    (a, b, peer)
}

/// Runs `test`, bounded, on two fresh nodes with a counter served by `a`.
/// The nodes run until the test ends, whichever fields it takes.
async fn with_counter<Fut: std::future::Future<Output = ()>>(test: impl FnOnce(Served) -> Fut) {
    bounded(async {
        let served = Served::between(node("a").await, node("b").await).await;
        let _nodes = (served.a.clone(), served.b.clone());
        test(served).await;
    })
    .await;
}

#[tokio::test]
async fn tell_and_ask_across_nodes_with_the_typed_client() {
    with_counter(|Served { peer, counter, remote, .. }| async move {
        assert_eq!(peer, "a");
        assert!(!remote.is_local());
        assert_eq!(remote.node(), Some("a"));
        assert_eq!(remote.id(), counter.id(), "the remote ref names the same actor");
        remote.tell(Add { n: 1 }).await.unwrap();
        remote.tell_add(2).await.unwrap();
        assert_eq!(remote.add(3).await.unwrap(), 6);
        assert_eq!(remote.ask(Add { n: 4 }).timeout(Duration::from_secs(5)).await.unwrap(), 10);
        // And the local side saw the same.
        assert_eq!(counter.total().await.unwrap(), 10);
    })
    .await;
}

/// The receiving side remembers which handler the last message of an
/// actor went to; messages of several types, interleaved and in runs,
/// still each reach their own handler, in order.
#[tokio::test]
async fn interleaved_message_types_each_reach_their_own_handler() {
    with_counter(|Served { counter, remote, .. }| async move {
        let (mut sum, mut records) = (0, 0);
        for i in 0..300u64 {
            // Runs of one type, then alternation, then runs again.
            let add = if (100..200).contains(&i) { i % 2 == 0 } else { (i / 10) % 2 == 0 };
            if add {
                sum += i;
                remote.tell_add(i).await.unwrap();
            } else {
                remote.tell_record(7, records).await.unwrap();
                records += 1;
            }
            if i % 50 == 49 {
                assert_eq!(remote.add(0).await.unwrap(), sum, "every add so far, after message {i}");
            }
        }
        let adds = (0..300u64).filter(|i| if (100..200).contains(i) { i % 2 == 0 } else { (i / 10) % 2 == 0 }).count();
        // The six `add(0)` asks count as hits too.
        assert_eq!(remote.hits().await.unwrap(), adds as u64 + 6);
        assert_eq!(remote.stats().await.unwrap(), (records, true), "every record reached `record`, in order");
        assert_eq!(records, 300 - adds as u64);
        assert_eq!(counter.total().await.unwrap(), sum);
    })
    .await;
}

#[tokio::test]
async fn a_message_not_registered_for_remote_use_is_refused_at_the_sender() {
    with_counter(|Served { remote, .. }| async move {
        let err = remote.tell(Total).await.unwrap_err();
        assert!(matches!(err, SendError::NotRemote(Total)), "{err:?}");
        let err = remote.ask(Total).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotRemote);
        assert!(matches!(remote.try_tell(Total), Err(SendError::NotRemote(_))));
    })
    .await;
}

#[tokio::test]
async fn lookups_of_unknown_names_and_peers_fail_with_typed_errors() {
    bounded(async {
        let (_a, b, peer) = pair().await;
        let err = b.lookup::<Counter>(&peer, "nobody").await.unwrap_err();
        assert!(matches!(err, NodeError::NotFound { ref name, .. } if name == "nobody"), "{err:?}");
        let err = b.lookup::<Counter>("zed", "counter").await.unwrap_err();
        assert!(matches!(err, NodeError::UnknownPeer(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_panic_on_the_far_side_reaches_the_asker() {
    with_counter(|Served { counter, remote, .. }| async move {
        let err = remote.boom().await.unwrap_err();
        let AskError::Panicked(panic) = err else { panic!("expected a panic, got {err:?}") };
        assert_eq!(panic.message(), "boom on purpose");
        // The actor stopped (default on_panic): a remote monitor would see it,
        // and the node answers further asks with "unknown actor".
        counter.wait_for_stop().await;
        let err = remote.add(1).await.unwrap_err();
        assert!(
            matches!(&err, AskError::Remote(e) if e.kind() == RemoteErrorKind::UnknownActor),
            "an ask to a stopped remote actor fails with a remote error: {err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reply_can_carry_a_reference_and_messages_can_carry_one() {
    bounded(async {
        let (a, b, peer) = pair().await;
        let _greeter = support::spawn_named(&a, "greeter", Greeter::default());
        let remote: ActorRef<Greeter> = b.lookup(&peer, "greeter").await.unwrap();

        // A local ref of b travels to a, and a answers through it.
        let inbox = b.system().spawn(Inbox { got: Vec::new() });
        assert!(remote.greet("bob".into(), inbox.clone()).await.unwrap());
        assert_eq!(inbox.got().await.unwrap(), vec!["hello, bob".to_owned()]);

        // A ref of a's actor comes back in a reply and works from b.
        let made: ActorRef<Inbox> = remote.make_inbox().await.unwrap();
        assert!(!made.is_local());
        made.tell_deliver("from b".into()).await.unwrap();
        // Sent back to a inside a message, it resolves to a's local actor.
        assert!(remote.greet("carol".into(), made.clone()).await.unwrap());
        assert_eq!(
            made.got().await.unwrap(),
            vec!["made here".to_owned(), "from b".to_owned(), "hello, carol".to_owned()]
        );

        // Once a no longer holds it, the inbox stops; a reference to it that
        // comes back is refused with the reason, not a panic.
        remote.forget_inboxes().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = remote.greet("dan".into(), made.clone()).await.unwrap_err();
        assert!(
            matches!(&err, AskError::Remote(e) if e.kind() == RemoteErrorKind::Undecodable
                && (e.detail().contains("has stopped") || e.detail().contains("no longer"))),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_remote_monitor_sees_the_actor_stop_with_its_reason() {
    with_counter(|Served { b, counter, remote, .. }| async move {
        let watching = support::watch(b.system(), &remote).await;
        // Let the watch reach the far side before the stop does.
        assert_eq!(remote.add(1).await.unwrap(), 1);

        remote.kill();
        let notice = watching.terminated().await;
        assert_eq!(notice.id, counter.id());
        assert!(matches!(notice.reason, StopReason::Killed), "{:?}", notice.reason);
        assert!(matches!(remote.wait_for_stop().await, StopReason::NotFound | StopReason::Killed));
        assert!(!remote.is_alive());
    })
    .await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_reaches_no_actor() {
    bounded(async {
        let a = node("a").await;
        let counter = support::spawn_named(&a, "counter", Counter::default());
        let intruder = Node::builder(ActorSystem::new())
            .name("intruder")
            .secret("guess")
            .limits(fast_limits())
            .start()
            .await
            .unwrap();
        let err = intruder.connect(&a.address().to_string()).await.unwrap_err();
        assert!(
            matches!(err, NodeError::Handshake(HandshakeError::Authentication | HandshakeError::RefusedByPeer(_))),
            "{err:?}"
        );
        assert!(a.peers().is_empty(), "the intruder never became a peer");
        assert_eq!(counter.total().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused() {
    bounded(async {
        let a = node("a").await;
        let future =
            Node::builder(ActorSystem::new()).name("future").secret(SECRET).protocol_version(99).start().await.unwrap();
        let err = future.connect(&a.address().to_string()).await.unwrap_err();
        assert!(matches!(err, NodeError::Handshake(HandshakeError::Version { ours: 99, theirs: 4 })), "{err:?}");
        assert!(a.peers().is_empty());
    })
    .await;
}

/// Connects a raw TCP socket to `node`, sends `bytes`, and reads until the
/// node closes it.
async fn raw_exchange(node: &Node, bytes: &[u8]) -> usize {
    let addr = node.address().to_string();
    let addr = addr.strip_prefix("tcp://").unwrap();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(bytes).await.unwrap();
    let mut sink = Vec::new();
    // The node closes the connection: read_to_end returns (or errors on a
    // reset), it does not hang.
    let _ = socket.read_to_end(&mut sink).await;
    sink.len()
}

#[tokio::test]
async fn oversized_and_garbage_frames_close_the_connection_and_the_node_goes_on() {
    bounded(async {
        let (a, b, peer) = pair().await;
        let _counter = support::spawn_named(&a, "counter", Counter::default());

        // A length prefix of 4 GiB: refused before anything is allocated.
        raw_exchange(&a, &[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]).await;
        // A well-sized frame of garbage, then random bytes.
        raw_exchange(&a, &[0, 0, 0, 5, 9, 9, 9, 9, 9]).await;
        raw_exchange(&a, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;

        // The good peer is still served.
        let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
        assert_eq!(remote.add(5).await.unwrap(), 5);
    })
    .await;
}

#[tokio::test]
async fn pending_asks_fail_with_node_down_when_the_connection_drops() {
    with_counter(|Served { a, remote, .. }| async move {
        support::counter::pending_ask_fails_fast_when_its_node_goes(&a, &remote).await;
        // New asks fail at once too.
        assert!(remote.add(1).await.unwrap_err().is_node_down());
    })
    .await;
}

#[tokio::test]
async fn fifo_holds_for_100_000_tells_across_the_wire() {
    with_counter(|Served { remote, .. }| async move {
        const N: u64 = 100_000;
        for seq in 0..N {
            remote.tell_record(0, seq).await.unwrap();
        }
        assert_eq!(remote.stats().await.unwrap(), (N, true));
    })
    .await;
}

#[tokio::test]
async fn a_full_remote_mailbox_slows_its_sender_without_stalling_others() {
    bounded(async {
        let a = node("a").await;
        let b = node_with("b", Limits { credit_window: 8, ..fast_limits() }).await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let busy = a.system().spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(2)));
        let free = a.system().spawn(Counter::default());
        a.register("busy", &busy).unwrap();
        a.register("free", &free).unwrap();
        let busy: ActorRef<Counter> = b.lookup(&peer, "busy").await.unwrap();
        let free: ActorRef<Counter> = b.lookup(&peer, "free").await.unwrap();

        // Occupy the busy actor, then fill its window.
        let blocker = tokio::spawn({
            let busy = busy.clone();
            async move { busy.nap(1_000).await }
        });
        let mut full_after = None;
        for i in 0..100 {
            match busy.try_tell(Record { sender: 0, seq: i }) {
                Ok(()) => {}
                Err(SendError::Full(_)) => {
                    full_after = Some(i);
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        let full_after = full_after.expect("the window toward the busy actor fills up");
        assert!(full_after <= 8, "at most the credit window is in flight, got {full_after}");

        // The other actor on the same connection is not held up.
        assert_eq!(free.add(7).timeout(Duration::from_millis(500)).await.unwrap(), 7);

        // Once the busy actor drains, sending resumes, and nothing was lost.
        assert_eq!(blocker.await.unwrap().unwrap(), 1_000);
        busy.tell_record(0, full_after).await.unwrap();
        assert_eq!(busy.stats().await.unwrap(), (full_after + 1, true));
    })
    .await;
}

/// Credit granted by an ask's delivery waits for the ask's reply to carry
/// it, but not for long: with a window of one message per actor, a tell
/// sent while the ask's handler still works gets its credit within moments,
/// not when the reply comes two seconds later.
#[tokio::test]
async fn credit_held_for_a_slow_reply_goes_out_on_its_own() {
    bounded(async {
        // Heartbeats far apart: they would carry the credit too.
        let limits = Limits {
            credit_window: 1,
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(30),
            ..fast_limits()
        };
        let a = node_with("a", limits.clone()).await;
        let b = node_with("b", limits).await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let counter = a.system().spawn(Counter::default());
        a.register("counter", &counter).unwrap();
        let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();

        // The ask takes the window's one unit; its handler naps.
        let napping = tokio::spawn({
            let remote = remote.clone();
            async move { remote.nap(2_000).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent = std::time::Instant::now();
        remote.tell_record(0, 0).await.unwrap();
        assert!(sent.elapsed() < Duration::from_millis(1_000), "the tell waited {:?} for credit", sent.elapsed());
        assert!(!napping.is_finished(), "credit came before the reply");
        // It went on the held credit's timer.
        assert!(a.link_stats("b").unwrap().credit_timeouts >= 1);
        assert_eq!(napping.await.unwrap().unwrap(), 2_000);
        assert_eq!(remote.stats().await.unwrap(), (1, true));
    })
    .await;
}

/// In a steady stream of asks each reply carries the credit its ask's
/// delivery granted, and the timer armed for that credit is taken down
/// before it fires: a timer firing for nothing wakes the runtime in the
/// middle of a round trip. 10,240 sequential asks make 20 grants (one per
/// half window); a timer left armed would fire once for each.
#[tokio::test]
async fn steady_asks_do_not_fire_the_held_credit_timer() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let a = node("a").await;
        let b = node("b").await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let counter = a.system().spawn(Counter::default());
        a.register("counter", &counter).unwrap();
        let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
        let window = Limits::default().credit_window as u64;
        let asks = 20 * window / 2;
        for n in 0..asks {
            assert_eq!(remote.add(1).await.unwrap(), n + 1);
        }
        // A round trip that stalls past a millisecond right after a grant
        // (a busy test machine) lets its timer fire: a few may.
        let fired = a.link_stats("b").unwrap().credit_timeouts;
        assert!(fired <= 5, "the held credit's timer fired {fired} times in {asks} asks (20 grants)");
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test]
async fn a_tell_waiting_for_room_does_not_keep_its_actor_alive() {
    bounded(async {
        let a = node("a").await;
        let b = node("b").await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let busy = a.system().spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
        a.register("busy", &busy).unwrap();
        let remote: ActorRef<Counter> = b.lookup(&peer, "busy").await.unwrap();
        // Only `busy` keeps the actor alive now: an export does not.
        assert!(a.system().unregister("busy"));
        let mut letters = a.system().dead_letters();

        // The actor naps; one tell fills its mailbox, the next waits on `a`
        // for room.
        let napping = tokio::spawn({
            let remote = remote.clone();
            async move { remote.nap(500).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        remote.tell_record(0, 0).await.unwrap();
        remote.tell_record(0, 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The last reference goes: the mailbox closes at once, so the
        // waiting tell is refused and reported; the actor finishes its nap
        // and what its mailbox held, then stops.
        let before = a.system().dead_letter_count();
        drop(busy);
        let letter = tokio::time::timeout(Duration::from_secs(5), letters.recv())
            .await
            .expect("the waiting tell is reported")
            .unwrap();
        assert_eq!(letter.reason, DeadLetterReason::Stopped, "{letter:?}");
        assert!(letter.message_type.contains("Record"), "{letter:?}");
        // The sending node hears of it too, as when the tell finds the
        // actor stopped on arrival.
        undelivered_notices(&b, &peer, 1).await;
        assert_eq!(napping.await.unwrap().unwrap(), 500);
        assert_eq!(a.system().dead_letter_count() - before, 1, "one dead letter for one message");
    })
    .await;
}

#[tokio::test]
async fn tells_to_a_stopped_remote_actor_become_dead_letters_on_its_node() {
    with_counter(|Served { a, counter, remote, .. }| async move {
        let mut letters = a.system().dead_letters();
        counter.stop();
        counter.wait_for_stop().await;
        drop(counter);
        remote.tell_add(1).await.unwrap();
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.reason, DeadLetterReason::Undeliverable);
        assert!(letter.detail.as_deref().unwrap_or_default().contains("Counter::Add"), "{letter:?}");
    })
    .await;
}

#[tokio::test]
async fn a_tell_to_a_stopped_remote_actor_is_reported_once() {
    with_counter(|Served { a, b, peer, counter, remote }| async move {
        // A second actor on `a`: its reply to an ask sent after a tell comes
        // back once `a` has read the tell.
        let other = a.system().spawn(Counter::default());
        a.register("other", &other).unwrap();
        let other: ActorRef<Counter> = b.lookup(&peer, "other").await.unwrap();
        remote.tell_add(1).await.unwrap();
        assert_eq!(remote.add(1).await.unwrap(), 2);

        // Stopped, but `counter` still holds its shared block (and `a`'s
        // reader the export it delivered to last).
        counter.stop();
        counter.wait_for_stop().await;
        let before = a.system().dead_letter_count();
        remote.tell_add(1).await.unwrap();
        assert_eq!(other.add(1).await.unwrap(), 1);
        assert_eq!(a.system().dead_letter_count() - before, 1, "one dead letter for one message");
        undelivered_notices(&b, &peer, 1).await;
    })
    .await;
}

/// Waits until `node` has heard from `peer` of exactly `n` messages it
/// could not deliver; fails past 5 s, or if it hears of more.
async fn undelivered_notices(node: &Node, peer: &str, n: u64) {
    let heard = || node.link_stats(peer).expect("a link to the peer").undelivered;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while heard() < n {
        assert!(tokio::time::Instant::now() < deadline, "heard of {} undelivered messages, not {n}", heard());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(heard(), n, "one notice per undelivered message");
}

#[cfg(unix)]
#[tokio::test]
async fn the_unix_socket_transport_carries_the_same_traffic() {
    bounded(async {
        let dir = std::env::temp_dir().join(format!("actor-remote-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.sock");
        let _ = std::fs::remove_file(&path);
        let a = support::node_listening("a", SECRET, &format!("unix:{}", path.display())).await.unwrap();
        let b = node("b").await;
        let peer = b.connect(&format!("unix:{}", path.display())).await.unwrap();
        let (_counter, remote) = support::counter::serve(&a, &b, &peer).await;
        for seq in 0..1_000 {
            remote.tell_record(0, seq).await.unwrap();
        }
        assert_eq!(remote.stats().await.unwrap(), (1_000, true));
        assert_eq!(remote.add(2).await.unwrap(), 2);
        a.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test]
async fn a_remote_error_names_what_went_wrong() {
    let e = RemoteError::new(RemoteErrorKind::UnknownMessage, "Counter::Nope");
    assert_eq!(e.to_string(), "unknown message type: Counter::Nope");
}

/// Copies `from` to `to` until either closes; swallows everything once
/// `frozen` is set.
async fn pump<R, W>(mut from: R, mut to: W, frozen: std::sync::Arc<std::sync::atomic::AtomicBool>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A loopback TCP proxy that can be frozen: it keeps both connections open
/// but stops forwarding, like a hung peer or a network that drops
/// everything. Returns its address and the switch.
async fn freezable_proxy(target: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("tcp://{}", listener.local_addr().unwrap());
    let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = frozen.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else { return };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, frozen.clone()));
            tokio::spawn(pump(ro, wi, frozen.clone()));
        }
    });
    (address, switch)
}

#[tokio::test]
async fn heartbeats_detect_a_peer_that_hangs_without_closing() {
    bounded(async {
        let a = node("a").await;
        let b = node("b").await;
        let _counter = support::spawn_named(&a, "counter", Counter::default());
        let target = a.address().to_string().trim_start_matches("tcp://").to_owned();
        let (via, frozen) = freezable_proxy(target).await;
        let peer = b.connect(&via).await.unwrap();
        let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
        assert_eq!(remote.add(1).await.unwrap(), 1);

        let pending = support::spawn_ask(&remote, |remote| async move { remote.nap(60_000).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        frozen.store(true, std::sync::atomic::Ordering::SeqCst);
        let frozen_at = std::time::Instant::now();
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        // heartbeat_timeout is 1 s in these tests.
        let took = frozen_at.elapsed();
        assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(5), "detected after {took:?}");
    })
    .await;
}

#[tokio::test]
async fn tells_to_a_down_node_wait_in_a_bounded_outbox_then_become_dead_letters() {
    bounded(async {
        let a = node("a").await;
        let b = node_with("b", Limits { outbox: 5, reconnect_min: Duration::from_secs(30), ..fast_limits() }).await;
        let _counter = support::spawn_named(&a, "counter", Counter::default());
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
        let mut letters = b.system().dead_letters();

        a.shutdown().await;
        // Wait until b has noticed.
        while b.peers().contains(&peer) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for i in 0..5 {
            remote.tell_record(0, i).await.unwrap_or_else(|e| panic!("tell {i} waits in the outbox: {e:?}"));
        }
        let err = remote.tell_record(0, 5).await.unwrap_err();
        assert!(matches!(err, SendError::NodeDown(Record { sender: 0, seq: 5 })), "{err:?}");
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.reason, DeadLetterReason::NodeDown);
        assert_eq!(letter.recipient, Some(remote.id()));
    })
    .await;
}

#[tokio::test]
async fn a_peer_redialed_in_vain_is_given_up_and_its_waiting_senders_fail() {
    bounded(async {
        // a dials b, so a redials b when it goes, until it gives up.
        let a = node_with(
            "a",
            Limits {
                credit_window: 4,
                reconnect_max: Duration::from_millis(50),
                reconnect_give_up: Duration::from_millis(500),
                ..fast_limits()
            },
        )
        .await;
        let mut dead = a.system().dead_letters();
        let b = node("b").await;
        let _counter = support::spawn_named(&b, "counter", Counter::default());
        let peer = a.connect(&b.address().to_string()).await.unwrap();
        let remote: ActorRef<Counter> = a.lookup(&peer, "counter").await.unwrap();
        b.crash();
        while a.peers().contains(&peer) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // While a redials, the window's worth of tells waits in the outbox
        // and the next tell waits for credit...
        for seq in 0..4 {
            remote.tell_record(0, seq).await.unwrap();
        }
        let started = std::time::Instant::now();
        let err = remote.tell_record(0, 4).await.unwrap_err();
        // ...until a gives up: then it fails, and so does what follows.
        assert!(matches!(err, SendError::NodeDown(_)), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(200), "it waited for the peer first");
        assert!(matches!(remote.try_tell(Record { sender: 0, seq: 5 }), Err(SendError::NodeDown(_))));
        assert!(remote.stats().await.unwrap_err().is_node_down());
        // The tells held for b are reported, not dropped: they never left.
        for _ in 0..4 {
            let letter = tokio::time::timeout(Duration::from_secs(5), dead.recv()).await.unwrap().unwrap();
            assert_eq!(letter.reason, DeadLetterReason::NodeLost { maybe_delivered: false });
            assert!(letter.detail.as_deref().unwrap_or("").contains("gave up"), "{letter:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn tells_to_a_down_node_that_nobody_redials_fail_instead_of_waiting_for_credit() {
    bounded(async {
        // b dialed a, so a will not redial b: from a, b is down for good.
        let a = node_with("a", Limits { credit_window: 4, ..fast_limits() }).await;
        let b = node("b").await;
        let _counter = support::spawn_named(&b, "counter", Counter::default());
        b.connect(&a.address().to_string()).await.unwrap();
        let peer_b = {
            // a learns of b by the connection b made.
            while a.peers().is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            a.peers()[0].clone()
        };
        let remote: ActorRef<Counter> = a.lookup(&peer_b, "counter").await.unwrap();
        b.shutdown().await;
        while a.peers().contains(&peer_b) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut queued = 0;
        let err = loop {
            match remote.tell_record(0, queued).await {
                Ok(()) => queued += 1,
                Err(e) => break e,
            }
            assert!(queued <= 4, "at most the credit window is queued");
        };
        assert!(matches!(err, SendError::NodeDown(_)), "{err:?}");
        assert!(matches!(remote.try_tell(Record { sender: 0, seq: 99 }), Err(SendError::NodeDown(_))));
    })
    .await;
}
