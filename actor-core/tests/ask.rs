//! `ask` as seen from outside: replies, timeouts, panics, stopped actors,
//! deferred replies and blocking callers.

mod support;

use std::time::Duration;

use actor_core::error::{AskError, ErrorKind};
use actor_core::prelude::*;
use support::{
    Add, Boom, Counter, Get, LIMIT, Nap, both_flavours, both_flavours_bounded, both_flavours_with, log_of, run_with,
};

#[test]
fn ask_returns_the_handlers_reply() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        assert_eq!(counter.ask(Add { n: 2 }).await.unwrap(), 2);
        assert_eq!(counter.ask(Add { n: 3 }).await.unwrap(), 5);
        assert_eq!(counter.ask(Get).await.unwrap(), 5);
    });
}

#[test]
fn ask_after_stop_hands_the_message_back() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        counter.stop();
        assert!(counter.wait_for_stop().await.is_normal());
        match counter.ask(Add { n: 7 }).await {
            Err(AskError::Closed(Add { n: 7 })) => {}
            other => panic!("expected Closed(Add(7)), got {other:?}"),
        }
        assert_eq!(counter.tell(Add { n: 1 }).await.unwrap_err().into_inner().n, 1);
    });
}

#[test]
fn ask_whose_handler_panics_fails_and_the_actor_stops_by_default() {
    both_flavours_with(Counter::default, |_, [counter, neighbour]| async move {
        counter.ask(Add { n: 4 }).await.unwrap();

        let err = counter.ask(Boom).await.unwrap_err();
        let AskError::Panicked(panic) = &err else { panic!("expected a panic error, got {err:?}") };
        assert_eq!(panic.message(), "boom at 4");
        assert_eq!(panic.actor_id(), counter.id());
        assert_eq!(panic.message_type(), Some(std::any::type_name::<Boom>()));

        let reason = counter.wait_for_stop().await;
        assert!(matches!(reason, StopReason::Panicked(ref p) if p.message() == "boom at 4"), "{reason}");
        assert!(matches!(counter.ask(Get).await, Err(AskError::Closed(Get))));
        // The runtime and the neighbour are unharmed.
        assert_eq!(neighbour.ask(Add { n: 1 }).await.unwrap(), 1);
    });
}

#[test]
fn on_panic_can_resume_with_the_state_intact() {
    both_flavours(|| async {
        let counter = ActorSystem::new().spawn(Counter { resume_after_panic: true, ..Counter::default() });
        let log = counter.ask(support::GetLog).await.unwrap();
        counter.ask(Add { n: 10 }).await.unwrap();
        assert!(counter.ask(Boom).await.unwrap_err().is_panic());
        assert_eq!(counter.ask(Add { n: 1 }).await.unwrap(), 11);
        assert!(counter.is_alive());
        assert_eq!(log_of(&log), vec!["start".to_string(), "panic: boom at 10".to_string()]);
    });
}

#[test]
fn ask_of_a_message_dropped_at_kill_fails_with_no_reply() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let (release, hold) = tokio::sync::oneshot::channel();
        counter.tell(support::Hold { rx: hold }).await.unwrap();
        // Wait until the actor has taken the held message off the mailbox.
        while counter.mailbox_len() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let counter = counter.clone();
            tokio::spawn(async move { counter.ask(Get).await })
        };
        // Let the ask be queued behind the held message, then kill.
        while counter.mailbox_len() == 0 {
            tokio::task::yield_now().await;
        }
        counter.kill();
        release.send(()).unwrap();
        assert!(matches!(queued.await.unwrap(), Err(AskError::NoReply)));
        assert!(matches!(counter.wait_for_stop().await, StopReason::Killed));
    });
}

#[tokio::test(start_paused = true)]
async fn slow_reply_hits_the_callers_timeout() {
    let counter = ActorSystem::new().spawn(Counter::default());
    let started = tokio::time::Instant::now();
    let err = counter.ask(Nap { d: Duration::from_secs(60) }).timeout(Duration::from_millis(50)).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    // The actor is still fine and handles the next message after the nap.
    assert_eq!(counter.ask(Add { n: 1 }).timeout(Duration::from_secs(120)).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_also_bounds_the_wait_for_mailbox_room() {
    let system = ActorSystem::new();
    let counter =
        system.spawn_with(Counter::default(), SpawnOptions::new().mailbox(actor_core::mailbox::Mailbox::bounded(1)));
    counter.tell(Nap { d: Duration::from_secs(60) }).await.unwrap();
    counter.tell(Nap { d: Duration::from_secs(60) }).await.unwrap();
    let err = counter.ask(Get).timeout(Duration::from_millis(10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[test]
fn sent_asks_are_queued_at_once_and_their_replies_awaited_later_in_any_order() {
    both_flavours_bounded(|system| async move {
        let counters: Vec<_> = (0..50).map(|_| system.spawn(Counter::default())).collect();
        let mut replies = Vec::new();
        for (counter, n) in counters.iter().zip(1..) {
            replies.push(counter.ask(Add { n }).send().await.unwrap());
        }
        // Every message is in its mailbox before any reply is awaited: a
        // tell queued now lands behind it.
        for counter in &counters {
            counter.tell(Add { n: 1000 }).await.unwrap();
        }
        for (reply, n) in replies.into_iter().zip(1..=50).collect::<Vec<_>>().into_iter().rev() {
            assert_eq!(reply.await.unwrap(), n);
        }
        for (counter, n) in counters.iter().zip(1..) {
            assert_eq!(counter.ask(Get).await.unwrap(), n + 1000);
        }
    });
}

#[test]
fn a_sent_ask_fails_like_an_ask_on_a_stopped_actor_or_a_panicking_handler() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let boom = counter.ask(Boom).send().await.unwrap();
        assert!(matches!(boom.await, Err(AskError::Panicked(_))));
        counter.wait_for_stop().await;
        assert!(matches!(counter.ask(Add { n: 7 }).send().await, Err(AskError::Closed(Add { n: 7 }))));
    });
}

#[tokio::test(start_paused = true)]
async fn a_sent_asks_timeout_counts_from_the_send_and_bounds_the_wait_for_room_and_the_reply() {
    let system = ActorSystem::new();
    let counter =
        system.spawn_with(Counter::default(), SpawnOptions::new().mailbox(actor_core::mailbox::Mailbox::bounded(1)));
    let started = tokio::time::Instant::now();
    let napping =
        counter.ask(Nap { d: Duration::from_secs(60) }).timeout(Duration::from_millis(50)).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = napping.await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    // The mailbox holds one more; the next send waits for room and times
    // out there.
    counter.tell(Nap { d: Duration::from_secs(60) }).await.unwrap();
    let err = counter.ask(Get).timeout(Duration::from_millis(10)).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn try_send_queues_without_an_await_and_a_full_mailbox_hands_the_message_back() {
    let system = ActorSystem::new();
    let counter =
        system.spawn_with(Counter::default(), SpawnOptions::new().mailbox(actor_core::mailbox::Mailbox::bounded(1)));
    // One thread: the actor has not run, so its one slot stays taken.
    let first = counter.ask(Add { n: 1 }).try_send().unwrap();
    match counter.ask(Add { n: 2 }).try_send() {
        Err(AskError::Full(Add { n: 2 })) => {}
        other => panic!("expected Full(Add(2)), got {other:?}"),
    }
    assert_eq!(first.await.unwrap(), 1);
    // The refused message was not half queued.
    assert_eq!(counter.ask(Get).await.unwrap(), 1);
    let second = counter.ask(Add { n: 2 }).try_send().unwrap();
    assert_eq!(second.await.unwrap(), 3);
}

#[test]
fn try_send_fails_like_an_ask_on_a_stopped_actor_or_a_panicking_handler() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let boom = counter.ask(Boom).try_send().unwrap();
        assert!(matches!(boom.await, Err(AskError::Panicked(_))));
        counter.wait_for_stop().await;
        assert!(matches!(counter.ask(Add { n: 7 }).try_send(), Err(AskError::Closed(Add { n: 7 }))));
    });
}

#[tokio::test(start_paused = true)]
async fn try_sends_timeout_counts_from_the_send_and_bounds_the_reply() {
    let system = ActorSystem::new();
    let counter = system.spawn(Counter::default());
    let started = tokio::time::Instant::now();
    let napping =
        counter.ask(Nap { d: Duration::from_secs(60) }).timeout(Duration::from_millis(50)).try_send().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = napping.await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(50));
}

/// Answers later: keeps the reply handle and completes it when released.
#[derive(Default)]
struct Deferrer {
    waiting: Vec<ReplyTo<u64>>,
}
impl Actor for Deferrer {
    type Error = std::convert::Infallible;
}
struct Later(ReplyTo<u64>);
impl Message for Later {
    type Reply = ();
}
impl Handler<Later> for Deferrer {
    async fn handle(&mut self, Later(reply): Later, _: &mut Context<Self>) {
        self.waiting.push(reply);
    }
}
struct Release(u64);
impl Message for Release {
    type Reply = usize;
}
impl Handler<Release> for Deferrer {
    async fn handle(&mut self, Release(v): Release, _: &mut Context<Self>) -> usize {
        let n = self.waiting.len();
        for reply in self.waiting.drain(..) {
            reply.send(v).unwrap();
        }
        n
    }
}

#[test]
fn deferred_reply_does_not_block_the_mailbox() {
    both_flavours_with(Deferrer::default, |_, [deferrer]| async move {
        let first = tokio::spawn({
            let d = deferrer.clone();
            async move { d.ask_with(Later).await }
        });
        let second = tokio::spawn({
            let d = deferrer.clone();
            async move { d.ask_with(Later).await }
        });
        // Both asks are parked in the actor; it still answers other messages.
        let mut released = 0;
        while released < 2 {
            released += deferrer.ask(Release(42)).await.unwrap();
            tokio::task::yield_now().await;
        }
        assert_eq!(first.await.unwrap().unwrap(), 42);
        assert_eq!(second.await.unwrap().unwrap(), 42);
    });
}

struct Forget(ReplyTo<u64>);
impl Message for Forget {
    type Reply = ();
}
impl Handler<Forget> for Deferrer {
    async fn handle(&mut self, Forget(reply): Forget, _: &mut Context<Self>) {
        drop(reply);
    }
}

#[test]
fn dropped_reply_handle_fails_the_ask_instead_of_hanging() {
    run_with(LIMIT, Deferrer::default, |_, [deferrer]| async move {
        assert!(matches!(deferrer.ask_with(Forget).await, Err(AskError::NoReply)));
        // A handle still held when the actor stops is dropped with it.
        let parked = tokio::spawn({
            let d = deferrer.clone();
            async move { d.ask_with(Later).await }
        });
        while deferrer.ask(Release(7)).await.unwrap() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(parked.await.unwrap().unwrap(), 7);
        // Queued before the stop (the first poll sends it); the stop refuses
        // anything sent after it.
        let mut orphan = Box::pin(std::future::IntoFuture::into_future(deferrer.ask_with(Later)));
        let first_poll = std::future::poll_fn(|cx| std::task::Poll::Ready(orphan.as_mut().poll(cx))).await;
        assert!(first_poll.is_pending());
        deferrer.stop();
        assert!(matches!(deferrer.ask(Release(0)).await, Err(AskError::Closed(_))));
        assert!(matches!(orphan.await, Err(AskError::NoReply)));
        deferrer.wait_for_stop().await;
    });
}

#[test]
fn blocking_ask_and_tell_work_from_a_plain_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let counter = runtime.block_on(async { ActorSystem::new().spawn(Counter::default()) });
    let from_thread = std::thread::spawn(move || {
        counter.blocking_tell(Add { n: 5 }).unwrap();
        let total = counter.blocking_ask(Add { n: 1 }).unwrap();
        let timed = counter.ask(Nap { d: Duration::from_secs(5) }).timeout(Duration::from_millis(20)).blocking();
        (total, timed.unwrap_err().is_timeout())
    })
    .join()
    .unwrap();
    assert_eq!(from_thread, (6, true));
}

#[test]
fn blocking_calls_inside_the_runtime_fail_instead_of_deadlocking() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        match counter.blocking_ask(Add { n: 1 }) {
            Err(AskError::BlockingInRuntime(Add { n: 1 })) => {}
            other => panic!("expected BlockingInRuntime, got {other:?}"),
        }
        assert_eq!(counter.blocking_tell(Add { n: 2 }).unwrap_err().into_inner().n, 2);
        assert_eq!(counter.ask(Get).await.unwrap(), 0);
    });
}

#[test]
fn recipient_tells_and_asks_without_naming_the_actor_type() {
    both_flavours_with(Counter::default, |_, [counter]| async move {
        let adder: Recipient<Add> = counter.recipient();
        assert_eq!(adder.id(), counter.id());
        adder.tell(Add { n: 2 }).await.unwrap();
        adder.try_tell(Add { n: 3 }).unwrap();
        assert_eq!(adder.ask(Add { n: 0 }).await.unwrap(), 5);
        drop(counter);
        // The recipient alone keeps the actor alive.
        assert_eq!(adder.ask(Add { n: 1 }).await.unwrap(), 6);
    });
}

#[tokio::test]
async fn errors_convert_into_the_crate_error_for_question_mark() {
    async fn total(counter: &ActorRef<Counter>) -> Result<u64, actor_core::Error> {
        counter.tell(Add { n: 1 }).await?;
        Ok(counter.ask(Get).await?)
    }
    let counter = ActorSystem::new().spawn(Counter::default());
    assert_eq!(total(&counter).await.unwrap(), 1);
    counter.ask(Boom).await.unwrap_err();
    counter.wait_for_stop().await;
    let err = total(&counter).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(err.to_string(), "actor has stopped");
}

/// A loop of asks that fail at once (the actor has stopped) never waits
/// for a reply, yet shares its worker as a loop of sends does: each ask
/// spends a unit of tokio's cooperative budget, so on one thread a task
/// taking turns with the loop sees it run at most 128 asks between two of
/// its own turns.
#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_failing_asks_yields_its_worker() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let count = if cfg!(miri) { 300 } else { 2_000 };
    let counter = ActorSystem::new().spawn(Counter::default());
    counter.stop();
    assert!(counter.wait_for_stop().await.is_normal());
    let (turns, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    // Both spawned, so that they take turns in the runtime's queue (the
    // test's own future is polled apart from it).
    let watcher = tokio::spawn({
        let (turns, done) = (turns.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                turns.fetch_add(1, Ordering::Relaxed);
                support::turn().await;
            }
        }
    });
    let asker = tokio::spawn(async move {
        // The most asks in a row with no turn of the watcher in between.
        let (mut run, mut longest, mut last) = (0, 0, turns.load(Ordering::Relaxed));
        for n in 0..count {
            assert!(matches!(counter.ask(Add { n }).await, Err(AskError::Closed(Add { n: m })) if m == n));
            let now = turns.load(Ordering::Relaxed);
            run = if now == last { run + 1 } else { 1 };
            (longest, last) = (longest.max(run), now);
        }
        done.store(true, Ordering::Relaxed);
        longest
    });
    let longest = support::bounded(asker).await.unwrap();
    support::bounded(watcher).await.unwrap();
    assert!(longest <= 128, "{longest} asks in a row kept the worker from the other task");
}
