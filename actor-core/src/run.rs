//! An actor's task: the run loop.
//!
//! One task per actor, no intermediate hop: the task takes an envelope off
//! the mailbox, builds the handler's future in the pinned slot, and polls it
//! to completion, catching panics at every poll. Between messages it checks
//! the system lane with a single atomic load.

use std::any::Any;
use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::FutureExt;
use tokio::sync::mpsc;

use crate::actor::{Actor, PanicAction, StopReason};
use crate::cell::{Cell, Signal};
use crate::context::Context;
use crate::envelope::{Envelope, Slot};
use crate::error::{ActorError, PanicError};
use crate::reply;
use crate::system::DeadLetterReason;

pub(crate) async fn run<A: Actor>(actor: A, rx: mpsc::Receiver<Envelope<A>>, ctx: Context<A>) {
    let cell = ctx.cell().clone();
    // If this task is torn down before it finishes (the runtime is dropped),
    // still tell everyone waiting that the actor is gone.
    let _guard = TerminateOnDrop(cell.clone());
    let mut running = Running { slot: Box::pin(Slot::new()), ctx, actor, rx };
    let reason = running.serve().await;
    running.finish(reason).await;
}

struct TerminateOnDrop(Arc<Cell>);

impl Drop for TerminateOnDrop {
    fn drop(&mut self) {
        if !self.0.is_terminated() {
            self.0.system.forget(&self.0);
            self.0.terminate(StopReason::Killed);
        }
    }
}

struct Running<A: Actor> {
    // Declared first: fields are dropped in declaration order, so a handler
    // future still in the slot is dropped before the actor and context it
    // borrows, even if this task is torn down mid-handler.
    slot: Pin<Box<Slot>>,
    ctx: Context<A>,
    actor: A,
    rx: mpsc::Receiver<Envelope<A>>,
}

enum Next<A: Actor> {
    Message(Envelope<A>),
    Signals,
    Closed,
}

/// The next thing to do: signals first, then the mailbox.
fn poll_next<A: Actor>(rx: &mut mpsc::Receiver<Envelope<A>>, cell: &Cell, cx: &mut TaskContext<'_>) -> Poll<Next<A>> {
    if cell.has_signals() {
        return Poll::Ready(Next::Signals);
    }
    match rx.poll_recv(cx) {
        Poll::Ready(Some(env)) => Poll::Ready(Next::Message(env)),
        Poll::Ready(None) => Poll::Ready(Next::Closed),
        Poll::Pending => {
            cell.register(cx.waker());
            // A signal sent between the first check and the registration
            // would otherwise be missed until the next message.
            if cell.has_signals() { Poll::Ready(Next::Signals) } else { Poll::Pending }
        }
    }
}

type Payload = Box<dyn Any + Send>;

impl<A: Actor> Running<A> {
    async fn serve(&mut self) -> StopReason {
        tracing::debug!("actor starting");
        let started = AssertUnwindSafe(self.actor.on_start(&mut self.ctx)).catch_unwind().await;
        match started {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return StopReason::Failed(ActorError::new(e)),
            Err(payload) => return StopReason::Panicked(self.panic_error(&*payload, None)),
        }
        loop {
            let Running { rx, ctx, .. } = self;
            match poll_fn(|cx| poll_next(rx, ctx.cell(), cx)).await {
                Next::Message(env) => {
                    if let Some(reason) = self.handle(env).await {
                        return reason;
                    }
                }
                Next::Signals => {
                    if let Some(reason) = self.on_signals() {
                        return reason;
                    }
                }
                Next::Closed => return StopReason::Normal,
            }
        }
    }

    /// Handles one message; returns a reason if the actor must stop now.
    async fn handle(&mut self, env: Envelope<A>) -> Option<StopReason> {
        let message_type = env.message_type_fn();
        let Running { slot, ctx, actor, .. } = self;
        let started = reply::in_handler(|| {
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `actor` and `ctx` are fields of `self`, which lives
                // in this task's pinned state for the whole run loop. Until
                // the slot is cleared (the future completes below, or
                // `panicked` clears it) nothing touches them but the future:
                // this function only polls `slot`, a disjoint field. If the
                // task is dropped mid-handler, `slot` is dropped first.
                unsafe { env.start(actor, ctx, slot.as_mut()) }
            }))
        });
        let outcome = match started {
            Ok(()) => {
                poll_fn(|cx| {
                    reply::in_handler(|| match catch_unwind(AssertUnwindSafe(|| slot.as_mut().poll(cx))) {
                        Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
                        Ok(Poll::Pending) => Poll::Pending,
                        Err(payload) => Poll::Ready(Err(payload)),
                    })
                })
                .await
            }
            Err(payload) => Err(payload),
        };
        match outcome {
            Ok(()) => self.ctx.take_stop_now(),
            Err(payload) => self.panicked(payload, message_type()).await,
        }
    }

    fn panic_error(&self, payload: &(dyn Any + Send), message_type: Option<&'static str>) -> PanicError {
        let cell = self.ctx.cell();
        PanicError::new(payload, cell.id, cell.actor_type, message_type)
    }

    /// After a handler panicked: fail its ask, ask `on_panic` what to do.
    async fn panicked(&mut self, payload: Payload, message_type: &'static str) -> Option<StopReason> {
        let err = self.panic_error(&*payload, Some(message_type));
        // Drop the poisoned future. A reply it still held is parked by its
        // guard and completed with the panic just below.
        reply::in_handler(|| {
            let _ = catch_unwind(AssertUnwindSafe(|| self.slot.as_mut().clear()));
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
        for signal in self.ctx.cell().take_signals() {
            match signal {
                // Refuse new messages; the loop handles what is queued, then
                // sees the mailbox closed.
                Signal::Stop => self.rx.close(),
                Signal::Kill => return Some(StopReason::Killed),
                Signal::Shutdown => return Some(StopReason::Normal),
                Signal::ChildTerminated(id) => self.ctx.remove_child(id),
            }
        }
        None
    }

    /// Stops: refuse and report queued messages, stop the children, run
    /// `on_stop`, then tell everyone waiting.
    async fn finish(mut self, reason: StopReason) {
        let cell = self.ctx.cell().clone();
        self.rx.close();
        // `recv` (not `try_recv`) so that a sender that reserved room just
        // before the close is waited for rather than silently dropped.
        while let Some(env) = self.rx.recv().await {
            cell.dead_letter(env.message_type(), DeadLetterReason::DroppedOnStop);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(env)));
        }
        let children = self.ctx.take_children();
        for child in &children {
            child.signal(Signal::Shutdown);
        }
        futures::future::join_all(children.iter().map(|c| c.wait_terminated())).await;

        let stopped = AssertUnwindSafe(self.actor.on_stop(&mut self.ctx, &reason)).catch_unwind().await;
        if let Err(payload) = stopped {
            tracing::error!(error = %self.panic_error(&*payload, None), "on_stop panicked");
        }
        let Running { slot, ctx, actor, rx } = self;
        drop((slot, actor, rx));
        drop(ctx);
        if reason.is_normal() {
            tracing::debug!(%reason, "actor stopped");
        } else {
            tracing::warn!(%reason, "actor stopped");
        }
        cell.system.forget(&cell);
        if let Some(parent) = &cell.parent {
            parent.signal(Signal::ChildTerminated(cell.id));
        }
        cell.terminate(reason);
    }
}
