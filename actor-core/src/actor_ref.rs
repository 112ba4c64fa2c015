//! Handles to actors: `ActorRef`, `WeakActorRef`, `Recipient`, and asks.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::{Hash, Hasher};
use std::mem;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use futures::future::BoxFuture;
use pin_project_lite::pin_project;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::actor::{Actor, StopReason};
use crate::cell::{Lane, Shared, Signal};
use crate::deadlock::{self, Waiting};
use crate::envelope::{Ask, Envelope, Payload, Tell};
use crate::error::{AskError, SendError};
use crate::id::ActorId;
use crate::mailbox::queue::Refused;
use crate::message::{Handler, Message};
use crate::remote::{self, AskContext, Outgoing, PendingReply, RemoteTarget};
use crate::reply::{self, ReplyFailure, ReplyResult, ReplyTo};
use crate::system::DeadLetterReason;

/// How messages are queued; every kind of reference goes through here.
impl<A: Actor> Shared<A> {
    /// Hands back the payload of an envelope that could not be queued because
    /// the mailbox is closed, reporting it as a dead letter.
    fn closed<P: Payload<A>>(&self, envelope: Envelope<A>) -> P {
        self.cell.dead_letter(P::message_type(), DeadLetterReason::Stopped);
        unpack(envelope)
    }

    pub(crate) fn try_send<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        match self.mailbox.try_send(Envelope::new(payload)) {
            Ok(()) => Ok(()),
            Err(Refused::Full(env)) => Err(SendError::Full(unpack(env))),
            Err(Refused::Closed(env)) => Err(SendError::Closed(self.closed(env))),
        }
    }

    /// Queues `payload`, waiting for room. The fast path is `try_send`'s;
    /// only a full mailbox looks further: a handler (or a task it awaits)
    /// that would wait for room in its own actor's mailbox, or in that of
    /// an actor waiting on it, would wait forever (the actor makes room
    /// only between messages), so it gets `SendError::Deadlock` at once
    /// instead. Any other sender waits.
    pub(crate) async fn send<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        let env = match self.mailbox.try_send(Envelope::new(payload)) {
            Ok(()) => return Ok(()),
            Err(Refused::Closed(env)) => return Err(SendError::Closed(self.closed(env))),
            Err(Refused::Full(env)) => env,
        };
        if let Some(me) = reply::current_waiter()
            && let Err(cycle) = deadlock::check(me, self.cell.id)
        {
            return Err(SendError::Deadlock(unpack(env), cycle));
        }
        match self.mailbox.send(env).await {
            Ok(()) => Ok(()),
            Err(env) => Err(SendError::Closed(self.closed(env))),
        }
    }

    /// Queues an ask, waiting for room, without looking at the graph of
    /// waits: the ask is there already (it checked itself when it started),
    /// unless its handler is exempt.
    pub(crate) async fn send_ask<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        match self.mailbox.send(Envelope::new(payload)).await {
            Ok(()) => Ok(()),
            Err(env) => Err(SendError::Closed(self.closed(env))),
        }
    }
}

/// Takes the payload back out of an envelope built from a `P`.
fn unpack<A: Actor, P: Payload<A>>(envelope: Envelope<A>) -> P {
    envelope.into_payload::<P>().unwrap_or_else(|| unreachable!("an envelope holds the payload it was built with"))
}

/// Who asks, and until when: what a remote ask carries to the far node
/// (cycle detection and deadlines); a local ask ignores it, since the graph
/// of waits and the closed reply channel already tell the same here.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking {
    /// The handler's actor, when this ask is one of its waits in the graph.
    pub(crate) asker: Option<reply::Me>,
    /// When the asker gives up.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// The ways of queueing an `M`, erased over the actor type; what a
/// [`Recipient`] holds, and what an ask sends through.
pub(crate) trait Sink<M: Message>: Send + Sync {
    fn id(&self) -> ActorId;
    fn stop(&self);
    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason>;
    /// The runtime the `blocking_*` forms run timers on.
    fn runtime(&self) -> tokio::runtime::Handle;
    fn retain(&self);
    fn release(&self);
    fn is_accepting(&self) -> bool;
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>>;
    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>>;
    fn try_ask(&self, ask: Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>>;
    fn ask(&self, ask: Ask<M>, asking: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>>;
}

impl<A: Handler<M>, M: Message> Sink<M> for Shared<A> {
    fn id(&self) -> ActorId {
        self.cell.id
    }

    fn stop(&self) {
        Shared::stop(self);
    }

    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason> {
        Box::pin(self.cell.wait_terminated())
    }

    fn runtime(&self) -> tokio::runtime::Handle {
        self.cell.system.handle().clone()
    }

    fn retain(&self) {
        Shared::retain(self);
    }

    fn release(&self) {
        Shared::release(self);
    }

    fn is_accepting(&self) -> bool {
        Shared::is_accepting(self)
    }

    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.try_send(Tell(msg)).map_err(|e| map_send_error(e, |t| t.0))
    }

    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>> {
        Box::pin(async move { self.send(Tell(msg)).await.map_err(|e| map_send_error(e, |t| t.0)) })
    }

    fn try_ask(&self, ask: Ask<M>, _: Asking) -> Result<(), SendError<Ask<M>>> {
        self.try_send(ask)
    }

    fn ask(&self, ask: Ask<M>, _: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>> {
        Box::pin(self.send_ask(ask))
    }
}

fn map_send_error<P, M>(e: SendError<P>, f: impl FnOnce(P) -> M) -> SendError<M> {
    e.map(f)
}

/// A remote actor takes any message type; whether it can be encoded is
/// found out when it is sent (`NotRemote` otherwise).
impl<M: Message> Sink<M> for RemoteTarget {
    fn id(&self) -> ActorId {
        self.endpoint.id()
    }

    fn stop(&self) {
        self.endpoint.stop();
    }

    fn wait_for_stop(&self) -> BoxFuture<'_, StopReason> {
        Box::pin(remote_wait_for_stop(self))
    }

    fn runtime(&self) -> tokio::runtime::Handle {
        self.system.handle().clone()
    }

    fn retain(&self) {}

    fn release(&self) {}

    fn is_accepting(&self) -> bool {
        self.endpoint.is_alive()
    }

    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        if !self.accepts::<M>() {
            return Err(SendError::NotRemote(msg));
        }
        if let Err(refused) = self.endpoint.try_reserve() {
            return Err(self.refused(refused, msg, std::any::type_name::<M>()));
        }
        self.send_reserved(msg).map_err(SendError::NotRemote)
    }

    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>> {
        Box::pin(async move {
            if !self.accepts::<M>() {
                return Err(SendError::NotRemote(msg));
            }
            if let Err(refused) = self.endpoint.reserve().await {
                return Err(self.refused(refused, msg, std::any::type_name::<M>()));
            }
            self.send_reserved(msg).map_err(SendError::NotRemote)
        })
    }

    fn try_ask(&self, ask: Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>> {
        if !self.accepts::<M>() {
            return Err(SendError::NotRemote(ask));
        }
        if let Err(refused) = self.endpoint.try_reserve() {
            return Err(self.refused(refused, ask, std::any::type_name::<M>()));
        }
        self.send_ask(ask, asking)
    }

    fn ask(&self, ask: Ask<M>, asking: Asking) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>> {
        Box::pin(async move {
            if !self.accepts::<M>() {
                return Err(SendError::NotRemote(ask));
            }
            if let Err(refused) = self.endpoint.reserve_ask().await {
                return Err(self.refused(refused, ask, std::any::type_name::<M>()));
            }
            self.send_ask(ask, asking)
        })
    }
}

impl RemoteTarget {
    /// Whether `M` is one of the actor's remote messages.
    fn accepts<M: 'static>(&self) -> bool {
        self.codec(std::any::TypeId::of::<M>()).is_some()
    }

    /// The error for a refusal of credit, reporting what needs reporting.
    fn refused<P>(&self, refused: remote::Refused, payload: P, message_type: &'static str) -> SendError<P> {
        match refused {
            remote::Refused::Full => SendError::Full(payload),
            remote::Refused::Closed => SendError::Closed(payload),
            remote::Refused::NodeDown => {
                self.node_down(message_type);
                SendError::NodeDown(payload)
            }
        }
    }

    /// Encodes and tells `msg` with credit already taken; gives the credit
    /// and the message back if it cannot be encoded.
    fn send_reserved<M: Message>(&self, msg: M) -> Result<(), M> {
        match self.encode(&msg) {
            Some((codec, payload)) => {
                let message_type = std::any::type_name::<M>();
                self.endpoint.send(Outgoing { wire_name: codec.wire_name, message_type, payload, reply: None });
                Ok(())
            }
            None => {
                self.endpoint.unreserve();
                Err(msg)
            }
        }
    }

    fn send_ask<M: Message>(&self, Ask(msg, tx): Ask<M>, asking: Asking) -> Result<(), SendError<Ask<M>>> {
        let Some((codec, payload)) = self.encode(&msg) else {
            self.endpoint.unreserve();
            return Err(SendError::NotRemote(Ask(msg, tx)));
        };
        let message_type = std::any::type_name::<M>();
        // The chain of waits travels only with asks made by handlers: an ask
        // from a plain task carries nothing and costs nothing more.
        let chain = match asking.asker {
            Some(asker) => deadlock::chain(asker, self.endpoint.id()),
            None => Vec::new(),
        };
        let context = AskContext { chain, deadline: asking.deadline };
        let reply =
            PendingReply::new(tx, codec.decode_reply, self.endpoint.id(), self.actor_type, message_type, context);
        self.endpoint.send(Outgoing { wire_name: codec.wire_name, message_type, payload, reply: Some(reply) });
        Ok(())
    }
}

/// Waits for a remote actor's end, as its node reports it. Given up (the
/// future dropped), it takes its notice back from the transport.
async fn remote_wait_for_stop(target: &RemoteTarget) -> StopReason {
    /// Takes the notice back unless it ran.
    struct Unwatch<'a>(&'a dyn remote::RemoteEndpoint, Option<remote::WatchKey>);
    impl Drop for Unwatch<'_> {
        fn drop(&mut self) {
            if let Some(key) = self.1.take() {
                self.0.unwatch(key);
            }
        }
    }
    let (tx, rx) = oneshot::channel();
    let key = target.endpoint.watch(Box::new(move |_, reason| {
        let _ = tx.send(reason.clone());
    }));
    let mut watch = Unwatch(&*target.endpoint, key);
    let reason = rx.await.unwrap_or(StopReason::NodeDown);
    // It ran: nothing left to take back.
    watch.1 = None;
    reason
}

/// Fails with `BlockingInRuntime` when called from inside a runtime;
/// otherwise runs `fut` to completion on this thread, inside `runtime`'s
/// context so that timers work.
fn block_on<F: Future>(runtime: &tokio::runtime::Handle, fut: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return None;
    }
    let _entered = runtime.enter();
    Some(futures::executor::block_on(fut))
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
enum Inner<A: Actor> {
    Local(Arc<Shared<A>>),
    Remote(Arc<RemoteTarget>),
}

impl<A: Actor> ActorRef<A> {
    /// Wraps a strong reference that has already been counted.
    pub(crate) fn counted(inner: Arc<Shared<A>>) -> Self {
        ActorRef { inner: Inner::Local(inner) }
    }

    /// A reference to an actor of another node.
    pub(crate) fn remote(target: Arc<RemoteTarget>) -> Self {
        ActorRef { inner: Inner::Remote(target) }
    }

    /// The local actor's shared state; `None` for a remote actor.
    pub(crate) fn shared(&self) -> Option<&Arc<Shared<A>>> {
        match &self.inner {
            Inner::Local(shared) => Some(shared),
            Inner::Remote(_) => None,
        }
    }

    /// The shared state of an actor known to be local (one this node
    /// spawned).
    pub(crate) fn local(&self) -> &Arc<Shared<A>> {
        self.shared().expect("an actor spawned on this node is local")
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn remote_target(&self) -> Option<&RemoteTarget> {
        match &self.inner {
            Inner::Local(_) => None,
            Inner::Remote(target) => Some(target),
        }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        match &self.inner {
            Inner::Local(shared) => shared.cell.id,
            Inner::Remote(target) => target.endpoint.id(),
        }
    }

    /// The name given at spawn, if any (`None` for a remote actor).
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            Inner::Local(shared) => shared.cell.name.as_deref(),
            Inner::Remote(_) => None,
        }
    }

    /// Whether the actor lives on this node.
    pub fn is_local(&self) -> bool {
        matches!(self.inner, Inner::Local(_))
    }

    /// The name of the node the actor lives on, for a remote actor.
    pub fn node(&self) -> Option<&str> {
        self.remote_target().map(|t| t.endpoint.node())
    }

    /// Whether the actor still accepts messages: it has not stopped, nor
    /// begun to stop. For a remote actor: its node is reachable and it has
    /// not been reported stopped.
    pub fn is_alive(&self) -> bool {
        match &self.inner {
            Inner::Local(shared) => shared.is_accepting(),
            Inner::Remote(target) => target.endpoint.is_alive(),
        }
    }

    /// How many messages wait in the mailbox (0 for a remote actor, whose
    /// mailbox this node cannot see).
    pub fn mailbox_len(&self) -> usize {
        match &self.inner {
            Inner::Local(shared) => shared.mailbox.len(),
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
    pub async fn tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        match &self.inner {
            Inner::Local(shared) => shared.send(Tell(msg)).await.map_err(|e| map_send_error(e, |t| t.0)),
            // Credit is usually there: only a full window boxes a future.
            Inner::Remote(target) => match Sink::try_tell(&**target, msg) {
                Err(SendError::Full(msg)) => Sink::tell(&**target, msg).await,
                other => other,
            },
        }
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
        AskRequest { sink: self.sink(), msg, timeout: None, reentrant: <A as Handler<M>>::REENTRANT }
    }

    /// The runtime the actor's system runs on.
    fn runtime(&self) -> tokio::runtime::Handle {
        match &self.inner {
            Inner::Local(shared) => shared.cell.system.handle().clone(),
            Inner::Remote(target) => target.system.handle().clone(),
        }
    }

    /// [`ask`](ActorRef::ask) from a thread outside any async runtime.
    ///
    /// # Errors
    ///
    /// As [`ask`](ActorRef::ask), and [`AskError::BlockingInRuntime`] when
    /// called from inside a tokio runtime.
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
    pub fn ask_with<M, R, F>(&self, make: F) -> AskWith<'_, M, R>
    where
        A: Handler<M>,
        M: Message,
        R: Send + 'static,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let (tx, rx) = oneshot::channel();
        AskWith { sink: self.sink(), msg: make(ReplyTo::new(tx)), rx, timeout: None }
    }

    /// Asks the actor to stop gracefully: it accepts no new messages, handles
    /// those already queued, runs `on_stop`, and stops with
    /// [`StopReason::Normal`]. Returns at once; see
    /// [`wait_for_stop`](ActorRef::wait_for_stop).
    pub fn stop(&self) {
        match &self.inner {
            Inner::Local(shared) => shared.stop(),
            Inner::Remote(target) => target.endpoint.stop(),
        }
    }

    /// Stops the actor after the message in hand, with [`StopReason::Killed`].
    /// Messages still queued become dead letters; their asks fail with
    /// [`AskError::NoReply`]. Returns at once.
    pub fn kill(&self) {
        match &self.inner {
            Inner::Local(shared) => shared.signal(Signal::Kill),
            Inner::Remote(target) => target.endpoint.kill(),
        }
    }

    /// Waits until the actor has stopped (its `on_stop` has run) and returns
    /// why. Returns at once if it already has. For a remote actor, also
    /// returns ([`StopReason::NodeDown`]) when its node is lost.
    pub async fn wait_for_stop(&self) -> StopReason {
        match &self.inner {
            Inner::Local(shared) => shared.cell.wait_terminated().await,
            Inner::Remote(target) => remote_wait_for_stop(target).await,
        }
    }

    /// A reference that does not keep the actor alive. (A remote reference
    /// never keeps its actor alive; its weak form upgrades while the actor
    /// is believed alive.)
    pub fn downgrade(&self) -> WeakActorRef<A> {
        let inner = match &self.inner {
            Inner::Local(shared) => WeakInner::Local(Arc::downgrade(shared)),
            Inner::Remote(target) => WeakInner::Remote(target.clone()),
        };
        WeakActorRef { inner, id: self.id() }
    }

    /// A reference to this actor that only knows it handles `M`.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        match &self.inner {
            Inner::Local(shared) => {
                shared.retain();
                Recipient { inner: shared.clone() }
            }
            Inner::Remote(target) => Recipient { inner: target.clone() },
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
            Inner::Remote(target) => Inner::Remote(target.clone()),
        };
        ActorRef { inner }
    }
}

impl<A: Actor> Drop for ActorRef<A> {
    fn drop(&mut self) {
        if let Inner::Local(shared) = &self.inner {
            shared.release();
        }
    }
}

impl<A: Actor> PartialEq for ActorRef<A> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<A: Actor> Eq for ActorRef<A> {}

impl<A: Actor> Hash for ActorRef<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(shared) => write!(f, "ActorRef<{}>({})", shared.cell.actor_type, self.id()),
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
    Remote(Arc<RemoteTarget>),
}

impl<A: Actor> Clone for WeakInner<A> {
    fn clone(&self) -> Self {
        match self {
            WeakInner::Local(weak) => WeakInner::Local(weak.clone()),
            WeakInner::Remote(target) => WeakInner::Remote(target.clone()),
        }
    }
}

impl<A: Actor> WeakActorRef<A> {
    /// A strong reference, if some other strong reference still exists.
    pub fn upgrade(&self) -> Option<ActorRef<A>> {
        match &self.inner {
            WeakInner::Local(weak) => {
                let inner = weak.upgrade()?;
                inner.try_retain().then(|| ActorRef::counted(inner))
            }
            WeakInner::Remote(target) => target.endpoint.is_alive().then(|| ActorRef::remote(target.clone())),
        }
    }

    /// The local actor's shared state, if it still exists.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn shared(&self) -> Option<Arc<Shared<A>>> {
        match &self.inner {
            WeakInner::Local(weak) => weak.upgrade(),
            WeakInner::Remote(_) => None,
        }
    }

    /// The actor's id.
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

/// A reference to any actor that handles `M`, whatever its type.
///
/// Use it where the sender should not know who answers: a subscriber list,
/// a callback, a pool. It keeps the actor alive like an [`ActorRef`].
/// `try_tell` and `ask` cost the same as through an `ActorRef`; `tell` boxes
/// its future (one allocation), because the actor type is erased.
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
    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.inner.id()
    }

    /// As [`ActorRef::is_alive`].
    pub fn is_alive(&self) -> bool {
        self.inner.is_accepting()
    }

    /// As [`ActorRef::tell`].
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped;
    /// [`SendError::Deadlock`] with `msg` as for [`ActorRef::tell`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// `msg`.
    pub async fn tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.inner.tell(msg).await
    }

    /// As [`ActorRef::try_tell`].
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Closed`], each with `msg`.
    pub fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.inner.try_tell(msg)
    }

    /// As [`ActorRef::blocking_tell`].
    ///
    /// # Errors
    ///
    /// As [`ActorRef::blocking_tell`].
    pub fn blocking_tell(&self, msg: M) -> Result<(), SendError<M>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(SendError::BlockingInRuntime(msg));
        }
        block_on(&self.inner.runtime(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// As [`ActorRef::ask`].
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`].
    pub fn ask(&self, msg: M) -> AskRequest<'_, M> {
        AskRequest { sink: &*self.inner, msg, timeout: None, reentrant: false }
    }

    /// As [`ActorRef::stop`].
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// As [`ActorRef::wait_for_stop`].
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

impl<M: Message> PartialEq for Recipient<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<M: Message> Eq for Recipient<M> {}

impl<M: Message> Hash for Recipient<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

impl<M: Message> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient<{}>({})", std::any::type_name::<M>(), self.id())
    }
}

/// An ask that has not been sent yet: set a timeout, then `.await` it (or
/// call [`blocking`](AskRequest::blocking) from a plain thread).
#[must_use = "an ask does nothing until it is awaited"]
pub struct AskRequest<'a, M: Message> {
    sink: &'a dyn Sink<M>,
    msg: M,
    timeout: Option<Duration>,
    /// The target's handler is exempt from cycle detection.
    reentrant: bool,
}

impl<'a, M: Message> AskRequest<'a, M> {
    /// Fails the ask with [`AskError::Timeout`] if no reply has come within
    /// `timeout`, counted from the first poll and including any wait for
    /// mailbox room. A reply that comes later is dropped.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the ask to completion, blocking this thread.
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`], and [`AskError::BlockingInRuntime`] (with the
    /// message) when called from inside a tokio runtime.
    pub fn blocking(self) -> Result<M::Reply, AskError<M>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(AskError::BlockingInRuntime(self.msg));
        }
        let runtime = self.sink.runtime();
        block_on(&runtime, self.into_future()).unwrap_or_else(|| unreachable!("checked above"))
    }
}

impl<M: Message> fmt::Debug for AskRequest<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskRequest")
            .field("to", &self.sink.id())
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<'a, M: Message> IntoFuture for AskRequest<'a, M> {
    type Output = Result<M::Reply, AskError<M>>;
    type IntoFuture = AskFuture<'a, M>;

    fn into_future(self) -> Self::IntoFuture {
        AskFuture {
            sink: self.sink,
            state: AskState::Start(self.msg),
            timeout: self.timeout,
            reentrant: self.reentrant,
            waiting: None,
            deadline: None,
        }
    }
}

enum AskState<'a, M: Message> {
    Start(M),
    Queueing(BoxFuture<'a, Result<(), SendError<Ask<M>>>>, oneshot::Receiver<ReplyResult<M::Reply>>),
    Waiting(oneshot::Receiver<ReplyResult<M::Reply>>),
    Done,
}

pin_project! {
    /// The future of an [`AskRequest`].
    ///
    /// The fast path allocates nothing beyond the reply channel: the message
    /// is queued with `try_send` on first poll, and only a full mailbox makes
    /// the ask box a future to wait for room.
    #[must_use = "futures do nothing unless polled"]
    pub struct AskFuture<'a, M: Message> {
        sink: &'a dyn Sink<M>,
        state: AskState<'a, M>,
        timeout: Option<Duration>,
        reentrant: bool,
        // This ask's edge in the graph of waits, while it lasts.
        waiting: Option<Waiting>,
        #[pin]
        deadline: Option<Sleep>,
    }
}

impl<M: Message> fmt::Debug for AskFuture<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskFuture").field("to", &self.sink.id()).finish_non_exhaustive()
    }
}

/// Reads a reply off its channel.
fn poll_reply<R, M>(
    rx: &mut oneshot::Receiver<ReplyResult<R>>,
    cx: &mut TaskContext<'_>,
) -> Poll<Result<R, AskError<M>>> {
    Poll::Ready(match ready!(Pin::new(rx).poll(cx)) {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(ReplyFailure::Panicked(panic))) => Err(AskError::Panicked(panic)),
        Ok(Err(ReplyFailure::NodeDown)) => Err(AskError::NodeDown(None)),
        // The far node skipped the ask at its deadline: a timeout, seen
        // from here (usually the asker's own timer has already fired).
        Ok(Err(ReplyFailure::Expired)) => Err(AskError::Timeout),
        Ok(Err(ReplyFailure::Remote(e))) => Err(AskError::Remote(e)),
        Err(_) => Err(AskError::NoReply),
    })
}

impl<M: Message> Future for AskFuture<'_, M> {
    type Output = Result<M::Reply, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(timeout) = this.timeout.take() {
            this.deadline.set(Some(tokio::time::sleep(timeout)));
        }
        loop {
            match mem::replace(this.state, AskState::Done) {
                AskState::Start(msg) => {
                    let mut asking = Asking {
                        asker: None,
                        deadline: this.deadline.as_ref().as_pin_ref().map(|sleep| sleep.deadline()),
                    };
                    // Only an ask made by a handler can close a cycle.
                    if let Some(me) = reply::current_waiter()
                        && !*this.reentrant
                    {
                        match deadlock::wait(me, this.sink.id()) {
                            Ok(waiting) => *this.waiting = Some(waiting),
                            Err(cycle) => return Poll::Ready(Err(AskError::Deadlock(msg, cycle))),
                        }
                        asking.asker = Some(me);
                    }
                    let (tx, rx) = reply::channel();
                    match this.sink.try_ask(Ask(msg, tx), asking) {
                        Ok(()) => *this.state = AskState::Waiting(rx),
                        Err(SendError::Full(ask)) => {
                            *this.state = AskState::Queueing(this.sink.ask(ask, asking), rx);
                        }
                        Err(e) => return Poll::Ready(Err(map_send_error(e, |a| a.0).into_ask())),
                    }
                }
                AskState::Queueing(mut queueing, rx) => match queueing.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => *this.state = AskState::Waiting(rx),
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Err(map_send_error(e, |a| a.0).into_ask()));
                    }
                    Poll::Pending => {
                        *this.state = AskState::Queueing(queueing, rx);
                        break;
                    }
                },
                AskState::Waiting(mut rx) => match poll_reply(&mut rx, cx) {
                    Poll::Ready(result) => return Poll::Ready(result),
                    Poll::Pending => {
                        *this.state = AskState::Waiting(rx);
                        break;
                    }
                },
                AskState::Done => panic!("AskFuture polled after completion"),
            }
        }
        if let Some(deadline) = this.deadline.as_pin_mut()
            && deadline.poll(cx).is_ready()
        {
            *this.state = AskState::Done;
            return Poll::Ready(Err(AskError::Timeout));
        }
        Poll::Pending
    }
}

/// An ask whose message carries a [`ReplyTo`]; see [`ActorRef::ask_with`].
#[must_use = "an ask does nothing until it is awaited"]
pub struct AskWith<'a, M: Message, R> {
    sink: &'a dyn Sink<M>,
    msg: M,
    rx: oneshot::Receiver<ReplyResult<R>>,
    timeout: Option<Duration>,
}

impl<M: Message, R> AskWith<'_, M, R> {
    /// As [`AskRequest::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<M: Message, R> fmt::Debug for AskWith<'_, M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskWith").field("to", &self.sink.id()).finish_non_exhaustive()
    }
}

impl<'a, M: Message, R: Send + 'static> IntoFuture for AskWith<'a, M, R> {
    type Output = Result<R, AskError<M>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let AskWith { sink, msg, mut rx, timeout } = self;
        let waiting = match reply::current_waiter() {
            Some(me) => match deadlock::wait(me, sink.id()) {
                Ok(waiting) => Some(waiting),
                Err(cycle) => return Box::pin(std::future::ready(Err(AskError::Deadlock(msg, cycle)))),
            },
            None => None,
        };
        Box::pin(async move {
            let _waiting = waiting;
            let exchange = async {
                sink.tell(msg).await.map_err(SendError::into_ask)?;
                std::future::poll_fn(|cx| poll_reply(&mut rx, cx)).await
            };
            match timeout {
                Some(t) => tokio::time::timeout(t, exchange).await.unwrap_or(Err(AskError::Timeout)),
                None => exchange.await,
            }
        })
    }
}
