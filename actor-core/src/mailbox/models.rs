//! loom models of the mailbox queue (its bound and line of waiting senders
//! too) and of the registry's fence.
//!
//! Run with `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom"
//! CARGO_TARGET_DIR=target/loom cargo test -p actor-core --lib --release
//! models::` (a step of `.ci/run`). Under `--cfg loom` the queue's mutex
//! and atomics are loom's (`base/sync.rs`), so these models
//! run the shipped code of `mailbox/queue.rs` under every interleaving
//! within the preemption bound. A lost wake-up leaves a thread parked in
//! `block_on` forever, which loom reports as a deadlock; a message lost or
//! counted twice fails an assertion.
//!
//! What they do not cover: the run loop around the queue (`actor/run.rs`: its
//! aliasing is Miri's job, its behaviour the integration tests'), tokio's
//! scheduler (loom's `block_on` stands in for a task), more than two or
//! three threads and a handful of messages (the state space grows too fast;
//! the protocols do not depend on counts), and, for the registry, DashMap's
//! own locking (a loom mutex stands in for the name map).

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::base::sync::{AtomicBool, Mutex, Ordering, fence};
use crate::mailbox::queue::{Inbox, Next, Queue, Refused};
use crate::mailbox::signal::Signal;

/// A message: which sender sent it, and its place in that sender's order.
/// The queue is generic over what it holds and never opens it, so the
/// models fill it with these rather than with an actor's envelopes.
struct Msg {
    sender: u8,
    seq: u8,
}

fn msg(sender: u8, seq: u8) -> Msg {
    Msg { sender, seq }
}

/// The run loop's next step, waiting (parked, as a task would be) until
/// there is one.
fn next(inbox: &mut Inbox<Msg>, queue: &Queue<Msg>) -> Next<Msg> {
    block_on(poll_fn(|cx| inbox.poll_next(queue, cx)))
}

/// Checks `body` under every interleaving, each time with a fresh queue
/// of `capacity` places.
fn model(capacity: usize, body: impl Fn(Arc<Queue<Msg>>) + Send + Sync + 'static) {
    loom::model(move || body(Arc::new(Queue::new(capacity))));
}

/// Runs `side` on a thread of its own, with a handle to `queue`.
fn on_thread<T: Send + 'static>(
    queue: &Arc<Queue<Msg>>,
    side: impl FnOnce(&Queue<Msg>) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let queue = queue.clone();
    thread::spawn(move || side(&queue))
}

/// Two senders push (one of them twice, in order) while the run loop
/// takes what is there in batches and parks when it finds nothing: every
/// message is taken exactly once, in its sender's order, and every place
/// goes back.
#[test]
fn concurrent_pushes_are_taken_once_in_order() {
    model(3, |queue| {
        let senders: Vec<_> = [(0u8, 2u8), (1, 1)]
            .into_iter()
            .map(|(sender, count)| {
                on_thread(&queue, move |queue| {
                    for seq in 0..count {
                        assert!(queue.try_send(msg(sender, seq)).is_ok(), "room for all three");
                    }
                })
            })
            .collect();
        let mut inbox = Inbox::new();
        let mut seen: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..3 {
            match next(&mut inbox, &queue) {
                Next::Message(Msg { sender, seq }) => {
                    seen[usize::from(sender)].push(seq);
                }
                Next::Signals | Next::Closed => panic!("only messages were sent"),
            }
        }
        for sender in senders {
            sender.join().unwrap();
        }
        assert_eq!(seen, [vec![0, 1], vec![0]], "each sender's messages once, in order");
        assert_eq!(queue.len(), 0, "every place went back");
        queue.close();
        assert!(matches!(next(&mut inbox, &queue), Next::Closed));
    });
}

/// A graceful stop (the queue closes) races a send: the message is either
/// refused to its sender, or taken by the run loop, or drained at the end
/// and reported as a dead letter; never two of these, never none.
#[test]
fn a_send_racing_a_stop_is_handled_or_reported_exactly_once() {
    model(2, |queue| {
        let sender = on_thread(&queue, |queue| match queue.try_send(msg(0, 0)) {
            Ok(()) => true,
            Err(Refused::Closed(_)) => false,
            Err(Refused::Full(_)) => panic!("the queue has room"),
        });
        let stopper = on_thread(&queue, |queue| queue.close());
        // The run loop: everything until it sees the queue closed, then the
        // drain that `refuse_queued` reports as dead letters.
        let mut inbox = Inbox::new();
        let mut handled = 0;
        loop {
            match next(&mut inbox, &queue) {
                Next::Message(_) => handled += 1,
                Next::Closed => break,
                Next::Signals => panic!("no signal was sent"),
            }
        }
        stopper.join().unwrap();
        let dead_letters = inbox.drain(&queue).len();
        let accepted = sender.join().unwrap();
        assert_eq!(handled + dead_letters, usize::from(accepted), "handled {handled}, reported {dead_letters}");
        assert!(queue.try_send(msg(0, 1)).is_err(), "nothing is accepted after the close");
    });
}

/// The run loop parks on an empty mailbox while a message and a signal
/// arrive from two other threads: it is woken for both, whatever the
/// interleaving of its check, its park and the pushes.
#[test]
fn the_run_loop_is_woken_for_a_message_and_a_signal() {
    model(2, |queue| {
        let sender = on_thread(&queue, |queue| assert!(queue.try_send(msg(0, 0)).is_ok()));
        let signaller = on_thread(&queue, |queue| queue.signal(Signal::Kill));
        let mut inbox = Inbox::new();
        let (mut message, mut signal) = (false, false);
        while !(message && signal) {
            match next(&mut inbox, &queue) {
                Next::Message(_) => message = true,
                Next::Signals => {
                    let signals: VecDeque<Signal> = queue.take_signals();
                    assert!(matches!(signals.front(), Some(Signal::Kill)));
                    signal = true;
                }
                Next::Closed => panic!("nobody closed the queue"),
            }
        }
        sender.join().unwrap();
        signaller.join().unwrap();
    });
}

/// An abort raised from another thread while the run loop drives a
/// handler's future that stays pending (as `std::future::pending` would):
/// the run loop is woken and takes the abort, whatever the interleaving of
/// its registration, its look at the flag and the abort. The run loop's
/// side mirrors `Running::poll_serve` in `actor/run.rs`: take the abort
/// before each poll, register the waker once (the `watching` flag), then
/// look at the flag again before parking. The first wake-up is spurious
/// (the handler's own), so a second poll skips the registration, as a
/// handler woken by what it awaits does. Afterwards the abort's signal is
/// on the lane, and finds the flag taken.
#[test]
fn abort_wakes_a_pending_handler() {
    model(1, |queue| {
        let aborter = on_thread(&queue, |queue| queue.abort(Signal::Abort));
        let mut watching = false;
        let mut polls = 0;
        block_on(poll_fn(|cx| {
            loop {
                if queue.take_abort() {
                    return std::task::Poll::Ready(());
                }
                // The handler's poll: pending; on its first poll it wakes
                // itself once, as a handler whose await completes at once.
                polls += 1;
                if polls == 1 {
                    cx.waker().wake_by_ref();
                }
                if !watching {
                    queue.watch_abort(cx.waker());
                    watching = true;
                }
                if queue.is_aborting() {
                    continue;
                }
                return std::task::Poll::Pending;
            }
        }));
        aborter.join().unwrap();
        assert!(!queue.is_aborting(), "taken once");
        assert!(queue.has_signals());
        assert!(matches!(queue.take_signals().front(), Some(Signal::Abort)));
        assert!(!queue.take_abort(), "the signal finds nothing left to do");
    });
}

/// An abort reaches a run loop parked on its empty mailbox, between
/// messages, as a signal.
#[test]
fn abort_wakes_an_idle_loop() {
    model(1, |queue| {
        let aborter = on_thread(&queue, |queue| queue.abort(Signal::Abort));
        let mut inbox = Inbox::new();
        assert!(matches!(next(&mut inbox, &queue), Next::Signals));
        assert!(matches!(queue.take_signals().front(), Some(Signal::Abort)));
        assert!(queue.take_abort());
        aborter.join().unwrap();
    });
}

/// Runs the run loop's side on this thread: takes `count` messages, as
/// `Running::poll_serve` does, and hands them back in the order taken.
fn take(queue: &Queue<Msg>, count: usize) -> Vec<Msg> {
    let mut inbox = Inbox::new();
    (0..count)
        .map(|_| match next(&mut inbox, queue) {
            Next::Message(msg) => msg,
            Next::Signals | Next::Closed => panic!("only messages were sent"),
        })
        .collect()
}

/// Two senders wait for the one place of a full mailbox while the run loop
/// takes what comes: both get through, and every place goes back. A lost
/// wake-up leaves a sender (or the run loop) asleep, which loom reports.
#[test]
fn no_waiting_sender_is_left_asleep() {
    model(1, |queue| {
        assert!(queue.try_send(msg(0, 0)).is_ok());
        let senders: Vec<_> =
            (1..3).map(|sender| on_thread(&queue, move |queue| block_on(queue.send(msg(sender, 0))).is_ok())).collect();
        let taken = take(&queue, 3);
        for sender in senders {
            assert!(sender.join().unwrap(), "the queue stays open");
        }
        assert_eq!(taken[0].sender, 0, "the first message queued is taken first");
        assert_eq!(queue.len(), 0, "every place went back");
    });
}

/// A sender that lines up and gives up, racing the run loop making room:
/// the sender that stays still gets through.
#[test]
fn giving_up_never_swallows_a_wake_up() {
    model(1, |queue| {
        assert!(queue.try_send(msg(0, 0)).is_ok());
        let stayer = on_thread(&queue, |queue| block_on(queue.send(msg(1, 0))).is_ok());
        let quitter = on_thread(&queue, |queue| {
            let mut entering = queue.send(msg(2, 0));
            let waker = futures::task::noop_waker();
            // Queued at once, or lined up and then given up (dropped).
            matches!(Pin::new(&mut entering).poll(&mut TaskContext::from_waker(&waker)), Poll::Ready(Ok(())))
        });
        // The run loop takes the first message, which gives its place back
        // while the quitter may be lining up or giving up.
        let mut inbox = Inbox::new();
        assert!(matches!(next(&mut inbox, &queue), Next::Message(Msg { sender: 0, .. })));
        if quitter.join().unwrap() {
            // The quitter got the place after all: taking its message makes
            // room for the stayer.
            assert!(matches!(next(&mut inbox, &queue), Next::Message(Msg { sender: 2, .. })));
        }
        // A swallowed wake-up leaves the stayer asleep here for ever.
        assert!(stayer.join().unwrap());
        assert!(matches!(next(&mut inbox, &queue), Next::Message(Msg { sender: 1, .. })));
    });
}

/// Closing wakes a sender that is about to wait, and hands it its message.
#[test]
fn closing_reaches_a_sender_about_to_wait() {
    model(1, |queue| {
        assert!(queue.try_send(msg(0, 0)).is_ok());
        let sender = on_thread(&queue, |queue| block_on(queue.send(msg(1, 0))));
        queue.close();
        let refused = sender.join().unwrap().expect_err("the queue closed while it was full");
        assert_eq!((refused.sender, refused.seq), (1, 0));
    });
}

/// The registry's fence: `ActorSystem::register` racing the end of the
/// actor it names. The two sides, step by step as in `registry.rs`
/// (`register`, `Registry::insert`) and `actor/shared.rs` (`Shared::forget_names`,
/// run after the mailbox closes): either the registration sees the mailbox
/// closed and takes its name back, or the end sees the actor marked as
/// named and frees its names; a stopped actor never stays registered. The
/// queue is the shipped one (its closed flag is what `is_alive` reads); the
/// `named` flag mirrors `Counters::named` with the same orderings, and a
/// loom mutex stands in for the name map.
#[test]
fn a_registration_racing_the_actors_end_never_outlives_it() {
    loom::model(|| {
        let queue: Arc<Queue<Msg>> = Arc::new(Queue::new(1));
        let named = Arc::new(AtomicBool::new(false));
        let names = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        let register = {
            let (queue, named, names) = (queue.clone(), named.clone(), names.clone());
            thread::spawn(move || {
                if queue.is_closed() {
                    return false;
                }
                // `Registry::insert`: mark, then add under the map's lock.
                named.store(true, Ordering::SeqCst);
                names.lock().unwrap().push("cache");
                fence(Ordering::SeqCst);
                if queue.is_closed() {
                    names.lock().unwrap().retain(|n| *n != "cache");
                    return false;
                }
                true
            })
        };
        // The actor's end: its mailbox closes, then `forget_names`.
        queue.close();
        fence(Ordering::SeqCst);
        if named.load(Ordering::SeqCst) {
            names.lock().unwrap().clear();
        }
        let _registered = register.join().unwrap();
        assert!(names.lock().unwrap().is_empty(), "a stopped actor kept its name");
    });
}
