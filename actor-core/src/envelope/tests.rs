//! Tests for the unsafe storage of envelopes and handler futures: inline and
//! boxed payloads, payloads dropped unhandled, over-aligned payloads, futures
//! too large for the slot, and panics while polling.

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use super::*;
use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::actor::message::{Ask, Handler, Message, Tell};
use crate::actor::shared::Shared;
use crate::base::error::PanicError;
use crate::cell::Cell;
use crate::mailbox::queue::Queue;
use crate::system::ActorSystem;

/// Counts drops, to prove each payload is dropped exactly once.
#[derive(Clone)]
struct Token(Arc<AtomicUsize>);
impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// The tokens are held only for their `Drop`.
struct Small(u64, #[allow(dead_code)] Token);
struct Big([u64; 16], #[allow(dead_code)] Token);
#[repr(align(64))]
struct Aligned(u8, #[allow(dead_code)] Token);

impl Message for Small {
    type Reply = u64;
}
impl Message for Big {
    type Reply = u64;
}
impl Message for Aligned {
    type Reply = u64;
}

/// Records what it handled; `Big` handlers hold a large local across an
/// await, so their future does not fit the slot.
#[derive(Default)]
struct Recorder {
    seen: Vec<u64>,
}
impl Actor for Recorder {
    type Error = std::convert::Infallible;
}
impl Handler<Small> for Recorder {
    async fn handle(&mut self, msg: Small, _: &mut Context<Self>) -> u64 {
        if msg.0 == 13 {
            panic!("unlucky");
        }
        self.seen.push(msg.0);
        msg.0
    }
}
impl Handler<Big> for Recorder {
    async fn handle(&mut self, msg: Big, _: &mut Context<Self>) -> u64 {
        let copy = msg.0;
        tokio::task::yield_now().await;
        let sum = copy.iter().sum();
        self.seen.push(sum);
        sum
    }
}
impl Handler<Aligned> for Recorder {
    async fn handle(&mut self, msg: Aligned, _: &mut Context<Self>) -> u64 {
        assert_eq!(std::ptr::from_ref(&msg) as usize % 64, 0, "payload lost its alignment");
        self.seen.push(u64::from(msg.0));
        u64::from(msg.0)
    }
}

#[test]
fn payload_placement() {
    assert!(fits_inline::<Tell<Small>>());
    assert!(fits_inline::<Ask<Small>>());
    assert!(!fits_inline::<Tell<Big>>());
    assert!(!fits_inline::<Tell<Aligned>>());
}

/// A context of a system of its own, for driving envelopes by hand,
/// outside a run loop.
fn context() -> Context<Recorder> {
    let shared = Arc::new(Shared::new(Cell::new("Recorder", None, None), ActorSystem::new(), Queue::new(1)));
    Context::new(shared, None)
}

/// Runs one envelope through a slot, as the run loop does: started and
/// polled once by `start`, then polled through the slot until done.
async fn handle(env: Envelope<Recorder>, actor: &mut Recorder, ctx: &mut Context<Recorder>) {
    let mailbox = Queue::new(1);
    let mut slot = Slot::new();
    let mut env = Some(env);
    poll_fn(|cx| match env.take() {
        Some(env) => {
            // SAFETY: `actor` and `ctx` outlive `slot` (declared in this
            // frame after them) and are not touched until the slot is empty
            // again; the slot stays in this (pinned) frame until then. The
            // envelope, ours, is used up here.
            unsafe { Envelope::start_in_place(&mut ManuallyDrop::new(env), actor, ctx, &mut slot, cx, &mailbox) }
                .expect("no abort waits")
        }
        None => slot.poll(cx),
    })
    .await;
    assert!(slot.is_empty());
}

#[tokio::test]
async fn inline_boxed_and_aligned_payloads_are_handled_and_dropped_once() {
    let mut ctx = context();
    let mut actor = Recorder::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let t = || Token(drops.clone());

    handle(Envelope::new(Tell(Small(1, t()))), &mut actor, &mut ctx).await;
    handle(Envelope::new(Tell(Big([1; 16], t()))), &mut actor, &mut ctx).await;
    handle(Envelope::new(Tell(Aligned(7, t()))), &mut actor, &mut ctx).await;
    let (tx, rx) = crate::base::reply::channel();
    handle(Envelope::new(Ask(Small(5, t()), tx)), &mut actor, &mut ctx).await;
    assert_eq!(rx.await.unwrap().unwrap(), 5);

    assert_eq!(actor.seen, vec![1, 16, 7, 5]);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn unhandled_envelopes_drop_their_payload_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let t = || Token(drops.clone());
    drop(Envelope::<Recorder>::new(Tell(Small(1, t()))));
    drop(Envelope::<Recorder>::new(Tell(Big([0; 16], t()))));
    drop(Envelope::<Recorder>::new(Tell(Aligned(0, t()))));
    let (tx, rx) = crate::base::reply::channel::<u64>();
    drop(Envelope::<Recorder>::new(Ask(Small(1, t()), tx)));
    let (big_tx, _big_rx) = crate::base::reply::channel::<u64>();
    drop(Envelope::<Recorder>::new(Ask(Big([0; 16], t()), big_tx)));
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    // The asker sees the reply channel closed, not a hang.
    assert!(rx.blocking_recv().is_err());
}

#[test]
fn into_payload_checks_the_type() {
    let drops = Arc::new(AtomicUsize::new(0));
    let env = Envelope::<Recorder>::new(Tell(Big([3; 16], Token(drops.clone()))));
    assert_eq!(env.message_type(), std::any::type_name::<Big>());
    let env_small = Envelope::<Recorder>::new(Tell(Small(9, Token(drops.clone()))));
    assert!(env_small.into_payload::<Tell<Big>>().is_none());
    let back = env.into_payload::<Tell<Big>>().expect("same type");
    assert_eq!(back.0.0, [3; 16]);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the mismatched envelope dropped its payload");
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_panicking_future_is_dropped_by_clear_and_its_reply_fails_with_the_panic() {
    let mut ctx = context();
    let mut actor = Recorder::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crate::base::reply::channel();
    let env = Envelope::new(Ask(Small(13, Token(drops.clone())), tx));

    let mut slot = Slot::new();
    // Read before the handler borrows `ctx`, which nothing else may touch
    // until the slot is empty again.
    let id = ctx.id();
    let ctx_id = crate::base::reply::Me { id, scope: 0 };
    let mailbox = Queue::new(1);
    let mut env = Some(env);
    let outcome = poll_fn(|cx| {
        Poll::Ready(crate::base::reply::in_handler(ctx_id, || {
            catch_unwind(AssertUnwindSafe(|| {
                let env = env.take().expect("polled once");
                // SAFETY: as in `handle` above.
                unsafe {
                    Envelope::start_in_place(&mut ManuallyDrop::new(env), &mut actor, &mut ctx, &mut slot, cx, &mailbox)
                }
            }))
        }))
    })
    .await;
    let payload = outcome.expect_err("the handler panics");
    assert!(!slot.is_empty(), "a panicked future stays until cleared");
    let err = PanicError::new(&*payload, id, "Recorder", Some("Small"));
    crate::base::reply::in_handler(ctx_id, || slot.clear());
    crate::base::reply::complete_orphans(&err);
    assert!(slot.is_empty());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let reply = rx.await.expect("the reply is completed, not dropped");
    let Err(failure) = reply else { panic!("expected a panic, got {reply:?}") };
    // The only kind of failure without the `serde` feature.
    #[allow(irrefutable_let_patterns)]
    let crate::base::reply::ReplyFailure::Panicked(panic) = *failure else {
        panic!("expected a panic, got {failure:?}")
    };
    assert_eq!(panic.message(), "unlucky");
}

#[tokio::test]
async fn an_abort_waiting_at_the_start_leaves_the_future_unpolled() {
    let mut ctx = context();
    let mut actor = Recorder::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crate::base::reply::channel();
    let env = Envelope::new(Ask(Small(3, Token(drops.clone())), tx));
    let mailbox = Queue::new(1);
    mailbox.abort(crate::mailbox::signal::Signal::Abort);
    let mut slot = Slot::new();
    let mut env = Some(env);
    let started = poll_fn(|cx| {
        let env = env.take().expect("polled once");
        // SAFETY: as in `handle` above.
        Poll::Ready(unsafe {
            Envelope::start_in_place(&mut ManuallyDrop::new(env), &mut actor, &mut ctx, &mut slot, cx, &mailbox)
        })
    })
    .await;
    assert!(started.is_none(), "the abort is seen before the first poll");
    assert!(!mailbox.is_aborting(), "and taken");
    assert!(!slot.is_empty(), "the future waits, unpolled, to be cleared");
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    slot.clear();
    assert!(slot.is_empty());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the payload dropped once");
    assert!(actor.seen.is_empty(), "the handler never ran");
    assert!(rx.await.is_err(), "the asker hears that no reply comes");
}

#[test]
fn slot_drops_a_pending_future_when_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let token = Token(drops.clone());
    {
        let mut slot = Box::new(Slot::new());
        // SAFETY: the future borrows nothing, and the boxed slot never moves.
        unsafe {
            slot.put(async move {
                let _held = token;
                std::future::pending::<()>().await;
            })
        };
        let waker = futures::task::noop_waker();
        let mut cx = TaskContext::from_waker(&waker);
        assert!(slot.poll(&mut cx).is_pending());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
