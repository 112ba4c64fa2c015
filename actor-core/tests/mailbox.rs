//! Mailboxes: bounded backpressure, `try_tell` on a full mailbox, unbounded
//! mailboxes, and a property test over random mixes of message sizes and
//! ways of sending.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actor_core::error::SendError;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use proptest::prelude::*;
use support::{Add, Counter, Get, Hold};

#[tokio::test]
async fn try_tell_on_a_full_mailbox_hands_the_message_back() {
    let counter = ActorSystem::new().spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(2)));
    counter.try_tell(Add { n: 1 }).unwrap();
    counter.try_tell(Add { n: 2 }).unwrap();
    match counter.try_tell(Add { n: 3 }) {
        Err(SendError::Full(Add { n: 3 })) => {}
        other => panic!("expected Full(Add(3)), got {other:?}"),
    }
    assert_eq!(counter.mailbox_len(), 2);
    assert_eq!(counter.ask(Get).await.unwrap(), 3);
}

#[tokio::test]
async fn tell_waits_for_room_on_a_full_mailbox() {
    let counter = ActorSystem::new().spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    let (release, hold) = tokio::sync::oneshot::channel();
    counter.tell(Hold { rx: hold }).await.unwrap();
    while counter.mailbox_len() > 0 {
        tokio::task::yield_now().await;
    }
    counter.tell(Add { n: 1 }).await.unwrap();
    let mut blocked = Box::pin(counter.tell(Add { n: 2 }));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(blocked.as_mut().poll(cx))).await;
    assert!(polled.is_pending(), "the mailbox is full: tell must wait");
    release.send(()).unwrap();
    blocked.await.unwrap();
    assert_eq!(counter.ask(Get).await.unwrap(), 3);
}

#[tokio::test]
async fn an_unbounded_mailbox_never_reports_full() {
    let counter = ActorSystem::new().spawn_with(Counter::default(), SpawnOptions::new().mailbox(Mailbox::unbounded()));
    // Fewer under Miri, an interpreter; the same code paths.
    let count = if cfg!(miri) { 1_000 } else { 100_000 };
    for _ in 0..count {
        counter.try_tell(Add { n: 1 }).unwrap();
    }
    assert_eq!(counter.ask(Get).await.unwrap(), count);
    assert_eq!(Mailbox::unbounded().capacity(), None);
    assert_eq!(Mailbox::bounded(5).capacity(), Some(5));
}

/// Counts live payloads so the property test can prove none leaks or is
/// dropped twice.
#[derive(Debug)]
struct Live(Arc<AtomicUsize>);
impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Live(count.clone())
    }
}
impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Payloads of every placement: inline, boxed for size, boxed for alignment.
struct Tiny(u32, #[allow(dead_code)] Live);
struct Huge(u32, [u8; 200], #[allow(dead_code)] Live);
#[repr(align(32))]
struct Wide(u32, #[allow(dead_code)] Live);
impl Message for Tiny {
    type Reply = u32;
}
impl Message for Huge {
    type Reply = u32;
}
impl Message for Wide {
    type Reply = u32;
}

#[derive(Default)]
struct Seen(Vec<u32>);
impl Actor for Seen {
    type Error = std::convert::Infallible;
}
impl Handler<Tiny> for Seen {
    async fn handle(&mut self, m: Tiny, _: &mut Context<Self>) -> u32 {
        self.0.push(m.0);
        m.0
    }
}
impl Handler<Huge> for Seen {
    async fn handle(&mut self, m: Huge, _: &mut Context<Self>) -> u32 {
        assert!(m.1.iter().all(|&b| b == m.0 as u8));
        tokio::task::yield_now().await;
        self.0.push(m.0);
        m.0
    }
}
impl Handler<Wide> for Seen {
    async fn handle(&mut self, m: Wide, _: &mut Context<Self>) -> u32 {
        self.0.push(m.0);
        m.0
    }
}
struct Drain;
impl Message for Drain {
    type Reply = Vec<u32>;
}
impl Handler<Drain> for Seen {
    async fn handle(&mut self, _: Drain, _: &mut Context<Self>) -> Vec<u32> {
        std::mem::take(&mut self.0)
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tiny,
    Huge,
    Wide,
}
#[derive(Clone, Copy, Debug)]
enum Send {
    Tell,
    TryTell,
    Ask,
}

proptest! {
    // Under Miri, an interpreter: fewer cases, and no regression file
    // (its isolation has no file system).
    #![proptest_config(if cfg!(miri) {
        ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() }
    } else {
        ProptestConfig::with_cases(64)
    })]

    /// Whatever the mix, every accepted message is handled once, in order,
    /// and every payload (handled, refused, or left queued at kill) is
    /// dropped exactly once.
    #[test]
    fn every_accepted_message_is_handled_once_in_order(
        ops in proptest::collection::vec((prop_oneof![Just(Kind::Tiny), Just(Kind::Huge), Just(Kind::Wide)],
                                          prop_oneof![Just(Send::Tell), Just(Send::TryTell), Just(Send::Ask)]), 1..60),
        capacity in 1usize..8,
        kill_at_end in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        runtime.block_on(async {
            let system = ActorSystem::new();
            let seen = system.spawn_with(Seen::default(), SpawnOptions::new().mailbox(Mailbox::bounded(capacity)));
            let mut accepted = Vec::new();
            for (i, (kind, how)) in ops.iter().enumerate() {
                let n = i as u32;
                let ok = match (kind, how) {
                    (Kind::Tiny, Send::Tell) => seen.tell(Tiny(n, Live::new(&live))).await.is_ok(),
                    (Kind::Huge, Send::Tell) => seen.tell(Huge(n, [n as u8; 200], Live::new(&live))).await.is_ok(),
                    (Kind::Wide, Send::Tell) => seen.tell(Wide(n, Live::new(&live))).await.is_ok(),
                    (Kind::Tiny, Send::TryTell) => seen.try_tell(Tiny(n, Live::new(&live))).is_ok(),
                    (Kind::Huge, Send::TryTell) => seen.try_tell(Huge(n, [n as u8; 200], Live::new(&live))).is_ok(),
                    (Kind::Wide, Send::TryTell) => seen.try_tell(Wide(n, Live::new(&live))).is_ok(),
                    (Kind::Tiny, Send::Ask) => seen.ask(Tiny(n, Live::new(&live))).await.map_err(drop) == Ok(n),
                    (Kind::Huge, Send::Ask) => seen.ask(Huge(n, [n as u8; 200], Live::new(&live))).await.map_err(drop) == Ok(n),
                    (Kind::Wide, Send::Ask) => seen.ask(Wide(n, Live::new(&live))).await.map_err(drop) == Ok(n),
                };
                if ok {
                    accepted.push(n);
                }
            }
            if kill_at_end {
                seen.kill();
                seen.wait_for_stop().await;
                let handled = system.dead_letter_count() as usize;
                assert!(handled <= accepted.len());
            } else {
                let handled = seen.ask(Drain).await.unwrap();
                assert_eq!(handled, accepted);
                system.shutdown().await;
            }
        });
        drop(runtime);
        prop_assert_eq!(live.load(Ordering::SeqCst), 0, "a payload leaked or was dropped twice");
    }
}

/// A tell's future is what a handler that tells holds across its await,
/// so it counts against the run loop's 128-byte slot: a reference to the
/// actor, the message and the state it is in (40 bytes for a one-word
/// message), whether the actor is local or remote, and through a
/// `Recipient` too.
#[tokio::test]
async fn a_tell_future_is_the_message_and_three_words() {
    let counter = ActorSystem::new().spawn(Counter::default());
    assert_eq!(std::mem::size_of::<Add>(), 8);
    let tell = counter.tell(Add { n: 1 });
    assert!(std::mem::size_of_val(&tell) <= 40, "an ActorRef's tell: {} bytes", std::mem::size_of_val(&tell));
    tell.await.unwrap();
    let recipient = counter.recipient::<Add>();
    let tell = recipient.tell(Add { n: 2 });
    assert!(std::mem::size_of_val(&tell) <= 40, "a Recipient's tell: {} bytes", std::mem::size_of_val(&tell));
    tell.await.unwrap();
    assert_eq!(counter.ask(Get).await.unwrap(), 3);
}

/// Counts its messages where a task outside can read the count.
struct Tally(Arc<AtomicUsize>);

#[actor]
impl Tally {
    #[message]
    fn bump(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// An actor with a long mailbox shares its worker: on one thread, a task
/// that looks at how far it got between its own turns sees it move on in
/// steps of at most 129 messages (the run loop yields after 128 when more
/// are queued, after one more in any case), never all at once.
#[tokio::test(flavor = "current_thread")]
async fn a_busy_actor_yields_its_worker_every_128_messages() {
    let count = if cfg!(miri) { 300 } else { 2_000 };
    let seen = Arc::new(AtomicUsize::new(0));
    let tally = ActorSystem::new().spawn_with(Tally(seen.clone()), SpawnOptions::new().mailbox(Mailbox::unbounded()));
    // Queued before the actor runs at all: one thread, no await yet.
    for _ in 0..count {
        tally.try_tell(Bump).unwrap();
    }
    // A spawned task, so that it takes turns in the runtime's queue with
    // the actor (the test's own future is polled apart from that queue).
    let watcher = tokio::spawn(async move {
        let mut steps = Vec::new();
        let mut last = 0;
        loop {
            let now = seen.load(Ordering::Relaxed);
            steps.push(now - last);
            last = now;
            if last == count {
                return steps;
            }
            support::turn().await;
        }
    });
    // Bounded: an actor that stopped short would leave the watcher waiting.
    let steps = support::bounded(watcher).await.unwrap();
    assert!(steps.iter().all(|&step| step <= 129), "the actor ran past its turn: steps {steps:?}");
    assert!(steps.iter().filter(|&&step| step > 0).count() >= count / 129, "steps {steps:?}");
}
