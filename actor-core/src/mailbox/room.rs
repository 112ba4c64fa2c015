//! Room in a mailbox: the count of free places that bounds it, and the
//! senders waiting for one.
//!
//! Why not tokio's `Semaphore`: it takes the lock of its waiter list on
//! every release and on close, whether or not anyone waits. A mailbox gives
//! places back after every batch and closes once per actor, so it would
//! take two lock round trips per actor lifecycle with nobody ever waiting.
//! Here the free places, a "somebody waits" bit and a "closed" bit share
//! one word: taking a place is one compare-and-swap, giving places back and
//! closing are one atomic operation each, and the waiter list is locked
//! only when the bit says somebody is in it.
//!
//! Waiting senders queue in arrival order and are woken in that order, one
//! per place given back. A sender that arrives while others wait may still
//! take a free place first (there is no hand-off, so a wake-up can find its
//! place gone); the sender woken for it then goes back to the front of the
//! queue, keeping its turn. A waiting sender that gives up (its future is
//! dropped) after being woken passes the wake-up on, so no place is left
//! free with senders asleep.
//!
//! No lost wake-up: a sender about to sleep sets the bit, then looks at the
//! count again, both under the waiter list's lock; whoever gives places
//! back adds them, then reads the bit in the same atomic operation. Either
//! the sender sees the places, or the giver sees the bit and takes the lock,
//! which it gets only once the sender is in the list.
//!
//! Under `--cfg loom` the atomics and the lock are loom's (`base/sync.rs`),
//! and the models at the end of this file check these claims under every
//! interleaving.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::base::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// The room is closed: nothing will be taken from it again.
const CLOSED: usize = 1;
/// At least one sender is in the waiter list.
const WAITING: usize = 2;
/// One free place, in the shared word (the two low bits are the flags).
const PLACE: usize = 4;

/// The most places a room can have.
pub(crate) const MAX_PLACES: usize = usize::MAX / PLACE;

/// Why no place was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoRoom {
    Full,
    Closed,
}

pub(crate) struct Room {
    /// Free places times `PLACE`, plus the `CLOSED` and `WAITING` bits.
    word: AtomicUsize,
    waiters: Mutex<Waiters>,
}

/// Senders waiting for a place, oldest first, each with the ticket its
/// future holds.
#[derive(Default)]
struct Waiters {
    queue: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

impl Waiters {
    fn position(&self, ticket: u64) -> Option<usize> {
        self.queue.iter().position(|(t, _)| *t == ticket)
    }
}

impl Room {
    pub(crate) fn new(places: usize) -> Self {
        assert!(places <= MAX_PLACES, "a room has at most {MAX_PLACES} places");
        Room { word: AtomicUsize::new(places * PLACE), waiters: Mutex::new(Waiters::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        crate::base::sync::lock(&self.waiters)
    }

    /// Takes a free place if there is one.
    #[inline]
    pub(crate) fn try_take(&self) -> Result<(), NoRoom> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if word & CLOSED != 0 {
                return Err(NoRoom::Closed);
            }
            if word < PLACE {
                return Err(NoRoom::Full);
            }
            match self.word.compare_exchange_weak(word, word - PLACE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(now) => word = now,
            }
        }
    }

    /// Takes a place, waiting in line for one if there is none. Fails only
    /// once the room is closed.
    pub(crate) fn take(&self) -> Take<'_> {
        Take { room: self, ticket: None }
    }

    /// Gives `n` places back, waking as many waiting senders.
    #[inline]
    pub(crate) fn give(&self, n: usize) {
        let before = self.word.fetch_add(n * PLACE, Ordering::AcqRel);
        if before & WAITING != 0 {
            self.wake(n);
        }
    }

    /// Wakes up to `n` senders, oldest first.
    fn wake(&self, n: usize) {
        let mut waiters = self.lock();
        let n = n.min(waiters.queue.len());
        let woken: Vec<Waker> = waiters.queue.drain(..n).map(|(_, waker)| waker).collect();
        self.settle(&waiters);
        drop(waiters);
        woken.into_iter().for_each(Waker::wake);
    }

    /// Clears the waiting bit once the list is empty (called under its lock,
    /// as is every change of the bit).
    fn settle(&self, waiters: &Waiters) {
        if waiters.queue.is_empty() {
            self.word.fetch_and(!WAITING, Ordering::AcqRel);
        }
    }

    /// Closes the room: every waiting sender wakes up to fail, as does every
    /// later one. Free places stay counted.
    pub(crate) fn close(&self) {
        let before = self.word.fetch_or(CLOSED, Ordering::AcqRel);
        if before & WAITING != 0 {
            let mut waiters = self.lock();
            let woken: Vec<Waker> = waiters.queue.drain(..).map(|(_, waker)| waker).collect();
            self.settle(&waiters);
            drop(waiters);
            woken.into_iter().for_each(Waker::wake);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.word.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Free places now.
    pub(crate) fn free(&self) -> usize {
        self.word.load(Ordering::Acquire) / PLACE
    }
}

/// A sender's wait for a place; see [`Room::take`].
pub(crate) struct Take<'a> {
    room: &'a Room,
    /// Set once the sender has queued: its ticket in the list (or, once
    /// woken, the ticket it had).
    ticket: Option<u64>,
}

impl Future for Take<'_> {
    type Output = Result<(), NoRoom>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let room = this.room;
        if this.ticket.is_none() {
            match room.try_take() {
                Err(NoRoom::Full) => {}
                done => return Poll::Ready(done),
            }
        }
        let mut waiters = room.lock();
        room.word.fetch_or(WAITING, Ordering::AcqRel);
        let queued = this.ticket.and_then(|ticket| waiters.position(ticket));
        match room.try_take() {
            Err(NoRoom::Full) => {
                match (queued, this.ticket) {
                    // Polled again before its turn: keep the place in line.
                    (Some(at), _) => waiters.queue[at].1.clone_from(cx.waker()),
                    // Woken, but the place was taken first: back to the front.
                    (None, Some(ticket)) => waiters.queue.push_front((ticket, cx.waker().clone())),
                    (None, None) => {
                        let ticket = waiters.next_ticket;
                        waiters.next_ticket += 1;
                        waiters.queue.push_back((ticket, cx.waker().clone()));
                        this.ticket = Some(ticket);
                    }
                }
                Poll::Pending
            }
            done => {
                if let Some(at) = queued {
                    waiters.queue.remove(at);
                }
                room.settle(&waiters);
                this.ticket = None;
                Poll::Ready(done)
            }
        }
    }
}

impl Drop for Take<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let room = self.room;
        let mut waiters = room.lock();
        let passed_on = match waiters.position(ticket) {
            Some(at) => {
                waiters.queue.remove(at);
                None
            }
            // Woken for a place it will not take: the next in line gets the
            // wake-up, if a place is free.
            None if room.free() > 0 => waiters.queue.pop_front().map(|(_, waker)| waker),
            None => None,
        };
        room.settle(&waiters);
        drop(waiters);
        if let Some(waker) = passed_on {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    use super::*;

    /// A waker that records that it was woken.
    #[derive(Default)]
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    impl Flag {
        fn woken(&self) -> bool {
            self.0.swap(false, std::sync::atomic::Ordering::SeqCst)
        }
    }

    fn poll(take: &mut Take<'_>, flag: &Arc<Flag>) -> Poll<Result<(), NoRoom>> {
        let waker = Waker::from(flag.clone());
        Pin::new(take).poll(&mut TaskContext::from_waker(&waker))
    }

    /// Fills a room of one place and queues `n` senders, oldest first;
    /// hands back their takes and the flags their wake-ups raise.
    fn waiting(room: &Room, n: usize) -> (Vec<Take<'_>>, Vec<Arc<Flag>>) {
        room.try_take().unwrap();
        let flags: Vec<Arc<Flag>> = (0..n).map(|_| Arc::default()).collect();
        let mut takes: Vec<Take<'_>> = (0..n).map(|_| room.take()).collect();
        for (take, flag) in takes.iter_mut().zip(&flags) {
            assert!(poll(take, flag).is_pending());
        }
        (takes, flags)
    }

    /// [`waiting`] for two senders, each with its flag.
    fn two_waiting(room: &Room) -> (Take<'_>, Arc<Flag>, Take<'_>, Arc<Flag>) {
        let (mut takes, mut flags) = waiting(room, 2);
        let (b, second) = (takes.pop().unwrap(), flags.pop().unwrap());
        let (a, first) = (takes.pop().unwrap(), flags.pop().unwrap());
        (a, first, b, second)
    }

    #[test]
    fn places_are_counted_and_closing_refuses_further_takes() {
        let room = Room::new(2);
        assert_eq!(room.try_take(), Ok(()));
        assert_eq!(room.try_take(), Ok(()));
        assert_eq!(room.try_take(), Err(NoRoom::Full));
        assert_eq!(room.free(), 0);
        room.give(1);
        assert_eq!(room.free(), 1);
        room.close();
        assert!(room.is_closed());
        assert_eq!(room.try_take(), Err(NoRoom::Closed));
        assert_eq!(room.free(), 1, "closing keeps the count");
    }

    #[test]
    fn waiters_wake_in_arrival_order_one_per_place() {
        let room = Room::new(1);
        let (mut takes, flags) = waiting(&room, 3);
        room.give(1);
        assert_eq!(flags.iter().map(|f| f.woken()).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!(poll(&mut takes[0], &flags[0]), Poll::Ready(Ok(())));
        room.give(2);
        assert_eq!(flags.iter().map(|f| f.woken()).collect::<Vec<_>>(), [false, true, true]);
        assert_eq!(poll(&mut takes[2], &flags[2]), Poll::Ready(Ok(())));
        assert_eq!(poll(&mut takes[1], &flags[1]), Poll::Ready(Ok(())));
        assert_eq!(room.word.load(Ordering::SeqCst) & WAITING, 0, "nobody waits any more");
    }

    #[test]
    fn a_woken_waiter_whose_place_was_taken_keeps_its_turn() {
        let room = Room::new(1);
        let (mut a, first, _b, second) = two_waiting(&room);
        room.give(1);
        assert!(first.woken());
        // A sender that never waited takes the place before `a` runs.
        room.try_take().unwrap();
        assert!(poll(&mut a, &first).is_pending());
        room.give(1);
        assert!(first.woken(), "`a` was put back at the front");
        assert!(!second.woken());
        assert_eq!(poll(&mut a, &first), Poll::Ready(Ok(())));
    }

    #[test]
    fn a_woken_waiter_that_gives_up_passes_the_wake_up_on() {
        let room = Room::new(1);
        let (a, first, mut b, second) = two_waiting(&room);
        room.give(1);
        assert!(first.woken());
        drop(a);
        assert!(second.woken());
        assert_eq!(poll(&mut b, &second), Poll::Ready(Ok(())));
    }

    #[test]
    fn a_waiter_that_gives_up_before_its_turn_leaves_the_line() {
        let room = Room::new(1);
        let (a, first, mut b, second) = two_waiting(&room);
        drop(a);
        room.give(1);
        assert!(!first.woken(), "the sender that left is not woken");
        assert!(second.woken(), "the place went to the next one still waiting");
        assert_eq!(poll(&mut b, &second), Poll::Ready(Ok(())));
    }

    #[test]
    fn closing_wakes_every_waiter_to_fail() {
        let room = Room::new(1);
        let (mut takes, flags) = waiting(&room, 2);
        room.close();
        for (take, flag) in takes.iter_mut().zip(&flags) {
            assert!(flag.woken());
            assert_eq!(poll(take, flag), Poll::Ready(Err(NoRoom::Closed)));
        }
    }
}

/// Models for loom: `RUSTFLAGS="--cfg loom" cargo test -p actor-core --lib
/// --release room::models` (see `.ci/run`). A wake-up that is lost leaves a
/// thread parked in `block_on` forever, which loom reports as a deadlock.
#[cfg(all(test, loom))]
mod models {
    use loom::future::block_on;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// Checks `body` under every interleaving, each time with a fresh room
    /// of one place, already taken.
    fn model_full(body: impl Fn(Arc<Room>) + Send + Sync + 'static) {
        loom::model(move || {
            let room = Arc::new(Room::new(1));
            room.try_take().unwrap();
            body(room);
        });
    }

    /// Runs `side` on a thread of its own, with a handle to `room`.
    fn on_thread<T: Send + 'static>(
        room: &Arc<Room>,
        side: impl FnOnce(&Room) -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let room = room.clone();
        thread::spawn(move || side(&room))
    }

    /// Two senders wait for the one place of a full room while it is given
    /// back twice: both get through, and the count ends where it began.
    #[test]
    fn no_waiting_sender_is_left_asleep() {
        model_full(|room| {
            let senders: Vec<_> = (0..2)
                .map(|_| {
                    on_thread(&room, |room| {
                        block_on(room.take()).unwrap();
                        room.give(1);
                    })
                })
                .collect();
            room.give(1);
            for sender in senders {
                sender.join().unwrap();
            }
            assert_eq!(room.free(), 1);
            assert_eq!(room.word.load(Ordering::SeqCst) & WAITING, 0);
        });
    }

    /// A sender that queues and gives up, racing a release: the sender that
    /// stays still gets the place.
    #[test]
    fn giving_up_never_swallows_a_wake_up() {
        model_full(|room| {
            let stayer = on_thread(&room, |room| block_on(room.take()).unwrap());
            let quitter = on_thread(&room, |room| {
                let mut take = room.take();
                let waker = futures::task::noop_waker();
                if let Poll::Ready(Ok(())) = Pin::new(&mut take).poll(&mut TaskContext::from_waker(&waker)) {
                    // Took the place after all: back it goes.
                    room.give(1);
                }
            });
            room.give(1);
            quitter.join().unwrap();
            stayer.join().unwrap();
            assert_eq!(room.free(), 0, "the stayer holds the one place");
        });
    }

    /// Closing wakes a sender that is about to wait.
    #[test]
    fn closing_reaches_a_sender_about_to_wait() {
        model_full(|room| {
            let sender = on_thread(&room, |room| block_on(room.take()));
            room.close();
            assert_eq!(sender.join().unwrap(), Err(NoRoom::Closed));
        });
    }
}
