//! An actor's task: the run loop.
//!
//! One task per actor, no intermediate hop: the task takes an envelope off
//! the mailbox, builds the handler's future in the pinned slot, and polls it
//! to completion, catching panics at every poll. Between messages it checks
//! the system lane with a single atomic load.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::future::poll_fn;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::FutureExt;

use crate::actor::context::{Actor, PanicAction};
use crate::actor::context::{Child, Context};
use crate::actor::shared::Shared;
use crate::base::dead_letter::DeadLetterReason;
use crate::base::error::{ActorError, PanicError};
use crate::base::reason::ChildExit;
use crate::base::reason::{LinkedExit, StopReason};
use crate::base::reply;
use crate::envelope::{Envelope, Slot};
use crate::mailbox::queue::{Inbox, Next};
use crate::mailbox::signal::Signal;

pub(crate) fn run<A: Actor>(
    actor: A,
    factory: Option<Box<dyn FnMut() -> A + Send>>,
    ctx: Context<A>,
) -> impl Future<Output = ()> + Send {
    let extra =
        factory.map(|factory| Box::new(Extra { factory: Some(factory), pending: VecDeque::new(), child_exit: None }));
    let mut running = Box::new(Running {
        slot: Slot::new(),
        shared: SharedPtr::to(ctx.shared()),
        ctx,
        actor: Some(actor),
        inbox: Inbox::new(),
        busy: Busy::Idle,
        message_type: unnamed,
        watching: false,
        started: None,
        extra,
    });
    // Built outside the async block, which then uses the captured values
    // directly: an `async fn` would keep its arguments and the locals they
    // move into as separate fields of the task (measured on 2026-11-24: 408
    // bytes of task state, against 256 like this).
    //
    // `Running` is boxed, so the task is a pointer and a state: tokio copies
    // its task's future whole when it spawns it and again at each change of
    // stage (three times each), and rounds its task up in 128-byte steps
    // from a 128-byte alignment, which with `Running` in place left an idle
    // actor at 951 bytes against 792 boxed (measured 2026-12-04, glibc).
    //
    // The usual life (start, serve, stop) is awaited here, inline, and holds
    // nothing across an await but one pointer to `running`. A panic or a
    // supervised actor's failure goes on in a box (`live_on`); so do the
    // children, if any, at the end.
    // Hence no local here is ever borrowed (`&x` keeps `x` in the task
    // across every later await) or dropped after an await it was moved
    // before on one path only (its drop flag keeps it there too).
    async move {
        // (`if let`, not `match`: the value `begin` returns is gone before
        // the await, instead of kept across it in the task.)
        let served = if let Some(reason) = running.begin() {
            Served::Stop(reason)
        } else {
            poll_fn(|cx| running.poll_serve(cx)).await
        };
        // (`rest` takes the value whole: a field moved out of it would keep
        // the rest of it in the task across the await.)
        let (reason, stopped) = match running.settle(served) {
            Ok(reason) => (reason, false),
            rest => Box::pin(running.live_on(rest)).await,
        };
        debug_assert!(running.slot.is_empty(), "a hook or handler outlived its incarnation");
        // Stops for good: refuse and report what is queued, then end the
        // incarnation (unless `fail_over` already did), as `end_incarnation`
        // does, with the reason parked in the context meanwhile (see
        // `Context::park_reason`).
        running.refuse_queued();
        let reason = if stopped {
            reason
        } else {
            running.ctx.park_reason(reason);
            running.ctx.abort_tasks();
            if running.ctx.has_children() {
                Box::pin(stop_children(running.ctx.take_children())).await;
            }
            let for_hook = running.ctx.parked_reason().clone();
            running.put_on_stop(for_hook);
            poll_fn(|cx| running.poll_on_stop(cx)).await;
            running.ctx.abort_tasks();
            running.ctx.take_stop_now().expect("the reason is parked until `on_stop` is done")
        };
        running.finish(reason);
    }
}

/// The state of an actor's task.
///
/// **Borrows while a future is in the slot.** The handler or hook in `slot`
/// holds `&mut` borrows of `actor` and `ctx` (and a hook, of `started` or
/// the boxed `Extra::child_exit`) for as long as it runs. While
/// `busy` is not `Idle`, the loop therefore touches only the other fields:
/// `slot` itself, `busy`, `watching`, `inbox`, `shared` (its own reference
/// to the actor's shared block, so that it never reads `ctx`) and, between
/// hooks, `extra.pending`. `Running` is `!Unpin` (through `Slot`) and lives in
/// a box of the task's, never moved, so the `&mut Running` the
/// loop works through is not an exclusive claim over the fields the future
/// borrows: the aliasing model treats it like a pointer to pinned state.
/// Miri checks this under Stacked and Tree Borrows (see ARCHITECTURE.md,
/// "Unsafe code").
struct Running<A: Actor> {
    // A handler future still in the slot borrows the actor and the context:
    // `Drop` clears the slot first when the task is torn down mid-handler
    // (and, declared first, it would be dropped first anyway).
    // In place, not boxed separately: `Running` is boxed already. It never
    // moves: `Running` is built in its box before the first poll.
    slot: Slot,
    /// The actor's shared block (the one `ctx` holds), for the loop's own
    /// use while a handler borrows `ctx`.
    shared: SharedPtr<A>,
    ctx: Context<A>,
    /// The actor's state; `None` once it has been dropped at the end,
    /// before those waiting for the end are told.
    actor: Option<A>,
    inbox: Inbox<Envelope<A>>,
    /// What the future in the slot is, if any.
    busy: Busy,
    /// With `Busy::Handling`: names the message type for a panic report.
    /// A field of its own rather than a field of `Busy`, so that `Busy` is
    /// one byte, packed with `watching` and `started`.
    message_type: fn() -> &'static str,
    /// The task's waker is registered with the mailbox for an abort. Once
    /// is enough: the run loop is a tokio task (see `spawn`), whose waker
    /// wakes the same task whatever poll it came from. An abort takes it.
    watching: bool,
    /// Where `on_start`'s result lands.
    started: Option<Result<(), A::Error>>,
    /// What only some actors need, boxed so that others do not pay for it
    /// in task size: supervised actors, and any actor while a child-exit
    /// hook runs.
    extra: Option<Box<Extra<A>>>,
}

/// The shared block that the `Context` beside it in `Running` keeps alive,
/// reached without a reference count of its own: a clone of the `Arc`
/// cost two atomic operations per actor, and atomic operations are most of
/// what a spawn costs.
struct SharedPtr<A: Actor>(NonNull<Shared<A>>);

impl<A: Actor> SharedPtr<A> {
    /// Points at the block `shared` holds. Only for `Running::shared`,
    /// beside the `Context` that owns `shared`.
    fn to(shared: &Arc<Shared<A>>) -> Self {
        SharedPtr(NonNull::from(&**shared))
    }
}

impl<A: Actor> std::ops::Deref for SharedPtr<A> {
    type Target = Shared<A>;

    fn deref(&self) -> &Shared<A> {
        // SAFETY: the pointer is `Running::shared`, taken from the `Arc` of
        // `Running::ctx`. The context never lets go of that `Arc` (it has no
        // way to replace or give it up) and is dropped only with `Running`,
        // after `Running::drop` (fields drop after the `Drop` impl), so the
        // block is alive whenever a `&Running` can reach this pointer. The
        // block is only ever read through shared references (its mutable
        // parts are atomics and locks), like through the `Arc`.
        unsafe { self.0.as_ref() }
    }
}

// SAFETY: a `SharedPtr`, and a reference to one, is only ever used as an
// `&Shared<A>` (see `Deref`), which may cross and be shared between threads
// when `Shared<A>` is `Sync`, as an `Arc<Shared<A>>` may.
unsafe impl<A: Actor> Send for SharedPtr<A> where Shared<A>: Sync {}
// SAFETY: as for `Send`.
unsafe impl<A: Actor> Sync for SharedPtr<A> where Shared<A>: Sync {}

struct Extra<A: Actor> {
    /// Rebuilds the actor's state for a restart (supervised actors only).
    factory: Option<Box<dyn FnMut() -> A + Send>>,
    /// Signals taken while a hook ran, handled after it.
    pending: VecDeque<Signal>,
    /// The exit `on_child_exit` is looking at, borrowed by the hook.
    child_exit: Option<ChildExit>,
}

/// What occupies the slot.
#[derive(Clone, Copy)]
enum Busy {
    Idle,
    Starting,
    /// A handler; its message's type name is in `Running::message_type`.
    Handling,
    /// `on_child_exit`.
    ChildHook,
}

type Payload = Box<dyn Any + Send>;

/// `Running::message_type` while no handler runs.
fn unnamed() -> &'static str {
    "(none)"
}

/// Why the hot loop handed control back to `serve`.
enum Served {
    Stop(StopReason),
    Panicked(Payload, &'static str),
}

/// The actor's state is there from spawn until `finish`.
const LIVE: &str = "the actor's state lives until the run loop finishes";

/// Messages handled in one poll before the actor yields its worker.
const YIELD_EVERY: usize = 128;

impl<A: Actor> Drop for Running<A> {
    /// After `finish`, nothing to do. Otherwise the task is being torn down
    /// mid-flight (aborted past a shutdown timeout, or its runtime dropped):
    /// what is queued is still reported, and everyone waiting is told, as
    /// after a kill.
    fn drop(&mut self) {
        if self.actor.is_none() {
            return;
        }
        // The handler's future borrows the actor: it goes first.
        let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
        let shared = &*self.shared;
        shared.mailbox.close();
        let left = self.inbox.take_batch().into_iter().chain(shared.mailbox.drain_closed());
        report_dropped(shared, left);
        let _ = self.drop_state();
        terminated(&self.shared, StopReason::Killed);
    }
}

impl<A: Actor> Running<A> {
    /// What the run loop's first `Served` leads to: the reason the actor
    /// stops for, or (a panic, or an ending the supervisor may restart) the
    /// `Served` to go on from in `live_on`.
    fn settle(&self, served: Served) -> Result<StopReason, Served> {
        match served {
            Served::Stop(reason) if !self.restarts_after(&reason) => Ok(reason),
            served => Err(served),
        }
    }

    /// Whether an incarnation that ended for `reason` is handed to the
    /// supervisor (`fail_over`) rather than ending the actor.
    fn restarts_after(&self, reason: &StopReason) -> bool {
        let restartable = matches!(
            reason,
            StopReason::Panicked(_)
                | StopReason::Failed(_)
                | StopReason::TooManyRestarts(_)
                | StopReason::Killed
                | StopReason::Aborted
                | StopReason::Linked(_)
                | StopReason::Restart
        );
        restartable && self.extra.as_ref().is_some_and(|e| e.factory.is_some())
    }

    /// The rest of the actor's life after a handler panicked, or after an
    /// incarnation ended that its supervisor may restart: `on_panic`, then
    /// serving on, or incarnation after incarnation, until the actor stops
    /// for good. Returns why, and whether the last incarnation's `on_stop`
    /// already ran. Boxed by the caller: most actors never come here.
    async fn live_on(&mut self, settled: Result<StopReason, Served>) -> (StopReason, bool) {
        let mut served = match settled {
            Ok(reason) => Served::Stop(reason),
            Err(served) => served,
        };
        loop {
            let reason = match served {
                Served::Stop(reason) => reason,
                Served::Panicked(payload, message_type) => match self.panicked(payload, message_type).await {
                    Some(reason) => reason,
                    None => {
                        served = poll_fn(|cx| self.poll_serve(cx)).await;
                        continue;
                    }
                },
            };
            if !self.restarts_after(&reason) {
                return (reason, false);
            }
            if let Some(reason) = self.fail_over(reason).await {
                return (reason, true);
            }
            served = match self.begin() {
                Some(reason) => Served::Stop(reason),
                None => poll_fn(|cx| self.poll_serve(cx)).await,
            };
        }
    }

    /// A supervised incarnation has ended: stop it, then restart at once
    /// (asked by the supervisor) or report to the supervisor and wait for
    /// its decision, while the mailbox keeps what senders send. Returns the
    /// final reason if the actor is not restarted.
    async fn fail_over(&mut self, reason: StopReason) -> Option<StopReason> {
        self.end_incarnation(&reason).await;
        if !matches!(reason, StopReason::Restart) {
            let cell = &self.shared.cell;
            let Some(parent) = cell.parent() else { return Some(reason) };
            parent.signal(Signal::ChildExit(ChildExit::new(cell.id, reason.clone(), true)));
            tracing::warn!(%reason, "supervised actor failed; waiting for its supervisor");
            // A graceful stop asked while waiting ends the actor here. One
            // asked before the failure does not: the restarted incarnation
            // handles what is queued, then stops, as it would have.
            let stop_counts = !self.shared.mailbox.is_closed();
            'decision: loop {
                poll_fn(|cx| self.shared.mailbox.poll_signal(cx, stop_counts)).await;
                if stop_counts && self.shared.mailbox.is_closed() {
                    return Some(reason);
                }
                let mut signals = self.shared.mailbox.take_signals();
                while let Some(signal) = signals.pop_front() {
                    match signal {
                        Signal::Restart => {
                            // Later signals wait for the new incarnation.
                            if let Some(extra) = &mut self.extra {
                                extra.pending.extend(signals);
                            }
                            break 'decision;
                        }
                        Signal::Kill | Signal::Shutdown => return Some(reason),
                        Signal::Abort => {
                            if self.take_abort() {
                                return Some(reason);
                            }
                        }
                        // The old incarnation's children and links are gone.
                        Signal::ChildExit(_) | Signal::LinkExit(..) => {}
                    }
                }
            }
        }
        self.rebuild()
    }

    /// Replaces the actor's state with a fresh one from the factory.
    fn rebuild(&mut self) -> Option<StopReason> {
        let factory = self.extra.as_mut().and_then(|e| e.factory.as_mut()).expect("only supervised actors restart");
        match catch_unwind(AssertUnwindSafe(factory)) {
            Ok(fresh) => {
                drop(self.actor.replace(fresh));
                self.ctx.take_stop_now();
                // Noted before counted: `ActorSystem::stats` reads the count
                // first, so a counted restart always has its time.
                self.shared.system.note_restart(self.shared.cell.id);
                self.shared.cell.counters.restarted();
                tracing::debug!("actor restarted");
                None
            }
            Err(payload) => Some(StopReason::Panicked(self.panic_error(&*payload, None))),
        }
    }

    /// Puts `on_start` in the slot, to be driven by `poll_serve` before the
    /// first message, like a handler: no allocation, no room for it in every
    /// actor's task. Must run once `Running` is in its final place.
    fn begin(&mut self) -> Option<StopReason> {
        tracing::debug!("actor starting");
        let Running { slot, ctx, actor, started, .. } = self;
        let put = catch_unwind(AssertUnwindSafe(|| {
            let fut = actor.as_mut().expect(LIVE).on_start(ctx);
            // SAFETY: `actor`, `ctx` and `started` are fields of `Running`,
            // touched by nobody but the hook until the slot is empty again
            // (see `Running`: while `busy`, the loop reaches only other
            // fields). They and the slot stay in place, alive, until then:
            // `Running` does not move once polled, and if it is dropped
            // first, its `Drop` clears the slot before anything else.
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

    /// Whether the run loop yields its worker after `handled` messages in
    /// one poll: after [`YIELD_EVERY`] if more are queued, and after one
    /// more in any case (it may have come between the look and the wait).
    /// An actor with nothing queued gives its worker back by waiting,
    /// without a yield's wake, which would put its task at the back of
    /// the worker's queue and wake an idle worker to steal it.
    #[inline(always)]
    fn yields_after(&self, handled: usize) -> bool {
        handled >= YIELD_EVERY && (handled > YIELD_EVERY || self.inbox.has_queued(&self.shared.mailbox))
    }

    /// The hot loop, written as one poll function so that the task's state
    /// is just `Running`: takes messages off the mailbox and drives each
    /// handler's future in the slot, checking the system lane in between,
    /// and the abort flag before every poll of the future.
    fn poll_serve(&mut self, cx: &mut TaskContext<'_>) -> Poll<Served> {
        let mut handled = 0;
        loop {
            if !matches!(self.busy, Busy::Idle) {
                if self.take_abort() {
                    return Poll::Ready(Served::Stop(self.abandon()));
                }
                // While the future runs, `ctx` and `actor` are its alone:
                // everything here goes through other fields.
                let slot = &mut self.slot;
                let me = self.shared.me();
                let polled = reply::in_handler(me, || catch_unwind(AssertUnwindSafe(|| slot.poll(cx))));
                let busy = std::mem::replace(&mut self.busy, Busy::Idle);
                match (polled, busy) {
                    (Ok(Poll::Pending), _) => {
                        self.busy = busy;
                        if self.watch_abort(cx) {
                            // Raised meanwhile: taken at the top.
                            continue;
                        }
                        return Poll::Pending;
                    }
                    (Ok(Poll::Ready(())), Busy::Starting) => {
                        if let Some(Err(e)) = self.started.take() {
                            return Poll::Ready(Served::Stop(StopReason::Failed(ActorError::new(e))));
                        }
                    }
                    (Ok(Poll::Ready(())), Busy::Handling | Busy::Idle) => {
                        self.shared.cell.counters.handled();
                        if let Some(reason) = self.ctx.take_stop_now() {
                            return Poll::Ready(Served::Stop(reason));
                        }
                    }
                    (Err(payload), Busy::Starting) => {
                        let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
                        let reason = StopReason::Panicked(self.panic_error(&*payload, None));
                        return Poll::Ready(Served::Stop(reason));
                    }
                    (Ok(Poll::Ready(())), Busy::ChildHook) => {
                        if let Some(extra) = &mut self.extra {
                            extra.child_exit = None;
                        }
                        if let Some(reason) = self.ctx.take_stop_now() {
                            return Poll::Ready(Served::Stop(reason));
                        }
                    }
                    (Err(payload), Busy::Handling) => {
                        self.shared.cell.counters.handled();
                        return Poll::Ready(Served::Panicked(payload, (self.message_type)()));
                    }
                    (Err(payload), Busy::ChildHook) => {
                        if let Some(extra) = &mut self.extra {
                            extra.child_exit = None;
                        }
                        return Poll::Ready(Served::Panicked(payload, "on_child_exit"));
                    }
                    (Err(_), Busy::Idle) => unreachable!("an idle slot is empty and cannot panic"),
                }
                handled += 1;
                if self.yields_after(handled) {
                    // Our mailbox does not spend tokio's cooperative budget,
                    // so a busy actor yields by itself to keep its worker fair.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            if self.extra.as_ref().is_some_and(|e| !e.pending.is_empty()) {
                if let Some(reason) = self.on_signals() {
                    return Poll::Ready(Served::Stop(reason));
                }
                continue;
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
                    let me = self.shared.me();
                    let Running { slot, ctx, actor, shared, .. } = self;
                    // Started where it lies (see `Envelope::start_in_place`):
                    // the closures below hold a pointer to it, not a copy.
                    let mut env = ManuallyDrop::new(env);
                    let mut start = || {
                        // SAFETY: `actor` and `ctx` are fields of `Running`.
                        // Until the slot is empty again (the future completes
                        // here or above, or `panicked` clears it) nothing
                        // touches them but the future: while `busy`, this
                        // loop reaches only other fields (see `Running`).
                        // They and the slot stay in place, alive, until
                        // then: `Running` sits in its box, which never moves,
                        // from its creation, `serve` returns only with the
                        // slot empty, and if the task is dropped mid-handler,
                        // `Running`'s `Drop` clears the slot before anything
                        // else. As before every poll of the future, `start`
                        // takes an abort raised meanwhile and leaves the
                        // future unpolled, dropped below, outside the marker,
                        // in `abandon`. `catch_unwind` calls this closure
                        // once, and `env` is not touched after it (its
                        // payload is taken; `ManuallyDrop` keeps it from
                        // being dropped, also if the handler panics).
                        unsafe {
                            Envelope::start_in_place(
                                &mut env,
                                actor.as_mut().expect(LIVE),
                                ctx,
                                slot,
                                cx,
                                &shared.mailbox,
                            )
                        }
                    };
                    // Started and polled for the first time under one
                    // setting of the handler marker (and one `catch_unwind`):
                    // most handlers finish in their first poll, and between
                    // the two steps runs nothing but the abort check, which
                    // is loop code that no handler can observe. The marker
                    // covers exactly what it covered when each step set it
                    // apart: the handler's construction and its poll.
                    let first = reply::in_handler(me, || catch_unwind(AssertUnwindSafe(&mut start)));
                    match first {
                        Ok(Some(Poll::Ready(()))) => {
                            self.shared.cell.counters.handled();
                            if let Some(reason) = self.ctx.take_stop_now() {
                                return Poll::Ready(Served::Stop(reason));
                            }
                            handled += 1;
                            if self.yields_after(handled) {
                                // As above, after a future polled to its end.
                                cx.waker().wake_by_ref();
                                return Poll::Pending;
                            }
                        }
                        Ok(Some(Poll::Pending)) => {
                            self.busy = Busy::Handling;
                            self.message_type = message_type;
                            if self.watch_abort(cx) {
                                // Raised meanwhile: taken at the top.
                                continue;
                            }
                            return Poll::Pending;
                        }
                        Ok(None) => {
                            // What `take_abort` does besides the take.
                            self.watching = false;
                            self.busy = Busy::Handling;
                            self.message_type = message_type;
                            return Poll::Ready(Served::Stop(self.abandon()));
                        }
                        // A panic in the handler's construction or in its
                        // first poll: the same report either way (a future
                        // left in the slot is cleared by `panicked`).
                        Err(payload) => {
                            self.shared.cell.counters.handled();
                            return Poll::Ready(Served::Panicked(payload, message_type()));
                        }
                    }
                }
            }
        }
    }

    /// Takes the abort, if one waits (one load when none does). The abort
    /// took the waker registered for it: the next pending future registers
    /// again.
    fn take_abort(&mut self) -> bool {
        let taken = self.shared.mailbox.take_abort();
        if taken {
            self.watching = false;
        }
        taken
    }

    /// For a future in the slot that is pending: makes sure an abort wakes
    /// the task, registering its waker with the mailbox unless it already
    /// is (so a handler that is pending costs the lock once per task, not
    /// per poll), then returns whether an abort waits (raised before the
    /// registration, it found no waker: the caller takes it at once).
    fn watch_abort(&mut self, cx: &TaskContext<'_>) -> bool {
        if !self.watching {
            self.shared.mailbox.watch_abort(cx.waker());
            self.watching = true;
        }
        self.shared.mailbox.is_aborting()
    }

    /// Drops the future in the slot unfinished, for an abort. Outside
    /// `reply::in_handler`: a reply it held just closes, and its asker gets
    /// `AskError::NoReply`, as for a message dropped unhandled.
    fn abandon(&mut self) -> StopReason {
        let busy = std::mem::replace(&mut self.busy, Busy::Idle);
        // Its destructors may panic; the actor stops anyway.
        let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
        match busy {
            Busy::Handling => self.shared.cell.counters.handled(),
            Busy::ChildHook => {
                if let Some(extra) = &mut self.extra {
                    extra.child_exit = None;
                }
            }
            Busy::Starting | Busy::Idle => {}
        }
        tracing::debug!("handler in progress dropped by an abort");
        StopReason::Aborted
    }

    /// Builds the report of a panic, with the flight record. Reads `ctx`:
    /// only with the slot empty.
    fn panic_error(&self, payload: &(dyn Any + Send), message_type: Option<&'static str>) -> PanicError {
        let cell = &self.shared.cell;
        let err = PanicError::new(payload, cell.id, cell.actor_type, message_type);
        let err = match self.ctx.flight_record() {
            Some(record) => err.with_record(record),
            None => err,
        };
        self.shared.system.note_panic(cell.id, &err);
        err
    }

    /// After a handler panicked: fail its ask, ask `on_panic` what to do.
    async fn panicked(&mut self, payload: Payload, message_type: &'static str) -> Option<StopReason> {
        // Drop the poisoned future first: it borrows `ctx`, which
        // `panic_error` reads. A reply it still held is parked by its guard
        // and completed with the panic just below.
        let me = self.shared.me();
        reply::in_handler(me, || {
            let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
        });
        let err = self.panic_error(&*payload, Some(message_type));
        reply::complete_orphans(&err);
        // A panic payload's destructor may itself panic.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        match err.flight_record() {
            Some(record) => tracing::error!(error = %err, flight_record = %record, "handler panicked"),
            None => tracing::error!(error = %err, "handler panicked"),
        }
        self.ctx.take_stop_now();
        let actor = self.actor.as_mut().expect(LIVE);
        let action = AssertUnwindSafe(actor.on_panic(&mut self.ctx, &err)).catch_unwind().await;
        // An abort asked while the hook ran (its future is not in the slot,
        // so it runs to its end) takes effect now.
        if self.take_abort() {
            return Some(StopReason::Aborted);
        }
        match action {
            Ok(PanicAction::Resume) => self.ctx.take_stop_now(),
            Ok(PanicAction::Stop) | Err(_) => Some(StopReason::Panicked(err)),
        }
    }

    /// Handles system signals, earlier deferred ones first. Stops at a
    /// child exit: its hook is put in the slot and the rest wait for it.
    fn on_signals(&mut self) -> Option<StopReason> {
        let mut signals = match &mut self.extra {
            Some(extra) if !extra.pending.is_empty() => std::mem::take(&mut extra.pending),
            _ => self.shared.mailbox.take_signals(),
        };
        while let Some(signal) = signals.pop_front() {
            match signal {
                Signal::Kill => return Some(StopReason::Killed),
                Signal::Abort => {
                    if self.take_abort() {
                        return Some(StopReason::Aborted);
                    }
                }
                Signal::Shutdown => return Some(StopReason::Normal),
                Signal::Restart => {
                    if self.extra.as_ref().is_some_and(|e| e.factory.is_some()) {
                        return Some(StopReason::Restart);
                    }
                }
                Signal::LinkExit(id, reason) => {
                    if let Some(trap) = self.ctx.exit_trap() {
                        trap(&self.shared, id, reason);
                    } else if reason.is_abnormal() {
                        return Some(StopReason::Linked(Box::new(LinkedExit { id, reason })));
                    }
                }
                Signal::ChildExit(exit) => {
                    if !exit.awaiting_restart {
                        self.ctx.remove_child(exit.id);
                    }
                    self.start_child_hook(exit, signals);
                    return None;
                }
            }
        }
        None
    }

    /// Puts `on_child_exit` in the slot, like `on_start`; the signals after
    /// the exit wait for it in `Extra::pending`.
    fn start_child_hook(&mut self, exit: ChildExit, rest: VecDeque<Signal>) {
        let extra = self
            .extra
            .get_or_insert_with(|| Box::new(Extra { factory: None, pending: VecDeque::new(), child_exit: None }));
        // Queued before the hook borrows `child_exit`: `Extra` is not touched
        // again until the slot is empty.
        extra.pending.extend(rest);
        let exit: &ChildExit = extra.child_exit.insert(exit);
        let Running { slot, ctx, actor, .. } = self;
        let put = catch_unwind(AssertUnwindSafe(|| {
            let fut = actor.as_mut().expect(LIVE).on_child_exit(ctx, exit);
            // SAFETY: as for `on_start` in `begin`; `exit` lives in the boxed
            // `Extra`, which is neither touched nor dropped before the slot
            // is empty (`Drop` clears the slot before `drop_state`).
            unsafe { slot.put(fut) }
        }));
        if put.is_ok() {
            self.busy = Busy::ChildHook;
        } else if let Some(extra) = &mut self.extra {
            extra.child_exit = None;
        }
    }

    /// The last step: drops the actor's state, then tells the system, the
    /// parent and everyone waiting (in that order, so that a waiter may
    /// count on what the actor held being released).
    fn finish(&mut self, mut reason: StopReason) {
        debug_assert!(self.slot.is_empty());
        if let Err(payload) = self.drop_state() {
            let err = self.panic_error(&*payload, None);
            tracing::error!(error = %err, "dropping the actor's state panicked");
            if reason.is_normal() {
                reason = StopReason::Panicked(err);
            }
        }
        terminated(&self.shared, reason);
    }

    /// Drops the actor's state and what else this incarnation's owner
    /// held (the factory, the context's extras), catching a panic.
    fn drop_state(&mut self) -> std::thread::Result<()> {
        let actor = self.actor.take();
        let extra = self.extra.take();
        catch_unwind(AssertUnwindSafe(|| {
            drop(actor);
            drop(extra);
            self.ctx.release();
        }))
    }

    /// Closes the mailbox and reports what is still queued as dead letters.
    fn refuse_queued(&mut self) {
        let shared = &*self.shared;
        // After the close no message can be added, so this drain is complete.
        shared.mailbox.close();
        let left = self.inbox.drain(&shared.mailbox);
        // Usually nothing: the empty deque is not even iterated.
        if !left.is_empty() {
            report_dropped(shared, left.into_iter());
        }
    }

    /// Ends the current incarnation: its tasks, its children (first), then
    /// `on_stop`.
    ///
    /// Written so that little is held across its awaits: it runs inline in
    /// every actor's task, whose size is that of its largest await (see the
    /// `size_budget` test).
    async fn end_incarnation(&mut self, reason: &StopReason) {
        self.ctx.abort_tasks();
        let children = self.ctx.take_children();
        if !children.is_empty() {
            // Boxed, with the children moved in: most actors have none.
            Box::pin(stop_children(children)).await;
        }

        self.put_on_stop(reason.clone());
        poll_fn(|cx| self.poll_on_stop(cx)).await;
        // Tasks started by `on_stop` itself die with this incarnation too.
        self.ctx.abort_tasks();
    }

    /// Puts `on_stop` in the slot. The hook's future owns the reason it
    /// borrows (a clone: an `Arc` at most), so that nothing it points to
    /// lives outside `Running`, even if the task is dropped mid-hook.
    fn put_on_stop(&mut self, reason: StopReason) {
        let Running { slot, ctx, actor, .. } = self;
        let actor = actor.as_mut().expect(LIVE);
        let fut = async move { actor.on_stop(ctx, &reason).await };
        // SAFETY: as for `on_start` in `begin`.
        unsafe { slot.put(fut) }
    }

    /// Drives `on_stop` to its end, catching (and logging) a panic, also
    /// one in the hook's synchronous part, which runs at the first poll.
    /// An abort asked while it runs (not the one that stopped the actor,
    /// which was taken already) drops it unfinished.
    fn poll_on_stop(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        loop {
            if self.take_abort() {
                let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
                tracing::warn!("on_stop dropped unfinished by an abort");
                return Poll::Ready(());
            }
            match catch_unwind(AssertUnwindSafe(|| self.slot.poll(cx))) {
                Ok(Poll::Pending) => {
                    if self.watch_abort(cx) {
                        continue;
                    }
                    return Poll::Pending;
                }
                polled => return self.on_stop_polled(polled),
            }
        }
    }

    /// What `poll_on_stop` does once the hook is done or has panicked.
    fn on_stop_polled(&mut self, polled: std::thread::Result<Poll<()>>) -> Poll<()> {
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(()),
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(|| self.slot.clear()));
                tracing::error!(error = %self.panic_error(&*payload, None), "on_stop panicked");
                Poll::Ready(())
            }
        }
    }
}

/// Reports messages that will never be handled as dead letters, then drops
/// them (a payload's destructor may panic).
fn report_dropped<A: Actor>(shared: &Shared<A>, envs: impl Iterator<Item = Envelope<A>>) {
    for env in envs {
        shared.dead_letter(env.message_type(), DeadLetterReason::DroppedOnStop);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(env)));
    }
}

/// Tells every child to stop and waits for them all.
async fn stop_children(children: Vec<Child>) {
    for child in &children {
        child.lane.signal(Signal::Shutdown);
    }
    futures::future::join_all(children.iter().map(stop_child)).await;
}

/// Waits for a child that was told to stop, aborting its task past its
/// shutdown timeout.
async fn stop_child(child: &Child) {
    let cell = child.lane.cell();
    if let Some(limit) = child.shutdown_timeout {
        if tokio::time::timeout(limit, cell.wait_terminated()).await.is_ok() {
            return;
        }
        tracing::warn!(child = %cell.id, ?limit, "child did not stop in time; aborting it");
        child.task.abort();
    }
    cell.wait_terminated().await;
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
    shared.forget_names();
    shared.system.forget(cell);
    if let Some(parent) = cell.parent() {
        parent.signal(Signal::ChildExit(ChildExit::new(cell.id, reason.clone(), false)));
    }
    cell.terminate(reason);
}

/// Puts a lifecycle hook's future in the slot, where handlers run: no
/// allocation, and no room for the hook's state in every actor's task (a
/// task is as large as its largest await). Its output lands in `out`, which
/// must therefore outlive the slot's occupant like everything `fut` borrows.
///
/// # Safety
///
/// As [`Slot::put`], for everything `fut` borrows and for `out`.
unsafe fn put_hook<T: Send>(slot: &mut Slot, out: &mut Option<T>, fut: impl Future<Output = T> + Send) {
    // SAFETY: passed on from our caller.
    unsafe { slot.put(async move { *out = Some(fut.await) }) }
}

#[cfg(test)]
mod size_budget {
    use super::*;
    use crate::cell::Cell;
    use crate::mailbox::queue::Queue;
    use crate::system::ActorSystem;

    /// A small actor, like the counters of the idle-memory benchmark.
    struct Small {
        _state: u64,
    }
    impl Actor for Small {
        type Error = std::convert::Infallible;
    }

    /// An idle actor is three allocations: its task, the boxed `Running`
    /// and its shared block. Tokio rounds a task up to 128 bytes and adds
    /// 96 of its own and a tag word: a run-loop future of at most 24 bytes
    /// (the box, the step and the await in progress) keeps the task at 128,
    /// the smallest. `Running` of a small actor is 264 bytes and the shared
    /// block at most 256; see ARCHITECTURE.md ("Memory per actor"). Growing
    /// any of them shows up in `idle_memory`.
    #[test]
    fn an_idle_actor_stays_within_its_memory_budget() {
        assert!(std::mem::size_of::<Shared<Small>>() <= 256, "shared block: {}", std::mem::size_of::<Shared<Small>>());
        assert!(std::mem::size_of::<Running<Small>>() <= 264, "running: {}", std::mem::size_of::<Running<Small>>());
        // The mailbox's layout keeps its flags a cache line past what a send
        // writes only at this size (see `Queue`).
        assert_eq!(std::mem::size_of::<Queue<Envelope<Small>>>(), 128, "mailbox");
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            // The shared block as `spawn` builds it, without starting a task.
            let cell = Cell::new("Small", None, None);
            let shared = Arc::new(Shared::new(cell, ActorSystem::new(), Queue::new(1)));
            let fut = run(Small { _state: 0 }, None, Context::new(shared, None));
            assert!(std::mem::size_of_val(&fut) <= 24, "run loop future: {}", std::mem::size_of_val(&fut));
        });
    }
}
