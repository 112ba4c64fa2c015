//! The queue's bound and its line of waiting senders, step by step with
//! hand-polled futures (the concurrent interleavings are loom's, in
//! `models.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use crate::mailbox::queue::{Deque, Entering, Inbox, Next, Queue, Refused};

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flag {
    fn woken(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

fn poll(entering: &mut Entering<'_, u32>, flag: &Arc<Flag>) -> Poll<Result<(), u32>> {
    let waker = Waker::from(flag.clone());
    Pin::new(entering).poll(&mut TaskContext::from_waker(&waker))
}

/// Fills a queue of one place (with message 0) and lines up senders of
/// messages 1 to `n`, oldest first; hands back their futures and the flags
/// their wake-ups raise.
fn waiting(queue: &Queue<u32>, n: u32) -> (Vec<Entering<'_, u32>>, Vec<Arc<Flag>>) {
    assert!(queue.try_send(0).is_ok());
    let flags: Vec<Arc<Flag>> = (1..=n).map(|_| Arc::default()).collect();
    let mut senders: Vec<Entering<'_, u32>> = (1..=n).map(|i| queue.send(i)).collect();
    for (sender, flag) in senders.iter_mut().zip(&flags) {
        assert!(poll(sender, flag).is_pending());
    }
    (senders, flags)
}

/// [`waiting`] for two senders, each with its flag.
#[allow(clippy::type_complexity)]
fn two_waiting(queue: &Queue<u32>) -> (Entering<'_, u32>, Arc<Flag>, Entering<'_, u32>, Arc<Flag>) {
    let (mut senders, mut flags) = waiting(queue, 2);
    let (b, second) = (senders.pop().unwrap(), flags.pop().unwrap());
    let (a, first) = (senders.pop().unwrap(), flags.pop().unwrap());
    (a, first, b, second)
}

/// What the queue holds, in order, once closed.
fn queued(queue: &Queue<u32>) -> Vec<u32> {
    queue.close();
    queue.drain_closed().collect()
}

#[test]
fn places_are_counted_and_closing_refuses_further_sends() {
    let queue = Queue::new(2);
    assert!(queue.try_send(1).is_ok());
    assert!(queue.try_send(2).is_ok());
    assert!(matches!(queue.try_send(3), Err(Refused::Full(3))));
    assert_eq!(queue.len(), 2);
    queue.release(1);
    assert_eq!(queue.len(), 1);
    queue.close();
    assert!(queue.is_closed());
    assert!(matches!(queue.try_send(4), Err(Refused::Closed(4))));
    assert_eq!(queue.len(), 1, "closing keeps the count");
    assert_eq!(queue.drain_closed().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn a_notice_takes_a_place_past_the_bound_and_is_repaid_first() {
    let queue = Queue::new(1);
    let (mut senders, flags) = waiting(&queue, 1);
    assert!(queue.push_notice(10).is_ok(), "a notice is never refused for a full mailbox");
    assert_eq!(queue.len(), 2);
    queue.release(1);
    assert!(!flags[0].woken(), "the place went to repay the notice");
    queue.release(1);
    assert!(flags[0].woken());
    assert_eq!(poll(&mut senders[0], &flags[0]), Poll::Ready(Ok(())));
    assert_eq!(queued(&queue), [0, 10, 1]);
}

#[test]
fn waiters_wake_in_arrival_order_one_per_place() {
    let queue = Queue::new(1);
    let (mut senders, flags) = waiting(&queue, 3);
    queue.release(1);
    assert_eq!(flags.iter().map(|f| f.woken()).collect::<Vec<_>>(), [true, false, false]);
    assert_eq!(poll(&mut senders[0], &flags[0]), Poll::Ready(Ok(())));
    queue.release(1);
    assert_eq!(flags.iter().map(|f| f.woken()).collect::<Vec<_>>(), [false, true, false]);
    assert_eq!(poll(&mut senders[1], &flags[1]), Poll::Ready(Ok(())));
    queue.release(1);
    assert!(flags[2].woken());
    assert_eq!(poll(&mut senders[2], &flags[2]), Poll::Ready(Ok(())));
    assert_eq!(queued(&queue), [0, 1, 2, 3], "queued in the order they lined up");
}

#[test]
fn places_given_back_together_wake_as_many_waiters() {
    let queue = Queue::new(2);
    assert!(queue.try_send(0).is_ok());
    let (mut senders, flags) = waiting(&queue, 2);
    queue.release(2);
    assert_eq!(flags.iter().map(|f| f.woken()).collect::<Vec<_>>(), [true, true]);
    assert_eq!(poll(&mut senders[1], &flags[1]), Poll::Ready(Ok(())));
    assert_eq!(poll(&mut senders[0], &flags[0]), Poll::Ready(Ok(())));
    assert_eq!(queue.len(), 2);
}

#[test]
fn a_woken_waiter_whose_place_was_taken_keeps_its_turn() {
    let queue = Queue::new(1);
    let (mut a, first, _b, second) = two_waiting(&queue);
    queue.release(1);
    assert!(first.woken());
    // A sender that never waited takes the place before `a` runs.
    assert!(queue.try_send(9).is_ok());
    assert!(poll(&mut a, &first).is_pending());
    queue.release(1);
    assert!(first.woken(), "`a` was put back at the front");
    assert!(!second.woken());
    assert_eq!(poll(&mut a, &first), Poll::Ready(Ok(())));
}

#[test]
fn a_woken_waiter_that_gives_up_passes_the_wake_up_on() {
    let queue = Queue::new(1);
    let (a, first, mut b, second) = two_waiting(&queue);
    queue.release(1);
    assert!(first.woken());
    drop(a);
    assert!(second.woken());
    assert_eq!(poll(&mut b, &second), Poll::Ready(Ok(())));
    assert_eq!(queued(&queue), [0, 2], "the message of the sender that gave up was not queued");
}

#[test]
fn a_waiter_that_gives_up_before_its_turn_leaves_the_line() {
    let queue = Queue::new(1);
    let (a, first, mut b, second) = two_waiting(&queue);
    drop(a);
    queue.release(1);
    assert!(!first.woken(), "the sender that left is not woken");
    assert!(second.woken(), "the place went to the next one still waiting");
    assert_eq!(poll(&mut b, &second), Poll::Ready(Ok(())));
}

#[test]
fn closing_wakes_every_waiter_to_fail_with_its_message() {
    let queue = Queue::new(1);
    let (mut senders, flags) = waiting(&queue, 2);
    queue.close();
    for (i, (sender, flag)) in senders.iter_mut().zip(&flags).enumerate() {
        assert!(flag.woken());
        assert_eq!(poll(sender, flag), Poll::Ready(Err(i as u32 + 1)));
    }
    assert_eq!(queue.drain_closed().collect::<Vec<_>>(), [0]);
}

/// The run loop's side: a message taken alone gives its place back at once
/// (a waiting sender is woken before it is handled); a batch gives its
/// places back when its last message is taken.
#[test]
fn the_run_loop_gives_places_back_before_handling_the_last_message_taken() {
    let queue = Queue::new(1);
    let (mut senders, flags) = waiting(&queue, 1);
    let mut inbox = Inbox::new();
    let idle = Arc::new(Flag::default());
    let waker = Waker::from(idle.clone());
    let mut cx = TaskContext::from_waker(&waker);
    assert!(matches!(inbox.poll_next(&queue, &mut cx), Poll::Ready(Next::Message(0))));
    assert_eq!(queue.len(), 0);
    assert!(flags[0].woken(), "taking the only message made room");
    assert_eq!(poll(&mut senders[0], &flags[0]), Poll::Ready(Ok(())));

    let queue = Queue::new(3);
    for i in 0..3 {
        assert!(queue.try_send(i).is_ok());
    }
    for i in 0..2 {
        assert!(matches!(inbox.poll_next(&queue, &mut cx), Poll::Ready(Next::Message(m)) if m == i));
        assert_eq!(queue.len(), 3, "places of a batch go back together");
    }
    assert!(matches!(inbox.poll_next(&queue, &mut cx), Poll::Ready(Next::Message(2))));
    assert_eq!(queue.len(), 0);
    assert!(inbox.poll_next(&queue, &mut cx).is_pending(), "nothing left: parked");
    assert!(queue.try_send(3).is_ok());
    assert!(idle.woken(), "a push wakes the parked run loop");
}

/// Counts its drops in the shared counter.
struct Counted<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts its drops in a static counter: a zero-sized value, for which a
/// deque never allocates yet holds elements.
struct CountedZst;

static ZST_DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for CountedZst {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_deque_drops_what_it_holds_and_skips_only_an_empty_one() {
    let drops = std::sync::atomic::AtomicUsize::new(0);
    let mut held = Deque::new();
    (0..3).for_each(|_| held.push_back(Counted(&drops)));
    drop(held.pop_front());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(held);
    assert_eq!(drops.load(Ordering::SeqCst), 3, "both left were dropped with the deque");

    let mut emptied: Deque<Counted<'_>> = Deque::new();
    emptied.push_back(Counted(&drops));
    emptied.clear();
    drop(emptied);
    assert_eq!(drops.load(Ordering::SeqCst), 4, "an emptied deque frees its buffer, holding nothing");

    let mut zsts = Deque::new();
    (0..5).for_each(|_| zsts.push_back(CountedZst));
    drop(zsts);
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 5, "zero-sized values are dropped too");

    let mut moved = Deque::new();
    moved.push_back(Counted(&drops));
    let inner: Vec<_> = moved.into_iter().collect();
    assert_eq!(drops.load(Ordering::SeqCst), 4, "into_iter hands the values over");
    drop(inner);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}
