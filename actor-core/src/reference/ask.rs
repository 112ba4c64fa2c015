//! Asks: the request (`AskRequest`, with its timeout, itself the future
//! of the reply), and asks whose message carries its own reply handle
//! (`AskWith`).

use std::fmt;
use std::future::{Future, IntoFuture};
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
use crate::reference::sink::{Asking, Sink, block_on, map_send_error};

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
    /// future to wait for room.
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
        #[pin]
        deadline: Option<Sleep>,
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
        Ok(Err(ReplyFailure::Panicked(panic))) => Err(AskError::Panicked(panic)),
        #[cfg(feature = "serde")]
        Ok(Err(ReplyFailure::NodeDown)) => Err(AskError::NodeDown(None)),
        // The far node skipped the ask at its deadline: a timeout, seen
        // from here (usually the asker's own timer has already fired).
        #[cfg(feature = "serde")]
        Ok(Err(ReplyFailure::Expired)) => Err(AskError::Timeout),
        #[cfg(feature = "serde")]
        Ok(Err(ReplyFailure::Remote(e))) => Err(AskError::Remote(e)),
        Err(_) => Err(AskError::NoReply),
    })
}

impl<M: Message> Future for AskRequest<'_, M> {
    type Output = Result<M::Reply, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(timeout) = this.timeout.take() {
            this.deadline.set(Some(tokio::time::sleep(timeout)));
        }
        loop {
            match mem::replace(this.state, AskState::Done) {
                AskState::Start(msg) => {
                    #[cfg(feature = "serde")]
                    let mut asking = Asking {
                        asker: None,
                        deadline: this.deadline.as_ref().as_pin_ref().map(|sleep| sleep.deadline()),
                    };
                    #[cfg(not(feature = "serde"))]
                    let asking = Asking;
                    // Only an ask made by a handler can close a cycle.
                    if let Some(me) = reply::current_waiter()
                        && !*this.reentrant
                    {
                        match deadlock::wait(me, this.sink.id()) {
                            Ok(waiting) => *this.waiting = Some(waiting),
                            Err(cycle) => return Poll::Ready(Err(AskError::Deadlock(msg, cycle))),
                        }
                        #[cfg(feature = "serde")]
                        {
                            asking.asker = Some(me);
                        }
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
                AskState::Done => panic!("AskRequest polled after completion"),
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

/// An ask whose message carries a [`ReplyTo`](crate::ReplyTo); see [`ActorRef::ask_with`](crate::ActorRef::ask_with).
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
