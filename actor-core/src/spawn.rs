//! Spawning: how an actor comes to life. `ActorSystem::spawn` and
//! `Context::spawn_child` build the actor's shared block, count it in with
//! its system, and start its run loop on a task of the system's runtime;
//! `SpawnOptions` say with which mailbox, name, shutdown timeout and flight
//! recorder.

use std::any::type_name;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::actor::context::Actor;
use crate::actor::context::{Child, Context};
use crate::actor::run::run;
use crate::actor::shared::Shared;
use crate::base::flight::Recorder;
use crate::cell::{Cell, Lane};
use crate::mailbox::Mailbox;
use crate::mailbox::queue::Queue;
use crate::mailbox::signal::Signal;
use crate::reference::actor_ref::ActorRef;
use crate::system::ActorSystem;

impl ActorSystem {
    /// Starts `actor` with a default mailbox and returns a reference to it.
    ///
    /// The actor runs on its own task: `on_start`, then its messages one at a
    /// time. Works from any thread, inside or outside the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let counter = system.spawn(Counter(0));
    /// assert_eq!(counter.ask(Add { n: 2 }).await.unwrap(), 2);
    /// assert_eq!(counter.add(3).await.unwrap(), 5);
    /// assert_eq!(system.actor_count(), 1);
    /// # }
    /// ```
    #[must_use = "dropping every ActorRef stops the actor"]
    pub fn spawn<A: Actor>(&self, actor: A) -> ActorRef<A> {
        self.spawn_inner(actor, SpawnOptions::new(), None).0
    }

    /// Starts `actor` with the given options (mailbox, name).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let options = SpawnOptions::new().name("counter").mailbox(Mailbox::bounded(16));
    /// let counter = system.spawn_with(Counter(0), options);
    /// assert_eq!(counter.name(), Some("counter"));
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// # }
    /// ```
    #[must_use = "dropping every ActorRef stops the actor"]
    pub fn spawn_with<A: Actor>(&self, actor: A, options: SpawnOptions) -> ActorRef<A> {
        self.spawn_inner(actor, options, None).0
    }

    pub(crate) fn spawn_inner<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
        parent: Option<Arc<dyn Lane>>,
    ) -> (ActorRef<A>, JoinHandle<()>) {
        self.spawn_core(actor, None, options, parent)
    }

    /// Spawns an actor that can be restarted in place from `factory`.
    pub(crate) fn spawn_with_factory<A: Actor>(
        &self,
        mut factory: Box<dyn FnMut() -> A + Send>,
        options: SpawnOptions,
        parent: Option<Arc<dyn Lane>>,
    ) -> (ActorRef<A>, JoinHandle<()>) {
        let actor = factory();
        self.spawn_core(actor, Some(factory), options, parent)
    }

    fn spawn_core<A: Actor>(
        &self,
        actor: A,
        factory: Option<Box<dyn FnMut() -> A + Send>>,
        options: SpawnOptions,
        parent: Option<Arc<dyn Lane>>,
    ) -> (ActorRef<A>, JoinHandle<()>) {
        let is_root = parent.is_none();
        let shared = Arc::new(Shared::new(
            Cell::new(type_name::<A>(), options.name, parent),
            self.clone(),
            Queue::new(options.mailbox.raw_capacity()),
        ));
        let id = shared.cell.id;
        let actor_ref = ActorRef::counted(shared.clone());
        if options.detached {
            // A reference of the actor's own, never released: the count of
            // references can no longer reach zero, so only a stop, a kill, a
            // failure or the shutdown ends the actor.
            shared.retain();
        }
        if self.admit(id, &shared, is_root) {
            shared.signal(Signal::Shutdown);
        }
        let span = tracing::info_span!("actor", id = %id, actor = shared.cell.actor_type);
        let recorder = options.flight_recorder.map(|n| Box::new(Recorder::new(n)));
        let run = run(actor, factory, Context::new(shared, recorder));
        // Without a subscriber the span is disabled: skip its wrapper, which
        // would otherwise be entered and exited on every poll of the task.
        let task =
            if span.is_disabled() { self.handle().spawn(run) } else { self.handle().spawn(run.instrument(span)) };
        // The task's handle, not an `AbortHandle`: a parent takes one of
        // those for its child, a root actor's caller drops the handle, which
        // spares two atomic operations on the task's count per spawn.
        (actor_ref, task)
    }
}

impl<A: Actor> Context<A> {
    /// Spawns a child actor. Children are stopped, and waited for, before
    /// their parent's `on_stop` runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Kid;
    /// # impl Actor for Kid { type Error = std::convert::Infallible; }
    ///
    /// struct Parent;
    ///
    /// #[actor]
    /// impl Parent {
    ///     #[message]
    ///     fn adopt(&mut self, ctx: &mut Context<Self>) -> ActorRef<Kid> {
    ///         ctx.spawn_child(Kid)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let parent = system.spawn(Parent);
    /// let kid = parent.adopt().await.unwrap();
    /// assert_eq!(system.actor_count(), 2);
    /// parent.stop();
    /// let reason = tokio::time::timeout(Duration::from_secs(5), parent.wait_for_stop()).await.unwrap();
    /// assert!(reason.is_normal());
    /// // The kid stopped first, although a reference to it is still held.
    /// assert!(!kid.is_alive());
    /// assert_eq!(system.actor_count(), 0);
    /// # }
    /// ```
    #[must_use = "dropping every ActorRef stops the actor"]
    pub fn spawn_child<B: Actor>(&mut self, actor: B) -> ActorRef<B> {
        self.spawn_child_with(actor, SpawnOptions::new())
    }

    /// Spawns a child actor with options.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Kid;
    /// # impl Actor for Kid { type Error = std::convert::Infallible; }
    ///
    /// struct Parent;
    ///
    /// #[actor]
    /// impl Parent {
    ///     #[message]
    ///     fn hire(&mut self, name: String, ctx: &mut Context<Self>) -> ActorRef<Kid> {
    ///         ctx.spawn_child_with(Kid, SpawnOptions::new().name(name))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let parent = ActorSystem::new().spawn(Parent);
    /// let kid = parent.hire("kid-1".into()).await.unwrap();
    /// assert_eq!(kid.name(), Some("kid-1"));
    /// parent.stop();
    /// tokio::time::timeout(Duration::from_secs(5), parent.wait_for_stop()).await.unwrap();
    /// assert!(!kid.is_alive());
    /// # }
    /// ```
    #[must_use = "dropping every ActorRef stops the actor"]
    pub fn spawn_child_with<B: Actor>(&mut self, actor: B, options: SpawnOptions) -> ActorRef<B> {
        let parent: Arc<dyn Lane> = self.shared().clone();
        let timeout = options.get_shutdown_timeout();
        let (child, task) = self.shared().system.spawn_inner(actor, options, Some(parent));
        let task = task.abort_handle();
        self.add_child(Child { lane: child.local().clone(), task, shutdown_timeout: timeout });
        child
    }

    /// Spawns a child that its supervisor (this actor) can restart in place
    /// from `factory`.
    pub(crate) fn spawn_supervised<B: Actor>(
        &mut self,
        factory: Box<dyn FnMut() -> B + Send>,
        options: SpawnOptions,
    ) -> ActorRef<B> {
        let parent: Arc<dyn Lane> = self.shared().clone();
        let timeout = options.get_shutdown_timeout();
        let (child, task) = self.shared().system.spawn_with_factory(factory, options, Some(parent));
        let task = task.abort_handle();
        self.add_child(Child { lane: child.local().clone(), task, shutdown_timeout: timeout });
        child
    }
}

/// Options for [`ActorSystem::spawn_with`] and
/// [`Context::spawn_child_with`](crate::Context::spawn_child_with).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let options = SpawnOptions::new().name("worker").mailbox(Mailbox::bounded(1));
/// let worker = system.spawn_with(Worker, options);
/// assert_eq!(worker.name(), Some("worker"));
/// worker.try_tell(Ping).unwrap(); // it has not run yet (one thread)
/// assert!(matches!(worker.try_tell(Ping), Err(SendError::Full(Ping)))); // room for one
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "options do nothing until passed to spawn_with"]
pub struct SpawnOptions {
    mailbox: Mailbox,
    name: Option<Arc<str>>,
    shutdown_timeout: Option<Duration>,
    flight_recorder: Option<usize>,
    detached: bool,
}

impl SpawnOptions {
    /// Default options: a bounded mailbox of
    /// [`DEFAULT_CAPACITY`](crate::mailbox::DEFAULT_CAPACITY), no name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{error::SendError, mailbox::DEFAULT_CAPACITY};
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Worker { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let worker = ActorSystem::new().spawn_with(Worker, SpawnOptions::new());
    /// assert_eq!(worker.name(), None);
    /// // The worker has not run yet (one thread): its mailbox fills up.
    /// for _ in 0..DEFAULT_CAPACITY {
    ///     worker.try_tell(Ping).unwrap();
    /// }
    /// assert!(matches!(worker.try_tell(Ping), Err(SendError::Full(Ping))));
    /// # }
    /// ```
    pub fn new() -> Self {
        SpawnOptions::default()
    }

    /// The actor's mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::error::SendError;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Worker { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let options = SpawnOptions::new().mailbox(Mailbox::bounded(2));
    /// let worker = ActorSystem::new().spawn_with(Worker, options);
    /// // The worker has not run yet (one thread): two messages fill its mailbox.
    /// worker.try_tell(Ping).unwrap();
    /// worker.try_tell(Ping).unwrap();
    /// assert!(matches!(worker.try_tell(Ping), Err(SendError::Full(Ping))));
    /// # }
    /// ```
    pub fn mailbox(mut self, mailbox: Mailbox) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// A name, shown in traces and `Debug` output.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let worker = system.spawn_with(Worker, SpawnOptions::new().name("billing"));
    /// assert_eq!(worker.name(), Some("billing"));
    /// let stats = system.stats();
    /// assert_eq!(stats.actors[0].name.as_deref(), Some("billing"));
    /// # }
    /// ```
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// For a child: how long its parent waits for it to stop (finish the
    /// message in hand, stop its own children, run `on_stop`) before
    /// aborting its task. An aborted child skips `on_stop`; its queued
    /// messages become dead letters. Default: no limit. A child stuck in a
    /// loop that never awaits cannot be aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Stuck;
    /// # #[actor]
    /// # impl Stuck {
    /// #     #[message]
    /// #     async fn hang(&mut self) {
    /// #         std::future::pending::<()>().await;
    /// #     }
    /// # }
    ///
    /// struct Parent;
    ///
    /// #[actor]
    /// impl Parent {
    ///     #[message]
    ///     fn start_child(&mut self, ctx: &mut Context<Self>) -> ActorRef<Stuck> {
    ///         ctx.spawn_child_with(Stuck, SpawnOptions::new().shutdown_timeout(Duration::from_secs(5)))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let parent = ActorSystem::new().spawn(Parent);
    /// let child = parent.start_child().await.unwrap();
    /// child.tell_hang().await.unwrap(); // a handler that never returns
    /// tokio::task::yield_now().await; // let it start
    /// let start = tokio::time::Instant::now();
    /// parent.stop();
    /// // Without the timeout, the parent would wait for its child forever.
    /// let stopped = tokio::time::timeout(Duration::from_secs(60), parent.wait_for_stop()).await;
    /// assert!(stopped.expect("the child was aborted").is_normal());
    /// assert!(start.elapsed() >= Duration::from_secs(5));
    /// # }
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Keeps a crash flight recorder: the type (and, where the message
    /// offers one with [`Message::describe`](crate::Message::describe), a
    /// rendering) of the last `messages` messages the actor started
    /// handling. When a handler panics, the record is attached to the
    /// [`PanicError`](crate::error::PanicError) (which the asker, the
    /// supervisor and monitors see) and logged through `tracing`. Off by
    /// default; it costs nothing when off.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Fragile;
    /// # #[actor]
    /// # impl Fragile {
    /// #     #[message]
    /// #     fn poke(&mut self) {}
    /// #     #[message]
    /// #     fn smash(&mut self) {
    /// #         panic!("smashed");
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // `Fragile` takes `Poke`s, and panics on a `Smash`.
    /// let fragile = ActorSystem::new().spawn_with(Fragile, SpawnOptions::new().flight_recorder(2));
    /// for _ in 0..3 {
    ///     fragile.poke().await.unwrap();
    /// }
    /// assert!(fragile.smash().await.is_err());
    /// let StopReason::Panicked(panic) = fragile.wait_for_stop().await else { unreachable!() };
    /// let record = panic.flight_record().expect("spawned with a recorder");
    /// let seen: Vec<_> = record.entries().iter().map(|r| r.message_type).collect();
    /// assert_eq!(seen.len(), 2, "the last two only: {seen:?}");
    /// assert!(seen[0].ends_with("Poke") && seen[1].ends_with("Smash"), "{seen:?}");
    /// # }
    /// ```
    pub fn flight_recorder(mut self, messages: usize) -> Self {
        self.flight_recorder = Some(messages);
        self
    }

    /// Keeps the actor alive without any [`ActorRef`] to it: by default an
    /// actor stops (gracefully, as after [`ActorRef::stop`]) once the last
    /// reference to it is dropped, which frees actors nobody can reach. A
    /// detached actor runs until it stops itself, is stopped or killed
    /// (reach it by name, or through a reference it hands out), fails
    /// without a supervisor restarting it, or its system shuts down. For
    /// servers, tickers and other actors that live for the program.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Ticker {
    ///     ticks: u32,
    /// }
    ///
    /// #[actor(no_actor_impl)]
    /// impl Ticker {
    ///     #[message(derive(Clone))]
    ///     fn tick(&mut self) {
    ///         self.ticks += 1;
    ///     }
    ///
    ///     #[message]
    ///     fn ticks(&self) -> u32 {
    ///         self.ticks
    ///     }
    /// }
    ///
    /// impl Actor for Ticker {
    ///     type Error = std::convert::Infallible;
    ///
    ///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         ctx.send_interval(Duration::from_secs(1), Tick);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let system = ActorSystem::new();
    /// let ticker = system.spawn_with(Ticker::default(), SpawnOptions::new().detached());
    /// system.register("ticker", &ticker).unwrap();
    /// // No reference is kept: the ticker runs on, and is found by name.
    /// drop(ticker);
    /// tokio::time::sleep(Duration::from_millis(3_500)).await;
    /// let ticker = system.lookup::<Ticker>("ticker").expect("still running");
    /// assert_eq!(ticker.ticks().await.unwrap(), 3);
    /// ticker.stop(); // a detached actor stops when told to
    /// assert!(ticker.wait_for_stop().await.is_normal());
    /// # }
    /// ```
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    pub(crate) fn get_shutdown_timeout(&self) -> Option<Duration> {
        self.shutdown_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roots are kept in per-thread shards of the census: actors spawned on
    /// two threads are both listed, and both counted, until they end.
    #[test]
    fn roots_spawned_on_two_threads_are_all_listed() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let system = ActorSystem::new();
            struct Idle;
            impl Actor for Idle {
                type Error = std::convert::Infallible;
            }
            let here = system.spawn(Idle);
            let there = std::thread::scope(|s| {
                s.spawn(|| {
                    let _in_runtime = runtime.handle().enter();
                    system.spawn(Idle)
                })
                .join()
                .unwrap()
            });
            let ids: Vec<_> = system.inner_census().roots().iter().map(|r| r.cell().id).collect();
            assert!(ids.contains(&here.id()) && ids.contains(&there.id()), "{ids:?}");
            assert_eq!(system.actor_count(), 2);
            // Each leaves the list when it ends, on this thread whichever
            // listed it.
            for root in [&here, &there] {
                root.stop();
                assert!(root.wait_for_stop().await.is_normal());
            }
            assert_eq!(system.inner_census().listed(), 0);
            assert_eq!(system.actor_count(), 0);
        });
    }
}
