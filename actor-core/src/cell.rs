//! What every reference to one actor shares: its identity and termination
//! (`Cell`, whatever the actor's type) and its mailbox (`Shared<A>`), in one
//! allocation.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use crate::actor::{Actor, StopReason};
use crate::id::ActorId;
use crate::mailbox::queue::Queue;
use crate::stats::{ActorState, ActorStats, Counters};
use crate::supervision::ChildExit;
use crate::system::{ActorSystem, DeadLetter, DeadLetterReason};

/// A message on the system lane.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Stop after the message in hand; queued messages become dead letters.
    Kill,
    /// Like `Kill`, but the stop counts as normal (system shutdown).
    Shutdown,
    /// A child of this actor has exited: terminated, or (a supervised
    /// child) failed and waiting for its supervisor's decision.
    ChildExit(ChildExit),
    /// A linked actor has terminated.
    LinkExit(ActorId, StopReason),
    /// Stop the current incarnation and start a fresh one from the factory
    /// (supervised actors only), keeping the mailbox.
    Restart,
}

/// An actor as seen by code that does not know its type: the system's table
/// of root actors, a parent's children, a child's parent.
pub(crate) trait Lane: Send + Sync {
    fn cell(&self) -> &Cell;
    /// A snapshot of the actor for `ActorSystem::stats`.
    fn stats(&self) -> ActorStats;
    /// Queues a signal; ignored once the actor has terminated.
    fn signal(&self, signal: Signal);
}

/// One actor's shared state: the only allocation per actor besides its task.
pub(crate) struct Shared<A: Actor> {
    pub(crate) cell: Cell,
    pub(crate) mailbox: Queue<A>,
    /// Strong references (`ActorRef`s and `Recipient`s): the last one to go
    /// stops the actor. Counted here rather than with a separate `Arc`, so
    /// that an actor is one allocation plus its task.
    refs: AtomicUsize,
}

impl<A: Actor> Lane for Shared<A> {
    fn cell(&self) -> &Cell {
        &self.cell
    }

    fn stats(&self) -> ActorStats {
        let cell = &self.cell;
        ActorStats {
            id: cell.id,
            name: cell.name.clone(),
            actor_type: cell.actor_type,
            parent: cell.parent.as_ref().map(|p| p.cell().id),
            mailbox_len: self.mailbox.len(),
            processed: cell.counters.processed(),
            restarts: cell.counters.restarts(),
            state: if self.is_accepting() { ActorState::Running } else { ActorState::Stopping },
            // Kept by the system's table of observed actors; see `ActorSystem::stats`.
            last_panic: None,
            recent_restarts: Vec::new(),
        }
    }

    fn signal(&self, signal: Signal) {
        if !self.cell.is_terminated() {
            self.mailbox.signal(signal);
        }
    }
}

impl<A: Actor> Shared<A> {
    /// Shared state for a new actor, counting one strong reference.
    pub(crate) fn new(cell: Cell, mailbox: Queue<A>) -> Self {
        Shared { cell, mailbox, refs: AtomicUsize::new(1) }
    }

    /// Counts one more strong reference.
    pub(crate) fn retain(&self) {
        self.refs.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one more strong reference if any is left (upgrading a weak one).
    pub(crate) fn try_retain(&self) -> bool {
        self.refs.fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| (n > 0).then_some(n + 1)).is_ok()
    }

    /// Drops one strong reference; the last one asks the actor to stop.
    pub(crate) fn release(&self) {
        if self.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.stop();
        }
    }

    /// A graceful stop: refuse new messages, handle those queued, then stop
    /// normally. Closing the mailbox is the whole request.
    pub(crate) fn stop(&self) {
        self.mailbox.close();
    }

    /// Whether the actor still accepts messages.
    pub(crate) fn is_accepting(&self) -> bool {
        !self.mailbox.is_closed() && !self.cell.is_terminated()
    }
}

/// The type-erased part of an actor: identity, family, termination.
pub(crate) struct Cell {
    pub(crate) id: ActorId,
    pub(crate) actor_type: &'static str,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) system: ActorSystem,
    pub(crate) parent: Option<Arc<dyn Lane>>,
    pub(crate) counters: Counters,
    /// Who waits for the end: tasks, and notices (monitors, links); then,
    /// once the actor has ended, why. A plain list: termination happens
    /// once, and a stale waker left by a dropped waiter only costs a
    /// spurious wake. Whether it has ended is also in `counters` (one load,
    /// and for the common reasons, the reason itself without the lock).
    waiters: Mutex<Waiters>,
}

/// The waiters of one actor. Most actors have none, or one task awaiting
/// the stop, which is kept without allocating (and, fitting in the `Vec`'s
/// spare values, without growing the actor).
#[derive(Default)]
enum Waiters {
    #[default]
    None,
    Task(Waker),
    Many(Vec<Waiter>),
    /// The actor has ended, for this reason: nobody waits any more.
    Ended(StopReason),
}

/// `Counters::ended` values: the actor runs, or has ended for a reason
/// kept in `Waiters::Ended`, or for one of the reasons that carry nothing
/// (which a waiter reads without taking the lock).
mod ended {
    pub(super) const NOT_YET: u8 = 0;
    pub(super) const SEE_WAITERS: u8 = 1;
    pub(super) const NORMAL: u8 = 2;
    pub(super) const KILLED: u8 = 3;
}

impl Waiters {
    fn push(&mut self, waiter: Waiter) {
        match (self, waiter) {
            // The usual case, in place: one task waiting for the stop.
            (this @ Waiters::None, Waiter::Task(waker)) => *this = Waiters::Task(waker),
            (Waiters::Many(all), waiter) => all.push(waiter),
            (this, waiter) => {
                *this = match std::mem::take(this) {
                    Waiters::None => Waiters::Many(vec![waiter]),
                    Waiters::Task(first) => Waiters::Many(vec![Waiter::Task(first), waiter]),
                    Waiters::Many(_) | Waiters::Ended(_) => unreachable!("nobody waits for an actor that has ended"),
                }
            }
        }
    }

    fn has_task(&self, waker: &Waker) -> bool {
        match self {
            Waiters::None => false,
            Waiters::Task(task) => task.will_wake(waker),
            Waiters::Many(all) => all.iter().any(|w| matches!(w, Waiter::Task(t) if t.will_wake(waker))),
            Waiters::Ended(_) => false,
        }
    }
}

/// A notice run when an actor terminates, with its id and reason.
pub(crate) type Notice = Box<dyn FnOnce(ActorId, &StopReason) + Send>;

enum Waiter {
    Task(Waker),
    Notice(Notice),
}

impl Cell {
    /// This actor as the run loop marks it while a handler runs.
    pub(crate) fn me(&self) -> crate::reply::Me {
        crate::reply::Me { id: self.id, scope: self.system.id() }
    }

    pub(crate) fn new(
        actor_type: &'static str,
        name: Option<Arc<str>>,
        system: ActorSystem,
        parent: Option<Arc<dyn Lane>>,
    ) -> Self {
        Cell {
            id: ActorId::next(),
            actor_type,
            name,
            system,
            parent,
            counters: Counters::default(),
            waiters: Mutex::new(Waiters::None),
        }
    }

    /// Called by the registry before it adds a name for this actor.
    pub(crate) fn mark_named(&self) {
        self.counters.mark_named();
    }

    /// Frees the actor's names, if it ever had one: the end of an actor that
    /// never had a name skips the registry. Called once the mailbox is
    /// closed: a `register` either sees the actor closed and takes its name
    /// back, or marked it before the fence here, so this sees the mark.
    pub(crate) fn forget_names(&self) {
        crate::sync::fence(crate::sync::Ordering::SeqCst);
        if self.counters.is_named() {
            self.system.registry().forget(self.id);
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.counters.ended() != ended::NOT_YET
    }

    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        // Nothing panics while the lock is held; recover rather than cascade.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the actor ended, if it has, read without the lock for the
    /// common reasons.
    fn ended(&self) -> Option<StopReason> {
        match self.counters.ended() {
            ended::NOT_YET => None,
            ended::NORMAL => Some(StopReason::Normal),
            ended::KILLED => Some(StopReason::Killed),
            _ => match &*self.lock_waiters() {
                Waiters::Ended(reason) => Some(reason.clone()),
                _ => unreachable!("the reason is kept before the flag is set"),
            },
        }
    }

    /// Records the actor's end and wakes everyone waiting for it. The first
    /// reason recorded stays.
    pub(crate) fn terminate(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Normal => ended::NORMAL,
            StopReason::Killed => ended::KILLED,
            _ => ended::SEE_WAITERS,
        };
        let mut guard = self.lock_waiters();
        if let Waiters::Ended(_) = *guard {
            return;
        }
        // Only notices need the reason once the lock is let go; a task
        // reads it again when it wakes.
        let for_notices = match &*guard {
            Waiters::Many(all) if all.iter().any(|w| matches!(w, Waiter::Notice(_))) => Some(reason.clone()),
            _ => None,
        };
        let waiters = std::mem::replace(&mut *guard, Waiters::Ended(reason));
        // Set under the lock: a waiter either registered before this (and
        // is in `waiters`) or finds the flag set.
        self.counters.set_ended(code);
        drop(guard);
        match waiters {
            Waiters::None | Waiters::Ended(_) => {}
            Waiters::Task(waker) => waker.wake(),
            Waiters::Many(all) => {
                for waiter in all {
                    match waiter {
                        Waiter::Task(waker) => waker.wake(),
                        Waiter::Notice(notice) => notice(self.id, for_notices.as_ref().expect("taken for notices")),
                    }
                }
            }
        }
    }

    /// Runs `notice` when the actor terminates, or now if it already has.
    pub(crate) fn on_terminated(&self, notice: Notice) {
        let mut waiters = self.lock_waiters();
        match &*waiters {
            Waiters::Ended(reason) => {
                let reason = reason.clone();
                drop(waiters);
                notice(self.id, &reason);
            }
            _ => waiters.push(Waiter::Notice(notice)),
        }
    }

    /// Waits until the actor has terminated and returns why.
    pub(crate) async fn wait_terminated(&self) -> StopReason {
        poll_fn(|cx| {
            if let Some(reason) = self.ended() {
                return Poll::Ready(reason);
            }
            let mut waiters = self.lock_waiters();
            match &*waiters {
                // Ended between the check above and the lock.
                Waiters::Ended(reason) => Poll::Ready(reason.clone()),
                _ => {
                    if !waiters.has_task(cx.waker()) {
                        waiters.push(Waiter::Task(cx.waker().clone()));
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Reports a message that could not be delivered to this actor.
    pub(crate) fn dead_letter(&self, message_type: &'static str, reason: DeadLetterReason) {
        self.system.publish_dead_letter(DeadLetter {
            recipient: Some(self.id),
            name: None,
            actor_type: self.actor_type,
            message_type,
            reason,
            detail: None,
        });
    }
}
