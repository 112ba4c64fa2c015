//! Bad input and faults: damaged files, messages that no longer
//! deserialize, panicking handlers, a full disk.

mod support;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use actor_core::prelude::*;
use actor_durable::{Delivery, Store, StoreError, spawn_durable};
use serde::{Deserialize, Serialize};
use support::Scratch;

/// A store with some content, closed (the file complete before it is
/// copied and damaged), in a folder of its own; with the last sequence
/// number stored and the file's length.
async fn filled_store() -> (Scratch, u64, u64) {
    let scratch = Scratch::new();
    let path = &scratch.path;
    let store = scratch.open();
    let queue = store.queue::<String>("q").unwrap();
    let mut last = 0;
    for i in 0..200 {
        last = queue.push(format!("message number {i} with some padding to fill pages")).await.unwrap();
    }
    drop(queue);
    store.close().await;
    let len = std::fs::metadata(path).unwrap().len();
    assert!(len > 8192, "store is only {len} bytes");
    (scratch, last, len)
}

fn assert_corrupt(result: Result<Store, StoreError>, what: &str) {
    match result {
        Err(err @ StoreError::Corrupt { .. }) => {
            let text = err.to_string();
            assert!(text.starts_with("store file is corrupt or not a store: "), "{what}: {text}");
        }
        Err(other) => panic!("{what}: expected Corrupt, got {other:?}"),
        Ok(_) => panic!("{what}: a damaged file was opened"),
    }
}

/// Copies the store at `path` to a file beside it, damages the copy with
/// `damage`, and checks that opening the copy is refused as corrupt.
fn assert_damaged_copy_refused(path: &Path, what: &str, damage: impl FnOnce(&mut File)) {
    let copy = path.with_extension("damaged.redb");
    std::fs::copy(path, &copy).unwrap();
    let mut file = OpenOptions::new().write(true).open(&copy).unwrap();
    damage(&mut file);
    drop(file);
    assert_corrupt(Store::open(&copy), what);
}

#[tokio::test]
async fn a_file_that_is_not_a_store_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.redb");
    std::fs::write(&path, "not a database, just some text\n".repeat(300)).unwrap();
    assert_corrupt(Store::open(&path), "text file");
    // The file is left as it was.
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("not a database"));
}

#[tokio::test]
async fn a_truncated_store_is_refused_at_open() {
    let (scratch, _, len) = filled_store().await;
    for keep in [len / 2, 4096, 600, 100] {
        assert_damaged_copy_refused(&scratch.path, &format!("truncated to {keep} of {len} bytes"), |file| {
            file.set_len(keep).unwrap();
        });
    }
}

#[tokio::test]
async fn a_store_with_damaged_pages_is_refused_at_open() {
    let (scratch, _, len) = filled_store().await;
    // Overwrite a run of bytes in the header, then in the middle of the data.
    for offset in [0, 64, len / 2, len - 4096] {
        assert_damaged_copy_refused(&scratch.path, &format!("512 bytes overwritten at {offset} of {len}"), |file| {
            file.seek(SeekFrom::Start(offset)).unwrap();
            file.write_all(&[0xA5; 512]).unwrap();
        });
    }
}

#[tokio::test]
async fn a_healthy_store_reopens_with_its_messages() {
    let (scratch, last, _) = filled_store().await;
    let store = scratch.open();
    assert_eq!(store.queue::<String>("q").unwrap().pending_seqs().unwrap(), (1..=last).collect::<Vec<_>>());
}

/// The shape a message had when it was stored.
#[derive(Serialize, Deserialize)]
enum OrderV1 {
    Placed { id: u64 },
    Cancelled { id: u64, reason: String },
    Refunded { id: u64, cents: u64 },
}

/// The shape the code expects now: the third variant is gone.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum OrderV2 {
    Placed { id: u64 },
    Cancelled { id: u64, reason: String },
}

struct Orders {
    seen: Vec<OrderV2>,
}

impl Actor for Orders {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<OrderV2>> for Orders {
    async fn handle(&mut self, d: Delivery<OrderV2>, _: &mut Context<Self>) {
        self.seen.push(d.message);
    }
}

struct Seen;
impl Message for Seen {
    type Reply = Vec<OrderV2>;
}
impl Handler<Seen> for Orders {
    async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<OrderV2> {
        std::mem::take(&mut self.seen)
    }
}

#[tokio::test]
async fn a_message_that_no_longer_deserializes_goes_to_the_dead_letters_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("dl.redb")).unwrap();
    let old = store.queue::<OrderV1>("orders").unwrap();
    old.push(OrderV1::Placed { id: 1 }).await.unwrap();
    let refund = old.push(OrderV1::Refunded { id: 1, cents: 250 }).await.unwrap();
    old.push(OrderV1::Cancelled { id: 2, reason: "late".into() }).await.unwrap();

    let system = ActorSystem::new();
    let orders = spawn_durable(&system, Orders { seen: vec![] }, &store, "orders").unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(5), orders.wait_acked(3)).await.unwrap());

    // The two readable messages were handled, in order; the third was not dropped.
    let seen = orders.actor_ref().ask(Seen).await.unwrap();
    assert_eq!(seen, [OrderV2::Placed { id: 1 }, OrderV2::Cancelled { id: 2, reason: "late".into() }]);
    let dead = orders.queue().dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].seq, refund);
    assert!(
        dead[0].reason.contains("does not deserialize as") && dead[0].reason.contains("OrderV2"),
        "{}",
        dead[0].reason
    );
    // The stored bytes are kept as they were: the old type still reads them.
    match postcard::from_bytes::<OrderV1>(&dead[0].bytes).unwrap() {
        OrderV1::Refunded { id: 1, cents: 250 } => {}
        _ => panic!("the dead letter's bytes changed"),
    }
    assert!(orders.queue().is_empty().unwrap());
    system.shutdown().await;
}

/// Panics on one message.
struct Fragile;

impl Actor for Fragile {
    type Error = std::convert::Infallible;

    async fn on_panic(&mut self, _: &mut Context<Self>, _: &actor_core::error::PanicError) -> PanicAction {
        PanicAction::Resume
    }
}

impl Handler<Delivery<u32>> for Fragile {
    async fn handle(&mut self, d: Delivery<u32>, _: &mut Context<Self>) {
        assert_ne!(d.message, 13, "unlucky number");
    }
}

#[tokio::test]
async fn a_message_whose_handler_panics_goes_to_the_dead_letters_and_the_queue_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("panic.redb")).unwrap();
    let system = ActorSystem::new();
    let fragile = spawn_durable(&system, Fragile, &store, "numbers").unwrap();
    for n in [12, 13, 14] {
        fragile.tell(n).await.unwrap();
    }
    assert!(tokio::time::timeout(Duration::from_secs(5), fragile.wait_acked(3)).await.unwrap());
    let dead = fragile.queue().dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].seq, 2);
    assert!(
        dead[0].reason.starts_with("handler panicked") && dead[0].reason.contains("unlucky number"),
        "{}",
        dead[0].reason
    );
    assert!(fragile.queue().is_empty().unwrap());
    system.shutdown().await;
}

#[tokio::test]
async fn a_full_disk_reaches_the_sender_as_a_typed_error_with_the_message_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.redb");
    let store = Store::builder().max_size(2 << 20).open(&path).unwrap();
    let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    let mut stored = 0;
    let err = loop {
        match queue.push(vec![stored as u8; 32 * 1024]).await {
            Ok(seq) => stored = seq,
            Err(err) => break err,
        }
        assert!(stored < 1000, "the size limit was never hit");
    };
    assert!(stored > 0, "nothing fit");
    assert!(err.error().is_storage_full(), "{err:?}");
    assert_eq!(err.to_string(), "durable tell failed: storage is full; nothing was committed");
    // The message comes back: the one sent after message `stored`.
    assert!(err.into_inner() == vec![stored as u8; 32 * 1024], "a different message came back");
    // Until the store is reopened, even a small message gets the same typed error.
    let again = queue.push(vec![1]).await.unwrap_err();
    assert!(again.error().is_storage_full(), "{again:?}");
    drop((queue, store));

    // What was acknowledged before the disk filled up is all there.
    let store = Store::open(&path).unwrap();
    let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    assert_eq!(queue.pending_seqs().unwrap(), (1..=stored).collect::<Vec<_>>());
}

#[tokio::test]
async fn one_consumer_per_queue_and_one_open_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.redb");
    let store = Store::open(&path).unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::AlreadyOpen { .. })));

    let system = ActorSystem::new();
    let first = spawn_durable(&system, Fragile, &store, "numbers").unwrap();
    let second = spawn_durable(&system, Fragile, &store, "numbers");
    assert!(matches!(second, Err(StoreError::InUse(ref what)) if what == "queue/numbers"));
    // Once the first has stopped, the queue is free again.
    first.stop();
    first.wait_for_stop().await;
    let third = spawn_durable(&system, Fragile, &store, "numbers").unwrap();
    system.shutdown().await;
    drop(third);
}
