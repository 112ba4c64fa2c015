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
use crate::cell::{Cell, Lane, Shared, Signal};
use crate::envelope::{Ask, Envelope, Payload, Tell};
use crate::error::{AskError, SendError};
use crate::id::ActorId;
use crate::mailbox::queue::Refused;
use crate::message::{Handler, Message};
use crate::reply::{self, ReplyResult, ReplyTo};
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

    pub(crate) async fn send<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
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

/// The ways of queueing an `M`, erased over the actor type; what a
/// [`Recipient`] holds, and what an ask sends through.
pub(crate) trait Sink<M: Message>: Send + Sync {
    fn lane(&self) -> &dyn Lane;
    fn retain(&self);
    fn release(&self);
    fn is_accepting(&self) -> bool;
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>>;
    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>>;
    fn try_ask(&self, ask: Ask<M>) -> Result<(), SendError<Ask<M>>>;
    fn ask(&self, ask: Ask<M>) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>>;
}

impl<A: Handler<M>, M: Message> Sink<M> for Shared<A> {
    fn lane(&self) -> &dyn Lane {
        self
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

    fn try_ask(&self, ask: Ask<M>) -> Result<(), SendError<Ask<M>>> {
        self.try_send(ask)
    }

    fn ask(&self, ask: Ask<M>) -> BoxFuture<'_, Result<(), SendError<Ask<M>>>> {
        Box::pin(self.send(ask))
    }
}

fn map_send_error<P, M>(e: SendError<P>, f: impl FnOnce(P) -> M) -> SendError<M> {
    match e {
        SendError::Closed(p) => SendError::Closed(f(p)),
        SendError::Full(p) => SendError::Full(f(p)),
        SendError::BlockingInRuntime(p) => SendError::BlockingInRuntime(f(p)),
        SendError::UnknownName(p) => SendError::UnknownName(f(p)),
    }
}

/// Fails with `BlockingInRuntime` when called from inside a runtime;
/// otherwise runs `fut` to completion on this thread, inside the system's
/// runtime context so that timers work.
fn block_on<F: Future>(cell: &Cell, fut: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return None;
    }
    let _entered = cell.system.handle().enter();
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
    inner: Arc<Shared<A>>,
}

impl<A: Actor> ActorRef<A> {
    /// Wraps a strong reference that has already been counted.
    pub(crate) fn counted(inner: Arc<Shared<A>>) -> Self {
        ActorRef { inner }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<A>> {
        &self.inner
    }

    fn cell(&self) -> &Cell {
        &self.inner.cell
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell().id
    }

    /// The name given at spawn, if any.
    pub fn name(&self) -> Option<&str> {
        self.cell().name.as_deref()
    }

    /// Whether the actor still accepts messages: it has not stopped, nor
    /// begun to stop.
    pub fn is_alive(&self) -> bool {
        self.inner.is_accepting()
    }

    /// How many messages wait in the mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.inner.mailbox.len()
    }

    /// Sends `msg` without waiting for it to be handled.
    ///
    /// On a bounded mailbox that is full, waits for room (backpressure);
    /// otherwise returns as soon as the message is queued. Messages from one
    /// sender are handled in the order they were sent.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped; the message
    /// is also reported as a [dead letter](crate::ActorSystem::dead_letters).
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
        self.inner.send(Tell(msg)).await.map_err(|e| map_send_error(e, |t| t.0))
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
        self.inner.try_send(Tell(msg)).map_err(|e| map_send_error(e, |t| t.0))
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
        block_on(self.cell(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// Sends `msg` and waits for the reply. Add a limit with
    /// [`AskRequest::timeout`].
    ///
    /// # Errors
    ///
    /// See [`AskError`]: the actor had stopped ([`AskError::Closed`], with
    /// `msg`), stopped before replying ([`AskError::NoReply`]), panicked
    /// ([`AskError::Panicked`]), or the timeout passed ([`AskError::Timeout`]).
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
        AskRequest { sink: &*self.inner, msg, timeout: None }
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
        AskWith { sink: &*self.inner, msg: make(ReplyTo::new(tx)), rx, timeout: None }
    }

    /// Asks the actor to stop gracefully: it accepts no new messages, handles
    /// those already queued, runs `on_stop`, and stops with
    /// [`StopReason::Normal`]. Returns at once; see
    /// [`wait_for_stop`](ActorRef::wait_for_stop).
    pub fn stop(&self) {
        self.inner.signal(Signal::Stop);
    }

    /// Stops the actor after the message in hand, with [`StopReason::Killed`].
    /// Messages still queued become dead letters; their asks fail with
    /// [`AskError::NoReply`]. Returns at once.
    pub fn kill(&self) {
        self.inner.signal(Signal::Kill);
    }

    /// Waits until the actor has stopped (its `on_stop` has run) and returns
    /// why. Returns at once if it already has.
    pub async fn wait_for_stop(&self) -> StopReason {
        self.cell().wait_terminated().await
    }

    /// A reference that does not keep the actor alive.
    pub fn downgrade(&self) -> WeakActorRef<A> {
        WeakActorRef { inner: Arc::downgrade(&self.inner), id: self.id() }
    }

    /// A reference to this actor that only knows it handles `M`.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        self.inner.retain();
        Recipient { inner: self.inner.clone() }
    }
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        self.inner.retain();
        ActorRef { inner: self.inner.clone() }
    }
}

impl<A: Actor> Drop for ActorRef<A> {
    fn drop(&mut self) {
        self.inner.release();
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
        write!(f, "ActorRef<{}>({})", self.cell().actor_type, self.id())
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
    inner: Weak<Shared<A>>,
    id: ActorId,
}

impl<A: Actor> WeakActorRef<A> {
    /// A strong reference, if some other strong reference still exists.
    pub fn upgrade(&self) -> Option<ActorRef<A>> {
        let inner = self.inner.upgrade()?;
        inner.try_retain().then(|| ActorRef::counted(inner))
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
        self.inner.lane().cell().id
    }

    /// As [`ActorRef::is_alive`].
    pub fn is_alive(&self) -> bool {
        self.inner.is_accepting()
    }

    /// As [`ActorRef::tell`].
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped.
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
        block_on(self.inner.lane().cell(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// As [`ActorRef::ask`].
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`].
    pub fn ask(&self, msg: M) -> AskRequest<'_, M> {
        AskRequest { sink: &*self.inner, msg, timeout: None }
    }

    /// As [`ActorRef::stop`].
    pub fn stop(&self) {
        self.inner.lane().signal(Signal::Stop);
    }

    /// As [`ActorRef::wait_for_stop`].
    pub async fn wait_for_stop(&self) -> StopReason {
        self.inner.lane().cell().wait_terminated().await
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
        let lane = self.sink.lane();
        block_on(lane.cell(), self.into_future()).unwrap_or_else(|| unreachable!("checked above"))
    }
}

impl<M: Message> fmt::Debug for AskRequest<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskRequest")
            .field("to", &self.sink.lane().cell().id)
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<'a, M: Message> IntoFuture for AskRequest<'a, M> {
    type Output = Result<M::Reply, AskError<M>>;
    type IntoFuture = AskFuture<'a, M>;

    fn into_future(self) -> Self::IntoFuture {
        AskFuture { sink: self.sink, state: AskState::Start(self.msg), timeout: self.timeout, deadline: None }
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
        #[pin]
        deadline: Option<Sleep>,
    }
}

impl<M: Message> fmt::Debug for AskFuture<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskFuture").field("to", &self.sink.lane().cell().id).finish_non_exhaustive()
    }
}

/// Reads a reply off its channel.
fn poll_reply<R, M>(
    rx: &mut oneshot::Receiver<ReplyResult<R>>,
    cx: &mut TaskContext<'_>,
) -> Poll<Result<R, AskError<M>>> {
    Poll::Ready(match ready!(Pin::new(rx).poll(cx)) {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(panic)) => Err(AskError::Panicked(panic)),
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
                    let (tx, rx) = reply::channel();
                    match this.sink.try_ask(Ask(msg, tx)) {
                        Ok(()) => *this.state = AskState::Waiting(rx),
                        Err(SendError::Full(ask)) => {
                            *this.state = AskState::Queueing(this.sink.ask(ask), rx);
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
        if let Some(deadline) = this.deadline.as_pin_mut() {
            if deadline.poll(cx).is_ready() {
                *this.state = AskState::Done;
                return Poll::Ready(Err(AskError::Timeout));
            }
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
        f.debug_struct("AskWith").field("to", &self.sink.lane().cell().id).finish_non_exhaustive()
    }
}

impl<'a, M: Message, R: Send + 'static> IntoFuture for AskWith<'a, M, R> {
    type Output = Result<R, AskError<M>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let AskWith { sink, msg, mut rx, timeout } = self;
        Box::pin(async move {
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
