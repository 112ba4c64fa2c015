//! The actor system: spawning, dead letters, shutdown.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::broadcast;

use crate::base::dead_letter::DeadLetter;
use crate::base::error::PanicError;
use crate::base::id::{ActorId, IdHasher};
use crate::base::stats::{ActorStats, SystemStats};
use crate::base::sync::plain::DashMap;
use crate::cell::{Cell, Lane};
use crate::mailbox::signal::Signal;

use self::census::Census;
use self::names::Registry;
use self::observed::Observed;

mod census;
mod names;
mod observed;

/// How long [`ActorSystem::shutdown`] waits for actors by default: 10 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How many dead letters a slow subscriber may fall behind by before it
/// misses some (it is told how many): 1,024.
pub const DEFAULT_DEAD_LETTER_CAPACITY: usize = 1024;

/// A running set of actors: spawns them, collects their dead letters, and
/// shuts them all down.
///
/// Cheap to clone; every clone is the same system.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// # struct Idle;
/// # impl Actor for Idle { type Error = std::convert::Infallible; }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let idle = system.spawn(Idle);
/// assert_eq!(system.actor_count(), 1);
/// system.shutdown().await;
/// assert!(!idle.is_alive());
/// assert_eq!(system.actor_count(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct ActorSystem {
    inner: Arc<SystemInner>,
}

/// Aligned to 128 bytes so that its fields, read by every spawn and every
/// handler, do not share a cache line with the `Arc`'s counts, which every
/// actor writes when it takes and drops its handle on the system, often
/// from another core.
#[repr(align(128))]
struct SystemInner {
    /// Unique in the process: which graph of waits its actors' asks enter.
    id: u64,
    handle: Handle,
    /// How many actors are alive, and the root actors (for `shutdown`),
    /// in per-thread shards.
    census: Census,
    shutting_down: AtomicBool,
    dead_letters: broadcast::Sender<DeadLetter>,
    dead_letter_count: AtomicU64,
    shutdown_timeout: Duration,
    registry: Registry,
    /// Every live actor, for `stats`, when the system is observed; with
    /// its failures, once it has had any.
    observed: Option<DashMap<ActorId, Observed, IdHasher>>,
}

impl ActorSystem {
    /// A system with default settings, running its actors on the current
    /// tokio runtime (multi-thread or current-thread).
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime; use [`ActorSystem::builder`] with
    /// [`SystemBuilder::handle`] there.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// assert_eq!(system.actor_count(), 0);
    /// let counter = system.spawn(Counter(0));
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// assert_eq!(system.actor_count(), 1);
    /// # }
    /// ```
    pub fn new() -> Self {
        ActorSystem::builder().build()
    }

    /// Settings for a new system.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::builder()
    ///     .shutdown_timeout(Duration::from_secs(1))
    ///     .dead_letter_capacity(64)
    ///     .build();
    /// let counter = system.spawn(Counter(0));
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// # }
    /// ```
    pub fn builder() -> SystemBuilder {
        SystemBuilder {
            handle: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            dead_letter_capacity: DEFAULT_DEAD_LETTER_CAPACITY,
            observe: false,
        }
    }

    /// Counts a new actor in: in the census (as a root actor if it has no
    /// parent) and, in an observed system, in the table of live actors.
    /// Returns whether the system is shutting down, in which case the new
    /// actor must stop at once.
    pub(crate) fn admit<L: Lane + 'static>(&self, id: ActorId, lane: &Arc<L>, is_root: bool) -> bool {
        if let Some(observed) = &self.inner.observed {
            let weak: Weak<dyn Lane> = Arc::downgrade(lane) as Weak<L>;
            observed.insert(id, Observed::new(weak));
        }
        if is_root {
            // Downgraded directly: going through a cloned `Arc<dyn Lane>`
            // costs two more atomic operations per actor.
            let key = self.inner.census.spawned_root(Arc::downgrade(lane) as Weak<dyn Lane>);
            lane.cell().set_root_key(key);
        } else {
            self.inner.census.spawned();
        }
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Called by an actor's run loop once it has terminated.
    pub(crate) fn forget(&self, cell: &Cell) {
        self.inner.census.ended(cell.root_key());
        if let Some(observed) = &self.inner.observed {
            observed.remove(&cell.id);
        }
    }

    /// A snapshot of the running actors: each one's mailbox depth, messages
    /// handled, restarts, state and parent (the actor tree), and the
    /// dead-letter count. Lists every live actor if the system was built
    /// with [`SystemBuilder::observe`], only the root actors otherwise.
    /// Reading it costs the actors nothing: their counters are plain
    /// relaxed stores.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let echo = system.spawn_with(Echo, SpawnOptions::new().name("echo"));
    /// echo.ask(Ping).await.unwrap();
    /// let stats = system.stats();
    /// let echo_stats = stats.actors.iter().find(|a| a.id == echo.id()).unwrap();
    /// assert_eq!(echo_stats.processed, 1);
    /// assert_eq!(echo_stats.name.as_deref(), Some("echo"));
    /// # }
    /// ```
    pub fn stats(&self) -> SystemStats {
        let actors = match &self.inner.observed {
            // No entry's lock is held while its actor's counters are read.
            // The counters are read before the failures: the run loop notes a
            // panic and a restart before it counts the restart, so a restart
            // counted here always comes with its time and its panic.
            Some(observed) => {
                let lanes: Vec<_> = observed.iter().filter_map(|e| e.value().lane.upgrade()).collect();
                lanes
                    .into_iter()
                    .filter(|lane| !lane.cell().is_terminated())
                    .map(|lane| {
                        let counted = lane.stats();
                        let (last_panic, recent_restarts) =
                            observed.get(&counted.id).map(|e| e.failures()).unwrap_or_default();
                        ActorStats { last_panic, recent_restarts, ..counted }
                    })
                    .collect()
            }
            None => {
                let lanes = self.inner.census.roots();
                lanes.iter().filter(|l| !l.cell().is_terminated()).map(|l| l.stats()).collect()
            }
        };
        SystemStats { actors, live: self.actor_count(), dead_letters: self.dead_letter_count() }
    }

    /// Notes a panic of actor `id`, for `stats` (observed systems only).
    /// Called by the run loop when it catches one: never per message.
    pub(crate) fn note_panic(&self, id: ActorId, error: &PanicError) {
        if let Some(observed) = &self.inner.observed
            && let Some(mut entry) = observed.get_mut(&id)
        {
            entry.panicked(error);
        }
    }

    /// Notes a restart in place of actor `id`, for `stats` (observed
    /// systems only).
    pub(crate) fn note_restart(&self, id: ActorId) {
        if let Some(observed) = &self.inner.observed
            && let Some(mut entry) = observed.get_mut(&id)
        {
            entry.restarted();
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The census, for tests of what it lists.
    #[cfg(test)]
    pub(crate) fn inner_census(&self) -> &Census {
        &self.inner.census
    }

    /// The system's id, unique in the process.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The runtime its actors run on.
    #[inline]
    pub(crate) fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// How many actors are alive (spawned and not yet terminated).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let first = system.spawn(Idle);
    /// let second = system.spawn(Idle);
    /// assert_eq!(system.actor_count(), 2);
    /// first.stop();
    /// first.wait_for_stop().await;
    /// assert_eq!(system.actor_count(), 1);
    /// # }
    /// ```
    pub fn actor_count(&self) -> usize {
        self.inner.census.live()
    }

    /// Subscribes to the messages that could not be delivered from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::DeadLetterReason;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut dead = system.dead_letters();
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// assert!(echo.tell(Ping).await.is_err());
    /// let letter = dead.recv().await.unwrap();
    /// assert_eq!(letter.recipient, Some(echo.id()));
    /// assert_eq!(letter.reason, DeadLetterReason::Stopped);
    /// # }
    /// ```
    pub fn dead_letters(&self) -> DeadLetters {
        DeadLetters { rx: self.inner.dead_letters.subscribe(), _system: self.clone() }
    }

    /// How many dead letters this system has seen in all, subscribed or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// assert_eq!(system.dead_letter_count(), 0);
    /// // Nobody subscribed to dead letters, yet these two are counted.
    /// assert!(echo.try_tell(Ping).is_err());
    /// assert!(echo.tell(Ping).await.is_err());
    /// assert_eq!(system.dead_letter_count(), 2);
    /// # }
    /// ```
    pub fn dead_letter_count(&self) -> u64 {
        self.inner.dead_letter_count.load(Ordering::Relaxed)
    }

    pub(crate) fn publish_dead_letter(&self, letter: DeadLetter) {
        self.inner.dead_letter_count.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            recipient = ?letter.recipient,
            name = ?letter.name,
            actor = letter.actor_type,
            message = letter.message_type,
            reason = ?letter.reason,
            "dead letter"
        );
        // No subscriber is fine: the letter is still counted and traced.
        let _ = self.inner.dead_letters.send(letter);
    }

    /// Stops every actor and waits for them, up to the system's shutdown
    /// timeout.
    ///
    /// Each actor finishes the message in hand; messages still queued become
    /// dead letters. Children stop before their parents, and every actor's
    /// `on_stop` runs once. Actors spawned after shutdown has begun stop at
    /// once. Returns when all have stopped, or when the timeout passes (a
    /// warning names how many remain).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let first = system.spawn(Idle);
    /// let second = system.spawn(Idle);
    /// system.shutdown().await;
    /// assert_eq!(system.actor_count(), 0);
    /// assert!(matches!(first.wait_for_stop().await, StopReason::Normal));
    /// assert!(!second.is_alive());
    /// // An actor spawned after the shutdown began stops at once.
    /// let late = system.spawn(Idle);
    /// let stopped = tokio::time::timeout(Duration::from_secs(5), late.wait_for_stop()).await;
    /// assert!(stopped.unwrap().is_normal());
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let roots = self.inner.census.roots();
        for root in &roots {
            root.signal(Signal::Shutdown);
        }
        let all = futures::future::join_all(roots.iter().map(|r| r.cell().wait_terminated()));
        if tokio::time::timeout(self.inner.shutdown_timeout, all).await.is_err() {
            tracing::warn!(
                remaining = self.actor_count(),
                "actor system shutdown timed out; some actors are still running"
            );
        }
    }
}

impl Default for ActorSystem {
    fn default() -> Self {
        ActorSystem::new()
    }
}

impl fmt::Debug for ActorSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystem").field("actors", &self.actor_count()).finish()
    }
}

/// Settings for an [`ActorSystem`]; from [`ActorSystem::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::ActorSystem;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let system = ActorSystem::builder()
///     .handle(runtime.handle().clone())
///     .shutdown_timeout(Duration::from_secs(1))
///     .build();
/// runtime.block_on(system.shutdown());
/// ```
#[derive(Debug)]
#[must_use = "call build() to get a system"]
pub struct SystemBuilder {
    handle: Option<Handle>,
    shutdown_timeout: Duration,
    dead_letter_capacity: usize,
    observe: bool,
}

impl SystemBuilder {
    /// Runs actors on this runtime instead of the current one.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// // No runtime is running here: the system is given one.
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let system = ActorSystem::builder().handle(runtime.handle().clone()).build();
    /// let counter = system.spawn(Counter(0));
    /// let total = runtime.block_on(async { counter.add(2).await });
    /// assert_eq!(total.unwrap(), 2);
    /// ```
    pub fn handle(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// How long `shutdown` waits; default [`DEFAULT_SHUTDOWN_TIMEOUT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::DEFAULT_SHUTDOWN_TIMEOUT;
    /// # struct Stuck;
    /// # #[actor]
    /// # impl Stuck {
    /// #     #[message]
    /// #     async fn hang(&mut self) {
    /// #         std::future::pending::<()>().await;
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let system = ActorSystem::builder().shutdown_timeout(Duration::from_secs(2)).build();
    /// let stuck = system.spawn(Stuck);
    /// stuck.tell_hang().await.unwrap(); // a handler that never returns
    /// tokio::task::yield_now().await; // let it start
    /// let start = tokio::time::Instant::now();
    /// system.shutdown().await;
    /// let waited = start.elapsed();
    /// assert!(waited >= Duration::from_secs(2) && waited < DEFAULT_SHUTDOWN_TIMEOUT, "{waited:?}");
    /// assert_eq!(system.actor_count(), 1, "still running");
    /// # }
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How far a dead-letter subscriber may lag; default
    /// [`DEFAULT_DEAD_LETTER_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::Lagged;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::builder().dead_letter_capacity(2).build();
    /// let mut dead = system.dead_letters();
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// for _ in 0..3 {
    ///     assert!(echo.try_tell(Ping).is_err());
    /// }
    /// // The subscriber missed the oldest letter; the last two were kept.
    /// assert_eq!(dead.try_recv(), Err(Lagged(1)));
    /// assert!(dead.try_recv().unwrap().is_some());
    /// assert!(dead.try_recv().unwrap().is_some());
    /// assert_eq!(dead.try_recv(), Ok(None));
    /// # }
    /// ```
    pub fn dead_letter_capacity(mut self, capacity: usize) -> Self {
        self.dead_letter_capacity = capacity.max(1);
        self
    }

    /// Tracks every live actor (children too), so that
    /// [`ActorSystem::stats`] lists them all with their parents: the actor
    /// tree. Costs one map insert at spawn and one removal at stop. Off by
    /// default, when `stats` lists only the root actors.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// struct Parent(Option<ActorRef<Idle>>);
    ///
    /// #[actor]
    /// impl Parent {
    ///     #[message]
    ///     fn adopt(&mut self, ctx: &mut Context<Self>) {
    ///         self.0 = Some(ctx.spawn_child(Idle));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// for (observe, listed) in [(false, 1), (true, 2)] {
    ///     let system = ActorSystem::builder().observe(observe).build();
    ///     let parent = system.spawn(Parent(None));
    ///     parent.adopt().await.unwrap();
    ///     assert_eq!(system.stats().actors.len(), listed);
    /// }
    /// # }
    /// ```
    pub fn observe(mut self, observe: bool) -> Self {
        self.observe = observe;
        self
    }

    /// Builds the system.
    ///
    /// # Panics
    ///
    /// If no handle was given and this is called outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::builder().build();
    /// let counter = system.spawn(Counter(0));
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// // Outside a runtime, and without a handle, it panics.
    /// let outside = std::thread::spawn(|| ActorSystem::builder().build()).join();
    /// assert!(outside.is_err());
    /// # }
    /// ```
    pub fn build(self) -> ActorSystem {
        let handle = self.handle.unwrap_or_else(|| {
            Handle::try_current().expect(
                "ActorSystem::new must be called inside a tokio runtime; \
                 use ActorSystem::builder().handle(..) outside one",
            )
        });
        let (dead_letters, _) = broadcast::channel(self.dead_letter_capacity);
        ActorSystem {
            inner: Arc::new(SystemInner {
                id: {
                    static NEXT: AtomicU64 = AtomicU64::new(1);
                    NEXT.fetch_add(1, Ordering::Relaxed)
                },
                handle,
                census: Census::new(),
                shutting_down: AtomicBool::new(false),
                dead_letters,
                dead_letter_count: AtomicU64::new(0),
                shutdown_timeout: self.shutdown_timeout,
                registry: Registry::new(),
                observed: self.observe.then(|| DashMap::with_hasher(IdHasher::default())),
            }),
        }
    }
}

/// A subscription to a system's dead letters; see
/// [`ActorSystem::dead_letters`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[message]
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let mut letters = system.dead_letters(); // sees the letters from now on
/// let echo = system.spawn(Echo);
/// echo.stop();
/// tokio::time::timeout(Duration::from_secs(10), echo.wait_for_stop()).await.unwrap();
/// assert!(echo.try_tell(Ping).is_err());
/// let letter = tokio::time::timeout(Duration::from_secs(10), letters.recv()).await.unwrap().unwrap();
/// assert_eq!(letter.recipient, Some(echo.id()));
/// assert_eq!(letters.try_recv(), Ok(None)); // no more
/// # }
/// ```
#[derive(Debug)]
pub struct DeadLetters {
    rx: broadcast::Receiver<DeadLetter>,
    // Keeps the sending half alive, so `recv` can never see a closed channel.
    _system: ActorSystem,
}

/// A dead-letter subscriber fell behind and skipped this many letters.
///
/// They were still counted in [`ActorSystem::dead_letter_count`] and traced.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::Lagged;
/// use actor_core::prelude::*;
///
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[message]
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::builder().dead_letter_capacity(2).build();
/// let mut letters = system.dead_letters();
/// let echo = system.spawn(Echo);
/// echo.stop();
/// tokio::time::timeout(Duration::from_secs(10), echo.wait_for_stop()).await.unwrap();
/// for _ in 0..5 {
///     assert!(echo.try_tell(Ping).is_err()); // each one a dead letter
/// }
/// assert_eq!(letters.try_recv(), Err(Lagged(3))); // only the last two were kept
/// assert!(letters.try_recv().unwrap().is_some());
/// assert_eq!(system.dead_letter_count(), 5); // all were counted
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dead-letter subscriber skipped {} letters", self.0)
    }
}

impl std::error::Error for Lagged {}

impl DeadLetters {
    /// Waits for the next dead letter.
    ///
    /// # Errors
    ///
    /// [`Lagged`] if this subscriber fell behind; the next call goes on with
    /// the oldest letter still kept.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a letter is only taken when this returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut dead = system.dead_letters();
    /// let waiter = tokio::spawn(async move { dead.recv().await });
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// assert!(!waiter.is_finished(), "no letter yet: it waits");
    /// assert!(echo.try_tell(Ping).is_err());
    /// let letter = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap().unwrap();
    /// assert_eq!(letter.recipient, Some(echo.id()));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<DeadLetter, Lagged> {
        loop {
            match self.rx.recv().await {
                Ok(letter) => return Ok(letter),
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(Lagged(n)),
                // `_system` keeps the sender alive, so this cannot happen.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// The next dead letter if one is waiting.
    ///
    /// # Errors
    ///
    /// [`Lagged`] as for [`recv`](DeadLetters::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::DeadLetterReason;
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut dead = system.dead_letters();
    /// assert_eq!(dead.try_recv(), Ok(None)); // nothing waiting: returns at once
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// assert!(echo.try_tell(Ping).is_err());
    /// let letter = dead.try_recv().unwrap().expect("published as the send failed");
    /// assert_eq!(letter.reason, DeadLetterReason::Stopped);
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Result<Option<DeadLetter>, Lagged> {
        match self.rx.try_recv() {
            Ok(letter) => Ok(Some(letter)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Err(Lagged(n)),
            Err(_) => Ok(None),
        }
    }
}
