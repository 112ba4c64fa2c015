//! Timers: `send_after`, `send_interval`, cancelling, and dying with the actor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actor_core::TimerHandle;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use tokio::sync::oneshot;
use tokio::time::sleep;

/// Records the ticks it is sent; starts timers on request.
#[derive(Default)]
struct Clock {
    seen: Vec<u32>,
    /// How long each tick takes to handle.
    tick_cost: Duration,
    /// Ticks handled, readable while the actor is busy.
    handled: Arc<AtomicU32>,
}
#[actor]
impl Clock {
    #[message]
    async fn tick(&mut self, n: u32) {
        if !self.tick_cost.is_zero() {
            sleep(self.tick_cost).await;
        }
        self.seen.push(n);
        self.handled.fetch_add(1, Ordering::SeqCst);
    }

    /// Sends `Tick { n }` after `delay`.
    #[message]
    fn after(&mut self, delay: Duration, n: u32, ctx: &mut Context<Self>) -> TimerHandle {
        ctx.send_after(delay, Tick { n })
    }

    /// Sends `Tick { n: 1 }`, `Tick { n: 2 }`, ... every period, counting
    /// the ticks made.
    #[message]
    fn every(&mut self, period: Duration, made: Arc<AtomicU32>, ctx: &mut Context<Self>) -> TimerHandle {
        ctx.send_interval_with(period, move || Tick { n: made.fetch_add(1, Ordering::SeqCst) + 1 })
    }

    #[message]
    fn seen(&self) -> Vec<u32> {
        self.seen.clone()
    }

    /// Holds up the mailbox until released.
    #[message]
    async fn hold(&mut self, rx: oneshot::Receiver<()>) {
        let _ = rx.await;
    }
}

const SECOND: Duration = Duration::from_secs(1);
const MILLI: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn send_after_delivers_once_the_delay_has_passed_and_not_before() {
    let system = ActorSystem::new();
    let clock = system.spawn(Clock::default());
    let timer = clock.ask(After { delay: 10 * SECOND, n: 7 }).await.unwrap();

    sleep(10 * SECOND - MILLI).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), Vec::<u32>::new());
    assert!(!timer.is_finished());

    sleep(2 * MILLI).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![7]);
    assert!(timer.is_finished());

    sleep(60 * SECOND).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![7], "a one-shot timer fires once");
}

#[tokio::test(start_paused = true)]
async fn send_after_timers_fire_in_order_of_their_deadlines() {
    let clock = ActorSystem::new().spawn(Clock::default());
    clock.ask(After { delay: 3 * SECOND, n: 3 }).await.unwrap();
    clock.ask(After { delay: SECOND, n: 1 }).await.unwrap();
    clock.ask(After { delay: 2 * SECOND, n: 2 }).await.unwrap();
    sleep(4 * SECOND).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn cancelling_before_the_delay_prevents_delivery_without_a_dead_letter() {
    let system = ActorSystem::new();
    let clock = system.spawn(Clock::default());
    let timer = clock.ask(After { delay: 10 * SECOND, n: 1 }).await.unwrap();
    let dead = system.dead_letter_count();

    sleep(5 * SECOND).await;
    timer.cancel();
    assert!(timer.is_finished());
    timer.cancel(); // idempotent

    sleep(60 * SECOND).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), Vec::<u32>::new());
    assert_eq!(system.dead_letter_count(), dead);
}

#[tokio::test(start_paused = true)]
async fn cancelling_discards_a_timer_message_that_is_already_queued() {
    let clock = ActorSystem::new().spawn(Clock::default());
    let timer = clock.ask(After { delay: SECOND, n: 1 }).await.unwrap();
    let (release, held) = oneshot::channel();
    clock.tell(Hold { rx: held }).await.unwrap();

    sleep(2 * SECOND).await;
    assert!(timer.is_finished(), "the message was sent");
    assert_eq!(clock.mailbox_len(), 1, "and waits behind the held handler");

    timer.cancel();
    release.send(()).unwrap();
    assert_eq!(clock.ask(Seen).await.unwrap(), Vec::<u32>::new());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_does_not_cancel_the_timer() {
    let clock = ActorSystem::new().spawn(Clock::default());
    drop(clock.ask(After { delay: SECOND, n: 1 }).await.unwrap());
    drop(clock.ask(Every { period: SECOND, made: Arc::default() }).await.unwrap());
    sleep(2 * SECOND + MILLI).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![1, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn send_interval_ticks_once_per_period_starting_after_one_period_until_cancelled() {
    let clock = ActorSystem::new().spawn(Clock::default());
    let made = Arc::new(AtomicU32::new(0));
    let timer = clock.ask(Every { period: SECOND, made: made.clone() }).await.unwrap();

    sleep(SECOND - MILLI).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), Vec::<u32>::new(), "no tick at once");

    sleep(4 * SECOND).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![1, 2, 3, 4]);
    assert!(!timer.is_finished());

    timer.cancel();
    assert!(timer.is_finished());
    sleep(10 * SECOND).await;
    assert_eq!(clock.ask(Seen).await.unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(made.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_slow_actor_slows_its_interval_instead_of_filling_its_mailbox() {
    let system = ActorSystem::new();
    let handled = Arc::new(AtomicU32::new(0));
    let clock = system.spawn_with(
        Clock { tick_cost: 3 * SECOND, handled: handled.clone(), ..Clock::default() },
        SpawnOptions::new().mailbox(Mailbox::bounded(1)),
    );
    let made = Arc::new(AtomicU32::new(0));
    let _timer = clock.ask(Every { period: SECOND, made: made.clone() }).await.unwrap();

    sleep(60 * SECOND).await;
    let (made, handled) = (made.load(Ordering::SeqCst), handled.load(Ordering::SeqCst));
    // One tick every 3 s is all the actor can take. Besides those handled,
    // at most one tick is in its handler, one queued and one waiting for
    // room: the other ticks were skipped, not made (without backpressure
    // there would be 60).
    assert!(handled >= 15, "handled {handled}");
    assert!(made <= handled + 3, "made {made}, handled {handled}");
    assert!(clock.mailbox_len() <= 1);
}

#[tokio::test(start_paused = true)]
async fn timers_die_with_their_actor_without_dead_letters() {
    for kill in [false, true] {
        let system = ActorSystem::new();
        let clock = system.spawn(Clock::default());
        let once = clock.ask(After { delay: 10 * SECOND, n: 1 }).await.unwrap();
        let every = clock.ask(Every { period: SECOND, made: Arc::default() }).await.unwrap();
        sleep(SECOND / 2).await;

        if kill {
            clock.kill();
        } else {
            clock.stop();
        }
        clock.wait_for_stop().await;
        let dead = system.dead_letter_count();

        sleep(60 * SECOND).await;
        assert_eq!(system.dead_letter_count(), dead, "kill: {kill}");
        assert!(once.is_finished(), "kill: {kill}");
        assert!(every.is_finished(), "kill: {kill}");
        once.cancel(); // harmless now
    }
}

#[tokio::test(start_paused = true)]
async fn an_interval_does_not_keep_its_actor_alive() {
    let system = ActorSystem::new();
    let handled = Arc::new(AtomicU32::new(0));
    let clock = system.spawn(Clock { handled: handled.clone(), ..Clock::default() });
    let every = clock.ask(Every { period: SECOND, made: Arc::default() }).await.unwrap();
    sleep(3 * SECOND + MILLI).await;
    assert_eq!(handled.load(Ordering::SeqCst), 3);

    drop(clock);
    sleep(MILLI).await;
    assert_eq!(system.actor_count(), 0);
    assert!(every.is_finished());
    sleep(10 * SECOND).await;
    assert_eq!(handled.load(Ordering::SeqCst), 3);
}

/// Starts a timer in `on_stop`, after its timers were aborted.
struct Parting {
    timer: Arc<std::sync::Mutex<Option<TimerHandle>>>,
}
impl Actor for Parting {
    type Error = std::convert::Infallible;

    async fn on_stop(&mut self, ctx: &mut Context<Self>, _: &StopReason) {
        *self.timer.lock().unwrap() = Some(ctx.send_after(SECOND, Farewell));
    }
}
struct Farewell;
impl Message for Farewell {
    type Reply = ();
}
impl Handler<Farewell> for Parting {
    async fn handle(&mut self, _: Farewell, _: &mut Context<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn a_timer_started_while_the_actor_stops_never_starts_and_its_message_is_a_dead_letter() {
    let system = ActorSystem::new();
    let mut dead_letters = system.dead_letters();
    let timer = Arc::default();
    let parting = system.spawn(Parting { timer: Arc::clone(&timer) });
    parting.stop();
    parting.wait_for_stop().await;

    let letter = dead_letters.try_recv().unwrap().expect("reported at once");
    assert_eq!(letter.recipient, Some(parting.id()));
    assert_eq!(letter.reason, actor_core::DeadLetterReason::Stopped);
    assert!(letter.message_type.ends_with("Farewell"));
    assert!(timer.lock().unwrap().as_ref().unwrap().is_finished());

    sleep(10 * SECOND).await;
    assert_eq!(system.dead_letter_count(), 1);
}

#[test]
fn a_timer_handle_can_be_kept_in_an_actor_or_sent_to_another() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<TimerHandle>();
}
