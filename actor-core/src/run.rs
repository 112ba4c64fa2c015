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
    let mut running = Running { slot: Slot::new(), ctx, actor, inbox: Inbox::new(), shared, busy: None };
    // Built outside the async block, which then uses the captured values
    // directly: an `async fn` would keep its arguments and the locals they
    // move into as separate fields of the task (measured: 408 bytes of task
    // state, against 256 like this).
    async move {
        let _guard = guard;
        let reason = running.serve().await;
        debug_assert!(running.slot.is_empty(), "the slot moves with `running`, so it must be empty");
        // Boxed, like the other paths that run at most once or on a panic: a
        // task is as large as its largest await, and these would otherwise
        // sit in every idle actor.
        // The box holds a reference, not the state, so nothing large moves.
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
    /// While a handler's future is in the slot: its message's type name.
    busy: Option<fn() -> &'static str>,
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
        tracing::debug!("actor starting");
        let started = Box::pin(AssertUnwindSafe(self.actor.on_start(&mut self.ctx)).catch_unwind()).await;
        match started {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return StopReason::Failed(ActorError::new(e)),
            Err(payload) => return StopReason::Panicked(self.panic_error(&*payload, None)),
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

    /// The hot loop, written as one poll function so that the task's state
    /// is just `Running`: takes messages off the mailbox and drives each
    /// handler's future in the slot, checking the system lane in between.
    fn poll_serve(&mut self, cx: &mut TaskContext<'_>) -> Poll<Served> {
        let mut handled = 0;
        loop {
            if let Some(message_type) = self.busy {
                let slot = &mut self.slot;
                match reply::in_handler(|| catch_unwind(AssertUnwindSafe(|| slot.poll(cx)))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(())) => {
                        self.busy = None;
                        if let Some(reason) = self.ctx.take_stop_now() {
                            return Poll::Ready(Served::Stop(reason));
                        }
                    }
                    Err(payload) => {
                        self.busy = None;
                        return Poll::Ready(Served::Panicked(payload, message_type()));
                    }
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
                        Ok(()) => self.busy = Some(message_type),
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
        futures::future::join_all(children.iter().map(|c| c.cell().wait_terminated())).await;

        let stopped = AssertUnwindSafe(self.actor.on_stop(&mut self.ctx, reason)).catch_unwind().await;
        if let Err(payload) = stopped {
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
