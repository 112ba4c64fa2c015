//! Remote asks carry their deadline: an ask still queued when its asker
//! has given up is skipped (an `Expired` dead letter on the far node), not
//! handled, and a reply that comes too late is dropped quietly, leaving no
//! pending entry behind. Two nodes in one process, on loopback.

use std::time::{Duration, Instant};

use actor_core::error::AskError;
use actor_core::prelude::*;
use actor_core::{DeadLetterReason, DeadLetters};
use actor_remote::Node;

mod support;

use support::logs::Captured;

const SECRET: &str = "deadline cookie";

/// Bounds every test: a hang is a failure, not a stuck CI job.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f).await.expect("the test finished in time")
}

/// Counts what it handles; `hold` and `nap` keep it busy for a while.
#[derive(Default)]
struct Slow {
    counted: u64,
    napped: u64,
}

#[actor]
impl Slow {
    #[message(remote)]
    async fn hold(&mut self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    #[message(remote)]
    async fn nap(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.napped += 1;
        self.napped
    }

    #[message(remote)]
    fn count(&mut self) -> u64 {
        self.counted += 1;
        self.counted
    }

    #[message(remote)]
    fn naps(&self) -> u64 {
        self.napped
    }
}

/// What every test here starts from: node `two` with a reference (`slow`)
/// to a `Slow` registered on node `one`, the dead letters of node one, and
/// what the test logs.
struct Setup {
    two: Node,
    slow: ActorRef<Slow>,
    letters: DeadLetters,
    logs: Captured,
}

/// Runs `test`, bounded, on a fresh `Setup`, capturing its logs; node one
/// runs until the test ends.
async fn with_setup<Fut: std::future::Future<Output = ()>>(test: impl FnOnce(Setup) -> Fut) {
    let logs = Captured::default();
    let _logging = support::logs::install(&logs);
    bounded(async {
        let one = Node::builder(ActorSystem::new()).name("one").secret(SECRET).start().await.unwrap();
        let two = Node::builder(ActorSystem::new()).name("two").secret(SECRET).start().await.unwrap();
        support::spawn_named(&one, "slow", Slow::default());
        let peer = two.connect(&one.address().to_string()).await.unwrap();
        let slow = two.lookup(&peer, "slow").await.unwrap();
        let letters = one.system().dead_letters();
        test(Setup { two, slow, letters, logs }).await;
    })
    .await;
}

/// Waits until no ask of `node` waits for an answer.
async fn until_no_pending_asks(node: &Node) {
    while node.pending_asks() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_remote_ask_queued_past_its_deadline_is_skipped_and_reported_expired() {
    with_setup(|Setup { two, slow, mut letters, logs, .. }| async move {
        slow.tell_hold(600).await.unwrap();
        // Queued behind the hold on node one; its asker gives up first.
        let started = Instant::now();
        let err = slow.count().timeout(Duration::from_millis(150)).await.unwrap_err();
        assert!(matches!(err, AskError::Timeout), "{err:?}");
        assert!(started.elapsed() < Duration::from_millis(500), "the asker's own timeout");
        // When the hold ends, node one skips the count: a dead letter.
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.reason, DeadLetterReason::Expired);
        assert!(letter.message_type.ends_with("Count"), "{letter:?}");
        assert_eq!(letter.recipient, Some(slow.id()));
        // The handler never ran for it: the next count is the first. An ask
        // whose deadline is far is handled as usual.
        assert_eq!(slow.count().timeout(Duration::from_secs(5)).await.unwrap(), 1);
        assert_eq!(slow.count().await.unwrap(), 2);
        // The skipped ask was answered: its entry on node two is gone.
        until_no_pending_asks(&two).await;
        assert!(letters.try_recv().unwrap().is_none(), "one dead letter only");
        assert_eq!(logs.text(), "", "nothing about the expired ask was logged as a problem");
    })
    .await;
}

#[tokio::test]
async fn a_late_reply_is_dropped_quietly_and_leaves_no_pending_entry() {
    with_setup(|Setup { two, slow, mut letters, logs, .. }| async move {
        // Taken at once (nothing queued before it), so it is handled, and
        // answered after its asker gave up.
        let err = slow.nap(300).timeout(Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, AskError::Timeout), "{err:?}");
        assert_eq!(two.pending_asks(), 1, "the entry waits for the late reply");
        until_no_pending_asks(&two).await;
        assert_eq!(slow.naps().await.unwrap(), 1, "the handler ran");
        assert!(letters.try_recv().unwrap().is_none(), "a handled ask is no dead letter");
        assert_eq!(logs.text(), "", "the late reply was dropped without a warning");
    })
    .await;
}
