//! Ask cycles fail at once with the cycle; asks whose caller gave up are
//! skipped, not handled.

mod support;

use std::time::Duration;

use actor_core::DeadLetterReason;
use actor_core::error::{AskError, ErrorKind};
use actor_core::prelude::*;

use support::{run_bounded, run_with};

/// Bounds every test: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(10);

/// An actor that, asked to `Relay`, asks the next actor in a list (or
/// itself) and reports what happened.
#[derive(Default)]
struct Node {
    next: Option<ActorRef<Node>>,
    handled: u64,
}

#[actor]
impl Node {
    #[message]
    fn set_next(&mut self, next: ActorRef<Node>) {
        self.next = Some(next);
    }

    /// Asks the next actor (or itself, without one) to relay; the reply is
    /// the outcome, as text, once the chain returns.
    #[message]
    async fn relay(&mut self, ctx: &mut Context<Self>) -> Result<u64, String> {
        self.handled += 1;
        let next = self.next.clone().unwrap_or_else(|| ctx.actor_ref());
        match next.ask(Relay).timeout(Duration::from_secs(5)).await {
            Ok(inner) => inner,
            Err(AskError::Deadlock(Relay, cycle)) => Err(format!("deadlock of {}", cycle.actors().len() - 1)),
            Err(e) => Err(format!("other: {e}")),
        }
    }

    /// As `relay`, but the ask is queued with `try_send` and its reply
    /// awaited after.
    #[message]
    async fn relay_sent(&mut self, ctx: &mut Context<Self>) -> Result<u64, String> {
        self.handled += 1;
        let next = self.next.clone().unwrap_or_else(|| ctx.actor_ref());
        match next.ask(RelaySent).timeout(Duration::from_secs(5)).try_send() {
            Ok(reply) => reply.await.map_err(|e| format!("other: {e}"))?,
            Err(AskError::Deadlock(RelaySent, cycle)) => Err(format!("deadlock of {}", cycle.actors().len() - 1)),
            Err(e) => Err(format!("other: {e}")),
        }
    }

    /// The end of a chain: answers without asking anyone.
    #[message]
    fn leaf(&mut self) -> u64 {
        self.handled += 1;
        self.handled
    }
}

#[test]
fn an_actor_asking_itself_fails_at_once_with_the_cycle() {
    run_with(LIMIT, Node::default, |_, [a]| async move {
        assert_eq!(a.ask(Relay).await.unwrap(), Err("deadlock of 1".to_owned()));
    });
}

#[test]
fn an_ask_queued_with_try_send_that_closes_a_cycle_fails_at_once() {
    run_with(LIMIT, Node::default, |_, [a, b]| async move {
        assert_eq!(a.ask(RelaySent).await.unwrap(), Err("deadlock of 1".to_owned()));
        a.ask(SetNext { next: b.clone() }).await.unwrap();
        b.ask(SetNext { next: a.clone() }).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(a.ask(RelaySent).await.unwrap(), Err("deadlock of 2".to_owned()));
        assert!(started.elapsed() < Duration::from_secs(2), "at once, not at the 5 s timeout");
        // Each actor handled the relay once per round: nothing waits on.
        assert_eq!((a.ask(Leaf).await.unwrap(), b.ask(Leaf).await.unwrap()), (3, 2));
    });
}

#[test]
fn two_actors_asking_each_other_fail_at_once() {
    run_with(LIMIT, Node::default, |_, [a, b]| async move {
        a.ask(SetNext { next: b.clone() }).await.unwrap();
        b.ask(SetNext { next: a.clone() }).await.unwrap();
        // a asks b, b asks a: b's ask closes the cycle and fails; b answers
        // a with that, and a's ask returns.
        let started = std::time::Instant::now();
        assert_eq!(a.ask(Relay).await.unwrap(), Err("deadlock of 2".to_owned()));
        assert!(started.elapsed() < Duration::from_secs(2), "at once, not at the 5 s timeout");
    });
}

#[test]
fn a_longer_chain_is_found_and_the_cycle_named() {
    run_bounded(LIMIT, |system| async move {
        let nodes: Vec<_> = (0..4).map(|_| system.spawn(Node::default())).collect();
        for (i, node) in nodes.iter().enumerate() {
            node.ask(SetNext { next: nodes[(i + 1) % nodes.len()].clone() }).await.unwrap();
        }
        assert_eq!(nodes[0].ask(Relay).await.unwrap(), Err("deadlock of 4".to_owned()));
    });
}

#[test]
fn the_error_hands_back_the_message_and_names_every_actor() {
    struct Asker;
    impl Actor for Asker {
        type Error = std::convert::Infallible;
    }
    struct Probe;
    impl Message for Probe {
        type Reply = Option<(ErrorKind, Vec<ActorId>)>;
    }
    impl Handler<Probe> for Asker {
        async fn handle(&mut self, _: Probe, ctx: &mut Context<Self>) -> Option<(ErrorKind, Vec<ActorId>)> {
            let me = ctx.actor_ref();
            match me.ask(Ping).await {
                Err(e @ AskError::Deadlock(..)) => {
                    let kind = e.kind();
                    let AskError::Deadlock(Ping, cycle) = e else { unreachable!() };
                    Some((kind, cycle.actors().to_vec()))
                }
                _ => None,
            }
        }
    }
    struct Ping;
    impl Message for Ping {
        type Reply = ();
    }
    impl Handler<Ping> for Asker {
        async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }
    run_with(
        LIMIT,
        || Asker,
        |_, [asker]| async move {
            let (kind, cycle) = asker.ask(Probe).await.unwrap().expect("a deadlock");
            assert_eq!(kind, ErrorKind::Deadlock);
            assert_eq!(cycle, vec![asker.id(), asker.id()]);
        },
    );
}

#[test]
fn asks_that_close_no_cycle_are_untouched() {
    run_with(LIMIT, Node::default, |system, [a, b]| async move {
        // a -> b -> (b's next is unset, so b asks... ) no: give b a leaf.
        let leaf = system.spawn(Node::default());
        a.ask(SetNext { next: b.clone() }).await.unwrap();
        b.ask(SetNext { next: leaf.clone() }).await.unwrap();
        // leaf relays to itself: that one is a cycle of 1 at the end of the
        // chain, and every actor before it still answers.
        assert_eq!(a.ask(Relay).await.unwrap(), Err("deadlock of 1".to_owned()));
        // A plain ask chain without a cycle.
        assert_eq!(leaf.ask(Leaf).await.unwrap(), 2);
        // Many concurrent asks from plain tasks to one actor: no false alarm.
        let asks: Vec<_> = (0..50)
            .map(|_| {
                tokio::spawn({
                    let leaf = leaf.clone();
                    async move { leaf.ask(Leaf).await }
                })
            })
            .collect();
        for ask in asks {
            ask.await.unwrap().unwrap();
        }
    });
}

/// A handler marked reentrant is exempt: the ask is sent, and the asker's
/// own timeout ends the wait.
#[derive(Default)]
struct Lenient;
impl Actor for Lenient {
    type Error = std::convert::Infallible;
}
struct Again;
impl Message for Again {
    type Reply = ();
}
impl Handler<Again> for Lenient {
    const REENTRANT: bool = true;
    async fn handle(&mut self, _: Again, _: &mut Context<Self>) {}
}
struct Start;
impl Message for Start {
    type Reply = bool;
}
impl Handler<Start> for Lenient {
    async fn handle(&mut self, _: Start, ctx: &mut Context<Self>) -> bool {
        ctx.actor_ref().ask(Again).timeout(Duration::from_millis(50)).await.unwrap_err().is_timeout()
    }
}

#[test]
fn a_reentrant_handler_is_exempt() {
    run_with(LIMIT, Lenient::default, |_, [lenient]| async move {
        assert!(lenient.ask(Start).await.unwrap(), "the ask went out and timed out");
    });
}

/// Counts what it handles; `Hold` keeps it busy for a while.
#[derive(Default)]
struct Slow {
    handled: u64,
}

#[actor]
impl Slow {
    #[message]
    async fn hold(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    #[message]
    fn count(&mut self) -> u64 {
        self.handled += 1;
        self.handled
    }
}

#[tokio::test(start_paused = true)]
async fn an_ask_whose_caller_gave_up_is_skipped_and_reported_as_expired() {
    let system = ActorSystem::new();
    let slow = system.spawn(Slow::default());
    let mut letters = system.dead_letters();
    slow.tell(Hold { d: Duration::from_secs(10) }).await.unwrap();
    // Queued behind the hold; its caller gives up after 1 s.
    let err = slow.ask(Count).timeout(Duration::from_secs(1)).await.unwrap_err();
    assert!(err.is_timeout());
    // A dropped ask future gives up too.
    let gave_up = tokio::time::timeout(Duration::from_millis(10), async { slow.ask(Count).await }).await;
    assert!(gave_up.is_err(), "the ask future was dropped while waiting");
    // After the hold, the actor skips both: the next count is the first.
    assert_eq!(slow.ask(Count).await.unwrap(), 1);
    for _ in 0..2 {
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.reason, DeadLetterReason::Expired);
        assert!(letter.message_type.ends_with("Count"), "{letter:?}");
    }
}
