//! One actor's shared block: what every reference to it holds, in one
//! allocation besides its task. The type-erased cell (identity,
//! termination), the system it belongs to, the mailbox of its envelopes,
//! and the count of strong references; and how every kind of reference
//! queues a message there.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::base::dead_letter::{DeadLetter, DeadLetterReason};
use crate::base::deadlock;
use crate::base::error::SendError;
use crate::base::reply::{self, Me};
use crate::base::stats::{ActorState, ActorStats};
use crate::base::sync::{Ordering as SyncOrdering, fence};
use crate::cell::{Cell, Lane};
use crate::envelope::{Addressee, Envelope, Payload};
use crate::mailbox::queue::{Queue, Refused};
use crate::mailbox::signal::Signal;
use crate::system::ActorSystem;

/// One actor's shared state: the only allocation per actor besides its task.
pub(crate) struct Shared<A: Addressee> {
    pub(crate) cell: Cell,
    /// The system the actor belongs to: where its dead letters go, and the
    /// runtime its timers and blocking calls use.
    pub(crate) system: ActorSystem,
    pub(crate) mailbox: Queue<Envelope<A>>,
    /// Strong references (`ActorRef`s and `Recipient`s): the last one to go
    /// stops the actor. Counted here rather than with a separate `Arc`, so
    /// that an actor is one allocation plus its task.
    refs: AtomicUsize,
}

impl<A: Addressee> Lane for Shared<A> {
    fn cell(&self) -> &Cell {
        &self.cell
    }

    fn stats(&self) -> ActorStats {
        let cell = &self.cell;
        ActorStats {
            id: cell.id,
            name: cell.name.clone(),
            actor_type: cell.actor_type,
            parent: cell.parent().map(|p| p.cell().id),
            mailbox_len: self.mailbox.len(),
            processed: cell.counters.processed(),
            restarts: cell.counters.restarts(),
            watchers: cell.watcher_count(),
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

impl<A: Addressee> Shared<A> {
    /// Shared state for a new actor, counting one strong reference.
    pub(crate) fn new(cell: Cell, system: ActorSystem, mailbox: Queue<Envelope<A>>) -> Self {
        Shared { cell, system, mailbox, refs: AtomicUsize::new(1) }
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

    /// Ends the actor as soon as possible: see `ActorRef::abort`. Nothing
    /// to do once it has terminated.
    pub(crate) fn abort(&self) {
        if !self.cell.is_terminated() {
            self.mailbox.abort(Signal::Abort);
        }
    }

    /// Whether the actor still accepts messages.
    pub(crate) fn is_accepting(&self) -> bool {
        !self.mailbox.is_closed() && !self.cell.is_terminated()
    }

    /// This actor as the run loop marks it while a handler runs.
    pub(crate) fn me(&self) -> Me {
        Me { id: self.cell.id, scope: self.system.id() }
    }

    /// Frees the actor's names, if it ever had one: the end of an actor that
    /// never had a name skips the registry. Called once the mailbox is
    /// closed: a `register` either sees the actor closed and takes its name
    /// back, or marked it before the fence here, so this sees the mark.
    pub(crate) fn forget_names(&self) {
        fence(SyncOrdering::SeqCst);
        if self.cell.counters.is_named() {
            self.system.registry().forget(self.cell.id);
        }
    }

    /// Reports a message that could not be delivered to this actor.
    pub(crate) fn dead_letter(&self, message_type: &'static str, reason: DeadLetterReason) {
        self.system.publish_dead_letter(DeadLetter {
            recipient: Some(self.cell.id),
            name: None,
            actor_type: self.cell.actor_type,
            message_type,
            reason,
            detail: None,
        });
    }
}

/// How messages are queued; every kind of reference goes through here.
impl<A: Addressee> Shared<A> {
    /// Hands back a payload that could not be queued because the mailbox
    /// is closed, reporting it as a dead letter.
    fn closed<P: Payload<A>>(&self, payload: P) -> P {
        self.dead_letter(P::message_type(), DeadLetterReason::Stopped);
        payload
    }

    pub(crate) fn try_send<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        self.try_queue(payload, |payload| self.closed(payload))
    }

    /// As `try_send`, but a closed mailbox is left for the caller to
    /// report: the transport, which reports an undelivered message itself
    /// (saying why, and telling the sending node), once.
    #[cfg(feature = "serde")]
    pub(crate) fn try_send_unreported<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        self.try_queue(payload, |payload| payload)
    }

    /// Queues `payload` if there is room now, or hands it back.
    ///
    /// A payload stored inline has its envelope made under the mailbox's
    /// lock, once a place is taken: nothing to undo for a refused message,
    /// and no copy of a finished envelope on its way in. A boxed payload
    /// is boxed before the lock, so that no sender waits on an allocation.
    #[inline]
    fn offer<P: Payload<A>>(&self, payload: P) -> Result<(), Refused<P>> {
        if Envelope::<A>::is_inline::<P>() {
            return self.mailbox.try_send_with(payload, Envelope::new);
        }
        self.mailbox.try_send(Envelope::new(payload)).map_err(|refused| match refused {
            Refused::Full(env) => Refused::Full(unpack(env)),
            Refused::Closed(env) => Refused::Closed(unpack(env)),
        })
    }

    /// Queues `payload` if there is room now; `closed` hands back (and may
    /// report) the payload refused by a closed mailbox.
    #[inline]
    fn try_queue<P: Payload<A>>(&self, payload: P, closed: impl FnOnce(P) -> P) -> Result<(), SendError<P>> {
        match self.offer(payload) {
            Ok(()) => Ok(()),
            Err(Refused::Full(payload)) => Err(SendError::Full(payload)),
            Err(Refused::Closed(payload)) => Err(SendError::Closed(closed(payload))),
        }
    }

    /// Queues `payload`, waiting for room. The fast path is `try_send`'s;
    /// only a full mailbox looks further: a handler (or a task it awaits)
    /// that would wait for room in its own actor's mailbox, or in that of
    /// an actor waiting on it, would wait forever (the actor makes room
    /// only between messages), so it gets `SendError::Deadlock` at once
    /// instead. Any other sender waits.
    pub(crate) async fn send<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        let payload = match self.offer(payload) {
            Ok(()) => return Ok(()),
            Err(Refused::Closed(payload)) => return Err(SendError::Closed(self.closed(payload))),
            Err(Refused::Full(payload)) => payload,
        };
        if let Some(me) = reply::current_waiter()
            && let Err(cycle) = deadlock::check(me, self.cell.id)
        {
            return Err(SendError::Deadlock(payload, cycle));
        }
        match self.mailbox.send(Envelope::new(payload)).await {
            Ok(()) => Ok(()),
            Err(env) => Err(SendError::Closed(self.closed(unpack(env)))),
        }
    }

    /// Queues an ask, waiting for room, without looking at the graph of
    /// waits: the ask is there already (it checked itself when it started),
    /// unless its handler is exempt.
    pub(crate) async fn send_ask<P: Payload<A>>(&self, payload: P) -> Result<(), SendError<P>> {
        match self.mailbox.send(Envelope::new(payload)).await {
            Ok(()) => Ok(()),
            Err(env) => Err(SendError::Closed(self.closed(unpack(env)))),
        }
    }
}

/// Takes the payload back out of an envelope built from a `P`.
fn unpack<A: Addressee, P: Payload<A>>(envelope: Envelope<A>) -> P {
    envelope.into_payload::<P>().unwrap_or_else(|| unreachable!("an envelope holds the payload it was built with"))
}
