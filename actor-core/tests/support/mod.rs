//! What the integration tests share: a test actor (`Counter` and its
//! messages), both runtime flavours, and bounded waits.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::prelude::*;

/// Adds numbers; panics on request; records its lifecycle.
#[derive(Default)]
pub struct Counter {
    pub total: u64,
    pub resume_after_panic: bool,
    pub log: Log,
}

/// A shared record of lifecycle events, readable after the actor is gone.
pub type Log = Arc<Mutex<Vec<String>>>;

pub fn log_of(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

impl Actor for Counter {
    type Error = std::io::Error;

    async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        self.log.lock().unwrap().push("start".into());
        Ok(())
    }

    async fn on_panic(&mut self, _ctx: &mut Context<Self>, panic: &actor_core::error::PanicError) -> PanicAction {
        self.log.lock().unwrap().push(format!("panic: {}", panic.message()));
        if self.resume_after_panic { PanicAction::Resume } else { PanicAction::Stop }
    }

    async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
        self.log.lock().unwrap().push(format!("stop: {reason}"));
    }
}

/// The messages, one per method: `Add { n }`, `Get`, `Boom`, `Nap { d }`,
/// `Hold { rx }`, `Fail` and `GetLog`.
#[actor(no_actor_impl)]
impl Counter {
    /// Adds `n`; replies with the new total.
    #[message]
    pub fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[message]
    pub fn get(&self) -> u64 {
        self.total
    }

    /// Panics, saying the total.
    #[message]
    pub fn boom(&mut self) -> u64 {
        panic!("boom at {}", self.total)
    }

    /// Sleeps in the handler, holding up the mailbox.
    #[message]
    pub async fn nap(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// Waits until released, holding up the mailbox.
    #[message]
    pub async fn hold(&mut self, rx: tokio::sync::oneshot::Receiver<()>) {
        let _ = rx.await;
    }

    /// Fails the actor with an error.
    #[message]
    pub fn fail(&mut self, ctx: &mut Context<Self>) {
        ctx.fail(std::io::Error::other("gave up"));
    }

    /// Hands out the actor's log, to read after it is gone.
    #[message]
    pub fn get_log(&self) -> Log {
        self.log.clone()
    }
}

/// Runs a test body on a current-thread runtime and on a 2-worker
/// multi-thread runtime.
pub fn both_flavours<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    current.block_on(body());
    let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    multi.block_on(async { tokio::spawn(body()).await.unwrap() });
}

/// [`both_flavours`] with a fresh `ActorSystem` handed to each run, each
/// run bounded by [`LIMIT`].
pub fn both_flavours_bounded<F, Fut>(body: F)
where
    F: Fn(ActorSystem) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let body = Arc::new(body);
    both_flavours(move || {
        let body = body.clone();
        async move {
            let system = ActorSystem::new();
            bounded(body(system.clone())).await;
        }
    });
}

/// [`both_flavours_bounded`] with `N` actors made by `make` already
/// spawned in each run.
pub fn both_flavours_with<A, const N: usize, F, Fut>(make: impl Fn() -> A + Send + Sync + 'static, body: F)
where
    A: Actor,
    F: Fn(ActorSystem, [ActorRef<A>; N]) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    both_flavours_bounded(move |system| {
        let actors = std::array::from_fn(|_| system.spawn(make()));
        body(system, actors)
    });
}

/// How long `bounded` lets a test wait before calling it a hang.
// Miri's clock runs with the instructions it interprets: far longer there.
pub const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 3_600 } else { 20 });

/// Gives the worker up once, with this task woken at once: a turn at the
/// back of the runtime's queue, as an actor's own yield takes
/// (`tokio::task::yield_now` would wait until the queue is empty).
pub async fn turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Bounds a test's wait by [`LIMIT`]: a hang is a failure.
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    bounded_by(LIMIT, f).await
}

/// Bounds a test's wait by `limit`: a hang is a failure.
pub async fn bounded_by<F: std::future::Future>(limit: Duration, f: F) -> F::Output {
    tokio::time::timeout(limit, f).await.expect("finished in time, without hanging")
}

/// Runs a test body as `#[tokio::test]` would (a current-thread runtime with
/// time and I/O), handing it a fresh `ActorSystem`, and bounds it by `limit`:
/// a hang is a failure.
pub fn run_bounded<F, Fut>(limit: Duration, body: F) -> Fut::Output
where
    F: FnOnce(ActorSystem) -> Fut,
    Fut: std::future::Future,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The system and the body's set-up are made inside the runtime; the
    // system lives until the body is done, whether the body keeps it or not.
    runtime.block_on(async {
        let system = ActorSystem::new();
        bounded_by(limit, body(system.clone())).await
    })
}

/// [`run_bounded`] with `N` actors made by `make` already spawned: the
/// set-up most tests of a file start with.
pub fn run_with<A, const N: usize, F, Fut>(limit: Duration, make: impl Fn() -> A, body: F) -> Fut::Output
where
    A: Actor,
    F: FnOnce(ActorSystem, [ActorRef<A>; N]) -> Fut,
    Fut: std::future::Future,
{
    run_bounded(limit, |system| {
        let actors = std::array::from_fn(|_| system.spawn(make()));
        body(system, actors)
    })
}

/// Waits, yielding, until `check` holds: at least 10,000 yields and 10
/// seconds (a count alone can run out in a millisecond on a loaded
/// machine, while the other worker is off the CPU).
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    let mut yields = 0u32;
    while yields < 10_000 || start.elapsed() < std::time::Duration::from_secs(10) {
        if check() {
            return;
        }
        yields = yields.saturating_add(1);
        tokio::task::yield_now().await;
    }
    panic!("condition never held");
}
