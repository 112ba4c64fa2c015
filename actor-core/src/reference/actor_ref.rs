//! `ActorRef` and `WeakActorRef`: how everyone else talks to one actor.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};

use tokio::sync::oneshot;

use crate::actor::context::{Actor, Context};
use crate::actor::message::Tell;
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::base::error::{AskError, SendError};
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::base::reply::ReplyTo;
use crate::cell::Lane;
#[cfg(feature = "serde")]
use crate::endpoint::RemoteTarget;
use crate::mailbox::signal::Signal;
use crate::reference::ask::{AskRequest, AskWith};
use crate::reference::recipient::Recipient;
#[cfg(feature = "serde")]
use crate::reference::remote::remote_wait_for_stop;
use crate::reference::sink::{Sink, TellSink, Telling, block_on, map_send_error};

impl<A: Actor> Context<A> {
    /// A reference to this actor, to hand to others.
    ///
    /// Holding it inside the actor's own state keeps the actor alive after
    /// every outside reference is dropped; keep a
    /// [`WeakActorRef`](crate::WeakActorRef) there instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Echo;
    ///
    /// #[actor]
    /// impl Echo {
    ///     #[message]
    ///     fn me(&mut self, ctx: &mut Context<Self>) -> ActorRef<Echo> {
    ///         ctx.actor_ref()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let echo = ActorSystem::new().spawn(Echo);
    /// let same = echo.me().await.unwrap();
    /// assert_eq!(same.id(), echo.id());
    /// drop(echo);
    /// assert!(same.is_alive()); // the reference it handed out keeps it alive
    /// # }
    /// ```
    pub fn actor_ref(&self) -> ActorRef<A> {
        // Counted even when every outside reference is gone and the actor is
        // stopping: the new reference reaches it until its mailbox closes,
        // and dropping it again only repeats the stop.
        self.shared().retain();
        ActorRef::counted(self.shared().clone())
    }
}

/// A reference to a running actor of type `A`: how everyone else talks to it.
///
/// Cheap to clone (one atomic increment), `Send + Sync`, and compared and
/// hashed by [`ActorId`]. The actor lives while a strong reference exists (or
/// until it is stopped); when the last `ActorRef` (or [`Recipient`]) is
/// dropped, it stops gracefully, handling what is already queued.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Counter(u64);
/// impl Actor for Counter {
///     type Error = std::convert::Infallible;
/// }
///
/// struct Add(u64);
/// impl Message for Add {
///     type Reply = u64;
/// }
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter(0));
/// counter.tell(Add(1)).await.unwrap(); // fire-and-forget
/// assert_eq!(counter.ask(Add(1)).await.unwrap(), 2); // request / reply
/// # }
/// ```
pub struct ActorRef<A: Actor> {
    inner: Inner<A>,
}

/// Where the actor lives. Every method matches on this once; the local arm
/// is the hot path and is what it was before remote references existed.
pub(crate) enum Inner<A: Actor> {
    Local(Arc<Shared<A>>),
    #[cfg(feature = "serde")]
    Remote(Arc<RemoteTarget>),
}

/// A tell from an `ActorRef` picks the place inside its one future (see
/// `Telling`).
impl<A: Handler<M>, M: Message> TellSink<M> for Inner<A> {
    #[inline]
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        match self {
            Inner::Local(shared) => Sink::try_tell(&**shared, msg),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Sink::try_tell(&**target, msg),
        }
    }

    fn tell(&self, msg: M) -> futures::future::BoxFuture<'_, Result<(), SendError<M>>> {
        match self {
            Inner::Local(shared) => Sink::tell(&**shared, msg),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Sink::tell(&**target, msg),
        }
    }
}

impl<A: Actor> ActorRef<A> {
    /// Wraps a strong reference that has already been counted.
    pub(crate) fn counted(inner: Arc<Shared<A>>) -> Self {
        ActorRef { inner: Inner::Local(inner) }
    }

    /// A reference to an actor of another node.
    #[cfg(feature = "serde")]
    pub(crate) fn remote(target: Arc<RemoteTarget>) -> Self {
        ActorRef { inner: Inner::Remote(target) }
    }

    /// The local actor's shared state; `None` for a remote actor.
    pub(crate) fn shared(&self) -> Option<&Arc<Shared<A>>> {
        match &self.inner {
            Inner::Local(shared) => Some(shared),
            #[cfg(feature = "serde")]
            Inner::Remote(_) => None,
        }
    }

    /// Where the actor lives: here (its shared block) or on another node
    /// (the transport's target, feature `serde`).
    pub(crate) fn place(&self) -> &Inner<A> {
        &self.inner
    }

    /// The shared state of an actor known to be local (one this node
    /// spawned).
    pub(crate) fn local(&self) -> &Arc<Shared<A>> {
        self.shared().expect("an actor spawned on this node is local")
    }

    /// The transport's target, for a remote actor.
    #[cfg(feature = "serde")]
    pub(crate) fn remote_target(&self) -> Option<&RemoteTarget> {
        match &self.inner {
            Inner::Local(_) => None,
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Some(target),
        }
    }

    /// The actor's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let (a, b) = (system.spawn(Idle), system.spawn(Idle));
    /// assert_eq!(a.clone().id(), a.id()); // every reference to an actor carries its id
    /// assert_ne!(a.id(), b.id());
    /// # }
    /// ```
    pub fn id(&self) -> ActorId {
        match &self.inner {
            Inner::Local(shared) => shared.cell.id,
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.endpoint.id(),
        }
    }

    /// The name given at spawn, if any (`None` for a remote actor).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let janitor = system.spawn_with(Idle, SpawnOptions::new().name("janitor"));
    /// assert_eq!(janitor.name(), Some("janitor"));
    /// assert_eq!(system.spawn(Idle).name(), None);
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            Inner::Local(shared) => shared.cell.name.as_deref(),
            #[cfg(feature = "serde")]
            Inner::Remote(_) => None,
        }
    }

    /// Whether the actor lives on this node.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let idle = system.spawn(Idle);
    /// assert!(idle.is_local()); // spawned by this node's system
    /// assert_eq!(idle.node(), None); // so it names no other node
    /// # }
    /// ```
    pub fn is_local(&self) -> bool {
        matches!(self.inner, Inner::Local(_))
    }

    /// The name of the node the actor lives on, for a remote actor.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let idle = system.spawn(Idle);
    /// assert_eq!(idle.node(), None); // only a remote actor has a node name
    /// assert!(idle.is_local());
    /// # }
    /// ```
    pub fn node(&self) -> Option<&str> {
        match &self.inner {
            Inner::Local(_) => None,
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Some(target.endpoint.node()),
        }
    }

    /// Whether the actor still accepts messages: it has not stopped, nor
    /// begun to stop. For a remote actor: its node is reachable and it has
    /// not been reported stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let idle = ActorSystem::new().spawn(Idle);
    /// assert!(idle.is_alive());
    /// idle.stop();
    /// assert!(!idle.is_alive()); // stopping already counts: no new messages
    /// assert!(matches!(idle.wait_for_stop().await, StopReason::Normal));
    /// assert!(!idle.is_alive());
    /// # }
    /// ```
    pub fn is_alive(&self) -> bool {
        match &self.inner {
            Inner::Local(shared) => shared.is_accepting(),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.endpoint.is_alive(),
        }
    }

    /// How many messages wait in the mailbox (0 for a remote actor, whose
    /// mailbox this node cannot see).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.try_tell(Add { n: 1 }).unwrap();
    /// counter.try_tell(Add { n: 2 }).unwrap();
    /// // The actor has not run yet (one thread): both messages wait.
    /// assert_eq!(counter.mailbox_len(), 2);
    /// assert_eq!(counter.ask(Add { n: 3 }).await.unwrap(), 6);
    /// assert_eq!(counter.mailbox_len(), 0);
    /// # }
    /// ```
    pub fn mailbox_len(&self) -> usize {
        match &self.inner {
            Inner::Local(shared) => shared.mailbox.len(),
            #[cfg(feature = "serde")]
            Inner::Remote(_) => 0,
        }
    }

    /// This reference as a sink of `M`s.
    fn sink<M: Message>(&self) -> &dyn Sink<M>
    where
        A: Handler<M>,
    {
        match &self.inner {
            Inner::Local(shared) => &**shared,
            #[cfg(feature = "serde")]
            Inner::Remote(target) => &**target,
        }
    }

    /// Sends `msg` without waiting for it to be handled.
    ///
    /// On a bounded mailbox that is full, waits for room (backpressure);
    /// otherwise returns as soon as the message is queued. Messages from one
    /// sender are handled in the order they were sent.
    ///
    /// One wait is refused rather than waited: the actor makes room only
    /// between messages, so a handler telling its own actor's full mailbox
    /// (or a task it awaits, started with
    /// [`Context::spawn_task`](crate::Context::spawn_task), or a handler the
    /// actor waits on through asks) would wait forever. That tell returns
    /// [`SendError::Deadlock`] at once, with the message. Only a full
    /// mailbox is looked at this way: a tell that finds room is queued as
    /// usual, and every other sender waits for room.
    ///
    /// # Examples
    ///
    /// A handler that splits its work into messages to itself, and keeps
    /// what its mailbox cannot hold:
    ///
    /// ```
    /// use actor_core::error::SendError;
    /// use actor_core::mailbox::Mailbox;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Splitter {
    ///     done: u64,
    ///     kept: Vec<u64>,
    /// }
    /// impl Actor for Splitter {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// struct Chunk(u64);
    /// impl Message for Chunk {
    ///     type Reply = ();
    /// }
    /// impl Handler<Chunk> for Splitter {
    ///     async fn handle(&mut self, _: Chunk, _: &mut Context<Self>) {
    ///         self.done += 1;
    ///     }
    /// }
    ///
    /// struct Job(u64);
    /// impl Message for Job {
    ///     type Reply = usize;
    /// }
    /// impl Handler<Job> for Splitter {
    ///     async fn handle(&mut self, Job(n): Job, ctx: &mut Context<Self>) -> usize {
    ///         let me = ctx.actor_ref();
    ///         for i in 0..n {
    ///             if let Err(SendError::Deadlock(Chunk(i), _cycle)) = me.tell(Chunk(i)).await {
    ///                 // Full, and only this actor makes room: keep the rest.
    ///                 self.kept.extend(i..n);
    ///                 break;
    ///             }
    ///         }
    ///         self.kept.len()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let splitter = system.spawn_with(Splitter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(8)));
    /// assert_eq!(splitter.ask(Job(10)).await.unwrap(), 2, "eight told, two kept");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped; the message
    /// is also reported as a [dead letter](crate::ActorSystem::dead_letters).
    /// [`SendError::Deadlock`] with `msg`, as above.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// `msg`.
    pub fn tell<M>(&self, msg: M) -> impl Future<Output = Result<(), SendError<M>>> + Send + '_
    where
        A: Handler<M>,
        M: Message,
    {
        Telling::new(&self.inner, msg)
    }

    /// Sends `msg` if there is room now; never waits.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Closed`], each with `msg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{error::SendError, mailbox::Mailbox};
    /// # struct Sleepy;
    /// # impl Actor for Sleepy { type Error = std::convert::Infallible; }
    /// # struct Nap;
    /// # impl Message for Nap { type Reply = (); }
    /// # impl Handler<Nap> for Sleepy { async fn handle(&mut self, _: Nap, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let sleepy = system.spawn_with(Sleepy, SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// sleepy.try_tell(Nap).unwrap();
    /// // The actor has not run yet (one thread): the mailbox is full.
    /// assert!(matches!(sleepy.try_tell(Nap), Err(SendError::Full(Nap))));
    /// # }
    /// ```
    pub fn try_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        match &self.inner {
            Inner::Local(shared) => shared.try_send(Tell(msg)).map_err(|e| map_send_error(e, |t| t.0)),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Sink::try_tell(&**target, msg),
        }
    }

    /// [`tell`](ActorRef::tell) from a thread outside any async runtime,
    /// blocking it while the mailbox is full.
    ///
    /// # Errors
    ///
    /// As [`tell`](ActorRef::tell), and [`SendError::BlockingInRuntime`] when
    /// called from inside a tokio runtime (including `spawn_blocking`), where
    /// blocking could deadlock it: use `tell(..).await` there.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let system = ActorSystem::builder().handle(runtime.handle().clone()).build();
    /// let counter = system.spawn(Counter(0));
    /// // This thread is outside the runtime: it may block.
    /// counter.blocking_tell(Add { n: 1 }).unwrap();
    /// assert_eq!(counter.blocking_ask(Add { n: 1 }).unwrap(), 2);
    /// // Inside the runtime the tell is refused, and the message handed back.
    /// runtime.block_on(async {
    ///     assert!(matches!(counter.blocking_tell(Add { n: 5 }), Err(SendError::BlockingInRuntime(Add { n: 5 }))));
    /// });
    /// ```
    pub fn blocking_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(SendError::BlockingInRuntime(msg));
        }
        block_on(&self.runtime(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// Sends `msg` and waits for the reply. Add a limit with
    /// [`AskRequest::timeout`].
    ///
    /// An ask made by a handler, or by a task started with
    /// [`Context::spawn_task`](crate::Context::spawn_task), that would close
    /// a cycle of waits (the target waits, directly or through others'
    /// asks and awaited tasks, on the asker) fails at once with
    /// [`AskError::Deadlock`]. An ask from any other task is not traced: if
    /// a handler awaits a task started with plain `tokio::spawn`, a cycle
    /// through that task is not found, and its asks wait until their
    /// timeouts, or forever without one. Start such tasks with
    /// `Context::spawn_task`, or give their asks a timeout.
    ///
    /// # Errors
    ///
    /// See [`AskError`]: the actor had stopped ([`AskError::Closed`], with
    /// `msg`), stopped before replying ([`AskError::NoReply`]), panicked
    /// ([`AskError::Panicked`]), the timeout passed ([`AskError::Timeout`]),
    /// or the ask would close a cycle ([`AskError::Deadlock`], with `msg`).
    /// An ask never hangs on an actor that is gone.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: once `msg` is queued, dropping the future only
    /// discards the reply; the message is still handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Sloth;
    /// # impl Actor for Sloth { type Error = std::convert::Infallible; }
    /// # struct Nap(Duration);
    /// # impl Message for Nap { type Reply = (); }
    /// # impl Handler<Nap> for Sloth {
    /// #     async fn handle(&mut self, Nap(d): Nap, _: &mut Context<Self>) { tokio::time::sleep(d).await }
    /// # }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let sloth = ActorSystem::new().spawn(Sloth);
    /// let err = sloth
    ///     .ask(Nap(Duration::from_secs(60)))
    ///     .timeout(Duration::from_millis(50))
    ///     .await
    ///     .unwrap_err();
    /// assert!(err.is_timeout());
    /// # }
    /// ```
    pub fn ask<M>(&self, msg: M) -> AskRequest<'_, M>
    where
        A: Handler<M>,
        M: Message,
    {
        AskRequest::new(self.sink(), msg, <A as Handler<M>>::REENTRANT)
    }

    /// The runtime the actor's system runs on.
    fn runtime(&self) -> tokio::runtime::Handle {
        match &self.inner {
            Inner::Local(shared) => shared.system.handle().clone(),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.system.handle().clone(),
        }
    }

    /// [`ask`](ActorRef::ask) from a thread outside any async runtime.
    ///
    /// # Errors
    ///
    /// As [`ask`](ActorRef::ask), and [`AskError::BlockingInRuntime`] when
    /// called from inside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 1)] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// // A plain thread, not one of the runtime's: it may block.
    /// let thread = std::thread::spawn({
    ///     let counter = counter.clone();
    ///     move || counter.blocking_ask(Add { n: 2 })
    /// });
    /// assert_eq!(thread.join().unwrap().unwrap(), 2);
    /// // In the runtime the ask is refused, and the message handed back.
    /// assert!(matches!(counter.blocking_ask(Add { n: 5 }), Err(AskError::BlockingInRuntime(Add { n: 5 }))));
    /// # }
    /// ```
    pub fn blocking_ask<M>(&self, msg: M) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        self.ask(msg).blocking()
    }

    /// Asks with a message that carries its own [`ReplyTo`], for handlers that
    /// answer later without holding up their mailbox.
    ///
    /// `make` builds the message around the reply handle. The handler keeps
    /// the handle and calls [`ReplyTo::send`] when it has the answer.
    ///
    /// # Errors
    ///
    /// As [`ask`](ActorRef::ask); [`AskError::NoReply`] if the handle is
    /// dropped unanswered.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Adder(Vec<(u64, ReplyTo<u64>)>);
    ///
    /// #[actor]
    /// impl Adder {
    ///     #[message]
    ///     fn add(&mut self, n: u64, reply: ReplyTo<u64>) {
    ///         self.0.push((n, reply)); // kept: the handler returns, the mailbox goes on
    ///         if self.0.len() == 2 {
    ///             let sum = self.0.iter().map(|(n, _)| n).sum();
    ///             self.0.drain(..).for_each(|(_, reply)| _ = reply.send(sum)); // both answered now
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let adder = ActorSystem::new().spawn(Adder(Vec::new()));
    /// let add = |n| adder.ask_with(move |reply| Add { n, reply }).timeout(std::time::Duration::from_secs(5));
    /// let (a, b) = tokio::join!(add(2), add(3)); // the first waits for the second
    /// assert_eq!((a.unwrap(), b.unwrap()), (5, 5));
    /// # }
    /// ```
    pub fn ask_with<M, R, F>(&self, make: F) -> AskWith<'_, M, R>
    where
        A: Handler<M>,
        M: Message,
        R: Send + 'static,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let (tx, rx) = oneshot::channel();
        AskWith::new(self.sink(), make(ReplyTo::new(tx)), rx)
    }

    /// Asks the actor to stop gracefully: it accepts no new messages, handles
    /// those already queued, runs `on_stop`, and stops with
    /// [`StopReason::Normal`]. Returns at once; see
    /// [`wait_for_stop`](ActorRef::wait_for_stop).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// let queued = counter.ask(Add { n: 2 }).send().await.unwrap(); // in the mailbox
    /// counter.stop();
    /// assert!(matches!(counter.tell(Add { n: 1 }).await, Err(SendError::Closed(_)))); // nothing new
    /// assert_eq!(queued.await.unwrap(), 2); // but what was queued is handled
    /// assert!(matches!(counter.wait_for_stop().await, StopReason::Normal));
    /// # }
    /// ```
    pub fn stop(&self) {
        match &self.inner {
            Inner::Local(shared) => shared.stop(),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.endpoint.stop(),
        }
    }

    /// Stops the actor after the message in hand, with [`StopReason::Killed`].
    /// Messages still queued become dead letters; their asks fail with
    /// [`AskError::NoReply`]. Returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// let queued = counter.ask(Add { n: 2 }).send().await.unwrap(); // in the mailbox
    /// counter.kill(); // before the actor has run (one thread)
    /// assert!(matches!(queued.await, Err(AskError::NoReply)));
    /// assert!(matches!(counter.wait_for_stop().await, StopReason::Killed));
    /// # }
    /// ```
    pub fn kill(&self) {
        match &self.inner {
            Inner::Local(shared) => shared.signal(Signal::Kill),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.endpoint.kill(),
        }
    }

    /// Ends the actor as soon as possible, with [`StopReason::Aborted`],
    /// without waiting for the message in hand: a handler (or `on_start`,
    /// or `on_child_exit`) in progress is dropped unfinished at its next
    /// await point. Messages still queued become dead letters; their asks,
    /// and the ask whose handler was dropped, fail with
    /// [`AskError::NoReply`]. Then, as after [`kill`](ActorRef::kill), the
    /// actor's children stop and `on_stop` runs, seeing
    /// [`StopReason::Aborted`], so that it can release what the dropped
    /// handler left behind. Returns at once; see
    /// [`wait_for_stop`](ActorRef::wait_for_stop).
    ///
    /// A supervisor treats an abort like a kill: per the child's restart
    /// policy, it may start a fresh incarnation. An abort asked while
    /// `on_stop` itself runs (after a stop, a kill or an earlier abort)
    /// drops `on_stop` too. Aborting an actor that has stopped does
    /// nothing.
    ///
    /// Only an await point can be interrupted: a handler that blocks its
    /// thread, or computes without awaiting, runs until it awaits or
    /// returns. For a remote actor this is a [`kill`](ActorRef::kill): its
    /// node is asked to stop it after the message in hand.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Stuck;
    /// impl Actor for Stuck {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// struct WaitForever;
    /// impl Message for WaitForever {
    ///     type Reply = ();
    /// }
    ///
    /// impl Handler<WaitForever> for Stuck {
    ///     async fn handle(&mut self, _: WaitForever, _: &mut Context<Self>) {
    ///         std::future::pending::<()>().await;
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let stuck = ActorSystem::new().spawn(Stuck);
    /// let ask = tokio::spawn({
    ///     let stuck = stuck.clone();
    ///     async move { stuck.ask(WaitForever).await }
    /// });
    /// tokio::task::yield_now().await; // let the handler start
    /// stuck.abort();
    /// assert!(matches!(stuck.wait_for_stop().await, StopReason::Aborted));
    /// assert!(ask.await.unwrap().is_err()); // AskError::NoReply
    /// # }
    /// ```
    pub fn abort(&self) {
        match &self.inner {
            Inner::Local(shared) => shared.abort(),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => target.endpoint.kill(),
        }
    }

    /// Waits until the actor has stopped (its `on_stop` has run) and returns
    /// why. Returns at once if it already has. For a remote actor, also
    /// returns ([`StopReason::NodeDown`]) when its node is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let worker = ActorSystem::new().spawn(Worker);
    /// worker.stop();
    /// assert!(matches!(worker.wait_for_stop().await, StopReason::Normal));
    /// // Once it has stopped, every wait returns at once, with the same reason.
    /// assert!(matches!(worker.wait_for_stop().await, StopReason::Normal));
    /// # }
    /// ```
    pub fn wait_for_stop(&self) -> impl Future<Output = StopReason> + Send + '_ {
        // Not an `async fn`: the local wait is a future of its own, returned
        // as it is rather than awaited inside a second state machine.
        match &self.inner {
            #[cfg(not(feature = "serde"))]
            Inner::Local(shared) => shared.cell.wait_terminated(),
            #[cfg(feature = "serde")]
            Inner::Local(shared) => futures::future::Either::Left(shared.cell.wait_terminated()),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => futures::future::Either::Right(remote_wait_for_stop(target)),
        }
    }

    /// A reference that does not keep the actor alive. (A remote reference
    /// never keeps its actor alive; its weak form upgrades while the actor
    /// is believed alive.)
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let idle = ActorSystem::new().spawn(Idle);
    /// let weak = idle.downgrade();
    /// assert_eq!(weak.id(), idle.id());
    /// drop(idle); // the last strong reference: the weak one does not count
    /// assert!(weak.upgrade().is_none());
    /// # }
    /// ```
    pub fn downgrade(&self) -> WeakActorRef<A> {
        let inner = match &self.inner {
            Inner::Local(shared) => WeakInner::Local(Arc::downgrade(shared)),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => WeakInner::Remote(target.clone()),
        };
        WeakActorRef { inner, id: self.id() }
    }

    /// A reference to this actor that only knows it handles `M`.
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
    /// drop(counter); // the recipient keeps the actor alive
    /// assert_eq!(adder.ask(Add { n: 2 }).await.unwrap(), 2);
    /// # }
    /// ```
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        match &self.inner {
            Inner::Local(shared) => {
                shared.retain();
                Recipient::new(shared.clone())
            }
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Recipient::new(target.clone()),
        }
    }
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        let inner = match &self.inner {
            Inner::Local(shared) => {
                shared.retain();
                Inner::Local(shared.clone())
            }
            #[cfg(feature = "serde")]
            Inner::Remote(target) => Inner::Remote(target.clone()),
        };
        ActorRef { inner }
    }
}

impl<A: Actor> Drop for ActorRef<A> {
    fn drop(&mut self) {
        match &self.inner {
            Inner::Local(shared) => shared.release(),
            #[cfg(feature = "serde")]
            Inner::Remote(_) => {}
        }
    }
}

crate::reference::identity_by_actor_id!(ActorRef<A: Actor>);

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(shared) => write!(f, "ActorRef<{}>({})", shared.cell.actor_type, self.id()),
            #[cfg(feature = "serde")]
            Inner::Remote(target) => write!(f, "ActorRef<{}>({target:?})", target.actor_type),
        }
    }
}

/// A reference to an actor that does not keep it alive; upgrade it to talk.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// # struct Idle;
/// # impl Actor for Idle { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let idle = ActorSystem::new().spawn(Idle);
/// let weak = idle.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(idle); // the last strong reference: the actor stops
/// assert!(weak.upgrade().is_none());
/// # }
/// ```
pub struct WeakActorRef<A: Actor> {
    inner: WeakInner<A>,
    id: ActorId,
}

enum WeakInner<A: Actor> {
    Local(Weak<Shared<A>>),
    #[cfg(feature = "serde")]
    Remote(Arc<RemoteTarget>),
}

impl<A: Actor> Clone for WeakInner<A> {
    fn clone(&self) -> Self {
        match self {
            WeakInner::Local(weak) => WeakInner::Local(weak.clone()),
            #[cfg(feature = "serde")]
            WeakInner::Remote(target) => WeakInner::Remote(target.clone()),
        }
    }
}

impl<A: Actor> WeakActorRef<A> {
    /// A strong reference, if some other strong reference still exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let idle = ActorSystem::new().spawn(Idle);
    /// let weak = idle.downgrade();
    /// let strong = weak.upgrade().expect("`idle` still holds the actor");
    /// assert_eq!(strong.id(), idle.id());
    /// drop((idle, strong));
    /// assert!(weak.upgrade().is_none());
    /// # }
    /// ```
    pub fn upgrade(&self) -> Option<ActorRef<A>> {
        match &self.inner {
            WeakInner::Local(weak) => {
                let inner = weak.upgrade()?;
                inner.try_retain().then(|| ActorRef::counted(inner))
            }
            #[cfg(feature = "serde")]
            WeakInner::Remote(target) => target.endpoint.is_alive().then(|| ActorRef::remote(target.clone())),
        }
    }

    /// The local actor's shared state, if it still exists (for an export).
    #[cfg(feature = "serde")]
    pub(crate) fn shared(&self) -> Option<Arc<Shared<A>>> {
        match &self.inner {
            WeakInner::Local(weak) => weak.upgrade(),
            #[cfg(feature = "serde")]
            WeakInner::Remote(_) => None,
        }
    }

    /// The actor's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let idle = ActorSystem::new().spawn(Idle);
    /// let (id, weak) = (idle.id(), idle.downgrade());
    /// drop(idle);
    /// assert_eq!(weak.id(), id); // still known once the actor is gone
    /// # }
    /// ```
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl<A: Actor> Clone for WeakActorRef<A> {
    fn clone(&self) -> Self {
        WeakActorRef { inner: self.inner.clone(), id: self.id }
    }
}

impl<A: Actor> fmt::Debug for WeakActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WeakActorRef({})", self.id)
    }
}
