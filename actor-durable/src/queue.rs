//! Typed durable queues: the producer side, and what a consumer receives.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actor_core::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::error::{StoreError, TellError};
use crate::store::{Op, QueueState, Store};

/// A named durable queue of `M` in a [`Store`]: the producer's handle.
///
/// [`push`](Queue::push) returns once the message is committed to the file.
/// Messages stay in the queue until a consumer
/// ([`spawn_durable`](crate::spawn_durable)) acknowledges them, whatever
/// happens to the process meanwhile. Cheap to clone.
///
/// # Examples
///
/// ```
/// use actor_durable::Store;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("q.redb")).unwrap();
/// let jobs = store.queue::<(u32, String)>("jobs").unwrap();
///
/// assert_eq!(jobs.push((1, "resize".into())).await.unwrap(), 1);
/// assert_eq!(jobs.push((2, "upload".into())).await.unwrap(), 2);
/// assert_eq!(jobs.len().unwrap(), 2);
/// assert_eq!(jobs.committed_through(), 2);
/// assert_eq!(jobs.acked_through(), 0); // no consumer yet
/// # }
/// ```
pub struct Queue<M> {
    pub(crate) store: Store,
    pub(crate) state: Arc<QueueState>,
    _message: PhantomData<fn(M) -> M>,
}

impl Store {
    /// The queue named `name`, holding messages of type `M`.
    ///
    /// The file records bytes, not types: open a queue with the type it was
    /// written with. A message that no longer deserializes as `M` is moved
    /// to the queue's dead-letter table when a consumer reaches it
    /// ([`Queue::dead_letters`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Codec`] for an empty name; an I/O error reading the
    /// queue's position.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u64>("numbers").unwrap();
    /// assert_eq!(queue.name(), "numbers");
    /// assert!(store.queue::<u64>("").is_err());
    /// ```
    pub fn queue<M>(&self, name: &str) -> Result<Queue<M>, StoreError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
    {
        Ok(Queue { store: self.clone(), state: self.queue_state(name)?, _message: PhantomData })
    }
}

impl<M> Queue<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Appends `msg` and returns its sequence number once it is committed
    /// and synced to disk.
    ///
    /// Concurrent pushes (from any number of tasks, to any queues of the
    /// store) share one commit. Sequence numbers start at 1, grow by one per
    /// message, and are never reused; the queue delivers in their order.
    ///
    /// One task that awaits each push waits for one fsync per message; to
    /// keep many messages in flight from one task, use
    /// [`send`](Queue::send).
    ///
    /// # Errors
    ///
    /// The message is handed back with [`StoreError::Codec`] if it does not
    /// serialize, [`StoreError::StorageFull`] if the disk or the store's
    /// size limit is full, [`StoreError::Io`] or [`StoreError::Closed`].
    /// Nothing is stored then, except after an I/O error during the sync
    /// itself, when the message may or may not be on disk.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: once the write is handed to the committer, dropping
    /// the future does not withdraw it; the message may or may not be
    /// stored.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<String>("log").unwrap();
    /// let seq = queue.push("first".into()).await.unwrap();
    /// assert_eq!(queue.pending_seqs().unwrap(), [seq]);
    /// # }
    /// ```
    pub async fn push(&self, msg: M) -> Result<u64, TellError<M>> {
        self.send(msg).await?.await
    }

    /// Hands `msg` to the store's committer and returns a [`Receipt`]: a
    /// future that resolves to the message's sequence number once it is
    /// committed and synced to disk.
    ///
    /// `send` itself only waits for room in the committer's queue (a few
    /// thousand writes), so one task can keep many messages in flight and
    /// they share group commits, as concurrent tasks do. Messages sent by
    /// one task are stored in the order of its `send` calls, however many
    /// receipts are outstanding, and each receipt reports its own message;
    /// a message counts as acknowledged only once its receipt has resolved
    /// to `Ok`. Dropping a receipt does not withdraw the message.
    ///
    /// # Errors
    ///
    /// The message is handed back at once with [`StoreError::Codec`] if it
    /// does not serialize, or [`StoreError::Closed`]; later failures (a full
    /// disk, an I/O error) come through the receipt, with the message.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it returns, the message
    /// was not handed over (and is dropped with it).
    ///
    /// # Examples
    ///
    /// Keep up to 256 messages in flight, in order:
    ///
    /// ```
    /// use std::collections::VecDeque;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u32>("readings").unwrap();
    /// let mut in_flight = VecDeque::new();
    /// let mut acknowledged = Vec::new();
    /// for reading in 0..1000 {
    ///     if in_flight.len() == 256 {
    ///         let oldest: actor_durable::Receipt<u32> = in_flight.pop_front().unwrap();
    ///         acknowledged.push(oldest.await.unwrap()); // on disk from here on
    ///     }
    ///     in_flight.push_back(queue.send(reading).await.unwrap());
    /// }
    /// for receipt in in_flight {
    ///     acknowledged.push(receipt.await.unwrap());
    /// }
    /// assert_eq!(acknowledged, (1..=1000).collect::<Vec<u64>>()); // stored in the order sent
    /// assert!(store.stats().commits < 1000, "messages shared commits");
    /// # }
    /// ```
    pub async fn send(&self, msg: M) -> Result<Receipt<M>, TellError<M>> {
        let bytes = match postcard::to_allocvec(&msg) {
            Ok(bytes) => bytes,
            Err(e) => return Err(TellError::new(msg, StoreError::codec("message does not serialize", e))),
        };
        let (reply, rx) = oneshot::channel();
        let op = Op::Push { queue: self.state.clone(), bytes, reply };
        match self.store.send(op).await {
            Ok(()) => Ok(Receipt { rx, message: Some(msg) }),
            Err(err) => Err(TellError::new(msg, err)),
        }
    }

    /// The queue's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<String>("invoices").unwrap();
    /// assert_eq!(queue.name(), "invoices");
    /// ```
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The store the queue lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<String>("invoices").unwrap();
    /// assert_eq!(queue.store().path(), store.path());
    /// ```
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many messages are stored and not yet acknowledged.
    ///
    /// # Errors
    ///
    /// An I/O error reading the file.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u8>("q").unwrap();
    /// assert_eq!(queue.len().unwrap(), 0);
    /// for b in [1, 2, 3] {
    ///     queue.push(b).await.unwrap();
    /// }
    /// assert_eq!(queue.len().unwrap(), 3);
    /// # }
    /// ```
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.store.count_pending(&self.state)? as usize)
    }

    /// Whether no message is waiting.
    ///
    /// # Errors
    ///
    /// An I/O error reading the file.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u8>("q").unwrap();
    /// assert!(queue.is_empty().unwrap());
    /// queue.push(1).await.unwrap();
    /// assert!(!queue.is_empty().unwrap());
    /// # }
    /// ```
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.store.count_pending(&self.state)? == 0)
    }

    /// The sequence numbers of the messages stored and not yet acknowledged,
    /// in delivery order.
    ///
    /// # Errors
    ///
    /// An I/O error reading the file.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<String>("q").unwrap();
    /// assert!(queue.pending_seqs().unwrap().is_empty());
    /// for word in ["a", "b", "c"] {
    ///     queue.push(word.to_string()).await.unwrap();
    /// }
    /// assert_eq!(queue.pending_seqs().unwrap(), [1, 2, 3]);
    /// # }
    /// ```
    pub fn pending_seqs(&self) -> Result<Vec<u64>, StoreError> {
        self.store.read_pending_seqs(&self.state)
    }

    /// The messages moved out of the queue because they could not be
    /// delivered: they no longer deserialize as `M`, or their handler
    /// panicked.
    ///
    /// # Errors
    ///
    /// An I/O error reading the file.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<String>("log").unwrap();
    /// assert!(queue.dead_letters().unwrap().is_empty());
    /// ```
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self
            .store
            .read_dead(&self.state)?
            .into_iter()
            .map(|(seq, bytes, reason)| DeadLetter { seq, bytes, reason })
            .collect())
    }

    /// The highest sequence number committed so far (0 if none), as seen by
    /// this process.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u8>("q").unwrap();
    /// assert_eq!(queue.committed_through(), 0);
    /// let seq = queue.push(1).await.unwrap();
    /// assert_eq!(queue.committed_through(), seq);
    /// # }
    /// ```
    pub fn committed_through(&self) -> u64 {
        self.state.progress.borrow().committed
    }

    /// Every message up to this sequence number has been handled and its
    /// acknowledgement committed (or it was moved to the dead letters).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_durable::{Delivery, Store, spawn_durable};
    ///
    /// struct Sink;
    /// impl Actor for Sink {
    ///     type Error = std::convert::Infallible;
    /// }
    /// impl Handler<Delivery<u8>> for Sink {
    ///     async fn handle(&mut self, _: Delivery<u8>, _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("q.redb")).unwrap();
    /// let queue = store.queue::<u8>("bytes").unwrap();
    /// let seq = queue.push(1).await.unwrap();
    /// assert_eq!(queue.acked_through(), 0);
    /// assert!(!queue.wait_acked(seq).await); // no consumer: does not wait
    ///
    /// let system = ActorSystem::new();
    /// let sink = spawn_durable(&system, Sink, &store, "bytes").unwrap();
    /// assert!(queue.wait_acked(seq).await);
    /// assert_eq!(queue.acked_through(), seq);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn acked_through(&self) -> u64 {
        self.state.progress.borrow().acked
    }

    /// Waits until the message `seq` (and every one before it) has been
    /// handled and its acknowledgement committed.
    ///
    /// Returns `true` then, or `false` if no consumer is attached or the
    /// consumer stopped first. See also
    /// [`acked_through`](Queue::acked_through).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    ///
    /// # Examples
    ///
    /// A producer that waits for its messages to be handled:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::prelude::*;
    /// use actor_durable::{Delivery, Store, spawn_durable};
    ///
    /// struct Sink;
    /// impl Actor for Sink {
    ///     type Error = std::convert::Infallible;
    /// }
    /// impl Handler<Delivery<u8>> for Sink {
    ///     async fn handle(&mut self, _: Delivery<u8>, _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("q.redb")).unwrap();
    /// let system = ActorSystem::new();
    /// let sink = spawn_durable(&system, Sink, &store, "bytes").unwrap();
    ///
    /// let queue = store.queue::<u8>("bytes").unwrap(); // a producer's handle
    /// let seq = queue.push(1).await.unwrap();
    /// let handled = tokio::time::timeout(Duration::from_secs(10), queue.wait_acked(seq));
    /// assert!(handled.await.unwrap());
    /// assert!(queue.is_empty().unwrap());
    ///
    /// sink.stop();
    /// sink.wait_for_stop().await;
    /// assert!(!queue.wait_acked(seq + 1).await); // no consumer: returns at once
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn wait_acked(&self, seq: u64) -> bool {
        let mut progress = self.state.progress.subscribe();
        progress.wait_for(|p| p.acked >= seq || !p.consumer).await.is_ok_and(|p| p.acked >= seq)
    }
}

impl<M> Clone for Queue<M> {
    fn clone(&self) -> Self {
        Queue { store: self.store.clone(), state: self.state.clone(), _message: PhantomData }
    }
}

impl<M> fmt::Debug for Queue<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = *self.state.progress.borrow();
        f.debug_struct("Queue")
            .field("name", &self.state.name)
            .field("committed_through", &p.committed)
            .field("acked_through", &p.acked)
            .finish()
    }
}

/// The promise of a durable write in flight, returned by [`Queue::send`]
/// and [`DurableRef::send`](crate::DurableRef::send).
///
/// A future: it resolves to the message's sequence number once the message
/// is committed and synced to disk, or to a [`TellError`] that hands the
/// message back. It holds the message until then. Dropping it does not
/// withdraw the message.
///
/// # Panics
///
/// If polled again after it resolved, as futures may.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = actor_durable::Store::open(dir.path().join("r.redb")).unwrap();
/// let queue = store.queue::<String>("words").unwrap();
/// let first = queue.send("one".into()).await.unwrap();
/// let second = queue.send("two".into()).await.unwrap(); // both in flight
/// assert_eq!((first.await.unwrap(), second.await.unwrap()), (1, 2));
/// # }
/// ```
#[must_use = "a receipt does nothing unless awaited; dropping it does not withdraw the message"]
pub struct Receipt<M> {
    rx: oneshot::Receiver<Result<u64, StoreError>>,
    /// Handed back if the write fails; `None` once the receipt resolved.
    message: Option<M>,
}

// The message is never pinned: it is only moved out, by value.
impl<M> Unpin for Receipt<M> {}

impl<M> Future for Receipt<M> {
    type Output = Result<u64, TellError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match Pin::new(&mut this.rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(result)) => result,
            // The committer ended without answering.
            Poll::Ready(Err(_)) => Err(StoreError::Closed),
        };
        let message = this.message.take().expect("Receipt polled after it resolved");
        Poll::Ready(match result {
            Ok(seq) => Ok(seq),
            Err(err) => Err(TellError::new(message, err)),
        })
    }
}

impl<M> fmt::Debug for Receipt<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt").field("resolved", &self.message.is_none()).finish_non_exhaustive()
    }
}

/// A message moved to a queue's dead-letter table, with the reason.
///
/// Returned by [`Queue::dead_letters`]; the bytes are the message as it was
/// stored, so a program that still knows the old type can read it back.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_durable::{Delivery, Store, spawn_durable};
///
/// struct Numbers;
/// impl Actor for Numbers {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Delivery<u32>> for Numbers {
///     async fn handle(&mut self, _: Delivery<u32>, _: &mut Context<Self>) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("q.redb")).unwrap();
/// // Written as text, read as numbers: the text does not deserialize.
/// store.queue::<String>("numbers").unwrap().push("seven".into()).await.unwrap();
///
/// let system = ActorSystem::new();
/// let numbers = spawn_durable(&system, Numbers, &store, "numbers").unwrap();
/// assert!(numbers.wait_acked(1).await);
/// let dead = numbers.queue().dead_letters().unwrap();
/// assert_eq!(dead[0].seq, 1);
/// assert!(dead[0].reason.starts_with("does not deserialize as u32"));
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The message's sequence number in its queue.
    pub seq: u64,
    /// The message as stored (postcard).
    pub bytes: Vec<u8>,
    /// Why it was not delivered.
    pub reason: String,
}

/// A durable message as its actor receives it.
///
/// An actor consumes a durable queue by implementing
/// `Handler<Delivery<M>>`; the message is acknowledged when the handler
/// returns. See [`spawn_durable`](crate::spawn_durable).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_durable::Delivery;
///
/// struct Printer;
/// impl Actor for Printer {
///     type Error = std::convert::Infallible;
/// }
///
/// impl Handler<Delivery<String>> for Printer {
///     async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
///         let note = if d.redelivered { " (maybe seen before a crash)" } else { "" };
///         println!("#{}: {}{note}", d.seq, d.message);
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery<M> {
    /// The message's sequence number: unique in its queue, never reused,
    /// increasing in delivery order. A handler that stores the last `seq`
    /// it applied together with its effect can skip anything at or below
    /// it, and so applies each message exactly once.
    pub seq: u64,
    /// The message was already in the queue when this consumer started: a
    /// consumer before it may have handled it and stopped (or crashed)
    /// before the acknowledgement was committed.
    pub redelivered: bool,
    /// The message.
    pub message: M,
}

impl<M: Send + 'static> Message for Delivery<M> {
    type Reply = ();
}
