//! Durable mailboxes and event-sourced actors for `actor-core`, on an
//! embedded [redb](https://docs.rs/redb) store: no server to install, one
//! file per store.
//!
//! actor-core's mailboxes are transient: a message lives in memory and is
//! lost if the process dies before it is handled. This crate adds the
//! persistent kind, without touching actor-core's hot path:
//!
//! - **Durable mailboxes** ([`spawn_durable`]): a [`DurableRef::tell`]
//!   returns once the message is committed and synced to the store file.
//!   The actor gets each message as a [`Delivery`] and the message is marked
//!   done when the handler returns. After a restart, even after `kill -9`,
//!   every message not yet marked done is delivered again, in order.
//! - **Event-sourced actors** ([`EventSourced`], [`spawn_event_sourced`]):
//!   commands produce events, events are journaled before they are applied,
//!   the state is snapshotted every N events, and recovery is the last
//!   snapshot plus the events after it.
//! - **Group commit**: one committer thread per store gathers every write
//!   that arrives while it is committing into the next transaction, so
//!   concurrent senders share one `fsync` instead of paying one each.
//! - **Pipelined tells**: [`DurableRef::send`] (and [`Queue::send`]) hands
//!   the message over and returns a [`Receipt`], a future that resolves once
//!   the message is on disk, so one producer can keep many tells in flight
//!   and share commits with itself.
//!
//! # Guarantees
//!
//! - **Acknowledged means stored.** When `tell` (or [`Queue::push`])
//!   returns `Ok(seq)`, or a [`Receipt`] resolves to it, the message is in
//!   the file and synced (redb's `Durability::Immediate`, set explicitly);
//!   a crash after that, power loss included, does not lose it. When it
//!   returns an error, the message is handed back; nothing was stored,
//!   unless the error came from the sync itself. A new store file appears
//!   complete or not at all.
//! - **At least once.** A stored message is delivered until its handler has
//!   returned *and* the acknowledgement is committed. A crash between the
//!   two delivers it again (with [`Delivery::redelivered`] set). Once the
//!   acknowledgement is committed, the message is never delivered again.
//! - **Per-queue FIFO.** Each queue delivers in sequence-number order, which
//!   is the order in which its messages were committed; one sender sees
//!   its messages delivered in the order sent, whether it awaits each
//!   `tell` or keeps many `send`s in flight. One message is in the handler
//!   at a time.
//! - **Nothing is dropped silently.** A stored message that no longer
//!   deserializes as the queue's type, or whose handler panics, is moved to
//!   the queue's dead-letter table with the reason ([`Queue::dead_letters`]).
//! - **Faults are typed.** A corrupt, truncated or foreign file is refused
//!   at open with [`StoreError::Corrupt`]; a full disk reaches the sender as
//!   [`StoreError::StorageFull`] inside a [`TellError`] that hands the
//!   message back.
//!
//! # Effectively once
//!
//! At-least-once delivery plus an idempotent handler is effectively-once
//! processing. Three ways to get there, from the cheapest:
//!
//! 1. Keep the last applied [`Delivery::seq`] with the handler's effect (in
//!    the same write): sequence numbers only grow, so skip anything at or
//!    below it.
//! 2. Forward the message to an event-sourced actor with
//!    [`EventSourcedRef::execute_once`], keyed by the message's idempotency
//!    key: the key and the events commit in one transaction.
//! 3. For effects outside the store, record keys in a [`Dedup`] set after
//!    the effect and check it before; this narrows repeats to a crash
//!    between the effect and the record.
//!
//! # Example
//!
//! ```
//! use actor_core::prelude::*;
//! use actor_durable::{Delivery, Store, spawn_durable};
//!
//! struct Mailer {
//!     sent: Vec<String>,
//! }
//! impl Actor for Mailer {
//!     type Error = std::convert::Infallible;
//! }
//! impl Handler<Delivery<String>> for Mailer {
//!     async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
//!         self.sent.push(d.message); // acknowledged when this returns
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("mail.redb");
//! let system = ActorSystem::new();
//!
//! // Store two messages with no consumer running: they wait in the file.
//! let store = Store::open(&path).unwrap();
//! let outbox = store.queue::<String>("outbox").unwrap();
//! outbox.push("hello".into()).await.unwrap();
//! outbox.push("world".into()).await.unwrap();
//! drop((outbox, store));
//!
//! // Later, maybe in another process: the consumer gets both, in order.
//! let store = Store::open(&path).unwrap();
//! let mailer = spawn_durable(&system, Mailer { sent: vec![] }, &store, "outbox").unwrap();
//! assert!(mailer.wait_acked(2).await);
//! # system.shutdown().await;
//! # }
//! ```
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]
#![forbid(unsafe_code)]

mod backend;
mod dedup;
mod error;
mod event_sourced;
mod mailbox;
mod queue;
mod store;

pub use crate::dedup::Dedup;
pub use crate::error::{CommandError, StoreError, TellError};
pub use crate::event_sourced::{
    DEFAULT_SNAPSHOT_EVERY, EventSourced, EventSourcedActor, EventSourcedRef, Recovery, spawn_event_sourced,
};
pub use crate::mailbox::{DurableRef, spawn_durable};
pub use crate::queue::{DeadLetter, Delivery, Queue, Receipt};
pub use crate::store::{DEFAULT_MAX_BATCH, Store, StoreBuilder, StoreStats};

/// Test helpers (feature `test-util`): a simulated disk that loses power.
///
/// [`SimulatedDisk`](testkit::SimulatedDisk) holds a store in memory,
/// keeps the writes made since the last sync apart, and on a crash keeps
/// none, all, a torn prefix or a random subset of them, chosen from its
/// seed. Open a store on it with
/// [`StoreBuilder::open_simulated`](crate::StoreBuilder::open_simulated),
/// cut the power, [`restart`](testkit::SimulatedDisk::restart) it, and
/// check what your actors find.
#[cfg(any(test, feature = "test-util"))]
pub mod testkit {
    pub use crate::backend::{CrashReport, SimulatedDisk, Survived};
}
