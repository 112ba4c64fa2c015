//! The ways of queueing a message, erased over the actor type and over
//! where the actor lives: `Sink<M>`, implemented by an actor's shared block
//! (a local actor) and by a transport's `RemoteTarget` (an actor on another
//! node). Every reference sends through one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;

use crate::actor::message::{Ask, Tell};
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
#[cfg(feature = "serde")]
use crate::base::reply;

/// Who asks, and until when: what a remote ask carries to the far node
/// (cycle detection and deadlines); a local ask ignores it, since the graph
/// of waits and the closed reply channel already tell the same here.
#[cfg(feature = "serde")]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking {
    /// The handler's actor, when this ask is one of its waits in the graph.
    pub(crate) asker: Option<reply::Me>,
    /// When the asker gives up.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// Without the `serde` feature every actor is local, and an ask carries
/// nothing besides its message.
#[cfg(not(feature = "serde"))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asking;

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
        self.system.handle().clone()
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

    #[inline]
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

/// The future of a `tell`: `try_tell` on its first poll, and a boxed wait
/// for room only when the mailbox is full.
///
/// A handler that tells another actor holds this future across its await,
/// so its size is part of the handler's future: at two words plus the
/// message, a handler that tells still fits the run loop's slot, where the
/// whole waiting path inline (queue, room, cycle check) made it overflow
/// into a box on every message.
///
/// Generic over the sink: an `ActorRef` tells through its `Inner`, whose
/// local arm reaches the actor's shared block directly (`try_tell`
/// inlined, no call through a vtable, no copy of the message on the way: 8
/// instructions, but a sixth of a tell's time on one thread, 2026-12-05),
/// a `Recipient` through `dyn Sink<M>`. One future for both places, not an
/// `Either` of two: the choice is made inside `try_tell`, and a tell's
/// poll and drop skip a layer of matching and moving (20 of a tell's 390
/// instructions, 2026-12-05).
pub(crate) struct Telling<'a, S: ?Sized, M: Message> {
    sink: &'a S,
    state: TellState<'a, M>,
}

enum TellState<'a, M: Message> {
    Start(M),
    Waiting(BoxFuture<'a, Result<(), SendError<M>>>),
    Done,
}

/// What [`Telling`] needs of where it tells: a send that never waits, and
/// one that waits for room.
pub(crate) trait TellSink<M: Message>: Sync {
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>>;
    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>>;
}

/// A `Recipient`'s sink, through its vtable.
impl<M: Message> TellSink<M> for dyn Sink<M> {
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        Sink::try_tell(self, msg)
    }

    fn tell(&self, msg: M) -> BoxFuture<'_, Result<(), SendError<M>>> {
        Sink::tell(self, msg)
    }
}

impl<'a, S: ?Sized + TellSink<M>, M: Message> Telling<'a, S, M> {
    pub(crate) fn new(sink: &'a S, msg: M) -> Self {
        Telling { sink, state: TellState::Start(msg) }
    }
}

// The message is moved out on the first poll, never pinned.
impl<S: ?Sized, M: Message> Unpin for Telling<'_, S, M> {}

impl<S: ?Sized + TellSink<M>, M: Message> Future for Telling<'_, S, M> {
    type Output = Result<(), SendError<M>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, TellState::Done) {
            TellState::Start(msg) if yield_first(cx) => {
                this.state = TellState::Start(msg);
                Poll::Pending
            }
            TellState::Start(msg) => match this.sink.try_tell(msg) {
                // Full: the sink's own `tell` looks at the graph of waits
                // and waits for room, as a tell always has.
                Err(SendError::Full(msg)) => this.poll_waiting(this.sink.tell(msg), cx),
                done => Poll::Ready(done),
            },
            TellState::Waiting(waiting) => this.poll_waiting(waiting, cx),
            TellState::Done => panic!("a tell's future polled after completion"),
        }
    }
}

impl<'a, S: ?Sized + TellSink<M>, M: Message> Telling<'a, S, M> {
    fn poll_waiting(
        &mut self,
        mut waiting: BoxFuture<'a, Result<(), SendError<M>>>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), SendError<M>>> {
        let polled = waiting.as_mut().poll(cx);
        if polled.is_pending() {
            self.state = TellState::Waiting(waiting);
        }
        polled
    }
}

/// Whether a send about to be made yields first (and has asked to be
/// polled again): when its task has spent its cooperative budget (tokio's
/// 128 operations a poll, shared with its channels, sockets and timers).
///
/// A send that finds room returns at once, so without this a loop of
/// sends waits only when a mailbox or a remote actor's credit runs out,
/// which may be never: it would keep its worker from everything else
/// queued there (other actors, a node's reader and timers, so that its
/// peers declare it down). tokio's own channels spend the budget for the
/// same reason. A send spends it whether or not it then waits for room.
/// Outside a tokio runtime there is no budget, and no yield.
#[inline]
pub(crate) fn yield_first(cx: &mut TaskContext<'_>) -> bool {
    match tokio::task::coop::poll_proceed(cx) {
        Poll::Ready(budget) => {
            budget.made_progress();
            false
        }
        Poll::Pending => true,
    }
}

pub(crate) fn map_send_error<P, M>(e: SendError<P>, f: impl FnOnce(P) -> M) -> SendError<M> {
    e.map(f)
}

/// Fails with `BlockingInRuntime` when called from inside a runtime;
/// otherwise runs `fut` to completion on this thread, inside `runtime`'s
/// context so that timers work.
pub(crate) fn block_on<F: Future>(runtime: &tokio::runtime::Handle, fut: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return None;
    }
    let _entered = runtime.enter();
    Some(futures::executor::block_on(fut))
}
