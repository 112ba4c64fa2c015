//! Ask cycles that cross nodes fail at once with `AskError::Deadlock`,
//! naming the cycle, instead of hanging until a timeout: the chain of waits
//! travels with each remote ask made by a handler. Two nodes in one
//! process, on loopback.

use std::time::{Duration, Instant};

use actor_core::error::AskError;
use actor_core::prelude::*;
use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
use actor_remote::Node;
use serde::{Deserialize, Serialize};

const SECRET: &str = "cycle cookie";

/// The timeout every hop gives its ask: a cycle found late would show as
/// a test taking this long.
const HOP_TIMEOUT: Duration = Duration::from_secs(5);

async fn node(name: &str) -> Node {
    Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await.unwrap()
}

/// Runs `test` on two connected nodes, `one` and `two`, bounded: a hang
/// is a failure, not a stuck CI job.
async fn two_nodes<Fut: std::future::Future<Output = ()>>(test: impl FnOnce(Node, Node) -> Fut) {
    tokio::time::timeout(Duration::from_secs(20), async {
        let (one, two) = (node("one").await, node("two").await);
        two.connect(&one.address().to_string()).await.unwrap();
        test(one, two).await;
    })
    .await
    .expect("the test finished in time");
}

/// How a relay ended, as the first hop reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Outcome {
    /// The end of the chain answered; the number of hops behind it.
    Answered(u32),
    /// A hop's ask failed with a cycle: its actors, the asker first and last.
    Deadlock(Vec<ActorId>),
    TimedOut,
    Other(String),
}

/// Relays an ask to the next hop, which may live on another node.
#[derive(Default)]
struct Hop {
    next: Option<ActorRef<Hop>>,
}

#[actor]
impl Hop {
    #[message(remote)]
    fn set_next(&mut self, next: ActorRef<Hop>) {
        self.next = Some(next);
    }

    /// Asks the next hop to relay and reports how that went; the last hop
    /// answers.
    #[message(remote)]
    async fn relay(&mut self) -> Outcome {
        let Some(next) = self.next.clone() else { return Outcome::Answered(0) };
        match next.relay().timeout(HOP_TIMEOUT).await {
            Ok(Outcome::Answered(n)) => Outcome::Answered(n + 1),
            Ok(other) => other,
            Err(AskError::Deadlock(_, cycle)) => Outcome::Deadlock(cycle.actors().to_vec()),
            Err(AskError::Timeout) => Outcome::TimedOut,
            Err(e) => Outcome::Other(e.to_string()),
        }
    }
}

/// Spawns a hop on `node` under `name`; returns it and the reference to
/// it that node `from` looks up.
async fn hop_seen_from(node: &Node, name: &str, from: &Node) -> (ActorRef<Hop>, ActorRef<Hop>) {
    let hop = node.system().spawn(Hop::default());
    node.register(name, &hop).unwrap();
    let remote = from.lookup(node.name(), name).await.unwrap();
    (hop, remote)
}

/// Relays from `first` and checks that it ended at once with `cycle`.
async fn expect_cycle(first: &ActorRef<Hop>, cycle: &[ActorId]) {
    let started = Instant::now();
    let outcome = first.relay().await.unwrap();
    assert_eq!(outcome, Outcome::Deadlock(cycle.to_vec()));
    assert!(started.elapsed() < HOP_TIMEOUT / 2, "found at once, not at a timeout: {:?}", started.elapsed());
}

#[tokio::test]
async fn two_actors_on_two_nodes_asking_each_other_fail_at_once_with_the_cycle() {
    two_nodes(|one, two| async move {
        let (a, a_from_two) = hop_seen_from(&one, "a", &two).await;
        let (b, b_from_one) = hop_seen_from(&two, "b", &one).await;
        a.set_next(b_from_one).await.unwrap();
        b.set_next(a_from_two).await.unwrap();
        // a asks b across the wire; b's ask back to a closes the cycle on
        // node two, which has only the chain a's ask carried to know it.
        expect_cycle(&a, &[b.id(), a.id(), b.id()]).await;
        // The waits the cycle's asks carried ended with them: b asking a
        // now is no cycle (a stale assumed wait "a waits for b" on node two
        // would make it one), and a chain without a cycle is answered.
        let (leaf, leaf_from_one) = hop_seen_from(&two, "leaf", &one).await;
        a.set_next(leaf_from_one).await.unwrap();
        assert_eq!(b.relay().await.unwrap(), Outcome::Answered(2));
        assert_eq!(a.relay().await.unwrap(), Outcome::Answered(1));
        drop(leaf);
    })
    .await;
}

#[tokio::test]
async fn a_cycle_of_three_actors_over_two_nodes_is_found_on_either_node() {
    two_nodes(|one, two| async move {
        let (a, a_from_two) = hop_seen_from(&one, "a", &two).await;
        let (c, c_from_two) = hop_seen_from(&one, "c", &two).await;
        let (b, b_from_one) = hop_seen_from(&two, "b", &one).await;

        // a (one) -> b (two) -> c (one) -> a: closed on node one, by a local
        // ask, through the waits b's ask carried back.
        a.set_next(b_from_one.clone()).await.unwrap();
        b.set_next(c_from_two).await.unwrap();
        c.set_next(a.clone()).await.unwrap();
        expect_cycle(&a, &[c.id(), a.id(), b.id(), c.id()]).await;

        // a (one) -> c (one) -> b (two) -> a: closed on node two, by a remote
        // ask, through the local wait a -> c that c's ask carried there.
        a.set_next(c.clone()).await.unwrap();
        c.set_next(b_from_one).await.unwrap();
        b.set_next(a_from_two).await.unwrap();
        expect_cycle(&a, &[b.id(), a.id(), c.id(), b.id()]).await;
    })
    .await;
}

/// An actor with a reentrant handler, written by hand: asks of `Again`
/// are exempt from cycle detection, on any node.
struct Lenient {
    partner: Option<ActorRef<Bouncer>>,
}

#[actor]
impl Lenient {
    /// Sets the partner: a plain local message.
    #[message]
    fn set_partner(&mut self, partner: ActorRef<Bouncer>) {
        self.partner = Some(partner);
    }
}

/// Makes a `Lenient` ask its partner to bounce; the reply is the partner's
/// outcome.
#[derive(Serialize, Deserialize)]
struct Start;
impl Message for Start {
    type Reply = Outcome;
}
impl RemoteMessage for Start {
    const WIRE_NAME: &'static str = "Lenient::Start";
}
impl Handler<Start> for Lenient {
    async fn handle(&mut self, _: Start, _: &mut Context<Self>) -> Outcome {
        let partner = self.partner.clone().expect("a partner");
        partner.ask(Bounce).await.unwrap_or_else(|e| Outcome::Other(e.to_string()))
    }
}

/// Meant to be asked back while its actor waits: reentrant.
#[derive(Serialize, Deserialize)]
struct Again;
impl Message for Again {
    type Reply = ();
}
impl RemoteMessage for Again {
    const WIRE_NAME: &'static str = "Lenient::Again";
}
impl Handler<Again> for Lenient {
    const REENTRANT: bool = true;
    async fn handle(&mut self, _: Again, _: &mut Context<Self>) {}
}

impl RemoteActor for Lenient {
    fn remote_messages(messages: &mut RemoteMessages<Self>) {
        messages.add::<Start>().add::<Again>();
    }
}

/// Asks its `Lenient` back, with a short timeout.
struct Bouncer {
    back: ActorRef<Lenient>,
}

#[actor]
impl Bouncer {
    #[message(remote)]
    async fn bounce(&mut self) -> Outcome {
        match self.back.ask(Again).timeout(Duration::from_millis(300)).await {
            Ok(()) => Outcome::Answered(0),
            Err(AskError::Deadlock(_, cycle)) => Outcome::Deadlock(cycle.actors().to_vec()),
            Err(AskError::Timeout) => Outcome::TimedOut,
            Err(e) => Outcome::Other(e.to_string()),
        }
    }
}

#[tokio::test]
async fn a_reentrant_handler_is_exempt_across_nodes_too() {
    two_nodes(|one, two| async move {
        let lenient = one.system().spawn(Lenient { partner: None });
        one.register("lenient", &lenient).unwrap();
        let back: ActorRef<Lenient> = two.lookup("one", "lenient").await.unwrap();
        let bouncer = two.system().spawn(Bouncer { back });
        two.register("bouncer", &bouncer).unwrap();
        let partner: ActorRef<Bouncer> = one.lookup("two", "bouncer").await.unwrap();
        lenient.set_partner(partner).await.unwrap();
        // lenient waits for bouncer, which asks lenient back: a cycle, but
        // `Again` is reentrant, so the ask goes out and ends at its timeout.
        assert_eq!(lenient.ask(Start).await.unwrap(), Outcome::TimedOut);
    })
    .await;
}
