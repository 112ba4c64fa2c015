//! The mailbox itself: one mutex-guarded queue per actor, drained in batches.
//!
//! The queue holds values of any type: an actor's mailbox holds its envelopes
//! (`Queue<Envelope<A>>`, in `actor/shared.rs`), which it never opens.
//!
//! Why not tokio's `mpsc`: it allocates a 32-slot block for every channel up
//! front (1.25 KB with our 40-byte envelopes) and keeps cache-padded shared
//! state: an idle actor built on it measured about 3 KB (2026-11-24). This
//! queue allocates nothing until the first message, and lives in the
//! actor's one shared allocation.
//!
//! - The bound is counted under the same lock as the queue: a sender takes
//!   a place and pushes in one critical section, with no atomic
//!   read-modify-write of its own (an unbounded mailbox has 2^61 places).
//!   A closed queue refuses the push, so no message is ever left behind
//!   unseen. With two workers, a separate counter (a compare-and-swap per
//!   send, on a cache line the run loop also writes) cost about a quarter
//!   of a tell's time (measured 2026-12-04).
//! - The count of places taken is an atomic written only under the lock (a
//!   load and a store), so `len` reads it without the lock.
//! - The run loop swaps the whole queue out under one lock and handles the
//!   batch without touching shared state; it gives places back in groups,
//!   before handling the last message it took, so the bound holds exactly
//!   (`mailbox_len` counts every message not yet taken, give or take one
//!   group while a batch is in hand). A batch of one message gives its place
//!   back under the lock that took it: request and reply take one lock per
//!   message on the run loop's side.
//! - Senders that find no place wait in line, oldest first, woken one per
//!   place given back. A sender that arrives while others wait may still
//!   take a free place first (no hand-off, so a wake-up can find its place
//!   gone); the sender woken for it then goes back to the front, keeping its
//!   turn. A woken sender that gives up (its future is dropped) passes the
//!   wake-up on, so no place is left free with senders asleep. The line,
//!   the count and the check happen under the one lock, so no wake-up is
//!   lost.
//! - The system lane (stop, kill, child notices) is a second queue under the
//!   same mutex, which needs no place, so a full mailbox never blocks it.
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
//!   task from any poll), so the lock is not taken per poll. The abort also
//!   travels as a signal, for a run loop between messages. Raising the flag
//!   and taking the waker happen under the lock, and the run loop registers
//!   under the lock and then looks at the flag: no lost wake-up.
//!
//! Under `--cfg loom` the atomics and the lock are loom's (`base/sync.rs`),
//! and the models in `mailbox/models.rs` check these claims under every
//! interleaving.

use std::collections::VecDeque;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::base::sync::{AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::mailbox::signal::Signal;

/// Places given back to senders at once, at most, while a batch is in hand.
const RELEASE_EVERY: usize = 32;

/// Laid out in this order (`repr(C)`) to keep apart what the two sides
/// write: the count and the lock, which every send writes, come first, with
/// the fields of `State` a send touches; the flags the run loop reads before
/// every message come last, written only by rare events (a signal, an
/// abort, a close): more than a cache line past the count, the lock and
/// `head`, which every send writes (`Queue` is 128 bytes, of which the
/// flags take the last eight).
#[repr(C)]
pub(crate) struct Queue<T> {
    /// Places taken: messages queued, or taken by the run loop and not yet
    /// given back, plus notices pushed past the bound (`push_notice`).
    /// Changed only under the lock, with a load and a store; read without
    /// it by `len`.
    used: AtomicUsize,
    state: Mutex<State<T>>,
    capacity: usize,
    /// Set once, under the lock: every send is refused from then on.
    closed: AtomicBool,
    signalled: AtomicBool,
    /// Set when the queue was closed while empty: nothing can ever be
    /// taken from it again, and the run loop learns so without the lock.
    sealed: AtomicBool,
    /// An abort was asked and the run loop has not acted on it yet.
    aborting: AtomicBool,
}

/// What a send touches first (`repr(C)`, see `Queue`).
#[repr(C)]
struct State<T> {
    /// The oldest message, kept out of `items` so that an actor sent one
    /// message at a time (request/reply) never allocates a buffer.
    head: Option<T>,
    /// The messages after `head`, in order; empty whenever `head` is.
    items: Deque<T>,
    /// The run loop's waker, present only while it is parked.
    parked: Option<Waker>,
    /// Allocated on first use: by a signal, by a sender that finds the
    /// mailbox full, or by a handler that returns `Pending` (for the
    /// abort's waker). An actor that meets none of these, such as one whose
    /// handlers never wait, does not carry these 80 bytes in its shared
    /// block (see ARCHITECTURE.md, "Memory per actor").
    rare: Option<Box<Rare>>,
}

/// The parts of a queue's state that most actors never use.
#[derive(Default)]
struct Rare {
    /// Taken whole by the run loop, so a `Vec` (8 bytes smaller) will do.
    signals: Vec<Signal>,
    /// The run loop's waker for an abort, once a handler has been pending;
    /// taken only by an abort.
    abort_waker: Option<Waker>,
    /// Senders waiting for a place, oldest first, each with the ticket its
    /// future holds.
    waiting: Deque<(u64, Waker)>,
    next_ticket: u64,
}

/// A `VecDeque` whose drop is one comparison when it never allocated.
///
/// An actor sent one message at a time never gives its queues a buffer,
/// yet dropping a `VecDeque` runs its whole drop (slices worked out,
/// elements dropped, buffer freed) whatever it holds: about 25
/// instructions and two cache lines of code per deque, and an actor's end
/// drops four (measured 2026-12-05 with callgrind over the lifecycle
/// workload, where the code of an actor's life no longer fits the
/// instruction cache).
pub(crate) struct Deque<T>(ManuallyDrop<VecDeque<T>>);

impl<T> Deque<T> {
    pub(crate) const fn new() -> Self {
        Deque(ManuallyDrop::new(VecDeque::new()))
    }

    /// The deque itself, leaving an empty one (which costs nothing to drop).
    pub(crate) fn into_inner(mut self) -> VecDeque<T> {
        ManuallyDrop::into_inner(std::mem::replace(&mut self.0, ManuallyDrop::new(VecDeque::new())))
    }
}

impl<T> Default for Deque<T> {
    fn default() -> Self {
        Deque::new()
    }
}

impl<T> Deref for Deque<T> {
    type Target = VecDeque<T>;

    fn deref(&self) -> &VecDeque<T> {
        &self.0
    }
}

impl<T> DerefMut for Deque<T> {
    fn deref_mut(&mut self) -> &mut VecDeque<T> {
        &mut self.0
    }
}

impl<T> Drop for Deque<T> {
    fn drop(&mut self) {
        // Without a buffer there is nothing to drop: a deque's length is at
        // most its capacity, and one of a zero-sized type reports an
        // unbounded capacity (so it is dropped in full). What is left in
        // `self.0` is a new, empty deque, never dropped: it owns nothing.
        if self.0.capacity() != 0 {
            drop(ManuallyDrop::into_inner(std::mem::replace(&mut self.0, ManuallyDrop::new(VecDeque::new()))));
        }
    }
}

impl<T> IntoIterator for Deque<T> {
    type Item = T;
    type IntoIter = std::collections::vec_deque::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_inner().into_iter()
    }
}

impl<T> State<T> {
    /// The rare parts, allocated on first use.
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_default()
    }

    /// Whether senders wait for a place.
    fn has_waiting(&self) -> bool {
        self.rare.as_ref().is_some_and(|rare| !rare.waiting.is_empty())
    }

    /// Whether signals are queued.
    fn has_signals(&self) -> bool {
        self.rare.as_ref().is_some_and(|rare| !rare.signals.is_empty())
    }

    fn position(&self, ticket: u64) -> Option<usize> {
        self.rare.as_ref()?.waiting.iter().position(|(t, _)| *t == ticket)
    }
}

/// Why a message was not queued; the envelope is handed back.
pub(crate) enum Refused<T> {
    Full(T),
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State { head: None, items: Deque::new(), parked: None, rare: None }),
            capacity,
            used: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            signalled: AtomicBool::new(false),
            sealed: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        crate::base::sync::lock(&self.state)
    }

    /// Whether the queue is closed, read under its lock (where the flag
    /// only changes).
    fn closed_locked(&self, _state: &State<T>) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Queues `item` if there is room now.
    #[inline]
    pub(crate) fn try_send(&self, item: T) -> Result<(), Refused<T>> {
        self.try_send_with(item, |item| item)
    }

    /// Queues `wrap(value)` if there is room now; hands `value` back
    /// otherwise. The run of a tell: the envelope is made only once a
    /// place is taken, straight into the queue, and a refused message is
    /// handed back without opening an envelope. `wrap` runs under the
    /// lock: it must be cheap and must not panic (`Shared::offer` passes
    /// `Envelope::new` only for a payload stored inline).
    #[inline]
    pub(crate) fn try_send_with<V>(&self, value: V, wrap: impl FnOnce(V) -> T) -> Result<(), Refused<V>> {
        let state = self.lock();
        if self.closed_locked(&state) {
            return Err(Refused::Closed(value));
        }
        let used = self.used.load(Ordering::Relaxed);
        if used >= self.capacity {
            return Err(Refused::Full(value));
        }
        self.enqueue(state, wrap(value), used);
        Ok(())
    }

    /// Queues `item`, waiting in line for room. Hands it back if the queue
    /// is closed.
    pub(crate) fn send(&self, item: T) -> Entering<'_, T> {
        Entering { queue: self, item: Some(item), ticket: None }
    }

    /// Queues a notice from the runtime itself (a `Terminated` message):
    /// after what is already queued, like any message, but never waiting and
    /// never refused for a full mailbox. Without a free place it takes one
    /// past the bound, given back before any place goes back to senders, so
    /// the bound stays exact.
    pub(crate) fn push_notice(&self, item: T) -> Result<(), T> {
        let state = self.lock();
        if self.closed_locked(&state) {
            return Err(item);
        }
        let used = self.used.load(Ordering::Relaxed);
        self.enqueue(state, item, used);
        Ok(())
    }

    /// Takes a place (`used` were taken before) and queues `item`, under the
    /// lock `state` holds, then wakes the run loop if it was parked.
    #[inline]
    fn enqueue(&self, mut state: MutexGuard<'_, State<T>>, item: T, used: usize) {
        self.used.store(used + 1, Ordering::Relaxed);
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
    }

    /// Queues a system signal; never waits, never refused.
    pub(crate) fn signal(&self, signal: Signal) {
        let mut state = self.lock();
        state.rare().signals.push(signal);
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
        state.rare().signals.push(abort);
        // The flag first: a run loop that sees the signal sees the flag.
        self.aborting.store(true, Ordering::Release);
        self.signalled.store(true, Ordering::Release);
        let parked = state.parked.take();
        let watching = state.rare().abort_waker.take();
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
        match &mut state.rare().abort_waker {
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
        state.rare.as_mut().map(|rare| VecDeque::from(std::mem::take(&mut rare.signals))).unwrap_or_default()
    }

    /// Refuses every message from now on and wakes senders waiting for room
    /// (they get their message back). Messages already queued stay queued;
    /// the run loop, woken if it was parked, handles them and then sees the
    /// queue closed. This is how a graceful stop travels: no signal, so no
    /// allocation and nothing for the run loop to decode.
    #[inline]
    pub(crate) fn close(&self) {
        // A stop closes once when asked and again when it finishes (and
        // once more as its last reference goes): only the first does the
        // work, and the others return here, inline, without a call.
        if !self.is_closed() {
            self.close_now();
        }
    }

    /// What the first [`close`](Queue::close) does.
    fn close_now(&self) {
        let mut state = self.lock();
        self.closed.store(true, Ordering::Release);
        if state.head.is_none() {
            // `items` is empty whenever `head` is, and nothing is pushed
            // once `closed` is set.
            self.sealed.store(true, Ordering::Release);
        }
        let parked = state.parked.take();
        // Usually nobody waits: no line to take apart.
        let waiting = state.has_waiting().then(|| std::mem::take(&mut state.rare().waiting));
        drop(state);
        if let Some(waker) = parked {
            waker.wake();
        }
        waiting.into_iter().flatten().for_each(|(_, waker)| waker.wake());
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes what is queued once the queue is closed (for a task torn down
    /// before its run loop could drain it).
    pub(crate) fn drain_closed(&self) -> impl Iterator<Item = T> + use<T> {
        let mut state = self.lock();
        debug_assert!(self.closed_locked(&state));
        let mut rest: VecDeque<T> = state.head.take().into_iter().collect();
        rest.append(&mut state.items);
        rest.into_iter()
    }

    /// Messages queued and not yet taken by the run loop.
    pub(crate) fn len(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Waits for a signal without taking messages: how a failed supervised
    /// actor waits for its supervisor's decision while its mailbox fills.
    /// With `or_close`, also ready once the queue is closed (a graceful stop
    /// was asked).
    pub(crate) fn poll_signal(&self, cx: &mut TaskContext<'_>, or_close: bool) -> Poll<()> {
        let mut state = self.lock();
        if state.has_signals() || (or_close && self.closed_locked(&state)) {
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

    /// Gives `n` places back to senders.
    pub(crate) fn release(&self, n: usize) {
        self.give_back(self.lock(), n);
    }

    /// Gives `n` places back under the lock `state` holds, lets it go, and
    /// wakes as many waiting senders as places are now free, oldest first.
    #[inline]
    fn give_back(&self, state: MutexGuard<'_, State<T>>, n: usize) {
        let used = self.used.load(Ordering::Relaxed) - n;
        self.used.store(used, Ordering::Relaxed);
        if state.has_waiting() {
            self.wake_waiting(state, used, n);
        }
    }

    /// [`give_back`](Self::give_back)'s wake-ups, out of line: senders wait
    /// only when the mailbox is full.
    #[cold]
    #[inline(never)]
    fn wake_waiting(&self, mut state: MutexGuard<'_, State<T>>, used: usize, n: usize) {
        // Places taken past the bound by notices are repaid first.
        let free = self.capacity.saturating_sub(used);
        let waiting = &mut state.rare().waiting;
        let n = n.min(free).min(waiting.len());
        // Usually one sender waits (the one that filled the mailbox): wake
        // it without gathering the wakers first.
        if n == 1 {
            let (_, waker) = waiting.pop_front().expect("one sender waits");
            drop(state);
            waker.wake();
            return;
        }
        let woken: Vec<Waker> = waiting.drain(..n).map(|(_, waker)| waker).collect();
        drop(state);
        woken.into_iter().for_each(Waker::wake);
    }

    /// Takes every queued message: the oldest is returned, the rest are
    /// swapped into `batch` (which must be empty). A message taken alone
    /// gives its place back here, under the same lock (`Refill::Last`).
    /// Parks the run loop if there is nothing to do.
    #[inline]
    fn poll_refill(&self, batch: &mut Deque<T>, cx: &mut TaskContext<'_>) -> Poll<Refill<T>> {
        debug_assert!(batch.is_empty());
        if self.sealed.load(Ordering::Acquire) {
            // The usual end of a graceful stop: closed with nothing queued.
            return Poll::Ready(Refill::Closed);
        }
        let mut state = self.lock();
        if let Some(oldest) = state.head.take() {
            if !state.items.is_empty() {
                std::mem::swap(&mut state.items, batch);
                return Poll::Ready(Refill::Message(oldest));
            }
            self.give_back(state, 1);
            return Poll::Ready(Refill::Last(oldest));
        }
        if self.closed_locked(&state) {
            return Poll::Ready(Refill::Closed);
        }
        if state.has_signals() {
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
    /// The oldest of several messages; the rest are in the batch.
    Message(T),
    /// The only message there was, its place already given back.
    Last(T),
    Again,
    Closed,
}

/// A sender's wait for room; see [`Queue::send`]. Holds the message until
/// it is queued, and hands it back if the queue closes first.
pub(crate) struct Entering<'a, T> {
    queue: &'a Queue<T>,
    item: Option<T>,
    /// Set once the sender has queued: its ticket in the line (or, once
    /// woken, the ticket it had).
    ticket: Option<u64>,
}

// The message is moved, never pinned.
impl<T> Unpin for Entering<'_, T> {}

impl<T> Future for Entering<'_, T> {
    type Output = Result<(), T>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let queue = this.queue;
        let mut state = queue.lock();
        let queued = this.ticket.and_then(|ticket| state.position(ticket));
        let closed = queue.closed_locked(&state);
        let used = queue.used.load(Ordering::Relaxed);
        if closed || used < queue.capacity {
            if let Some(at) = queued {
                state.rare().waiting.remove(at);
            }
            this.ticket = None;
            let item = this.item.take().expect("a send's future polled after completion");
            if closed {
                return Poll::Ready(Err(item));
            }
            queue.enqueue(state, item, used);
            return Poll::Ready(Ok(()));
        }
        let rare = state.rare();
        match (queued, this.ticket) {
            // Polled again before its turn: keep the place in line.
            (Some(at), _) => rare.waiting[at].1.clone_from(cx.waker()),
            // Woken, but the place was taken first: back to the front.
            (None, Some(ticket)) => rare.waiting.push_front((ticket, cx.waker().clone())),
            (None, None) => {
                let ticket = rare.next_ticket;
                rare.next_ticket += 1;
                rare.waiting.push_back((ticket, cx.waker().clone()));
                this.ticket = Some(ticket);
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Entering<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let queue = self.queue;
        let mut state = queue.lock();
        let passed_on = match state.position(ticket) {
            Some(at) => {
                state.rare().waiting.remove(at);
                None
            }
            // Woken for a place it will not take: the next in line gets the
            // wake-up, if a place is free.
            None if !queue.closed_locked(&state) && queue.used.load(Ordering::Relaxed) < queue.capacity => {
                state.rare.as_mut().and_then(|rare| rare.waiting.pop_front()).map(|(_, waker)| waker)
            }
            None => None,
        };
        drop(state);
        if let Some(waker) = passed_on {
            waker.wake();
        }
        // The message, if still held, is dropped after the lock is let go.
    }
}

/// The run loop's end of the mailbox: the batch in hand and the places it
/// owes back.
pub(crate) struct Inbox<T> {
    batch: Deque<T>,
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
        Inbox { batch: Deque::new(), unreleased: 0, emptied: false }
    }

    /// The next message, signals first.
    #[inline]
    pub(crate) fn poll_next(&mut self, queue: &Queue<T>, cx: &mut TaskContext<'_>) -> Poll<Next<T>> {
        loop {
            if queue.has_signals() {
                return Poll::Ready(Next::Signals);
            }
            let item = match self.batch.pop_front() {
                Some(item) => item,
                None => match queue.poll_refill(&mut self.batch, cx) {
                    Poll::Ready(Refill::Message(item)) => item,
                    // Its place went back with the take (the batch was
                    // emptied before, so nothing else is owed).
                    Poll::Ready(Refill::Last(item)) => {
                        debug_assert_eq!(self.unreleased, 0);
                        return Poll::Ready(Next::Message(item));
                    }
                    Poll::Ready(Refill::Again) => continue,
                    Poll::Ready(Refill::Closed) => {
                        self.emptied = true;
                        return Poll::Ready(Next::Closed);
                    }
                    Poll::Pending => return Poll::Pending,
                },
            };
            // Taken: its place goes back to senders, in groups.
            self.unreleased += 1;
            if self.batch.is_empty() || self.unreleased as usize >= RELEASE_EVERY {
                queue.release(std::mem::take(&mut self.unreleased) as usize);
            }
            return Poll::Ready(Next::Message(item));
        }
    }

    /// Whether a message waits, in the batch in hand or in the queue: a
    /// hint (the queue's count, read without its lock), for when to yield.
    #[inline]
    pub(crate) fn has_queued(&self, queue: &Queue<T>) -> bool {
        !self.batch.is_empty() || queue.len() > 0
    }

    /// The batch in hand, taken whole.
    pub(crate) fn take_batch(&mut self) -> Deque<T> {
        std::mem::take(&mut self.batch)
    }

    /// Takes every message left, in the batch and in the queue, once the
    /// queue is closed (nothing can be added after).
    pub(crate) fn drain(&mut self, queue: &Queue<T>) -> Deque<T> {
        debug_assert!(queue.is_closed());
        let mut rest = std::mem::take(&mut self.batch);
        if self.emptied {
            // The usual end (a graceful stop): the queue was found closed
            // and empty, so there is nothing to take and no lock to take.
            return rest;
        }
        let mut state = queue.lock();
        // `items` is empty whenever `head` is: usually there is nothing left.
        if let Some(head) = state.head.take() {
            rest.push_back(head);
            rest.append(&mut state.items);
        }
        rest
    }
}
