//! Mailbox configuration.
//!
//! Every actor has one mailbox for user messages, bounded or unbounded, and
//! a separate system lane (kill, child and link notices) that is never
//! blocked by a full mailbox. A graceful stop needs no lane: it closes the
//! mailbox, which takes no place either.

/// The capacity of a mailbox when none is given: 1,024 messages.
///
/// Memory is allocated as messages arrive, not up front, so a large capacity
/// costs nothing while the mailbox is short.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The largest capacity a bounded mailbox can have; also what an unbounded
/// mailbox is, in practice (about 2.3 * 10^18 messages).
const MAX_CAPACITY: usize = usize::MAX >> 3;

/// How many messages an actor's mailbox holds.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::mailbox::Mailbox;
/// # struct Worker;
/// # impl Actor for Worker { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let small = system.spawn_with(Worker, SpawnOptions::new().mailbox(Mailbox::bounded(8)));
/// let endless = system.spawn_with(Worker, SpawnOptions::new().mailbox(Mailbox::unbounded()));
/// # let _ = (small, endless);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mailbox {
    capacity: usize,
}

impl Mailbox {
    /// A mailbox of at most `capacity` messages. When it is full, `tell` and
    /// `ask` wait for room (backpressure) and `try_tell` returns
    /// [`SendError::Full`](crate::error::SendError::Full).
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::error::SendError;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Worker { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let options = SpawnOptions::new().mailbox(Mailbox::bounded(3));
    /// let worker = ActorSystem::new().spawn_with(Worker, options);
    /// // The worker has not run yet (one thread): three messages fill its mailbox.
    /// for _ in 0..3 {
    ///     worker.try_tell(Ping).unwrap();
    /// }
    /// assert!(matches!(worker.try_tell(Ping), Err(SendError::Full(Ping))));
    /// assert_eq!(worker.mailbox_len(), 3);
    /// // A mailbox must hold at least one message.
    /// assert!(std::panic::catch_unwind(|| Mailbox::bounded(0)).is_err());
    /// # }
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(capacity > 0, "mailbox capacity must be at least 1");
        Mailbox { capacity: capacity.min(MAX_CAPACITY) }
    }

    /// A mailbox without a bound: senders never wait. Memory grows with the
    /// backlog if the actor cannot keep up; prefer a bounded mailbox unless
    /// the senders are bounded some other way.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::mailbox::DEFAULT_CAPACITY;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Worker { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let options = SpawnOptions::new().mailbox(Mailbox::unbounded());
    /// let worker = ActorSystem::new().spawn_with(Worker, options);
    /// // The worker has not run yet (one thread), and its mailbox never fills.
    /// for _ in 0..2 * DEFAULT_CAPACITY {
    ///     worker.try_tell(Ping).unwrap();
    /// }
    /// assert_eq!(worker.mailbox_len(), 2 * DEFAULT_CAPACITY);
    /// # }
    /// ```
    pub fn unbounded() -> Self {
        Mailbox { capacity: MAX_CAPACITY }
    }

    /// The capacity, or `None` for an unbounded mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::mailbox::{DEFAULT_CAPACITY, Mailbox};
    ///
    /// assert_eq!(Mailbox::bounded(8).capacity(), Some(8));
    /// assert_eq!(Mailbox::default().capacity(), Some(DEFAULT_CAPACITY));
    /// assert_eq!(Mailbox::unbounded().capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        (self.capacity < MAX_CAPACITY).then_some(self.capacity)
    }

    pub(crate) fn raw_capacity(&self) -> usize {
        self.capacity
    }
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::bounded(DEFAULT_CAPACITY)
    }
}

#[cfg(all(test, loom))]
mod models;
pub(crate) mod queue;
pub(crate) mod signal;
#[cfg(all(test, not(loom)))]
mod tests;
