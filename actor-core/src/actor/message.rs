//! Messages and the handlers that receive them, and how a told or asked
//! message reaches its handler (`Tell` and `Ask`, the payloads of an
//! envelope).

use std::any::type_name;
use std::future::Future;

use futures::future::Either;
use pin_project_lite::pin_project;

use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::base::dead_letter::DeadLetterReason;
use crate::base::reply::{ReplyGuard, ReplyTx};
use crate::envelope::Payload;

/// A value that can be sent to an actor.
///
/// `Reply` is what an [`ask`](crate::ActorRef::ask) of this message returns;
/// use `()` for messages that are only ever told.
///
/// # Examples
///
/// ```
/// use actor_core::Message;
///
/// struct Add(u64);
/// impl Message for Add {
///     type Reply = u64;
/// }
/// ```
pub trait Message: Send + 'static {
    /// The value the handler returns to an asker.
    type Reply: Send + 'static;

    /// A rendering of this message for the crash
    /// [flight recorder](crate::SpawnOptions::flight_recorder), typically
    /// `Some(format!("{self:?}"))`. The default is `None`: only the type
    /// name is recorded. (`#[message(derive(Debug))]` implements it.)
    fn describe(&self) -> Option<String> {
        None
    }
}

/// An actor's behaviour for one message type.
///
/// One actor implements `Handler<M>` once per message type it accepts. The
/// handler runs with exclusive access to the actor's state: the actor handles
/// one message at a time, so `&mut self` is never shared. While a handler is
/// awaiting, the actor's mailbox waits too; to answer later without blocking
/// the mailbox, take a [`ReplyTo`](crate::ReplyTo) with
/// [`ask_with`](crate::ActorRef::ask_with).
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
///
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(n): Add, _ctx: &mut Context<Self>) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter(0));
/// assert_eq!(counter.ask(Add(2)).await.unwrap(), 2);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not handle `{M}`",
    label = "`{Self}` has no handler for `{M}`",
    note = "add a `#[message]` method taking what `{M}` carries to `{Self}`'s `#[actor]` block, \
            or implement `Handler<{M}>` for `{Self}`"
)]
pub trait Handler<M: Message>: Actor {
    /// Exempts asks of `M` from ask-cycle detection. An ask that would wait
    /// on an actor already waiting (directly or through others) on the
    /// asker fails at once with
    /// [`AskError::Deadlock`](crate::error::AskError::Deadlock); set this
    /// to `true` for a handler that is meant to be asked that way (its asker
    /// then relies on a timeout).
    const REENTRANT: bool = false;

    /// Handles `msg` and returns the reply.
    ///
    /// A panic here is caught by the runtime: the asker gets
    /// [`AskError::Panicked`](crate::error::AskError::Panicked) and
    /// [`Actor::on_panic`] decides whether the actor goes on.
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> impl Future<Output = M::Reply> + Send;
}

pin_project! {
    /// A handler's future, and what becomes of its reply once it is ready.
    ///
    /// Not an `async` block: a block awaiting a future it captured keeps it
    /// twice in its state (once captured, once being awaited), which would
    /// push handlers that await anything past the run loop's slot and into
    /// a box per message. Not `futures`' `map` either: it moves the finished
    /// future out of its place to reach its closure, a copy of the handler's
    /// whole state per message. Here the closure sits beside the future,
    /// which stays in place until the slot drops it.
    struct Then<F, G> {
        #[pin]
        handler: F,
        then: Option<G>,
    }
}

impl<F: Future, G: FnOnce(F::Output)> Then<F, G> {
    fn new(handler: F, then: G) -> Self {
        Then { handler, then: Some(then) }
    }
}

impl<F: Future, G: FnOnce(F::Output)> Future for Then<F, G> {
    type Output = ();

    #[inline]
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let this = self.project();
        let reply = std::task::ready!(this.handler.poll(cx));
        if let Some(then) = this.then.take() {
            then(reply);
        }
        std::task::Poll::Ready(())
    }
}

/// A message sent with `tell`: its reply is dropped.
pub(crate) struct Tell<M>(pub(crate) M);

/// A message sent with `ask`, with the channel its reply goes back on.
pub(crate) struct Ask<M: Message>(pub(crate) M, pub(crate) ReplyTx<M::Reply>);

impl<A: Handler<M>, M: Message> Payload<A> for Tell<M> {
    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn describe(&self) -> Option<String> {
        self.0.describe()
    }

    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>) -> impl Future<Output = ()> + Send + 'a {
        Then::new(actor.handle(self.0, ctx), drop)
    }
}

impl<A: Handler<M>, M: Message> Payload<A> for Ask<M> {
    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn describe(&self) -> Option<String> {
        self.0.describe()
    }

    // Called once, from the envelope's `start`: inlined there, the future
    // is built in the slot instead of returned and moved in (an ask: about
    // 30 instructions, 2026-12-05). LLVM left it out of line.
    #[inline(always)]
    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>) -> impl Future<Output = ()> + Send + 'a {
        // The asker gave up (timed out, or dropped its future) while this
        // waited in the mailbox: nobody wants the answer, so the handler
        // does not run.
        if self.1.0.is_closed() {
            ctx.shared().dead_letter(type_name::<M>(), DeadLetterReason::Expired);
            return Either::Left(std::future::ready(()));
        }
        // Armed before the handler is called, so that even a panic in the
        // synchronous part of `handle` reaches the asker as a panic.
        let guard = ReplyGuard::arm(self.1);
        // The guard lives in the closure: dropped unsent with the future if
        // the handler panics.
        Either::Right(Then::new(actor.handle(self.0, ctx), move |reply| guard.send(reply)))
    }
}
