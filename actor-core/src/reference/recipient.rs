//! `Recipient<M>`: a reference to any actor that handles `M`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::actor::message::Message;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::reference::ask::AskRequest;
use crate::reference::sink::{Sink, Telling, block_on};

/// A reference to any actor that handles `M`, whatever its type.
///
/// Use it where the sender should not know who answers: a subscriber list,
/// a callback, a pool. It keeps the actor alive like an [`ActorRef`](crate::ActorRef).
/// `try_tell`, `tell` and `ask` cost the same as through an `ActorRef`.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Log(String);
/// impl Message for Log {
///     type Reply = usize;
/// }
///
/// struct Console(usize);
/// impl Actor for Console {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Log> for Console {
///     async fn handle(&mut self, Log(line): Log, _: &mut Context<Self>) -> usize {
///         self.0 += line.len();
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let log: Recipient<Log> = ActorSystem::new().spawn(Console(0)).recipient();
/// log.tell(Log("hello".into())).await.unwrap();
/// assert_eq!(log.ask(Log("!".into())).await.unwrap(), 6);
/// # }
/// ```
pub struct Recipient<M: Message> {
    inner: Arc<dyn Sink<M>>,
}

impl<M: Message> Recipient<M> {
    /// A recipient sending through `inner`, whose strong reference (if it
    /// counts them) has been taken already.
    pub(crate) fn new(inner: Arc<dyn Sink<M>>) -> Self {
        Recipient { inner }
    }

    /// The actor's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// let adder: Recipient<Add> = counter.recipient();
    /// assert_eq!(adder.id(), counter.id());
    /// assert_eq!(adder.clone().id(), adder.id());
    /// # }
    /// ```
    pub fn id(&self) -> ActorId {
        self.inner.id()
    }

    /// As [`ActorRef::is_alive`](crate::ActorRef::is_alive).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let adder: Recipient<Add> = ActorSystem::new().spawn(Counter(0)).recipient();
    /// assert!(adder.is_alive());
    /// adder.stop();
    /// assert!(!adder.is_alive());
    /// # }
    /// ```
    pub fn is_alive(&self) -> bool {
        self.inner.is_accepting()
    }

    /// As [`ActorRef::tell`](crate::ActorRef::tell).
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped;
    /// [`SendError::Deadlock`] with `msg` as for [`ActorRef::tell`](crate::ActorRef::tell).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// `msg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let adder: Recipient<Add> = ActorSystem::new().spawn(Counter(0)).recipient();
    /// adder.tell(Add { n: 1 }).await.unwrap();
    /// assert_eq!(adder.ask(Add { n: 1 }).await.unwrap(), 2); // the tell was handled first
    /// adder.stop();
    /// assert!(matches!(adder.tell(Add { n: 5 }).await, Err(SendError::Closed(Add { n: 5 }))));
    /// # }
    /// ```
    pub fn tell(&self, msg: M) -> impl Future<Output = Result<(), SendError<M>>> + Send + '_ {
        Telling::new(&*self.inner, msg)
    }

    /// As [`ActorRef::try_tell`](crate::ActorRef::try_tell).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Closed`], each with `msg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn_with(Counter(0), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// let adder: Recipient<Add> = counter.recipient();
    /// adder.try_tell(Add { n: 1 }).unwrap();
    /// // The actor has not run yet (one thread): the mailbox is full.
    /// assert!(matches!(adder.try_tell(Add { n: 5 }), Err(SendError::Full(Add { n: 5 }))));
    /// assert_eq!(adder.ask(Add { n: 1 }).await.unwrap(), 2);
    /// # }
    /// ```
    pub fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.inner.try_tell(msg)
    }

    /// As [`ActorRef::blocking_tell`](crate::ActorRef::blocking_tell).
    ///
    /// # Errors
    ///
    /// As [`ActorRef::blocking_tell`](crate::ActorRef::blocking_tell).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let system = ActorSystem::builder().handle(runtime.handle().clone()).build();
    /// let adder: Recipient<Add> = system.spawn(Counter(0)).recipient();
    /// // This thread is outside the runtime: it may block.
    /// adder.blocking_tell(Add { n: 1 }).unwrap();
    /// assert_eq!(adder.ask(Add { n: 1 }).blocking().unwrap(), 2);
    /// // Inside the runtime the tell is refused, and the message handed back.
    /// runtime.block_on(async {
    ///     assert!(matches!(adder.blocking_tell(Add { n: 5 }), Err(SendError::BlockingInRuntime(Add { n: 5 }))));
    /// });
    /// ```
    pub fn blocking_tell(&self, msg: M) -> Result<(), SendError<M>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(SendError::BlockingInRuntime(msg));
        }
        block_on(&self.inner.runtime(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// As [`ActorRef::ask`](crate::ActorRef::ask).
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`](crate::ActorRef::ask).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let adder: Recipient<Add> = ActorSystem::new().spawn(Counter(0)).recipient();
    /// assert_eq!(adder.ask(Add { n: 2 }).await.unwrap(), 2);
    /// adder.stop();
    /// adder.wait_for_stop().await;
    /// assert!(matches!(adder.ask(Add { n: 5 }).await, Err(AskError::Closed(Add { n: 5 }))));
    /// # }
    /// ```
    pub fn ask(&self, msg: M) -> AskRequest<'_, M> {
        AskRequest::new(&*self.inner, msg, false)
    }

    /// As [`ActorRef::stop`](crate::ActorRef::stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let adder: Recipient<Add> = ActorSystem::new().spawn(Counter(0)).recipient();
    /// let queued = adder.ask(Add { n: 2 }).send().await.unwrap(); // in the mailbox
    /// adder.stop();
    /// assert!(matches!(adder.tell(Add { n: 1 }).await, Err(SendError::Closed(_)))); // nothing new
    /// assert_eq!(queued.await.unwrap(), 2); // but what was queued is handled
    /// assert!(matches!(adder.wait_for_stop().await, StopReason::Normal));
    /// # }
    /// ```
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// As [`ActorRef::wait_for_stop`](crate::ActorRef::wait_for_stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// let adder: Recipient<Add> = counter.recipient();
    /// counter.kill();
    /// assert!(matches!(adder.wait_for_stop().await, StopReason::Killed));
    /// // Once it has stopped, every wait returns at once, with the same reason.
    /// assert!(matches!(adder.wait_for_stop().await, StopReason::Killed));
    /// # }
    /// ```
    pub async fn wait_for_stop(&self) -> StopReason {
        self.inner.wait_for_stop().await
    }
}

impl<M: Message> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        self.inner.retain();
        Recipient { inner: self.inner.clone() }
    }
}

impl<M: Message> Drop for Recipient<M> {
    fn drop(&mut self) {
        self.inner.release();
    }
}

crate::reference::identity_by_actor_id!(Recipient<M: Message>);

impl<M: Message> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient<{}>({})", std::any::type_name::<M>(), self.id())
    }
}
