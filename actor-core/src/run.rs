//! An actor's task: the run loop.
//!
//! One task per actor, no intermediate hop: the task takes an envelope off
//! the mailbox, builds the handler's future in the pinned slot, and polls it
//! to completion, catching panics at every poll. Between messages it checks
//! the system lane with a single atomic load.

use std::any::Any;
use std::future::Future;
use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::FutureExt;

use crate::actor::{Actor, PanicAction, StopReason};
use crate::cell::{Shared, Signal};
use crate::context::Context;
use crate::envelope::Slot;
use crate::error::{ActorError, PanicError};
use crate::mailbox::queue::{Inbox, Next};
use crate::reply;
use crate::system::DeadLetterReason;

pub(crate) fn run<A: Actor>(actor: A, ctx: Context<A>) -> impl Future<Output = ()> + Send {
    let shared = ctx.shared().clone();
    // If this task is torn down before it finishes (the runtime is dropped),
    // still tell everyone waiting that the actor is gone.
    let guard = TerminateOnDrop(shared.clone());
    let mut running =
        Running { slot: Slot::new(), ctx, actor, inbox: Inbox::new(), shared, busy: Busy::Idle, started: None };
    // Built outside the async block, which then uses the captured values
    // directly: an `async fn` would keep its arguments and the locals they
    // move into as separate fields of the task (measured: 408 bytes of task
    // state, against 256 like this).
    async move {
        let _guard = guard;
        let reason = running.serve().await;
        debug_assert!(running.slot.is_empty(), "the slot moves with `running`, so it must be empty");
        // Boxed: it runs once, and inline its state would grow every
        // actor's task past tokio's next 128-byte step (measured: 640 bytes
        // instead of 512). The box holds a reference, so nothing large moves.
        Box::pin(running.finish(&reason)).await;
        let shared = running.shared.clone();
        // The actor's state (and whatever it holds) is gone before anyone
        // waiting for the stop is told.
        drop(running);
        terminated(&shared, reason);
    }
}

struct TerminateOnDrop<A: Actor>(Arc<Shared<A>>);

impl<A: Actor> Drop for TerminateOnDrop<A> {
    fn drop(&mut self) {
        let cell = &self.0.cell;
        if !cell.is_terminated() {
            self.0.mailbox.close();
            cell.system.forget(cell);
            cell.terminate(StopReason::Killed);
        }
    }
}

struct Running<A: Actor> {
    // Declared first: fields are dropped in declaration order, so a handler
    // future still in the slot is dropped before the actor and context it
    // borrows, even if this task is torn down mid-handler.
    // In place, not boxed: one allocation less per actor, and the task it
    // grows was rounded up to 128 bytes anyway. It only ever moves empty
    // (into `finish`).
    slot: Slot,
    ctx: Context<A>,
    actor: A,
    inbox: Inbox<A>,
    shared: Arc<Shared<A>>,
    /// What the future in the slot is, if any.
    busy: Busy,
    /// Where `on_start`'s result lands.
    started: Option<Result<(), A::Error>>,
}

/// What occupies the slot.
#[derive(Clone, Copy)]
enum Busy {
    Idle,
    Starting,
    /// A handler, with its message's type name (for a panic report).
    Handling(fn() -> &'static str),
}

type Payload = Box<dyn Any + Send>;

/// Why the hot loop handed control back to `serve`.
enum Served {
    Stop(StopReason),
    Panicked(Payload, &'static str),
}

/// Messages handled in one poll before the actor yields its worker.
const YIELD_EVERY: usize = 128;

impl<A: Actor> Running<A> {
    /// Runs `on_start`, then every message, until the actor must stop.
    async fn serve(&mut self) -> StopReason {
        if let Some(reason) = self.begin() {
            return reason;
        }
        loop {
            match poll_fn(|cx| self.poll_serve(cx)).await {
                Served::Stop(reason) => return reason,
                Served::Panicked(payload, message_type) => {
                    if let Some(reason) = Box::pin(self.panicked(payload, message_type)).await {
                        return reason;
                    }
                }
            }
        }
    }

    /// Puts `on_start` in the slot, to be driven by `poll_serve` before the
    /// first message, like a handler: no allocation, no room for it in every
    /// actor's task. Must run once `Running` is in its final place.
    fn begin(&mut self) -> Option<StopReason> {
        tracing::debug!("actor starting");
        let Running { slot, ctx, actor, started, .. } = self;
        let put = catch_unwind(AssertUnwindSafe(|| {
            let fut = actor.on_start(ctx);
            // SAFETY: `actor`, `ctx` and `started` are touched by nobody but
            // the hook until the slot is empty again: `poll_serve` only polls
            // the slot while `busy`. The slot does not move meanwhile (see
            // `poll_serve`).
            unsafe { put_hook(slot, started, fut) }
        }));
        match put {
            Ok(()) => {
                self.busy = Busy::Starting;
                None
            }
            Err(payload) => Some(StopReason::Panicked(self.panic_error(&*payload, None))),
        }
    }

    /// The hot loop, written as one poll function so that the task's state
    /// is just `Running`: takes messages off the mailbox and drives each
    /// handler's future in the slot, checking the system lane in between.
    fn poll_serve(&mut self, cx: &mut TaskContext<'_>) -> Poll<Served> {
        let mut handled = 0;
        loop {
            if !matches!(self.busy, Busy::Idle) {
                let slot = &mut self.slot;
                let polled = reply::in_handler(|| catch_unwind(AssertUnwindSafe(|| slot.poll(cx))));
                let busy = std::mem::replace(&mut self.busy, Busy::Idle);
                match (polled, busy) {
                    (Ok(Poll::Pending), _) => {
                        self.busy = busy;
                        return Poll::Pending;
                    }
                    (Ok(Poll::Ready(())), Busy::Starting) => {
                        if let Some(Err(e)) = self.started.take() {
                            return Poll::Ready(Served::Stop(StopReason::Failed(ActorError::new(e))));
                        }
                    }
                    (Ok(Poll::Ready(())), _) => {
                        if let Some(reason) = self.ctx.take_stop_now() {
                            return Poll::Ready(Served::Stop(reason));
                        }
                    }
                    (Err(payload), Busy::Starting) => {
                        let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
                        let reason = StopReason::Panicked(self.panic_error(&*payload, None));
                        return Poll::Ready(Served::Stop(reason));
                    }
                    (Err(payload), Busy::Handling(message_type)) => {
                        return Poll::Ready(Served::Panicked(payload, message_type()));
                    }
                    (Err(_), Busy::Idle) => unreachable!("an idle slot is empty and cannot panic"),
                }
                handled += 1;
                if handled == YIELD_EVERY {
                    // Our mailbox does not spend tokio's cooperative budget,
                    // so a busy actor yields by itself to keep its worker fair.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            match self.inbox.poll_next(&self.shared.mailbox, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Next::Closed) => return Poll::Ready(Served::Stop(StopReason::Normal)),
                Poll::Ready(Next::Signals) => {
                    if let Some(reason) = self.on_signals() {
                        return Poll::Ready(Served::Stop(reason));
                    }
                }
                Poll::Ready(Next::Message(env)) => {
                    let message_type = env.message_type_fn();
                    let Running { slot, ctx, actor, .. } = self;
                    let started = reply::in_handler(|| {
                        catch_unwind(AssertUnwindSafe(|| {
                            // SAFETY: `actor` and `ctx` are fields of `self`,
                            // which lives in this task's pinned state for the
                            // whole run loop. Until the slot is cleared (the
                            // future completes above, or `panicked` clears it)
                            // nothing touches them but the future: while
                            // `busy`, this loop only polls `slot`, a disjoint
                            // field. `Running` does not move meanwhile: it is
                            // only borrowed by `serve`, inside the task's
                            // pinned state, and `serve` returns only with the
                            // slot empty. If the task is dropped mid-handler,
                            // `slot` is dropped first (field order).
                            unsafe { env.start(actor, ctx, slot) }
                        }))
                    });
                    match started {
                        Ok(()) => self.busy = Busy::Handling(message_type),
                        Err(payload) => return Poll::Ready(Served::Panicked(payload, message_type())),
                    }
                }
            }
        }
    }

    fn panic_error(&self, payload: &(dyn Any + Send), message_type: Option<&'static str>) -> PanicError {
        let cell = &self.shared.cell;
        PanicError::new(payload, cell.id, cell.actor_type, message_type)
    }

    /// After a handler panicked: fail its ask, ask `on_panic` what to do.
    async fn panicked(&mut self, payload: Payload, message_type: &'static str) -> Option<StopReason> {
        let err = self.panic_error(&*payload, Some(message_type));
        // Drop the poisoned future. A reply it still held is parked by its
        // guard and completed with the panic just below.
        reply::in_handler(|| {
            let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
        });
        reply::complete_orphans(&err);
        // A panic payload's destructor may itself panic.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        tracing::error!(error = %err, "handler panicked");
        self.ctx.take_stop_now();
        let action = AssertUnwindSafe(self.actor.on_panic(&mut self.ctx, &err)).catch_unwind().await;
        match action {
            Ok(PanicAction::Resume) => self.ctx.take_stop_now(),
            Ok(PanicAction::Stop) | Err(_) => Some(StopReason::Panicked(err)),
        }
    }

    fn on_signals(&mut self) -> Option<StopReason> {
        for signal in self.shared.mailbox.take_signals() {
            match signal {
                // Refuse new messages; the loop handles what is queued, then
                // sees the mailbox closed.
                Signal::Stop => self.shared.mailbox.close(),
                Signal::Kill => return Some(StopReason::Killed),
                Signal::Shutdown => return Some(StopReason::Normal),
                Signal::ChildTerminated(id) => self.ctx.remove_child(id),
            }
        }
        None
    }

    /// Stops: refuse and report queued messages, stop the children, run
    /// `on_stop`, then tell everyone waiting.
    async fn finish(&mut self, reason: &StopReason) {
        let shared = self.shared.clone();
        let cell = &shared.cell;
        // After the close no message can be added, so this drain is complete.
        shared.mailbox.close();
        for env in self.inbox.drain(&shared.mailbox) {
            cell.dead_letter(env.message_type(), DeadLetterReason::DroppedOnStop);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(env)));
        }
        let children = self.ctx.take_children();
        for child in &children {
            child.signal(Signal::Shutdown);
        }
        if !children.is_empty() {
            // Boxed: most actors have no children, and this state would
            // otherwise sit in every actor's task.
            Box::pin(futures::future::join_all(children.iter().map(|c| c.cell().wait_terminated()))).await;
        }

        let mut stopped = None;
        let Running { slot, ctx, actor, .. } = self;
        let put = catch_unwind(AssertUnwindSafe(|| {
            let fut = actor.on_stop(ctx, reason);
            // SAFETY: as for `on_start` in `serve`.
            unsafe { put_hook(slot, &mut stopped, fut) }
        }));
        let outcome = match put {
            Ok(()) => drive(slot).await,
            Err(payload) => Err(payload),
        };
        if let Err(payload) = outcome {
            tracing::error!(error = %self.panic_error(&*payload, None), "on_stop panicked");
        }
    }
}

/// The last step, once the actor's state is dropped: tell the system, the
/// parent and everyone waiting.
fn terminated<A: Actor>(shared: &Shared<A>, reason: StopReason) {
    let cell = &shared.cell;
    if reason.is_normal() {
        tracing::debug!(%reason, "actor stopped");
    } else {
        tracing::warn!(%reason, "actor stopped");
    }
    cell.system.forget(cell);
    if let Some(parent) = &cell.parent {
        parent.signal(Signal::ChildTerminated(cell.id));
    }
    cell.terminate(reason);
}

/// Puts a lifecycle hook's future in the slot, where handlers run: no
/// allocation, and no room for the hook's state in every actor's task (a
/// task is as large as its largest await). Its output lands in `out`.
///
/// # Safety
///
/// As [`Slot::put`], for everything `fut` borrows and for `out`.
unsafe fn put_hook<T: Send>(slot: &mut Slot, out: &mut Option<T>, fut: impl Future<Output = T> + Send) {
    // SAFETY: passed on from our caller.
    unsafe { slot.put(async move { *out = Some(fut.await) }) }
}

/// Drives the slot's future to completion, catching a panic (after which the
/// slot is cleared).
async fn drive(slot: &mut Slot) -> Result<(), Payload> {
    let outcome = poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| slot.poll(cx))) {
        Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => Poll::Ready(Err(payload)),
    })
    .await;
    if outcome.is_err() {
        let _ = catch_unwind(AssertUnwindSafe(|| slot.clear()));
    }
    outcome
}
