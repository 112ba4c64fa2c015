//! Asks: the request (`AskRequest`, with its timeout, itself the future
//! of the reply), and asks whose message carries its own reply handle
//! (`AskWith`).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::mem;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use futures::future::BoxFuture;
use pin_project_lite::pin_project;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::actor::message::Ask;
use crate::actor::message::Message;
use crate::base::deadlock::{self, Waiting};
use crate::base::error::{AskError, SendError};
use crate::base::reply::{self, ReplyFailure, ReplyResult};
use crate::reference::sink::{Asking, Sink, block_on, map_send_error, yield_first};

/// What [`queue`] did with an ask's message.
enum Queued<M: Message> {
    /// Queued: its reply comes on this channel.
    Yes(oneshot::Receiver<ReplyResult<M::Reply>>),
    /// The mailbox is full: the message, with its reply's sender, back.
    Full(Ask<M>, oneshot::Receiver<ReplyResult<M::Reply>>, Asking),
    /// Refused (the actor has stopped, or the ask would close a cycle).
    Failed(AskError<M>),
}

enum AskState<'a, M: Message> {
    Start(M),
    Queueing(BoxFuture<'a, Result<(), SendError<Ask<M>>>>, oneshot::Receiver<ReplyResult<M::Reply>>),
    Waiting(oneshot::Receiver<ReplyResult<M::Reply>>),
    Done,
}

pin_project! {
    /// An ask: a future of the reply. Set a timeout before awaiting it, or
    /// call [`blocking`](AskRequest::blocking) from a plain thread. It is a
    /// `Future` itself, so asks go straight into combinators such as
    /// `futures::future::join_all`.
    ///
    /// Nothing is sent until the first poll. The fast path allocates
    /// nothing beyond the reply channel: the message is queued with
    /// `try_send` on first poll, and only a full mailbox makes the ask box a
    /// future to wait for room; an ask with a timeout also boxes its timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Doubler;
    ///
    /// #[actor]
    /// impl Doubler {
    ///     #[message]
    ///     fn double(&self, n: u64) -> u64 {
    ///         n * 2
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let doublers: Vec<_> = (0..4).map(|_| system.spawn(Doubler)).collect();
    /// let asks = doublers.iter().zip(1..).map(|(d, n)| d.ask(Double { n }));
    /// let replies: Vec<u64> = futures::future::join_all(asks).await.into_iter().map(Result::unwrap).collect();
    /// assert_eq!(replies, [2, 4, 6, 8]);
    /// # }
    /// ```
    #[must_use = "an ask does nothing until it is awaited"]
    pub struct AskRequest<'a, M: Message> {
        sink: &'a dyn Sink<M>,
        state: AskState<'a, M>,
        timeout: Option<Duration>,
        reentrant: bool,
        // This ask's edge in the graph of waits, while it lasts.
        waiting: Option<Waiting>,
        // Boxed: a timer is larger than the rest of the ask together, and
        // an ask without a timeout should not carry one. The future is
        // held by whoever awaits it (a handler's future, which must fit the
        // run loop's slot, or a combinator's node).
        deadline: Option<Pin<Box<Sleep>>>,
    }
}

impl<'a, M: Message> AskRequest<'a, M> {
    /// An ask of `msg` through `sink`; `reentrant` exempts it from
    /// ask-cycle detection ([`Handler::REENTRANT`](crate::Handler::REENTRANT)).
    pub(crate) fn new(sink: &'a dyn Sink<M>, msg: M, reentrant: bool) -> Self {
        AskRequest { sink, state: AskState::Start(msg), timeout: None, reentrant, waiting: None, deadline: None }
    }

    /// Fails the ask with [`AskError::Timeout`] if no reply has come within
    /// `timeout`, counted from the first poll and including any wait for
    /// mailbox room. A reply that comes later is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Sloth;
    /// # #[actor] impl Sloth {
    /// #     #[message] async fn nap(&self, secs: u64) -> u64 { tokio::time::sleep(Duration::from_secs(secs)).await; secs }
    /// # }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let sloth = ActorSystem::new().spawn(Sloth);
    /// let limit = Duration::from_secs(5);
    /// assert_eq!(sloth.ask(Nap { secs: 1 }).timeout(limit).await.unwrap(), 1);
    /// assert!(sloth.ask(Nap { secs: 60 }).timeout(limit).await.unwrap_err().is_timeout());
    /// // That nap goes on and its reply is dropped: the next ask gets its own.
    /// assert_eq!(sloth.ask(Nap { secs: 2 }).timeout(Duration::from_secs(120)).await.unwrap(), 2);
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the ask to completion, blocking this thread.
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`](crate::ActorRef::ask), and [`AskError::BlockingInRuntime`] (with the
    /// message) when called from inside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let system = ActorSystem::builder().handle(runtime.handle().clone()).build();
    /// let counter = system.spawn(Counter(0));
    /// // This thread is outside the runtime: it blocks until the reply (or the timeout).
    /// assert_eq!(counter.ask(Add { n: 2 }).timeout(Duration::from_secs(5)).blocking().unwrap(), 2);
    /// // Inside the runtime the ask is refused, and the message handed back.
    /// runtime.block_on(async {
    ///     assert!(matches!(counter.ask(Add { n: 5 }).blocking(), Err(AskError::BlockingInRuntime(Add { n: 5 }))));
    /// });
    /// ```
    pub fn blocking(self) -> Result<M::Reply, AskError<M>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            let AskState::Start(msg) = self.state else { unreachable!("not polled yet") };
            return Err(AskError::BlockingInRuntime(msg));
        }
        let runtime = self.sink.runtime();
        block_on(&runtime, self).unwrap_or_else(|| unreachable!("checked above"))
    }
}

impl<M: Message> fmt::Debug for AskRequest<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AskRequest")
            .field("to", &self.sink.id())
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Reads a reply off its channel.
fn poll_reply<R, M>(
    rx: &mut oneshot::Receiver<ReplyResult<R>>,
    cx: &mut TaskContext<'_>,
) -> Poll<Result<R, AskError<M>>> {
    Poll::Ready(match ready!(Pin::new(rx).poll(cx)) {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(failure)) => Err(match *failure {
            ReplyFailure::Panicked(panic) => AskError::Panicked(panic),
            #[cfg(feature = "serde")]
            ReplyFailure::NodeDown => AskError::NodeDown(None),
            // The far node skipped the ask at its deadline: a timeout, seen
            // from here (usually the asker's own timer has already fired).
            #[cfg(feature = "serde")]
            ReplyFailure::Expired => AskError::Timeout,
            #[cfg(feature = "serde")]
            ReplyFailure::Remote(e) => AskError::Remote(e),
        }),
        Err(_) => Err(AskError::NoReply),
    })
}

/// Queues `msg` through `sink` if the mailbox has room now, after the
/// ask-cycle check (which records the ask's edge in `waiting`); `deadline`
/// is the ask's timer, if any, already set.
#[inline(always)]
fn queue<M: Message>(
    sink: &dyn Sink<M>,
    reentrant: bool,
    deadline: &Option<Pin<Box<Sleep>>>,
    waiting: &mut Option<Waiting>,
    msg: M,
) -> Queued<M> {
    #[cfg(feature = "serde")]
    let mut asking = Asking { asker: None, deadline: deadline.as_ref().map(|sleep| sleep.deadline()) };
    #[cfg(not(feature = "serde"))]
    let asking = {
        let _ = deadline;
        Asking
    };
    // Only an ask made by a handler can close a cycle.
    if let Some(me) = reply::current_waiter()
        && !reentrant
    {
        match deadlock::wait(me, sink.id()) {
            Ok(edge) => *waiting = Some(edge),
            Err(cycle) => return Queued::Failed(AskError::Deadlock(msg, cycle)),
        }
        #[cfg(feature = "serde")]
        {
            asking.asker = Some(me);
        }
    }
    let (tx, rx) = reply::channel();
    match sink.try_ask(Ask(msg, tx), asking) {
        Ok(()) => Queued::Yes(rx),
        Err(SendError::Full(ask)) => Queued::Full(ask, rx, asking),
        Err(e) => Queued::Failed(map_send_error(e, |a| a.0).into_ask()),
    }
}

impl<'a, M: Message> AskRequest<'a, M> {
    /// Sends the message now (waiting for room if the mailbox is full)
    /// and returns the future of its reply, which borrows nothing: so
    /// many asks can be put in flight one after the other and their
    /// replies awaited later, without a combinator. A timeout set before
    /// counts from the send, and carries over to the reply.
    ///
    /// # Errors
    ///
    /// Those of sending an ask ([`AskError::Full`] never: a full mailbox
    /// is waited for), and [`AskError::Timeout`] if the timeout passes
    /// while waiting for room.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Doubler;
    ///
    /// #[actor]
    /// impl Doubler {
    ///     #[message]
    ///     fn double(&self, n: u64) -> u64 {
    ///         n * 2
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), actor_core::Error> {
    /// let system = ActorSystem::new();
    /// let doublers: Vec<_> = (0..4).map(|_| system.spawn(Doubler)).collect();
    /// let mut replies = Vec::new();
    /// for (doubler, n) in doublers.iter().zip(1..) {
    ///     replies.push(doubler.ask(Double { n }).send().await?); // queued now
    /// }
    /// let mut doubled = Vec::new();
    /// for reply in replies {
    ///     doubled.push(reply.await?);
    /// }
    /// assert_eq!(doubled, [2, 4, 6, 8]);
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> SendAsk<'a, M> {
        SendAsk { ask: self }
    }

    /// Sends the message now if the mailbox has room, and returns the
    /// future of its reply; never waits. [`send`](AskRequest::send)
    /// without the wait for room, for code that is not async (a callback,
    /// a `poll` function) or must not wait, as
    /// [`try_tell`](crate::ActorRef::try_tell) is to `tell`. Unlike `send`,
    /// it spends none of the task's cooperative budget (nor does tokio's
    /// `try_send`). A timeout set before counts from now and carries over
    /// to the reply.
    ///
    /// # Errors
    ///
    /// [`AskError::Full`] with the message if the mailbox is full, and
    /// those of sending an ask: [`AskError::Closed`] if the actor has
    /// stopped, [`AskError::Deadlock`] if a handler's ask would close a
    /// cycle; each with the message.
    ///
    /// # Panics
    ///
    /// With a timeout, outside a tokio runtime (its timer needs one), as
    /// `tokio::time::sleep` does. If the ask has already been polled
    /// until it waits for room or completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::mailbox::Mailbox;
    ///
    /// struct Doubler;
    ///
    /// #[actor]
    /// impl Doubler {
    ///     #[message]
    ///     fn double(&self, n: u64) -> u64 {
    ///         n * 2
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let doubler = system.spawn_with(Doubler, SpawnOptions::new().mailbox(Mailbox::bounded(2)));
    /// // Queued at once, without an await; the replies are awaited later.
    /// let first = doubler.ask(Double { n: 1 }).try_send().unwrap();
    /// let second = doubler.ask(Double { n: 2 }).try_send().unwrap();
    /// // The actor has not run yet (one thread): its mailbox is full, and
    /// // the message comes back.
    /// let full = doubler.ask(Double { n: 3 }).try_send().unwrap_err();
    /// assert!(matches!(full, AskError::Full(Double { n: 3 })));
    /// assert_eq!((first.await.unwrap(), second.await.unwrap()), (2, 4));
    /// # }
    /// ```
    #[inline]
    pub fn try_send(self) -> Result<PendingAsk<M>, AskError<M>> {
        // Taken apart, so that nothing is left to drop at the end.
        let AskRequest { sink, state, timeout, reentrant, mut waiting, mut deadline } = self;
        let msg = match state {
            AskState::Start(msg) => msg,
            AskState::Waiting(rx) => return Ok(PendingAsk::new(rx, deadline, waiting)),
            AskState::Queueing(..) => panic!("AskRequest::try_send on an ask already waiting for room"),
            AskState::Done => panic!("AskRequest::try_send after completion"),
        };
        if let Some(timeout) = timeout {
            deadline = Some(Box::pin(tokio::time::sleep(timeout)));
        }
        match queue(sink, reentrant, &deadline, &mut waiting, msg) {
            Queued::Yes(rx) => Ok(PendingAsk::new(rx, deadline, waiting)),
            Queued::Full(Ask(msg, _), ..) => Err(AskError::Full(msg)),
            Queued::Failed(e) => Err(e),
        }
    }

    /// Moves the ask on until its message is queued (state `Waiting`).
    ///
    /// The state is matched in place: only the first poll moves the
    /// message out, and a queued ask returns at once.
    ///
    /// An ask spends a unit of the task's cooperative budget, as a tell
    /// does. With `reply_spends` (the ask is awaited whole) the wait for
    /// its reply spends it, since tokio's oneshot does: the ask then yields
    /// before sending only if the budget is already spent, and one that
    /// fails at once spends its unit here. Without (`send`), it spends it
    /// here, before sending.
    fn poll_queued(&mut self, cx: &mut TaskContext<'_>, reply_spends: bool) -> Poll<Result<(), AskError<M>>> {
        match self.state {
            AskState::Start(_) => {}
            AskState::Waiting(_) => return Poll::Ready(Ok(())),
            AskState::Queueing(..) => return self.poll_room(cx),
            AskState::Done => panic!("AskRequest polled after completion"),
        }
        if let Some(timeout) = self.timeout.take() {
            self.deadline = Some(Box::pin(tokio::time::sleep(timeout)));
        }
        // A turn for the worker, as before a tell.
        if (!reply_spends || !tokio::task::coop::has_budget_remaining()) && yield_first(cx) {
            return Poll::Pending;
        }
        let AskState::Start(msg) = mem::replace(&mut self.state, AskState::Done) else { unreachable!("matched above") };
        match self.queue(msg) {
            Queued::Yes(rx) => {
                // The state is `Done` (its message taken above): nothing to
                // drop, so its drop glue is skipped (26 instructions an ask).
                debug_assert!(matches!(self.state, AskState::Done));
                mem::forget(mem::replace(&mut self.state, AskState::Waiting(rx)));
                Poll::Ready(Ok(()))
            }
            Queued::Full(ask, rx, asking) => {
                self.state = AskState::Queueing(self.sink.ask(ask, asking), rx);
                self.poll_room(cx)
            }
            Queued::Failed(e) => {
                if reply_spends {
                    // No reply to wait for: spent here, so that a loop of
                    // failing asks still yields (at its next ask).
                    let _ = yield_first(cx);
                }
                Poll::Ready(Err(e))
            }
        }
    }

    /// Queues `msg` through [`queue`] with this ask's settings.
    #[inline(always)]
    fn queue(&mut self, msg: M) -> Queued<M> {
        queue(self.sink, self.reentrant, &self.deadline, &mut self.waiting, msg)
    }

    /// Waits for room in a full mailbox (state `Queueing`), until the
    /// message is queued, the mailbox closes or the timer fires.
    #[cold]
    fn poll_room(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), AskError<M>>> {
        let AskState::Queueing(queueing, _) = &mut self.state else { unreachable!("only while queueing") };
        match queueing.as_mut().poll(cx) {
            Poll::Ready(Ok(())) => {
                let AskState::Queueing(_, rx) = mem::replace(&mut self.state, AskState::Done) else {
                    unreachable!("only while queueing")
                };
                self.state = AskState::Waiting(rx);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.state = AskState::Done;
                Poll::Ready(Err(map_send_error(e, |a| a.0).into_ask()))
            }
            Poll::Pending if expired(&mut self.deadline, cx) => {
                self.state = AskState::Done;
                Poll::Ready(Err(AskError::Timeout))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether the ask's timer, if any, has fired.
#[inline]
fn expired(deadline: &mut Option<Pin<Box<Sleep>>>, cx: &mut TaskContext<'_>) -> bool {
    deadline.as_mut().is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
}

impl<M: Message> Future for AskRequest<'_, M> {
    type Output = Result<M::Reply, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Once queued, every poll is a poll of the reply: no need to move
        // the state out and back in again.
        if !matches!(this.state, AskState::Waiting(_))
            && let Err(e) = ready!(this.poll_queued(cx, true))
        {
            return Poll::Ready(Err(e));
        }
        let AskState::Waiting(rx) = &mut this.state else { unreachable!("queued asks wait for their reply") };
        if let Poll::Ready(result) = poll_reply(rx, cx) {
            // Taken out as the variant it is, so that only the receiver is
            // dropped, not the whole state through its drop glue.
            let AskState::Waiting(rx) = mem::replace(&mut this.state, AskState::Done) else {
                unreachable!("matched above")
            };
            drop(rx);
            return Poll::Ready(result);
        }
        if expired(&mut this.deadline, cx) {
            this.state = AskState::Done;
            return Poll::Ready(Err(AskError::Timeout));
        }
        Poll::Pending
    }
}

/// The reply of an ask whose message is queued, from
/// [`AskRequest::send`] or [`AskRequest::try_send`]: a future that borrows
/// nothing.
///
/// Dropping it gives the ask up: if its message is still in the
/// mailbox, the handler does not run and the message goes to the dead
/// letters ([`Expired`](crate::DeadLetterReason::Expired)); if the handler
/// is already running, it finishes and its reply is dropped.
///
/// # Examples
///
/// ```
/// use actor_core::PendingAsk;
/// use actor_core::prelude::*;
///
/// #[derive(Default)]
/// struct Tally(u64);
///
/// #[actor]
/// impl Tally {
///     #[message]
///     fn add(&mut self, n: u64) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let tally = ActorSystem::new().spawn(Tally::default());
/// let first: PendingAsk<Add> = tally.ask(Add { n: 1 }).try_send().unwrap();
/// // Given up while its message waits in the mailbox: never handled.
/// drop(tally.ask(Add { n: 10 }).try_send().unwrap());
/// let last = tally.ask(Add { n: 100 }).try_send().unwrap();
/// // It owns its reply channel: the reference can go before it is awaited.
/// drop(tally);
/// assert_eq!((first.await.unwrap(), last.await.unwrap()), (1, 101));
/// # }
/// ```
#[must_use = "the reply is lost unless this is awaited"]
pub struct PendingAsk<M: Message> {
    rx: oneshot::Receiver<ReplyResult<M::Reply>>,
    deadline: Option<Pin<Box<Sleep>>>,
    // The ask's edge in the graph of waits, until the reply is in.
    _waiting: Option<Waiting>,
    _message: PhantomData<fn() -> M>,
}

impl<M: Message> PendingAsk<M> {
    /// The future of the reply that comes on `rx`, with the ask's timer
    /// and its edge in the graph of waits.
    fn new(
        rx: oneshot::Receiver<ReplyResult<M::Reply>>,
        deadline: Option<Pin<Box<Sleep>>>,
        waiting: Option<Waiting>,
    ) -> Self {
        PendingAsk { rx, deadline, _waiting: waiting, _message: PhantomData }
    }
}

impl<M: Message> fmt::Debug for PendingAsk<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAsk").field("message", &std::any::type_name::<M>()).finish_non_exhaustive()
    }
}

impl<M: Message> Future for PendingAsk<M> {
    type Output = Result<M::Reply, AskError<M>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(result) = poll_reply(&mut this.rx, cx) {
            this._waiting = None;
            return Poll::Ready(result);
        }
        if expired(&mut this.deadline, cx) {
            this._waiting = None;
            return Poll::Ready(Err(AskError::Timeout));
        }
        Poll::Pending
    }
}

/// The future of [`AskRequest::send`]: ready with the ask's
/// [`PendingAsk`] once its message is queued.
///
/// Written out rather than an `async fn`, so that the ask is not moved
/// into a generated state machine: in the fanout bench, that move and its
/// drop flags cost about 40 of an ask's 1,750 instructions (2026-12-05).
///
/// # Examples
///
/// ```
/// use actor_core::SendAsk;
/// use actor_core::prelude::*;
/// # struct Parrot;
/// # #[actor] impl Parrot { #[message] fn echo(&self, n: u64) -> u64 { n } }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let parrot = ActorSystem::new().spawn(Parrot);
/// let sending: SendAsk<'_, Echo> = parrot.ask(Echo { n: 7 }).send();
/// // Nothing is queued until it is awaited; then the reply is pending.
/// let reply = sending.await.unwrap();
/// assert_eq!(reply.await.unwrap(), 7);
/// # }
/// ```
#[must_use = "nothing is sent until this is awaited"]
pub struct SendAsk<'a, M: Message> {
    ask: AskRequest<'a, M>,
}

impl<M: Message> fmt::Debug for SendAsk<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SendAsk").field(&self.ask).finish()
    }
}

impl<M: Message> Future for SendAsk<'_, M> {
    type Output = Result<PendingAsk<M>, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // `AskRequest` is `Unpin` (its timer is boxed), and so is this.
        let ask = &mut self.get_mut().ask;
        ready!(ask.poll_queued(cx, false))?;
        let AskState::Waiting(rx) = mem::replace(&mut ask.state, AskState::Done) else {
            unreachable!("queued asks wait for their reply")
        };
        Poll::Ready(Ok(PendingAsk::new(rx, ask.deadline.take(), ask.waiting.take())))
    }
}

/// An ask whose message carries a [`ReplyTo`](crate::ReplyTo); see [`ActorRef::ask_with`](crate::ActorRef::ask_with).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::AskWith;
/// use actor_core::prelude::*;
///
/// struct Forgetful;
///
/// #[actor]
/// impl Forgetful {
///     #[message]
///     fn later(&mut self, reply: ReplyTo<u64>) {
///         drop(reply); // never answered
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let forgetful = ActorSystem::new().spawn(Forgetful);
/// let ask: AskWith<'_, Later, u64> = forgetful.ask_with(|reply| Later { reply });
/// // A reply handle dropped unanswered fails the ask at once.
/// assert!(matches!(ask.timeout(Duration::from_secs(5)).await, Err(AskError::NoReply)));
/// # }
/// ```
#[must_use = "an ask does nothing until it is awaited"]
pub struct AskWith<'a, M: Message, R> {
    sink: &'a dyn Sink<M>,
    msg: M,
    rx: oneshot::Receiver<ReplyResult<R>>,
    timeout: Option<Duration>,
}

impl<'a, M: Message, R> AskWith<'a, M, R> {
    /// An ask of `msg` through `sink`, whose reply comes on `rx` (the other
    /// end of the `ReplyTo` inside `msg`).
    pub(crate) fn new(sink: &'a dyn Sink<M>, msg: M, rx: oneshot::Receiver<ReplyResult<R>>) -> Self {
        AskWith { sink, msg, rx, timeout: None }
    }

    /// As [`AskRequest::timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Hoarder(Vec<ReplyTo<u64>>);
    ///
    /// #[actor]
    /// impl Hoarder {
    ///     #[message]
    ///     fn keep(&mut self, reply: ReplyTo<u64>) {
    ///         self.0.push(reply); // never answered, never dropped
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let hoarder = ActorSystem::new().spawn(Hoarder::default());
    /// let ask = hoarder.ask_with(|reply| Keep { reply });
    /// assert!(ask.timeout(Duration::from_secs(1)).await.unwrap_err().is_timeout());
    /// # }
    /// ```
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
