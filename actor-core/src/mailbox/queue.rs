//! The mailbox itself: one mutex-guarded queue per actor, drained in batches.
//!
//! The queue holds values of any type: an actor's mailbox holds its envelopes
//! (`Queue<Envelope<A>>`, in `actor/shared.rs`), which it never opens.
//!
//! Why not tokio's `mpsc`: it allocates a 32-slot block for every channel up
//! front (1 KB with our 32-byte envelopes) and keeps cache-padded shared
//! state: an idle actor built on it measured about 3 KB (2026-11-24). This
//! queue allocates nothing until the first message, and lives in the
//! actor's one shared allocation.
//!
//! - Senders take a place from the `Room` (the bound; an unbounded mailbox
//!   has 2^61 places), then push under the mutex. A closed queue refuses the
//!   push, so no message is ever left behind unseen.
//! - The run loop swaps the whole queue out under one lock and handles the
//!   batch without touching shared state; it gives permits back in groups,
//!   before handling the last message it took, so the bound holds exactly
//!   (`mailbox_len` counts every message not yet taken, give or take one
//!   group while a batch is in hand).
//! - The system lane (stop, kill, child notices) is a second queue under the
//!   same mutex, which needs no permit, so a full mailbox never blocks it.
//!   An atomic flag lets the run loop check it with one load per message.
//! - The run loop's waker is stored under the mutex only when it found
//!   nothing to do, and a pusher wakes it only then: no atomic per message
//!   for waking, and no lost wake-up, since the check and the park happen
//!   under the same lock as every push.
//! - An abort (`ActorRef::abort`) must reach the run loop while a handler's
//!   future is in progress, when it waits on whatever the handler awaits
//!   rather than on this queue. An atomic flag says an abort waits (one
//!   load before each poll of a handler), and a second waker slot under the
//!   mutex holds the run loop's waker for it, kept until an abort takes it.
//!   The run loop registers it when a handler first returns `Pending`, and
//!   again only after an abort took it (a tokio task's waker wakes the same
//!   task from any poll), so the lock is not taken per poll. The abort also travels as a signal, for a
//!   run loop between messages. Raising the flag and taking the waker happen
//!   under the lock, and the run loop registers under the lock and then
//!   looks at the flag: no lost wake-up.

use std::collections::VecDeque;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::base::sync::{AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::mailbox::room::{NoRoom, Room};
use crate::mailbox::signal::Signal;

/// Permits given back to senders at once, at most, while a batch is in hand.
const RELEASE_EVERY: usize = 32;

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    room: Room,
    capacity: usize,
    signalled: AtomicBool,
    /// Set when the queue was closed while empty: nothing can ever be
    /// taken from it again, and the run loop learns so without the lock.
    sealed: AtomicBool,
    /// An abort was asked and the run loop has not acted on it yet.
    aborting: AtomicBool,
    /// Permits borrowed by notices pushed past the bound (`push_notice`),
    /// repaid before any permit goes back to senders.
    borrowed: AtomicUsize,
}

struct State<T> {
    /// The oldest message, kept out of `items` so that an actor sent one
    /// message at a time (request/reply) never allocates a buffer.
    head: Option<T>,
    /// The messages after `head`, in order; empty whenever `head` is.
    items: VecDeque<T>,
    /// Taken whole by the run loop, so a `Vec` (8 bytes smaller) will do.
    signals: Vec<Signal>,
    closed: bool,
    /// The run loop's waker, present only while it is parked.
    parked: Option<Waker>,
    /// The run loop's waker for an abort, once a handler has been pending;
    /// taken only by an abort.
    abort_waker: Option<Waker>,
}

/// Why a message was not queued; the envelope is handed back.
pub(crate) enum Refused<T> {
    Full(T),
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                head: None,
                items: VecDeque::new(),
                signals: Vec::new(),
                closed: false,
                parked: None,
                abort_waker: None,
            }),
            room: Room::new(capacity),
            capacity,
            signalled: AtomicBool::new(false),
            sealed: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
            borrowed: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        crate::base::sync::lock(&self.state)
    }

    /// Queues `item` if there is room now.
    pub(crate) fn try_send(&self, item: T) -> Result<(), Refused<T>> {
        match self.room.try_take() {
            Ok(()) => {}
            Err(NoRoom::Full) => return Err(Refused::Full(item)),
            Err(NoRoom::Closed) => return Err(Refused::Closed(item)),
        }
        self.push(item).map_err(Refused::Closed)
    }

    /// Queues `item`, waiting for room. Hands it back if the queue is closed.
    pub(crate) async fn send(&self, item: T) -> Result<(), T> {
        match self.room.try_take() {
            Ok(()) => {}
            Err(NoRoom::Closed) => return Err(item),
            Err(NoRoom::Full) => {
                if self.room.take().await.is_err() {
                    return Err(item);
                }
            }
        }
        self.push(item)
    }

    /// Queues a notice from the runtime itself (a `Terminated` message):
    /// after what is already queued, like any message, but never waiting and
    /// never refused for a full mailbox. Without a free permit it borrows
    /// one, repaid when a message is taken, so the bound stays exact.
    pub(crate) fn push_notice(&self, item: T) -> Result<(), T> {
        match self.room.try_take() {
            Ok(()) => {}
            Err(NoRoom::Closed) => return Err(item),
            Err(NoRoom::Full) => {
                self.borrowed.fetch_add(1, Ordering::AcqRel);
            }
        }
        self.push(item)
    }

    /// Pushes under the lock, holding a permit that was already taken.
    fn push(&self, item: T) -> Result<(), T> {
        let mut state = self.lock();
        if state.closed {
            return Err(item);
        }
        if state.head.is_none() {
            state.head = Some(item);
        } else {
            state.items.push_back(item);
        }
        let parked = state.parked.take();
        drop(state);
        if let Some(waker) = parked {
            waker.wake();
        }
        Ok(())
    }

    /// Queues a system signal; never waits, never refused.
    pub(crate) fn signal(&self, signal: Signal) {
        let mut state = self.lock();
        state.signals.push(signal);
        self.signalled.store(true, Ordering::Release);
        let parked = state.parked.take();
        drop(state);
        if let Some(waker) = parked {
            waker.wake();
        }
    }

    /// Asks the run loop to abort: raises the flag, wakes the run loop if a
    /// handler's future is pending, and queues `abort` as a signal for a run
    /// loop that is between messages or parked on this queue.
    pub(crate) fn abort(&self, abort: Signal) {
        let mut state = self.lock();
        state.signals.push(abort);
        // The flag first: a run loop that sees the signal sees the flag.
        self.aborting.store(true, Ordering::Release);
        self.signalled.store(true, Ordering::Release);
        let parked = state.parked.take();
        let watching = state.abort_waker.take();
        drop(state);
        for waker in [parked, watching].into_iter().flatten() {
            waker.wake();
        }
    }

    /// Whether an abort waits: one atomic load, checked before every poll
    /// of a handler's future.
    #[inline]
    pub(crate) fn is_aborting(&self) -> bool {
        self.aborting.load(Ordering::Acquire)
    }

    /// Takes the abort, if one waits: whoever acts on it first clears it, so
    /// that its signal, seen later, finds nothing to do.
    pub(crate) fn take_abort(&self) -> bool {
        self.is_aborting() && self.aborting.swap(false, Ordering::AcqRel)
    }

    /// Registers the run loop's waker for an abort (see the module docs),
    /// for a handler's future that is pending. The caller looks at the flag
    /// after this: an abort raised before it is seen then, one raised after
    /// it finds the waker.
    pub(crate) fn watch_abort(&self, waker: &Waker) {
        let mut state = self.lock();
        match &mut state.abort_waker {
            Some(old) => old.clone_from(waker),
            slot @ None => *slot = Some(waker.clone()),
        }
    }

    /// Whether signals wait: one atomic load, checked before every message.
    #[inline]
    pub(crate) fn has_signals(&self) -> bool {
        self.signalled.load(Ordering::Acquire)
    }

    pub(crate) fn take_signals(&self) -> VecDeque<Signal> {
        let mut state = self.lock();
        self.signalled.store(false, Ordering::Release);
        VecDeque::from(std::mem::take(&mut state.signals))
    }

    /// Refuses every message from now on and wakes senders waiting for room
    /// (they get their message back). Messages already queued stay queued;
    /// the run loop, woken if it was parked, handles them and then sees the
    /// queue closed. This is how a graceful stop travels: no signal, so no
    /// allocation and nothing for the run loop to decode.
    pub(crate) fn close(&self) {
        // A stop closes once when asked and again when it finishes: the
        // second is free. (The flag is set before the room closes.)
        if self.room.is_closed() {
            return;
        }
        let mut state = self.lock();
        state.closed = true;
        if state.head.is_none() {
            // `items` is empty whenever `head` is, and nothing is pushed
            // once `closed` is set.
            self.sealed.store(true, Ordering::Release);
        }
        let parked = state.parked.take();
        drop(state);
        self.room.close();
        if let Some(waker) = parked {
            waker.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.room.is_closed()
    }

    /// Takes what is queued once the queue is closed (for a task torn down
    /// before its run loop could drain it).
    pub(crate) fn drain_closed(&self) -> impl Iterator<Item = T> + use<T> {
        let mut state = self.lock();
        debug_assert!(state.closed);
        let mut rest: VecDeque<T> = state.head.take().into_iter().collect();
        rest.append(&mut state.items);
        rest.into_iter()
    }

    /// Messages queued and not yet taken by the run loop.
    pub(crate) fn len(&self) -> usize {
        self.capacity.saturating_sub(self.room.free()) + self.borrowed.load(Ordering::Relaxed)
    }

    /// Waits for a signal without taking messages: how a failed supervised
    /// actor waits for its supervisor's decision while its mailbox fills.
    /// With `or_close`, also ready once the queue is closed (a graceful stop
    /// was asked).
    pub(crate) fn poll_signal(&self, cx: &mut TaskContext<'_>, or_close: bool) -> Poll<()> {
        let mut state = self.lock();
        if !state.signals.is_empty() || (or_close && state.closed) {
            return Poll::Ready(());
        }
        // A push may take this waker and wake us for a message; we then
        // come back here and register again.
        match &mut state.parked {
            Some(waker) => waker.clone_from(cx.waker()),
            parked @ None => *parked = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Gives `n` permits back to senders, after repaying borrowed ones.
    pub(crate) fn release(&self, mut n: usize) {
        if self.borrowed.load(Ordering::Relaxed) > 0 {
            let repaid = self
                .borrowed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| Some(b - b.min(n)))
                .map_or(0, |before| before.min(n));
            n -= repaid;
        }
        if n > 0 {
            self.room.give(n);
        }
    }

    /// Takes every queued message: the oldest is returned, the rest are
    /// swapped into `batch` (which must be empty). Parks the run loop if
    /// there is nothing to do.
    fn poll_refill(&self, batch: &mut VecDeque<T>, cx: &mut TaskContext<'_>) -> Poll<Refill<T>> {
        debug_assert!(batch.is_empty());
        if self.sealed.load(Ordering::Acquire) {
            // The usual end of a graceful stop: closed with nothing queued.
            return Poll::Ready(Refill::Closed);
        }
        let mut state = self.lock();
        if let Some(oldest) = state.head.take() {
            std::mem::swap(&mut state.items, batch);
            return Poll::Ready(Refill::Message(oldest));
        }
        if state.closed {
            return Poll::Ready(Refill::Closed);
        }
        if !state.signals.is_empty() {
            // Raced with a signal: let the caller see the flag.
            return Poll::Ready(Refill::Again);
        }
        match &mut state.parked {
            Some(waker) => waker.clone_from(cx.waker()),
            parked @ None => *parked = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

enum Refill<T> {
    Message(T),
    Again,
    Closed,
}

/// The run loop's end of the mailbox: the batch in hand and the permits it
/// owes back.
pub(crate) struct Inbox<T> {
    batch: VecDeque<T>,
    /// Never more than `RELEASE_EVERY`: a `u32`, which packs with `emptied`
    /// (the inbox sits in every actor's task).
    unreleased: u32,
    /// The queue was seen closed and empty: nothing can be left in it.
    emptied: bool,
}

/// What the run loop does next.
pub(crate) enum Next<T> {
    Message(T),
    Signals,
    Closed,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox { batch: VecDeque::new(), unreleased: 0, emptied: false }
    }

    /// The next message, signals first.
    pub(crate) fn poll_next(&mut self, queue: &Queue<T>, cx: &mut TaskContext<'_>) -> Poll<Next<T>> {
        loop {
            if queue.has_signals() {
                return Poll::Ready(Next::Signals);
            }
            let item = match self.batch.pop_front() {
                Some(item) => item,
                None => match queue.poll_refill(&mut self.batch, cx) {
                    Poll::Ready(Refill::Message(item)) => item,
                    Poll::Ready(Refill::Again) => continue,
                    Poll::Ready(Refill::Closed) => {
                        self.emptied = true;
                        return Poll::Ready(Next::Closed);
                    }
                    Poll::Pending => return Poll::Pending,
                },
            };
            // Taken: its permit goes back to senders, in groups.
            self.unreleased += 1;
            if self.batch.is_empty() || self.unreleased as usize >= RELEASE_EVERY {
                queue.release(std::mem::take(&mut self.unreleased) as usize);
            }
            return Poll::Ready(Next::Message(item));
        }
    }

    /// The batch in hand, taken whole.
    pub(crate) fn take_batch(&mut self) -> VecDeque<T> {
        std::mem::take(&mut self.batch)
    }

    /// Takes every message left, in the batch and in the queue, once the
    /// queue is closed (nothing can be added after).
    pub(crate) fn drain(&mut self, queue: &Queue<T>) -> impl Iterator<Item = T> + use<T> {
        debug_assert!(queue.is_closed());
        let mut rest = std::mem::take(&mut self.batch);
        if self.emptied {
            // The usual end (a graceful stop): the queue was found closed
            // and empty, so there is nothing to take and no lock to take.
            return rest.into_iter();
        }
        let mut state = queue.lock();
        // `items` is empty whenever `head` is: usually there is nothing left.
        if let Some(head) = state.head.take() {
            rest.push_back(head);
            rest.append(&mut state.items);
        }
        rest.into_iter()
    }
}
