//! The same behaviour over every transport: each test below is one
//! function, run once over TCP and once over NATS (a real `nats-server`
//! started for the test on a free loopback port, see `support/nats.rs`).
//! The `conformance!` macro at the bottom makes `tcp::<test>` and
//! `nats::<test>` of each.
//!
//! NATS-only behaviour (a lost server, queue groups, discovery) is in
//! `nats.rs`.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actor_core::error::AskError;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use actor_remote::{HandshakeError, Limits, NatsOptions, Node, NodeError};
use support::counter::{Add, Counter, CounterClient, Nap};
use support::fast_limits;
use support::nats::NatsServer;

const SECRET: &str = "conformance cookie";

/// Which transport the nodes of a test talk over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Nats,
}

/// Builds nodes that listen on one transport; owns the NATS server.
struct Harness {
    transport: Transport,
    server: Option<NatsServer>,
}

impl Harness {
    /// Where a node named `name` listens.
    fn listen(&self, name: &str) -> String {
        match &self.server {
            Some(server) => format!("{}/{name}", server.url()),
            None => "tcp://127.0.0.1:0".to_owned(),
        }
    }

    /// An address where no node answers.
    fn nobody(&self) -> String {
        match &self.server {
            Some(server) => format!("{}/nobody", server.url()),
            None => format!("tcp://127.0.0.1:{}", support::free_port()),
        }
    }

    async fn node_with(&self, name: &str, secret: &str, limits: Limits) -> Node {
        let options = NatsOptions::new().connect_options(
            // Come back fast after a server restart.
            async_nats_options(),
        );
        Node::builder(ActorSystem::new())
            .name(name)
            .secret(secret)
            .limits(limits)
            .listen(&self.listen(name))
            .unwrap()
            .nats(options)
            .start()
            .await
            .unwrap()
    }

    async fn node(&self, name: &str) -> Node {
        self.node_with(name, SECRET, fast_limits()).await
    }

    /// `b` connected to `a`; `a`'s name as `b` knows it.
    async fn pair(&self) -> (Node, Node, String) {
        let a = self.node("a").await;
        let b = self.node("b").await;
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        (a, b, peer)
    }
}

fn async_nats_options() -> actor_remote::async_nats::ConnectOptions {
    actor_remote::async_nats::ConnectOptions::new().reconnect_delay_callback(|_| Duration::from_millis(100))
}

/// Runs one test body over `transport`, bounded in time; skips a NATS run
/// when the server is not installed (outside CI).
async fn run<F, Fut>(transport: Transport, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = match transport {
        Transport::Tcp => None,
        Transport::Nats => match support::nats::start() {
            Some(server) => Some(server),
            None => return,
        },
    };
    let harness = Harness { transport, server };
    support::bounded(Duration::from_secs(60), test(harness)).await;
}

// ---------------------------------------------------------------------------
// The tests: one body each, for every transport.
// ---------------------------------------------------------------------------

async fn tell_ask_and_the_typed_client(h: Harness) {
    let (a, b, peer) = h.pair().await;
    assert_eq!(peer, "a");
    let (counter, remote) = support::counter::serve(&a, &b, &peer).await;
    assert!(!remote.is_local());
    assert_eq!(remote.node(), Some("a"));
    assert_eq!(remote.id(), counter.id());
    remote.tell(Add { n: 1 }).await.unwrap();
    remote.tell_add(2).await.unwrap();
    assert_eq!(remote.add(3).await.unwrap(), 6, "the typed client asks across the wire");
    assert_eq!(remote.ask(Add { n: 4 }).await.unwrap(), 10);
    assert_eq!(counter.add(0).await.unwrap(), 10, "the local side saw the same");
}

async fn an_ask_times_out_with_a_typed_error(h: Harness) {
    let (a, b, peer) = h.pair().await;
    let (_counter, remote) = support::counter::serve(&a, &b, &peer).await;
    let err = remote.ask(Nap { millis: 2_000 }).timeout(Duration::from_millis(50)).await.unwrap_err();
    assert!(matches!(err, AskError::Timeout), "{err:?}");
    // The connection is still fine.
    assert_eq!(remote.add(1).await.unwrap(), 1);
}

async fn a_remote_monitor_fires_when_the_node_dies(h: Harness) {
    let (a, b, peer) = h.pair().await;
    let (counter, remote) = support::counter::serve(&a, &b, &peer).await;
    let watching = support::watch(b.system(), &remote).await;
    // The watch has reached a once an ask behind it is answered.
    assert_eq!(remote.add(1).await.unwrap(), 1);

    let died = std::time::Instant::now();
    a.crash();
    let notice = watching.terminated().await;
    assert_eq!(notice.id, counter.id());
    assert!(matches!(notice.reason, StopReason::NodeDown), "{:?}", notice.reason);
    assert!(died.elapsed() < Duration::from_secs(5), "seen after {:?}", died.elapsed());
    assert!(remote.add(1).await.unwrap_err().is_node_down());
}

async fn pending_asks_fail_with_node_down_when_the_peer_goes(h: Harness) {
    let (a, b, peer) = h.pair().await;
    let (_counter, remote) = support::counter::serve(&a, &b, &peer).await;
    support::counter::pending_ask_fails_fast_when_its_node_goes(&a, &remote).await;
}

async fn fifo_holds_per_sender_for_4_senders_of_10_000(h: Harness) {
    let (a, b, peer) = h.pair().await;
    let (_counter, remote) = support::counter::serve(&a, &b, &peer).await;
    const SENDERS: u32 = 4;
    const EACH: u64 = 10_000;
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let remote = remote.clone();
            tokio::spawn(async move {
                for seq in 0..EACH {
                    remote.tell_record(sender, seq).await.unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(remote.stats().await.unwrap(), (u64::from(SENDERS) * EACH, true));
}

/// 200,000 tells as fast as they go to an actor that cannot keep up (a
/// small mailbox, a pause every 1,000 messages): none may vanish.
/// Delivered plus dead letters (on either node) equals sent, and with
/// nothing failing, all are delivered.
async fn a_flood_to_a_slow_actor_loses_nothing(h: Harness) {
    let (a, b, peer) = h.pair().await;
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = a.system().spawn_with(
        Counter::slow_consumer(1_000, delivered.clone()),
        SpawnOptions::new().mailbox(Mailbox::bounded(100)),
    );
    a.register("counter", &counter).unwrap();
    let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
    let dead = Arc::new(AtomicU64::new(0));
    for system in [a.system(), b.system()] {
        let mut letters = system.dead_letters();
        let dead = dead.clone();
        tokio::spawn(async move {
            while let Ok(letter) = letters.recv().await {
                eprintln!("dead letter: {letter:?}");
                dead.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    const N: u64 = 200_000;
    let started = std::time::Instant::now();
    for seq in 0..N {
        remote.tell_record(0, seq).await.unwrap();
    }
    let (received, in_order) = remote.stats().await.unwrap();
    println!("{:?}: {N} tells in {:?}", h.transport, started.elapsed());
    let dead = dead.load(Ordering::Relaxed);
    assert_eq!(received + dead, N, "delivered {received} + dead letters {dead} = sent");
    assert_eq!(received, N, "with nothing failing, everything arrives");
    assert_eq!(delivered.load(Ordering::Relaxed), N);
    assert!(in_order);
}

async fn a_wrong_secret_is_refused_and_reaches_no_actor(h: Harness) {
    let a = h.node("a").await;
    let counter = a.system().spawn(Counter::default());
    a.register("counter", &counter).unwrap();
    let intruder = h.node_with("intruder", "guess", fast_limits()).await;
    let err = intruder.connect(&a.address().to_string()).await.unwrap_err();
    assert!(
        matches!(err, NodeError::Handshake(HandshakeError::Authentication | HandshakeError::RefusedByPeer(_))),
        "{err:?}"
    );
    assert!(a.peers().is_empty(), "the intruder never became a peer");
    assert_eq!(counter.stats().await.unwrap(), (0, false));
}

async fn dialing_where_no_node_answers_fails_at_once(h: Harness) {
    let b = h.node("b").await;
    let started = std::time::Instant::now();
    let err = b.connect(&h.nobody()).await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "refused, like a closed port: {err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "no hang: {:?}", started.elapsed());
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod tcp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::run(super::Transport::Tcp, super::$test).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::run(super::Transport::Nats, super::$test).await;
                }
            )*
        }
    };
}

conformance!(
    tell_ask_and_the_typed_client,
    an_ask_times_out_with_a_typed_error,
    a_remote_monitor_fires_when_the_node_dies,
    pending_asks_fail_with_node_down_when_the_peer_goes,
    fifo_holds_per_sender_for_4_senders_of_10_000,
    a_flood_to_a_slow_actor_loses_nothing,
    a_wrong_secret_is_refused_and_reaches_no_actor,
    dialing_where_no_node_answers_fails_at_once,
);
