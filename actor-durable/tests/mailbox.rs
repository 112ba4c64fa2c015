//! Durable mailboxes in one process: order, acknowledgement, restarts,
//! transient messages alongside, and the dedup helper.

mod support;

use std::time::Duration;

use actor_core::prelude::*;
use actor_durable::{Delivery, DurableRef, Store, spawn_durable};
use support::Scratch;
use tokio::time::timeout;

/// Records what it is given, durable or not.
#[derive(Default)]
struct Log {
    durable: Vec<(u64, bool, String)>,
    transient: Vec<String>,
}

impl Actor for Log {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<String>> for Log {
    async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
        self.durable.push((d.seq, d.redelivered, d.message));
    }
}

struct Note(String);
impl Message for Note {
    type Reply = ();
}
impl Handler<Note> for Log {
    async fn handle(&mut self, Note(s): Note, _: &mut Context<Self>) {
        self.transient.push(s);
    }
}

struct Take;
impl Message for Take {
    type Reply = Log;
}
impl Handler<Take> for Log {
    async fn handle(&mut self, _: Take, _: &mut Context<Self>) -> Log {
        std::mem::take(self)
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// The set-up of the tests in one run: a fresh store with a `Log` started
/// on its queue "log".
fn fresh_log() -> (Scratch, Store, DurableRef<Log, String>) {
    let scratch = Scratch::new();
    let store = scratch.open();
    let log = spawn_log(&scratch, &store);
    (scratch, store, log)
}

/// Starts a `Log` on the durable queue "log" of `store`.
fn spawn_log(scratch: &Scratch, store: &Store) -> DurableRef<Log, String> {
    spawn_durable(&scratch.system, Log::default(), store, "log").unwrap()
}

#[tokio::test]
async fn tells_are_delivered_in_order_and_acknowledged_after_the_handler() {
    let (scratch, _store, log) = fresh_log();
    let mut seqs = Vec::new();
    for i in 0..50 {
        seqs.push(log.tell(format!("m{i}")).await.unwrap());
    }
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    log.actor_ref().tell(Note("transient".into())).await.unwrap();
    assert!(timeout(WAIT, log.wait_acked(50)).await.unwrap());
    assert_eq!(log.queue().acked_through(), 50);
    assert!(log.queue().is_empty().unwrap());

    let got = log.actor_ref().ask(Take).await.unwrap();
    let expected: Vec<_> = (0..50).map(|i| (i + 1, false, format!("m{i}"))).collect();
    assert_eq!(got.durable, expected);
    assert_eq!(got.transient, ["transient"]);
    scratch.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_senders_share_commits_and_each_keeps_its_order() {
    let (scratch, _store, log) = fresh_log();
    let senders: Vec<_> = (0..16)
        .map(|s| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    log.tell(format!("{s}:{i}")).await.unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    assert!(timeout(WAIT, log.wait_acked(400)).await.unwrap());
    let got = log.actor_ref().ask(Take).await.unwrap();
    assert_eq!(got.durable.len(), 400);
    assert!(got.durable.windows(2).all(|w| w[1].0 == w[0].0 + 1), "not in sequence order");
    for s in 0..16 {
        let mine: Vec<u32> =
            got.durable.iter().filter_map(|(_, _, m)| m.strip_prefix(&format!("{s}:"))?.parse().ok()).collect();
        assert_eq!(mine, (0..25).collect::<Vec<_>>(), "sender {s}");
    }
    scratch.shutdown().await;
}

#[tokio::test]
async fn messages_told_while_no_consumer_runs_wait_and_are_marked_redelivered() {
    let scratch = Scratch::new();
    {
        let store = scratch.open();
        let log = spawn_log(&scratch, &store);
        log.tell("before".into()).await.unwrap();
        assert!(timeout(WAIT, log.wait_acked(1)).await.unwrap());
        log.stop();
        log.wait_for_stop().await;
        // The actor is gone; the queue still takes messages.
        assert_eq!(log.tell("while stopped".into()).await.unwrap(), 2);
        assert!(!log.wait_acked(2).await, "nobody consumes, so no ack");
    }
    let store = scratch.open();
    assert_eq!(store.queue::<String>("log").unwrap().pending_seqs().unwrap(), [2]);
    let log = spawn_log(&scratch, &store);
    log.tell("after".into()).await.unwrap();
    assert!(timeout(WAIT, log.wait_acked(3)).await.unwrap());
    let got = log.actor_ref().ask(Take).await.unwrap();
    assert_eq!(got.durable, [(2, true, "while stopped".to_string()), (3, false, "after".to_string())]);
    scratch.shutdown().await;
}

#[tokio::test]
async fn queues_in_one_store_are_independent() {
    let scratch = Scratch::new();
    let store = scratch.open();
    let a = store.queue::<String>("a").unwrap();
    let b = store.queue::<u64>("b").unwrap();
    a.push("x".into()).await.unwrap();
    a.push("y".into()).await.unwrap();
    assert_eq!(b.push(9).await.unwrap(), 1, "sequence numbers are per queue");
    assert_eq!(a.pending_seqs().unwrap(), [1, 2]);
    assert_eq!(b.pending_seqs().unwrap(), [1]);
}

#[tokio::test]
async fn sequence_numbers_are_never_reused_after_everything_is_acknowledged() {
    let scratch = Scratch::new();
    {
        let store = scratch.open();
        let log = spawn_log(&scratch, &store);
        for s in ["a", "b", "c"] {
            log.tell(s.into()).await.unwrap();
        }
        assert!(timeout(WAIT, log.wait_acked(3)).await.unwrap());
        log.stop();
        log.wait_for_stop().await;
    }
    let store = scratch.open();
    let queue = store.queue::<String>("log").unwrap();
    assert!(queue.is_empty().unwrap());
    assert_eq!(queue.acked_through(), 3);
    assert_eq!(queue.push("d".into()).await.unwrap(), 4);
    scratch.shutdown().await;
}

#[tokio::test]
async fn the_dedup_set_survives_a_restart() {
    let scratch = Scratch::new();
    {
        let store = scratch.open();
        let seen = store.dedup("payments").unwrap();
        assert!(seen.insert(b"p-1".to_vec()).await.unwrap());
        assert!(!seen.insert(b"p-1".to_vec()).await.unwrap());
        // Two inserts of one new key in the same group commit: one wins.
        let (x, y) = tokio::join!(seen.insert(b"p-2".to_vec()), seen.insert(b"p-2".to_vec()));
        assert!(x.unwrap() ^ y.unwrap());
    }
    let store = scratch.open();
    let seen = store.dedup("payments").unwrap();
    assert!(seen.contains(b"p-1").unwrap() && seen.contains(b"p-2").unwrap());
    assert!(!seen.contains(b"p-3").unwrap());
    assert!(!store.dedup("refunds").unwrap().contains(b"p-1").unwrap(), "sets are separate");
}

#[tokio::test]
async fn one_producer_with_many_tells_in_flight_shares_commits_and_keeps_its_order() {
    let (scratch, store, log) = fresh_log();
    let before = store.stats();
    // All 1,000 handed over before any receipt is awaited.
    let mut receipts = Vec::new();
    for i in 0..1000 {
        receipts.push(log.send(format!("m{i}")).await.unwrap());
    }
    let mut seqs = Vec::new();
    for receipt in receipts {
        seqs.push(receipt.await.unwrap());
    }
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>(), "stored out of the order sent");
    let commits = store.stats().commits - before.commits;
    assert!(commits <= 500, "1,000 tells in flight took {commits} commits: they did not share them");

    assert!(timeout(WAIT, log.wait_acked(1000)).await.unwrap());
    let got = log.actor_ref().ask(Take).await.unwrap();
    let expected: Vec<_> = (0..1000).map(|i| (i + 1, false, format!("m{i}"))).collect();
    assert_eq!(got.durable, expected, "delivered out of the order sent");
    scratch.shutdown().await;
}

/// Serializes as nothing: `serialize` always fails.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Unwritable(u8);

impl serde::Serialize for Unwritable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("this value refuses to be written"))
    }
}

#[tokio::test]
async fn a_failed_send_or_receipt_hands_the_message_back_with_a_typed_error() {
    let scratch = Scratch::new();
    let store = Store::builder().max_size(4 << 20).open(&scratch.path).unwrap();

    // Refused at once: it does not serialize; nothing is stored.
    let bad = store.queue::<Unwritable>("bad").unwrap();
    let err = bad.send(Unwritable(3)).await.unwrap_err();
    assert!(matches!(err.error(), actor_durable::StoreError::Codec(_)), "{err:?}");
    assert_eq!(err.into_inner(), Unwritable(3));
    assert!(bad.is_empty().unwrap());

    // Refused later, through the receipt: the store's size limit.
    let blobs = store.queue::<Vec<u8>>("blobs").unwrap();
    let mut stored = Vec::new();
    for i in 0..4u8 {
        stored.push(blobs.push(vec![i; 64 * 1024]).await.unwrap());
    }
    let mut receipts = Vec::new();
    for i in 4..64u8 {
        receipts.push((i, blobs.send(vec![i; 64 * 1024]).await.unwrap()));
    }
    let mut refused = 0;
    for (i, receipt) in receipts {
        match receipt.await {
            Ok(seq) => stored.push(seq),
            Err(err) => {
                assert!(err.error().is_storage_full(), "{err:?}");
                assert_eq!(err.into_inner(), vec![i; 64 * 1024], "a different message came back");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the size limit was never reached");
    assert_eq!(blobs.pending_seqs().unwrap(), stored, "exactly the acknowledged messages are stored");
}
