//! Reply channels for `ask`, and how a handler's panic reaches its asker.
//!
//! A reply travels on a tokio oneshot channel as `Result<R, PanicError>`.
//! When a handler panics, the guard holding the reply sender is dropped
//! while the runtime still has not seen the panic payload, so it cannot say
//! what happened. Instead, a guard dropped *inside a handler's poll* (a
//! thread-local flag set by the run loop around each poll) parks its sender
//! in a thread-local list; the run loop, once it has caught the panic,
//! completes every parked sender with the panic. A guard dropped anywhere
//! else just closes the channel, which the asker reads as "no reply".

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem;

use tokio::sync::oneshot;

use crate::base::error::PanicError;
#[cfg(feature = "serde")]
use crate::base::error::RemoteError;
use crate::base::id::ActorId;

/// The failure is boxed: it is rare, and a bare `PanicError` or
/// `RemoteError` would make every reply channel's slot several words wider,
/// copied on every reply.
pub(crate) type ReplyResult<R> = Result<R, Box<ReplyFailure>>;

/// Why a reply channel carries no reply.
#[derive(Debug)]
pub(crate) enum ReplyFailure {
    /// The handler panicked.
    Panicked(PanicError),
    /// The actor is remote and the connection to its node was lost.
    #[cfg(feature = "serde")]
    NodeDown,
    /// The actor is remote and skipped the ask: its deadline had passed.
    #[cfg(feature = "serde")]
    Expired,
    /// The actor is remote and its node could not deliver the ask.
    #[cfg(feature = "serde")]
    Remote(RemoteError),
}
type Orphan = Box<dyn FnOnce(&PanicError)>;

/// An actor whose handler runs, and its system's id (which graph of waits
/// its asks enter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Me {
    pub(crate) id: ActorId,
    pub(crate) scope: u64,
}

/// What is being polled on a thread, as far as replies and the graph of
/// waits care: any other code, the handler (or hook) of an actor, or a task
/// started with `Context::spawn_task` (under its own id in the graph of
/// waits). One thread-local for both, so that reading it costs an ask one
/// load.
///
/// Packed in two words: the run loop sets and restores it around every
/// poll of a handler, and as an enum holding a whole `Me` (32 bytes) that
/// cost 26 to 58 instructions per message more (2026-12-05). Every actor
/// and task id is minted in this process ([`ActorId::local_seq`]), so its
/// counting half is enough.
#[derive(Clone, Copy)]
struct Polled {
    /// 0 for any other code; otherwise the actor's or task's
    /// [`ActorId::local_seq`], with [`Polled::TASK`] set for a task.
    who: u64,
    /// The waiter's system (`Me::scope`).
    scope: u64,
}

impl Polled {
    const NOBODY: Polled = Polled { who: 0, scope: 0 };
    const TASK: u64 = 1 << 63;

    #[inline]
    fn handler(me: Me) -> Self {
        Polled { who: me.id.local_seq(), scope: me.scope }
    }

    fn task(me: Me) -> Self {
        Polled { who: me.id.local_seq() | Self::TASK, scope: me.scope }
    }

    /// The actor or task polled, if any.
    #[inline]
    fn waiter(self) -> Option<Me> {
        (self.who != 0).then(|| Me { id: ActorId::local(self.who & !Self::TASK), scope: self.scope })
    }
}

thread_local! {
    static CURRENT: Cell<Polled> = const { Cell::new(Polled::NOBODY) };
    static ORPHANS: RefCell<Vec<Orphan>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `polled` set, restoring what was set before even if `f`
/// panics.
fn polling<T>(polled: Polled, f: impl FnOnce() -> T) -> T {
    struct Reset(Polled);
    impl Drop for Reset {
        // Inlined into the run loop of every actor type, in other crates
        // too: otherwise a call through the symbol table per restore.
        #[inline]
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let _reset = Reset(CURRENT.replace(polled));
    f()
}

/// Runs `f` as actor `actor`'s handler: the "inside a handler" flag (for
/// orphaned replies) and the current actor (for ask-cycle detection) are
/// set, and restored afterwards even if `f` panics.
pub(crate) fn in_handler<T>(actor: Me, f: impl FnOnce() -> T) -> T {
    polling(Polled::handler(actor), f)
}

/// Whether an actor's handler is running on this thread.
#[inline]
pub(crate) fn in_a_handler() -> bool {
    let who = CURRENT.get().who;
    who != 0 && who & Polled::TASK == 0
}

/// Runs `f` (a poll) as the task `task` of the graph of waits: what it
/// waits for (asks, room in a full mailbox), the task waits for. Unlike
/// [`in_handler`], replies dropped here are not a handler's.
pub(crate) fn in_task<T>(task: Me, f: impl FnOnce() -> T) -> T {
    polling(Polled::task(task), f)
}

/// Who waits, in the graph of waits, if this thread waits for something
/// now: the actor whose handler is being polled, or the task started with
/// `Context::spawn_task` being polled. `None` in any other task, whose
/// waits nobody can be waiting on.
#[inline]
pub(crate) fn current_waiter() -> Option<Me> {
    CURRENT.get().waiter()
}

/// Parks a reply dropped unanswered inside a handler ([`in_a_handler`]
/// is true): `on_panic` runs with the panic once the run loop has caught it.
#[cfg(feature = "serde")]
pub(crate) fn park_orphan(on_panic: Box<dyn FnOnce(&PanicError)>) {
    ORPHANS.with_borrow_mut(|list| list.push(on_panic));
}

/// Completes every reply parked by a panicking handler on this thread.
pub(crate) fn complete_orphans(err: &PanicError) {
    for orphan in ORPHANS.take() {
        orphan(err);
    }
}

/// The sending half of an ask's reply channel, before the handler runs.
pub(crate) struct ReplyTx<R>(pub(crate) oneshot::Sender<ReplyResult<R>>);

/// Creates a reply channel.
pub(crate) fn channel<R>() -> (ReplyTx<R>, oneshot::Receiver<ReplyResult<R>>) {
    let (tx, rx) = oneshot::channel();
    (ReplyTx(tx), rx)
}

/// The reply sender while the handler runs; see the module docs.
pub(crate) struct ReplyGuard<R: Send + 'static>(Option<oneshot::Sender<ReplyResult<R>>>);

impl<R: Send + 'static> ReplyGuard<R> {
    pub(crate) fn arm(tx: ReplyTx<R>) -> Self {
        ReplyGuard(Some(tx.0))
    }

    pub(crate) fn send(mut self, reply: R) {
        let tx = self.0.take();
        // Emptied above: its drop would do nothing but cost a call.
        mem::forget(self);
        if let Some(tx) = tx {
            // The asker may have given up (timeout, dropped future): fine.
            let _ = tx.send(Ok(reply));
        }
    }
}

impl<R: Send + 'static> Drop for ReplyGuard<R> {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take()
            && in_a_handler()
        {
            ORPHANS.with_borrow_mut(|list| {
                list.push(Box::new(move |err: &PanicError| {
                    let _ = tx.send(Err(Box::new(ReplyFailure::Panicked(err.clone()))));
                }))
            });
        }
    }
}

/// A handle for answering an ask later, obtained through
/// [`ActorRef::ask_with`](crate::ActorRef::ask_with).
///
/// A handler that keeps a `ReplyTo` can return at once, so the actor goes on
/// with its mailbox, and answer when the answer is ready: after asking another
/// actor, when a timer fires, from a spawned task. Dropping it without
/// answering makes the ask fail with
/// [`AskError::NoReply`](crate::error::AskError::NoReply).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Slow;
/// impl Actor for Slow {
///     type Error = std::convert::Infallible;
/// }
///
/// struct Double(u64, ReplyTo<u64>);
/// impl Message for Double {
///     type Reply = ();
/// }
///
/// impl Handler<Double> for Slow {
///     async fn handle(&mut self, Double(n, reply): Double, _: &mut Context<Self>) {
///         // Answer from another task; the actor is free at once.
///         tokio::spawn(async move { reply.send(n * 2) });
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let slow = ActorSystem::new().spawn(Slow);
/// assert_eq!(slow.ask_with(|reply| Double(21, reply)).await.unwrap(), 42);
/// # }
/// ```
pub struct ReplyTo<R>(oneshot::Sender<ReplyResult<R>>);

impl<R> ReplyTo<R> {
    pub(crate) fn new(tx: oneshot::Sender<ReplyResult<R>>) -> Self {
        ReplyTo(tx)
    }

    /// Answers the ask. Returns the value back if the asker has given up.
    ///
    /// # Errors
    ///
    /// The reply, unsent, when the asker has stopped waiting (its future was
    /// dropped or its timeout passed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Deferred(Option<ReplyTo<u64>>);
    ///
    /// #[actor]
    /// impl Deferred {
    ///     #[message]
    ///     fn later(&mut self, reply: ReplyTo<u64>) {
    ///         self.0 = Some(reply); // answered by `now`, not here
    ///     }
    ///
    ///     #[message]
    ///     fn now(&mut self, n: u64) -> Result<(), u64> {
    ///         self.0.take().expect("a kept ask").send(n)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let deferred = ActorSystem::new().spawn(Deferred::default());
    /// let asker = deferred.clone();
    /// let ask = tokio::spawn(async move { asker.ask_with(|reply| Later { reply }).await });
    /// tokio::task::yield_now().await; // the ask is queued first
    /// assert_eq!(deferred.now(7).await.unwrap(), Ok(()));
    /// assert_eq!(ask.await.unwrap().unwrap(), 7);
    /// // An asker that gave up: the value comes back.
    /// let late = deferred.ask_with(|reply| Later { reply }).timeout(Duration::from_millis(10)).await;
    /// assert!(late.unwrap_err().is_timeout());
    /// assert_eq!(deferred.now(8).await.unwrap(), Err(8));
    /// # }
    /// ```
    pub fn send(self, reply: R) -> Result<(), R> {
        self.0.send(Ok(reply)).map_err(|back| match back {
            Ok(reply) => reply,
            Err(_) => unreachable!("only Ok replies are sent through ReplyTo"),
        })
    }

    /// Whether the asker has stopped waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Deferred(Option<ReplyTo<u64>>);
    ///
    /// #[actor]
    /// impl Deferred {
    ///     #[message]
    ///     fn later(&mut self, reply: ReplyTo<u64>) {
    ///         self.0 = Some(reply);
    ///     }
    ///
    ///     #[message]
    ///     fn awaited(&mut self) -> bool {
    ///         !self.0.as_ref().expect("a kept ask").is_closed()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let deferred = ActorSystem::new().spawn(Deferred::default());
    /// let asker = deferred.clone();
    /// let ask = tokio::spawn(async move {
    ///     asker.ask_with(|reply| Later { reply }).timeout(Duration::from_secs(1)).await
    /// });
    /// tokio::task::yield_now().await; // the ask is queued first
    /// assert!(deferred.awaited().await.unwrap()); // its asker still waits
    /// assert!(ask.await.unwrap().unwrap_err().is_timeout());
    /// assert!(!deferred.awaited().await.unwrap()); // and now no longer does
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo").field("closed", &self.is_closed()).finish()
    }
}
