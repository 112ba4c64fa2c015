//! Durable mailboxes: an actor fed from a durable queue, one message at a
//! time, each acknowledged after its handler returns.

use std::convert::Infallible;
use std::fmt;

use actor_core::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::error::{StoreError, TellError};
use crate::queue::{Delivery, Queue, Receipt};
use crate::store::{Claim, Op, Store};

/// How many stored messages the feeder reads at a time.
const READ_BATCH: usize = 256;

/// Starts `actor` with a durable mailbox: the queue `queue` of `store`.
///
/// The actor is an ordinary actor of `system` (it takes transient messages
/// and asks through [`DurableRef::actor_ref`] as usual) that also implements
/// `Handler<Delivery<M>>`. A feeder task delivers the queue's messages to it
/// in sequence order, one at a time: first every message left unacknowledged
/// by an earlier run (after a crash, a `kill -9`, a restart), then each new
/// one as it is committed. When the handler returns, the message is
/// acknowledged (removed from the queue) in the next group commit.
///
/// A message that no longer deserializes as `M`, or whose handler panics, is
/// moved to the queue's dead-letter table with the reason
/// ([`Queue::dead_letters`]) and the queue goes on. If the actor stops, the
/// feeder stops, and what it had not delivered stays in the queue for the
/// next consumer.
///
/// # Errors
///
/// [`StoreError::InUse`] if the queue already has a consumer in this
/// process; an I/O error reading the queue.
///
/// # Panics
///
/// Outside a tokio runtime (the feeder is a tokio task).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_durable::{Delivery, Store, spawn_durable};
///
/// #[derive(Default)]
/// struct Tally {
///     total: u64,
/// }
/// impl Actor for Tally {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Delivery<u64>> for Tally {
///     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) {
///         self.total += d.message;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("tally.redb")).unwrap();
/// let system = ActorSystem::new();
/// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
///
/// let mut last = 0;
/// for amount in [5, 10, 20] {
///     last = tally.tell(amount).await.unwrap(); // returns once committed
/// }
/// assert!(tally.wait_acked(last).await); // handled and acknowledged
/// assert!(tally.queue().is_empty().unwrap());
/// # system.shutdown().await;
/// # }
/// ```
pub fn spawn_durable<A, M>(
    system: &ActorSystem,
    actor: A,
    store: &Store,
    queue: &str,
) -> Result<DurableRef<A, M>, StoreError>
where
    A: Handler<Delivery<M>>,
    M: Serialize + DeserializeOwned + Send + 'static,
{
    let queue = store.queue::<M>(queue)?;
    let claim = store.claim(format!("queue/{}", queue.name()))?;
    let actor = system.spawn(actor);

    // A watcher tells the feeder when the actor stops, without keeping it
    // alive (a monitor is one-way).
    let (stopped_tx, stopped) = watch::channel(false);
    let watcher = system.spawn(StopWatcher { stopped: stopped_tx });
    // A failed tell means the watcher is gone already: the feeder then
    // finds the actor dead on its first delivery.
    let _ = watcher.try_tell(Watch(actor.clone()));

    // Messages committed before this consumer is attached may have been
    // delivered by an earlier one; read here, not when the feeder task
    // first runs, or messages told in between would be flagged too.
    let mut recovered_through = 0;
    queue.state.progress.send_modify(|p| {
        p.consumer = true;
        recovered_through = p.committed;
    });
    let feeder =
        Feeder { queue: queue.clone(), actor: actor.downgrade(), stopped, _watcher: watcher, claim, recovered_through };
    tokio::spawn(feeder.run());
    Ok(DurableRef { actor, queue })
}

/// A reference to an actor with a durable mailbox; see [`spawn_durable`].
///
/// Dropping every `DurableRef` and [`ActorRef`] of the actor stops it, as
/// for any actor; its queue stays in the store. Cheap to clone.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_durable::{Delivery, Store, spawn_durable};
///
/// struct Echo;
/// impl Actor for Echo {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Delivery<String>> for Echo {
///     async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
///         println!("{}", d.message);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("echo.redb")).unwrap();
/// let system = ActorSystem::new();
/// let echo = spawn_durable(&system, Echo, &store, "echo").unwrap();
/// let seq = echo.tell("hi".into()).await.unwrap();
/// assert!(echo.wait_acked(seq).await);
///
/// echo.stop();
/// assert!(echo.wait_for_stop().await.is_normal());
/// // The queue outlives its actor: this waits for the next consumer.
/// assert_eq!(echo.tell("later".into()).await.unwrap(), seq + 1);
/// assert_eq!(echo.queue().len().unwrap(), 1);
/// # }
/// ```
pub struct DurableRef<A: Actor, M> {
    actor: ActorRef<A>,
    queue: Queue<M>,
}

impl<A, M> DurableRef<A, M>
where
    A: Handler<Delivery<M>>,
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Stores `msg` in the actor's queue and returns its sequence number once
    /// the message is committed and synced to disk (in a group commit shared
    /// with concurrent tells). The actor handles it later, in queue order.
    ///
    /// # Errors
    ///
    /// As [`Queue::push`]: the message is handed back with the reason,
    /// for instance [`StoreError::StorageFull`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future after the write is handed to the
    /// committer does not withdraw it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// assert_eq!(tally.tell(5).await.unwrap(), 1);
    /// assert_eq!(tally.tell(7).await.unwrap(), 2); // sequence numbers, in order
    /// assert!(tally.queue().committed_through() >= 2); // both on disk
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn tell(&self, msg: M) -> Result<u64, TellError<M>> {
        self.queue.push(msg).await
    }

    /// Hands `msg` to the store and returns a [`Receipt`] that resolves
    /// once the message is committed and synced, without waiting for that:
    /// one producer can keep many durable tells in flight, and they share
    /// group commits. The actor gets them in the order of the `send` calls.
    /// See [`Queue::send`].
    ///
    /// # Errors
    ///
    /// As [`Queue::send`]: at once if the message does not serialize or the
    /// store is closed; later through the receipt, with the message.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it returns, the message
    /// was not handed over.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_durable::{Delivery, Store, spawn_durable};
    ///
    /// #[derive(Default)]
    /// struct Journal {
    ///     lines: Vec<String>,
    /// }
    /// impl Actor for Journal {
    ///     type Error = std::convert::Infallible;
    /// }
    /// impl Handler<Delivery<String>> for Journal {
    ///     async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
    ///         self.lines.push(d.message);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("journal.redb")).unwrap();
    /// let system = ActorSystem::new();
    /// let journal = spawn_durable(&system, Journal::default(), &store, "lines").unwrap();
    ///
    /// // 100 tells in flight at once, then wait for the last receipt: the
    /// // committer takes each in order, so when it is on disk all are.
    /// let mut receipts = Vec::new();
    /// for i in 0..100 {
    ///     receipts.push(journal.send(format!("line {i}")).await.unwrap());
    /// }
    /// let last = receipts.pop().unwrap().await.unwrap();
    /// assert_eq!(last, 100);
    /// assert!(journal.wait_acked(last).await);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn send(&self, msg: M) -> Result<Receipt<M>, TellError<M>> {
        self.queue.send(msg).await
    }

    /// Waits until message `seq` and every one before it are handled and
    /// acknowledged; `false` if the actor stopped first. See
    /// [`Queue::wait_acked`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// tally.tell(5).await.unwrap();
    /// let last = tally.tell(7).await.unwrap();
    /// let handled = tokio::time::timeout(Duration::from_secs(10), tally.wait_acked(last));
    /// assert!(handled.await.unwrap());
    /// assert_eq!(tally.queue().acked_through(), last); // both handled
    ///
    /// tally.stop();
    /// assert!(!tally.wait_acked(last + 1).await); // stopped first: `false`
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn wait_acked(&self, seq: u64) -> bool {
        self.queue.wait_acked(seq).await
    }
}

impl<A: Actor, M> DurableRef<A, M> {
    /// The actor itself, for transient messages and asks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// // A transient question, answered from the actor's state.
    /// struct Total;
    /// impl Message for Total {
    ///     type Reply = u64;
    /// }
    /// impl Handler<Total> for Tally {
    ///     async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 {
    ///         self.total
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// tally.tell(5).await.unwrap();
    /// let seq = tally.tell(7).await.unwrap();
    /// assert!(tally.wait_acked(seq).await);
    /// let total = tally.actor_ref().ask(Total).timeout(Duration::from_secs(10)).await.unwrap();
    /// assert_eq!(total, 12);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn actor_ref(&self) -> &ActorRef<A> {
        &self.actor
    }

    /// The actor's durable queue.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// assert_eq!(tally.queue().name(), "amounts");
    /// let seq = tally.tell(5).await.unwrap();
    /// assert!(tally.wait_acked(seq).await);
    /// assert!(tally.queue().is_empty().unwrap()); // acknowledged: removed
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn queue(&self) -> &Queue<M> {
        &self.queue
    }

    /// Stops the actor gracefully (see [`ActorRef::stop`]); messages still in
    /// the queue stay there.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let tally = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// tally.stop();
    /// assert!(tally.wait_for_stop().await.is_normal());
    /// assert!(!tally.actor_ref().is_alive());
    ///
    /// let seq = tally.tell(5).await.unwrap(); // still stored, for a later consumer
    /// assert_eq!(tally.queue().pending_seqs().unwrap(), [seq]);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn stop(&self) {
        self.actor.stop();
    }

    /// Waits until the actor has stopped and its feeder has let go of the
    /// queue (so another consumer may attach).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// # Examples
    ///
    /// Once it returns, a new consumer takes the queue over:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{Delivery, Store, spawn_durable};
    /// # #[derive(Default)]
    /// # struct Tally { total: u64 }
    /// # impl Actor for Tally { type Error = std::convert::Infallible; }
    /// # impl Handler<Delivery<u64>> for Tally {
    /// #     async fn handle(&mut self, d: Delivery<u64>, _: &mut Context<Self>) { self.total += d.message; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let first = spawn_durable(&system, Tally::default(), &store, "amounts").unwrap();
    /// first.stop();
    /// let reason = tokio::time::timeout(Duration::from_secs(10), first.wait_for_stop());
    /// assert!(reason.await.unwrap().is_normal());
    ///
    /// let second = spawn_durable(&system, Tally::default(), &store, "amounts");
    /// assert!(second.is_ok(), "the queue is free again");
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn wait_for_stop(&self) -> StopReason {
        let reason = self.actor.wait_for_stop().await;
        let mut progress = self.queue.state.progress.subscribe();
        let _ = progress.wait_for(|p| !p.consumer).await;
        reason
    }
}

impl<A: Actor, M> Clone for DurableRef<A, M> {
    fn clone(&self) -> Self {
        DurableRef { actor: self.actor.clone(), queue: self.queue.clone() }
    }
}

impl<A: Actor, M> fmt::Debug for DurableRef<A, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableRef").field("actor", &self.actor).field("queue", &self.queue).finish()
    }
}

/// Delivers a queue's messages to its actor.
struct Feeder<A: Actor, M> {
    queue: Queue<M>,
    actor: WeakActorRef<A>,
    stopped: watch::Receiver<bool>,
    /// Kept alive as long as the feeder runs.
    _watcher: ActorRef<StopWatcher>,
    claim: Claim,
    /// The last message committed when the consumer was attached: it and
    /// those before it are delivered as `redelivered`.
    recovered_through: u64,
}

impl<A, M> Feeder<A, M>
where
    A: Handler<Delivery<M>>,
    M: Serialize + DeserializeOwned + Send + 'static,
{
    async fn run(mut self) {
        if let Err(err) = self.feed().await {
            tracing::warn!(queue = %self.queue.name(), error = %err, "durable mailbox feeder stopped");
        }
        // Let go of everything that holds the store before saying so, so
        // that whoever waits for the stop may reopen the file at once.
        let progress = self.queue.state.clone();
        drop(self);
        progress.progress.send_modify(|p| p.consumer = false);
    }

    async fn feed(&mut self) -> Result<(), StoreError> {
        let store: Store = self.claim.store().clone();
        let mut progress = self.queue.state.progress.subscribe();
        progress.borrow_and_update();
        let recovered_through = self.recovered_through;
        let mut cursor = 0;
        loop {
            let (reader, state) = (store.clone(), self.queue.state.clone());
            let batch = tokio::task::spawn_blocking(move || reader.read_pending(&state, cursor, READ_BATCH))
                .await
                .map_err(|e| StoreError::Storage(format!("reader task failed: {e}")))??;
            if batch.is_empty() {
                // Wait for a commit past the cursor, or for the actor to stop.
                tokio::select! {
                    changed = progress.wait_for(|p| p.committed > cursor) => if changed.is_err() { return Ok(()) },
                    _ = self.stopped.wait_for(|s| *s) => return Ok(()),
                }
                continue;
            }
            for (seq, bytes) in batch {
                let message = match decode::<M>(&bytes) {
                    Ok(m) => m,
                    Err(reason) => {
                        self.dead_letter(&store, seq, bytes, reason).await?;
                        cursor = seq;
                        continue;
                    }
                };
                let Some(actor) = self.actor.upgrade() else { return Ok(()) };
                let delivery = Delivery { seq, redelivered: seq <= recovered_through, message };
                match actor.ask(delivery).await {
                    Ok(()) => store.send(Op::Ack { queue: self.queue.state.clone(), seq }).await?,
                    Err(err) if err.is_panic() => {
                        let reason = format!("handler panicked: {err}");
                        self.dead_letter(&store, seq, bytes, reason).await?;
                        if !actor.is_alive() {
                            return Ok(());
                        }
                    }
                    // The actor stopped: the message stays for the next run.
                    Err(_) => return Ok(()),
                }
                cursor = seq;
            }
        }
    }

    async fn dead_letter(&self, store: &Store, seq: u64, bytes: Vec<u8>, reason: String) -> Result<(), StoreError> {
        tracing::warn!(queue = %self.queue.name(), seq, %reason, "message moved to the dead letters");
        let queue = self.queue.state.clone();
        store.submit(|reply| Op::DeadLetter { queue, seq, bytes, reason, reply }).await
    }
}

/// Reads a stored message; any bytes left over mean it was written as
/// another type.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => {
            Err(format!("does not deserialize as {}: {} bytes left over", std::any::type_name::<T>(), rest.len()))
        }
        Err(e) => Err(format!("does not deserialize as {}: {e}", std::any::type_name::<T>())),
    }
}

/// Monitors one actor and flips a flag when it stops.
struct StopWatcher {
    stopped: watch::Sender<bool>,
}

impl Actor for StopWatcher {
    type Error = Infallible;

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        self.stopped.send_replace(true);
    }
}

struct Watch<A: Actor>(ActorRef<A>);

impl<A: Actor> Message for Watch<A> {
    type Reply = ();
}

impl<A: Actor> Handler<Watch<A>> for StopWatcher {
    async fn handle(&mut self, Watch(actor): Watch<A>, ctx: &mut Context<Self>) {
        ctx.monitor(&actor);
    }
}

impl Handler<Terminated> for StopWatcher {
    async fn handle(&mut self, _: Terminated, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
