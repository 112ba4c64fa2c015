//! The part of an actor that every reference shares, whatever the actor's
//! type: its identity, the system-message lane, and its termination.
//!
//! The system lane is a short mutex-guarded queue plus an atomic flag. The
//! run loop reads the flag (one atomic load) before each message; a signal
//! never waits for room, so a full user mailbox cannot block a stop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

use crate::actor::StopReason;
use crate::id::ActorId;
use crate::system::{ActorSystem, DeadLetter, DeadLetterReason};

/// A message on the system lane.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Stop accepting messages, handle those queued, then stop normally.
    Stop,
    /// Stop after the message in hand; queued messages become dead letters.
    Kill,
    /// Like `Kill`, but the stop counts as normal (system shutdown).
    Shutdown,
    /// A child of this actor has terminated.
    ChildTerminated(ActorId),
}

pub(crate) struct Cell {
    pub(crate) id: ActorId,
    pub(crate) actor_type: &'static str,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) system: ActorSystem,
    pub(crate) parent: Option<Arc<Cell>>,
    signals: Mutex<VecDeque<Signal>>,
    pending: AtomicBool,
    waker: AtomicWaker,
    terminated: OnceLock<StopReason>,
    on_terminated: Notify,
}

impl Cell {
    pub(crate) fn new(
        actor_type: &'static str,
        name: Option<Arc<str>>,
        system: ActorSystem,
        parent: Option<Arc<Cell>>,
    ) -> Self {
        Cell {
            id: ActorId::next(),
            actor_type,
            name,
            system,
            parent,
            signals: Mutex::new(VecDeque::new()),
            pending: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            terminated: OnceLock::new(),
            on_terminated: Notify::new(),
        }
    }

    /// Queues a signal and wakes the actor. Signals to a terminated actor
    /// are ignored: there is nothing left to stop.
    pub(crate) fn signal(&self, signal: Signal) {
        if self.is_terminated() {
            return;
        }
        self.signals.lock().unwrap_or_else(|e| e.into_inner()).push_back(signal);
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether signals are waiting; one atomic load, on every message.
    #[inline]
    pub(crate) fn has_signals(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Registers the run loop's waker for signals.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// Takes all queued signals.
    pub(crate) fn take_signals(&self) -> VecDeque<Signal> {
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut *self.signals.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.get().is_some()
    }

    /// Records the actor's end and wakes everyone waiting for it.
    pub(crate) fn terminate(&self, reason: StopReason) {
        let _ = self.terminated.set(reason);
        self.on_terminated.notify_waiters();
    }

    /// Waits until the actor has terminated and returns why.
    pub(crate) async fn wait_terminated(&self) -> StopReason {
        loop {
            let notified = self.on_terminated.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.terminated.get() {
                return reason.clone();
            }
            notified.await;
        }
    }

    /// Reports a message that could not be delivered to this actor.
    pub(crate) fn dead_letter(&self, message_type: &'static str, reason: DeadLetterReason) {
        self.system.publish_dead_letter(DeadLetter {
            recipient: self.id,
            actor_type: self.actor_type,
            message_type,
            reason,
        });
    }
}
