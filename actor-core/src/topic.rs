//! Publish/subscribe topics.
//!
//! The subscriber list is copied on write: a publish takes a snapshot (one
//! `Arc` clone under a short lock) and sends with no lock held, so a
//! subscriber that is slow to make room never blocks subscribing,
//! unsubscribing or other publishers.

use std::fmt;
use std::sync::Arc;

use crate::base::sync::plain::{Mutex, MutexGuard};

use crate::actor::message::Message;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::reference::recipient::Recipient;

/// A publish/subscribe topic for messages of type `M`: indirect messaging,
/// where publishers do not know who listens.
///
/// Any [`Recipient<M>`] can subscribe; [`publish`](Topic::publish) sends a
/// clone of the message to every subscriber. A subscriber that has stopped
/// is dropped from the topic the next time the topic sends to it or counts
/// its subscribers.
///
/// Cheap to clone: every clone is the same topic. A subscription holds the
/// recipient, which keeps its actor alive like any strong reference, until
/// it is [unsubscribed](Topic::unsubscribe), the actor is stopped, or the
/// topic is dropped.
///
/// # Ordering
///
/// Each subscriber gets one publisher's messages in the order they were
/// published, as long as the publisher awaits each
/// [`publish`](Topic::publish) before the next (per-sender FIFO, as for
/// `tell`). Nothing is ordered between different publishers, nor between
/// subscribers: one subscriber may handle a message before another has
/// received it.
///
/// # Examples
///
/// ```
/// use actor_core::Topic;
/// use actor_core::prelude::*;
///
/// #[derive(Clone)]
/// struct Price(u32);
/// impl Message for Price {
///     type Reply = ();
/// }
///
/// #[derive(Default)]
/// struct Ticker {
///     seen: Vec<u32>,
/// }
/// impl Actor for Ticker {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Price> for Ticker {
///     async fn handle(&mut self, Price(p): Price, _: &mut Context<Self>) {
///         self.seen.push(p);
///     }
/// }
///
/// struct Seen;
/// impl Message for Seen {
///     type Reply = Vec<u32>;
/// }
/// impl Handler<Seen> for Ticker {
///     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<u32> {
///         self.seen.clone()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let prices = Topic::new();
/// let a = system.spawn(Ticker::default());
/// let b = system.spawn(Ticker::default());
/// prices.subscribe(a.recipient());
/// prices.subscribe(b.recipient());
///
/// assert_eq!(prices.publish(Price(10)).await, 2);
/// assert_eq!(prices.publish(Price(11)).await, 2);
/// assert_eq!(a.ask(Seen).await.unwrap(), [10, 11]);
/// assert_eq!(b.ask(Seen).await.unwrap(), [10, 11]);
/// # }
/// ```
pub struct Topic<M: Message + Clone> {
    subscribers: Arc<Mutex<Arc<Vec<Recipient<M>>>>>,
}

impl<M: Message + Clone> Topic<M> {
    /// A topic without subscribers.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::{Message, Topic};
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// let ticks: Topic<Tick> = Topic::new();
    /// assert_eq!(ticks.subscriber_count(), 0);
    /// ```
    pub fn new() -> Self {
        Topic { subscribers: Arc::new(Mutex::new(Arc::new(Vec::new()))) }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Vec<Recipient<M>>>> {
        self.subscribers.lock()
    }

    fn snapshot(&self) -> Arc<Vec<Recipient<M>>> {
        self.lock().clone()
    }

    /// Removes the subscribers that `unwanted` picks and returns them, to be
    /// dropped by the caller once the lock is let go.
    fn remove_where(&self, mut unwanted: impl FnMut(&Recipient<M>) -> bool) -> Vec<Recipient<M>> {
        let mut guard = self.lock();
        if !guard.iter().any(&mut unwanted) {
            return Vec::new();
        }
        let (removed, kept) = guard.iter().cloned().partition(|r| unwanted(r));
        let old = std::mem::replace(&mut *guard, Arc::new(kept));
        drop(guard);
        drop(old);
        removed
    }

    /// Drops the subscribers found closed by a send.
    fn prune(&self, closed: &[ActorId]) {
        if !closed.is_empty() {
            drop(self.remove_where(|r| closed.contains(&r.id())));
        }
    }

    /// Adds a subscriber; returns whether it was added: `false` (and
    /// `recipient` is dropped) if the same actor is already subscribed or
    /// has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ticks = Topic::<Tick>::new();
    /// let clock = ActorSystem::new().spawn(Clock);
    /// assert!(ticks.subscribe(clock.recipient()));
    /// assert!(!ticks.subscribe(clock.recipient()));
    /// assert_eq!(ticks.subscriber_count(), 1);
    /// # }
    /// ```
    pub fn subscribe(&self, recipient: Recipient<M>) -> bool {
        if !recipient.is_alive() {
            return false;
        }
        let id = recipient.id();
        let mut guard = self.lock();
        if guard.iter().any(|r| r.id() == id) {
            drop(guard);
            return false;
        }
        let mut next = Vec::with_capacity(guard.len() + 1);
        next.extend(guard.iter().cloned());
        next.push(recipient);
        let old = std::mem::replace(&mut *guard, Arc::new(next));
        drop(guard);
        drop(old);
        true
    }

    /// Removes the subscriber with this id; returns whether it was
    /// subscribed.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ticks = Topic::<Tick>::new();
    /// let clock = ActorSystem::new().spawn(Clock);
    /// ticks.subscribe(clock.recipient());
    /// assert!(ticks.unsubscribe(clock.id()));
    /// assert!(!ticks.unsubscribe(clock.id()));
    /// assert_eq!(ticks.publish(Tick).await, 0);
    /// # }
    /// ```
    pub fn unsubscribe(&self, id: ActorId) -> bool {
        !self.remove_where(|r| r.id() == id).is_empty()
    }

    /// How many live subscribers the topic has. Subscribers that have
    /// stopped are dropped first, so they are not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let ticks = Topic::<Tick>::new();
    /// let a = system.spawn(Clock);
    /// let b = system.spawn(Clock);
    /// ticks.subscribe(a.recipient());
    /// ticks.subscribe(b.recipient());
    /// assert_eq!(ticks.subscriber_count(), 2);
    ///
    /// b.stop();
    /// b.wait_for_stop().await;
    /// assert_eq!(ticks.subscriber_count(), 1);
    /// # }
    /// ```
    pub fn subscriber_count(&self) -> usize {
        drop(self.remove_where(|r| !r.is_alive()));
        self.lock().len()
    }

    /// Sends a clone of `msg` to every subscriber and returns how many
    /// received it (had it queued in their mailbox).
    ///
    /// A subscriber whose bounded mailbox is full is waited for, while the
    /// others get the message at once; the future completes when every
    /// subscriber has it or has stopped. A subscriber that has stopped is
    /// dropped from the topic, and the message meant for it becomes a
    /// [dead letter](crate::ActorSystem::dead_letters). With no subscribers,
    /// `msg` is dropped and this returns 0.
    ///
    /// Subscribers that join or leave while a publish is under way are not
    /// affected by it: it sends to the subscribers at its start.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// the message for the subscribers still waited for; the others have it.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::mailbox::Mailbox;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let ticks = Topic::new();
    /// let tiny = system.spawn_with(Clock, SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// ticks.subscribe(tiny.recipient());
    ///
    /// // The second publish waits until `tiny` has taken the first tick.
    /// assert_eq!(ticks.publish(Tick).await, 1);
    /// assert_eq!(ticks.publish(Tick).await, 1);
    ///
    /// tiny.stop();
    /// tiny.wait_for_stop().await;
    /// assert_eq!(ticks.publish(Tick).await, 0); // a dead letter; `tiny` is dropped
    /// assert_eq!(ticks.subscriber_count(), 0);
    /// # }
    /// ```
    pub async fn publish(&self, msg: M) -> usize {
        let subscribers = self.snapshot();
        let mut delivered = 0;
        let mut closed = Vec::new();
        let mut waiting = Vec::new();
        for (subscriber, msg) in fan_out(&subscribers, msg) {
            match subscriber.try_tell(msg) {
                Ok(()) => delivered += 1,
                Err(SendError::Full(msg)) => {
                    waiting.push(async move { (subscriber.id(), subscriber.tell(msg).await.is_ok()) });
                }
                Err(_) => closed.push(subscriber.id()),
            }
        }
        if !waiting.is_empty() {
            for (id, ok) in futures::future::join_all(waiting).await {
                if ok {
                    delivered += 1;
                } else {
                    closed.push(id);
                }
            }
        }
        self.prune(&closed);
        delivered
    }

    /// Sends a clone of `msg` to every subscriber that has room now; never
    /// waits.
    ///
    /// A subscriber whose mailbox is full gets nothing: its id is listed in
    /// [`PublishReport::full`], so the caller can retry or give up knowingly.
    /// A subscriber that has stopped is dropped from the topic and counted in
    /// [`PublishReport::stopped`]; the message meant for it becomes a
    /// [dead letter](crate::ActorSystem::dead_letters).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::mailbox::Mailbox;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let ticks = Topic::new();
    /// let roomy = system.spawn(Clock);
    /// let tiny = system.spawn_with(Clock, SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// ticks.subscribe(roomy.recipient());
    /// ticks.subscribe(tiny.recipient());
    ///
    /// // One thread, and the actors have not run yet: `tiny` fills up.
    /// assert_eq!(ticks.try_publish(Tick).delivered, 2);
    /// let report = ticks.try_publish(Tick);
    /// assert_eq!(report.delivered, 1);
    /// assert_eq!(report.full, [tiny.id()]);
    /// # }
    /// ```
    #[must_use = "subscribers with a full mailbox are skipped; the report lists them"]
    pub fn try_publish(&self, msg: M) -> PublishReport {
        let subscribers = self.snapshot();
        let mut report = PublishReport::default();
        let mut closed = Vec::new();
        for (subscriber, msg) in fan_out(&subscribers, msg) {
            match subscriber.try_tell(msg) {
                Ok(()) => report.delivered += 1,
                Err(SendError::Full(_)) => report.full.push(subscriber.id()),
                Err(_) => closed.push(subscriber.id()),
            }
        }
        report.stopped = closed.len();
        self.prune(&closed);
        report
    }
}

/// Pairs each subscriber with its own copy of `msg`: clones for all but the
/// last, which gets the original.
fn fan_out<M: Message + Clone>(subscribers: &[Recipient<M>], msg: M) -> impl Iterator<Item = (&Recipient<M>, M)> {
    let last = subscribers.len().saturating_sub(1);
    let mut msg = Some(msg);
    subscribers.iter().enumerate().map(move |(i, subscriber)| {
        let copy = if i == last { msg.take() } else { msg.clone() };
        (subscriber, copy.expect("only the last subscriber takes the message"))
    })
}

impl<M: Message + Clone> Clone for Topic<M> {
    fn clone(&self) -> Self {
        Topic { subscribers: self.subscribers.clone() }
    }
}

impl<M: Message + Clone> Default for Topic<M> {
    fn default() -> Self {
        Topic::new()
    }
}

impl<M: Message + Clone> fmt::Debug for Topic<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("message", &std::any::type_name::<M>())
            .field("subscribers", &self.lock().len())
            .finish()
    }
}

/// What a [`Topic::try_publish`] did with the message.
///
/// Every subscriber at the time of the publish is in exactly one of the
/// three parts.
///
/// # Examples
///
/// ```
/// use actor_core::Topic;
/// use actor_core::prelude::*;
/// # #[derive(Clone)] struct Tick;
/// # impl Message for Tick { type Reply = (); }
/// # struct Clock;
/// # impl Actor for Clock { type Error = std::convert::Infallible; }
/// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let ticks = Topic::new();
/// let clock = system.spawn(Clock);
/// ticks.subscribe(clock.recipient());
///
/// let report = ticks.try_publish(Tick);
/// assert_eq!((report.delivered, report.stopped), (1, 0));
/// assert!(report.full.is_empty());
/// assert!(report.is_complete());
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishReport {
    /// How many subscribers had the message queued.
    pub delivered: usize,
    /// The subscribers that were skipped because their mailbox was full.
    pub full: Vec<ActorId>,
    /// How many subscribers had stopped; they were dropped from the topic.
    pub stopped: usize,
}

impl PublishReport {
    /// Whether every subscriber got the message.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::Topic;
    /// use actor_core::prelude::*;
    /// # #[derive(Clone)] struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let ticks = Topic::new();
    /// let tiny = system.spawn_with(Clock, SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// ticks.subscribe(tiny.recipient());
    /// // One thread, and `tiny` has not run yet: the first tick fills its mailbox.
    /// assert!(ticks.try_publish(Tick).is_complete());
    /// assert!(!ticks.try_publish(Tick).is_complete());
    /// # }
    /// ```
    pub fn is_complete(&self) -> bool {
        self.full.is_empty() && self.stopped == 0
    }
}
