//! Worker pools: several actors of one type behind one handle.
//!
//! A [`Pool`] routes each message to one of its workers, chosen by its
//! [`Routing`], or [broadcasts](Pool::broadcast) to all of them. Routing
//! happens in the sender's task: a pool is a list of [`ActorRef`]s and a
//! counter, with no actor in between, so a routed message costs what a
//! message sent straight to the worker costs, plus the choice.
//!
//! A pool made with [`Pool::spawn`] (or [`Pool::builder`]) starts its
//! workers under a one-for-one [`Supervisor`] of its own: a worker that
//! panics or fails is restarted in place, keeping its reference and the
//! messages queued for it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::actor::context::Actor;
use crate::actor::message::{Handler, Message};
use crate::base::error::{Error, SendError};
use crate::cell::Lane;
use crate::mailbox::Mailbox;
use crate::mailbox::signal::Signal;
use crate::reference::actor_ref::ActorRef;
use crate::reference::ask::AskRequest;
use crate::spawn::SpawnOptions;
use crate::supervision::{ChildSpec, Restart, Strategy, Supervisor};
use crate::system::ActorSystem;

/// How a [`Pool`] chooses the worker for a message.
///
/// Either way, workers that have stopped are skipped while any worker is
/// still running.
///
/// # Examples
///
/// ```
/// use actor_core::Routing;
///
/// assert_eq!(Routing::default(), Routing::RoundRobin);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Routing {
    /// Each worker in turn. Messages sent one after another from one task
    /// are spread exactly evenly.
    #[default]
    RoundRobin,
    /// The worker with the fewest messages waiting in its mailbox
    /// ([`ActorRef::mailbox_len`]; the message in hand is not counted).
    /// Ties go to the worker that round-robin would pick next, so idle
    /// workers share the load evenly.
    LeastLoaded,
}

/// A set of workers of type `A` behind one handle.
///
/// Cheap to clone: every clone is the same pool. Send it a message with
/// [`tell`](Pool::tell), [`try_tell`](Pool::try_tell) or
/// [`ask`](Pool::ask) and one worker handles it; [`broadcast`](Pool::broadcast)
/// sends it to every worker.
///
/// The workers live as long as the pool: when the last handle is dropped, a
/// supervised pool's supervisor stops, and stops its workers first; a pool
/// [made from references](Pool::from_workers) drops its references, which
/// stops the workers nobody else refers to.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::{Pool, Routing};
///
/// #[derive(Default)]
/// struct Hasher;
/// impl Actor for Hasher {
///     type Error = std::convert::Infallible;
/// }
///
/// struct Digest(String);
/// impl Message for Digest {
///     type Reply = usize;
/// }
/// impl Handler<Digest> for Hasher {
///     async fn handle(&mut self, Digest(text): Digest, _: &mut Context<Self>) -> usize {
///         text.bytes().map(usize::from).sum()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let pool = Pool::spawn(&system, 4, Hasher::default, Routing::RoundRobin).await.unwrap();
/// assert_eq!(pool.size(), 4);
/// assert_eq!(pool.ask(Digest("ab".into())).await.unwrap(), 97 + 98);
/// # }
/// ```
pub struct Pool<A: Actor> {
    inner: Arc<Inner<A>>,
}

struct Inner<A: Actor> {
    // Dropped before `supervisor`: for a supervised pool these references
    // are not the last ones, and the supervisor's stop shuts the workers.
    workers: Box<[ActorRef<A>]>,
    next: AtomicUsize,
    routing: Routing,
    supervisor: Option<ActorRef<Supervisor>>,
}

impl<A: Actor> Pool<A> {
    /// Starts `size` workers built by `factory` under a new one-for-one
    /// [`Supervisor`], with the supervisor's default restart intensity and
    /// the default mailbox. See [`Pool::builder`] for other settings.
    ///
    /// # Errors
    ///
    /// If the supervisor stopped while the workers were being started (the
    /// system is shutting down, or `factory` panicked): the workers already
    /// started are stopped again.
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, in that dropping the future before it completes stops
    /// whatever it has started.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 3, Worker::default, Routing::LeastLoaded).await.unwrap();
    /// assert_eq!(pool.workers().len(), 3);
    /// assert!(pool.supervisor().is_some());
    /// # }
    /// ```
    pub async fn spawn(
        system: &ActorSystem,
        size: usize,
        factory: impl Fn() -> A + Send + Sync + 'static,
        routing: Routing,
    ) -> Result<Pool<A>, Error> {
        Pool::builder(size, factory).routing(routing).spawn(system).await
    }

    /// Settings for a supervised pool of `size` workers built by `factory`:
    /// routing, restart intensity, backoff, mailbox.
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::mailbox::Mailbox;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::builder(8, Worker::default)
    ///     .routing(Routing::LeastLoaded)
    ///     .max_restarts(100, Duration::from_secs(1))
    ///     .mailbox(Mailbox::bounded(64))
    ///     .spawn(&ActorSystem::new())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(pool.routing(), Routing::LeastLoaded);
    /// # }
    /// ```
    pub fn builder(size: usize, factory: impl Fn() -> A + Send + Sync + 'static) -> PoolBuilder<A> {
        assert!(size > 0, "a pool needs at least one worker");
        PoolBuilder {
            size,
            factory: Arc::new(factory),
            routing: Routing::default(),
            max_restarts: None,
            backoff: None,
            mailbox: None,
        }
    }

    /// A pool over workers that already run, without a supervisor: failed
    /// workers stay stopped, and the pool routes around them.
    ///
    /// The pool keeps the references; dropping its last handle drops them.
    ///
    /// # Panics
    ///
    /// If `workers` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::from_workers(vec![system.spawn(Worker), system.spawn(Worker)], Routing::RoundRobin);
    /// assert_eq!(pool.size(), 2);
    /// assert!(pool.supervisor().is_none());
    /// # }
    /// ```
    pub fn from_workers(workers: Vec<ActorRef<A>>, routing: Routing) -> Pool<A> {
        Pool::new(workers, routing, None)
    }

    fn new(workers: Vec<ActorRef<A>>, routing: Routing, supervisor: Option<ActorRef<Supervisor>>) -> Pool<A> {
        assert!(!workers.is_empty(), "a pool needs at least one worker");
        Pool {
            inner: Arc::new(Inner {
                workers: workers.into_boxed_slice(),
                next: AtomicUsize::new(0),
                routing,
                supervisor,
            }),
        }
    }

    /// How many workers the pool has, stopped ones included.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::from_workers(vec![system.spawn(Worker), system.spawn(Worker)], Routing::RoundRobin);
    /// assert_eq!(pool.size(), 2);
    /// pool.workers()[0].kill();
    /// pool.workers()[0].wait_for_stop().await;
    /// assert_eq!(pool.size(), 2); // the stopped worker still counts
    /// # }
    /// ```
    pub fn size(&self) -> usize {
        self.inner.workers.len()
    }

    /// How the pool chooses a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::spawn(&system, 2, Worker::default, Routing::LeastLoaded).await.unwrap();
    /// assert_eq!(pool.routing(), Routing::LeastLoaded);
    /// let pool = Pool::from_workers(vec![system.spawn(Worker)], Routing::RoundRobin);
    /// assert_eq!(pool.routing(), Routing::RoundRobin);
    /// # }
    /// ```
    pub fn routing(&self) -> Routing {
        self.inner.routing
    }

    /// The workers, in a fixed order.
    ///
    /// A supervised worker keeps its reference across restarts, so this
    /// list never changes. Holding a clone of a reference does not keep a
    /// supervised worker running once its pool is stopped or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 2, Worker::default, Routing::RoundRobin).await.unwrap();
    /// // Talk to one worker directly, bypassing the routing.
    /// let first = &pool.workers()[0];
    /// assert!(first.is_alive());
    /// assert_eq!(first.mailbox_len(), 0);
    /// # }
    /// ```
    pub fn workers(&self) -> &[ActorRef<A>] {
        &self.inner.workers
    }

    /// The supervisor of a pool made by [`Pool::spawn`] or
    /// [`PoolBuilder::spawn`]; `None` for one made by [`Pool::from_workers`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::spawn(&system, 2, Worker::default, Routing::RoundRobin).await.unwrap();
    /// let supervisor = pool.supervisor().expect("a spawned pool is supervised");
    /// // The workers are its children, in order.
    /// let second = supervisor.child::<Worker>(1).await.unwrap().expect("a worker");
    /// assert_eq!(second.id(), pool.workers()[1].id());
    ///
    /// let unsupervised = Pool::from_workers(vec![system.spawn(Worker)], Routing::RoundRobin);
    /// assert!(unsupervised.supervisor().is_none());
    /// # }
    /// ```
    pub fn supervisor(&self) -> Option<&ActorRef<Supervisor>> {
        self.inner.supervisor.as_ref()
    }

    /// The worker the next message goes to, by the pool's routing; the
    /// choice counts as a send (round-robin moves on).
    ///
    /// For what the pool's own methods do not offer, such as
    /// [`ActorRef::ask_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::from_workers(vec![system.spawn(Worker), system.spawn(Worker)], Routing::RoundRobin);
    /// let first = pool.pick().id();
    /// assert_ne!(pool.pick().id(), first);
    /// assert_eq!(pool.pick().id(), first);
    /// # }
    /// ```
    pub fn pick(&self) -> &ActorRef<A> {
        &self.inner.workers[self.route().0]
    }

    /// Chooses a worker: its index, and whether it was running.
    ///
    /// The counter gives the worker to look at first; when the choice falls
    /// further on (a stopped worker, or a shorter queue), the counter is
    /// moved past it, so that the next choice starts after it rather than
    /// giving the same worker the skipped turn as well.
    fn route(&self) -> (usize, bool) {
        let n = self.size();
        let ticket = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let start = ticket % n;
        let (chosen, alive) = self.choose(start);
        let skipped = (chosen + n - start) % n;
        if skipped > 0 {
            // Best effort: if another sender has moved the counter since,
            // leave it; that only affects evenness.
            let after = ticket.wrapping_add(1);
            let _ = self.inner.next.compare_exchange(
                after,
                after.wrapping_add(skipped),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        (chosen, alive)
    }

    /// The routing's choice, looking at workers from `start` on.
    fn choose(&self, start: usize) -> (usize, bool) {
        let workers = &self.inner.workers;
        let n = workers.len();
        let mut best: Option<(usize, usize)> = None;
        for i in (start..n).chain(0..start) {
            let worker = &workers[i];
            if !worker.is_alive() {
                continue;
            }
            match self.inner.routing {
                Routing::RoundRobin => return (i, true),
                Routing::LeastLoaded => {
                    let len = worker.mailbox_len();
                    if best.is_none_or(|(_, shortest)| len < shortest) {
                        best = Some((i, len));
                        if len == 0 {
                            break;
                        }
                    }
                }
            }
        }
        best.map_or((start, false), |(i, _)| (i, true))
    }

    /// Sends `msg` to one worker, chosen by the pool's routing, without
    /// waiting for it to be handled.
    ///
    /// On a bounded mailbox that is full, waits for room at that worker
    /// (backpressure), as [`ActorRef::tell`] does. If the chosen worker
    /// turns out to have stopped, the message goes to the next running one.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if every worker has stopped.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// `msg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Job;
    /// # impl Message for Job { type Reply = (); }
    /// # impl Handler<Job> for Worker { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 2, Worker::default, Routing::RoundRobin).await.unwrap();
    /// pool.tell(Job).await.unwrap();
    /// # }
    /// ```
    pub async fn tell<M>(&self, mut msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        for _ in 0..self.size() {
            let (i, alive) = self.route();
            match self.inner.workers[i].tell(msg).await {
                Err(SendError::Closed(back)) if alive => msg = back,
                result => return result,
            }
        }
        Err(SendError::Closed(msg))
    }

    /// Sends `msg` if some worker has room now; never waits.
    ///
    /// Tries the worker chosen by the pool's routing first; if its mailbox
    /// is full (or it has stopped), tries each other worker once, in
    /// round-robin order from there. A message is refused only when no
    /// worker can take it.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] with `msg` if every running worker's mailbox is
    /// full; [`SendError::Closed`] with `msg` if every worker has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, error::SendError, mailbox::Mailbox};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Job;
    /// # impl Message for Job { type Reply = (); }
    /// # impl Handler<Job> for Worker { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::builder(2, Worker::default)
    ///     .mailbox(Mailbox::bounded(1))
    ///     .spawn(&ActorSystem::new())
    ///     .await
    ///     .unwrap();
    /// // The workers have not run yet (one thread): one message fills each.
    /// pool.try_tell(Job).unwrap();
    /// pool.try_tell(Job).unwrap();
    /// assert!(matches!(pool.try_tell(Job), Err(SendError::Full(Job))));
    /// # }
    /// ```
    pub fn try_tell<M>(&self, mut msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        let workers = &self.inner.workers;
        let n = workers.len();
        let first = self.route().0;
        let mut full = false;
        for i in (first..n).chain(0..first) {
            match workers[i].try_tell(msg) {
                Ok(()) => return Ok(()),
                Err(SendError::Full(back)) => {
                    full = true;
                    msg = back;
                }
                Err(SendError::Closed(back)) => msg = back,
                Err(other) => return Err(other),
            }
        }
        Err(if full { SendError::Full(msg) } else { SendError::Closed(msg) })
    }

    /// Sends `msg` to one worker, chosen by the pool's routing, and waits
    /// for its reply. Add a limit with [`AskRequest::timeout`].
    ///
    /// The worker is chosen when this is called, not when the request is
    /// awaited.
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`]. A worker that panics on `msg` fails the ask
    /// with [`AskError::Panicked`](crate::error::AskError::Panicked); in a
    /// supervised pool it is then restarted, and the messages queued for it
    /// wait for its new incarnation.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: once `msg` is queued, dropping the future only
    /// discards the reply; the message is still handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Doubler;
    /// # impl Actor for Doubler { type Error = std::convert::Infallible; }
    /// # struct Double(u32);
    /// # impl Message for Double { type Reply = u32; }
    /// # impl Handler<Double> for Doubler {
    /// #     async fn handle(&mut self, Double(n): Double, _: &mut Context<Self>) -> u32 { 2 * n }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 2, Doubler::default, Routing::RoundRobin).await.unwrap();
    /// assert_eq!(pool.ask(Double(21)).timeout(Duration::from_secs(1)).await.unwrap(), 42);
    /// # }
    /// ```
    pub fn ask<M>(&self, msg: M) -> AskRequest<'_, M>
    where
        A: Handler<M>,
        M: Message,
    {
        self.pick().ask(msg)
    }

    /// Sends a copy of `msg` to every worker, concurrently, and returns how
    /// many took it: the workers that had not stopped.
    ///
    /// Waits for room at each worker whose bounded mailbox is full.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future may leave some workers without
    /// their copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// #[derive(Clone)]
    /// struct Reload;
    /// impl Message for Reload {
    ///     type Reply = ();
    /// }
    /// # impl Handler<Reload> for Worker { async fn handle(&mut self, _: Reload, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 3, Worker::default, Routing::RoundRobin).await.unwrap();
    /// assert_eq!(pool.broadcast(Reload).await, 3);
    /// # }
    /// ```
    pub async fn broadcast<M>(&self, msg: M) -> usize
    where
        A: Handler<M>,
        M: Message + Clone,
    {
        let (last, rest) = self.inner.workers.split_last().expect("a pool has at least one worker");
        let mut sends: Vec<_> = rest.iter().map(|w| w.tell(msg.clone())).collect();
        sends.push(last.tell(msg));
        futures::future::join_all(sends).await.iter().filter(|r| r.is_ok()).count()
    }

    /// Stops the pool and returns at once; see
    /// [`wait_for_stop`](Pool::wait_for_stop).
    ///
    /// Every worker finishes the message in hand and stops; messages still
    /// queued become dead letters and their asks fail with
    /// [`AskError::NoReply`](crate::error::AskError::NoReply), as at
    /// [`ActorSystem::shutdown`]. A supervised pool does this by stopping its
    /// supervisor, which stops its workers before itself. Other clones of
    /// the pool see it stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::spawn(&ActorSystem::new(), 2, Worker::default, Routing::RoundRobin).await.unwrap();
    /// pool.stop();
    /// pool.wait_for_stop().await;
    /// assert!(pool.workers().iter().all(|w| !w.is_alive()));
    /// # }
    /// ```
    pub fn stop(&self) {
        match &self.inner.supervisor {
            Some(supervisor) => supervisor.stop(),
            None => {
                for worker in self.workers() {
                    worker.local().signal(Signal::Shutdown);
                }
            }
        }
    }

    /// Waits until every worker, and the supervisor if any, has stopped.
    /// Returns at once if they all have.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// use futures::FutureExt;
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let pool = Pool::spawn(&system, 2, Worker::default, Routing::RoundRobin).await.unwrap();
    /// assert_eq!(system.actor_count(), 3); // two workers and their supervisor
    /// pool.stop();
    /// tokio::time::timeout(Duration::from_secs(5), pool.wait_for_stop()).await.expect("stopped");
    /// assert_eq!(system.actor_count(), 0);
    /// // Once they have all stopped, it returns at once.
    /// assert!(pool.wait_for_stop().now_or_never().is_some());
    /// # }
    /// ```
    pub async fn wait_for_stop(&self) {
        futures::future::join_all(self.workers().iter().map(|w| w.wait_for_stop())).await;
        if let Some(supervisor) = &self.inner.supervisor {
            supervisor.wait_for_stop().await;
        }
    }
}

impl<A: Actor> Clone for Pool<A> {
    fn clone(&self) -> Self {
        Pool { inner: self.inner.clone() }
    }
}

impl<A: Actor> fmt::Debug for Pool<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("actor", &std::any::type_name::<A>())
            .field("size", &self.size())
            .field("routing", &self.inner.routing)
            .field("supervisor", &self.inner.supervisor.as_ref().map(ActorRef::id))
            .finish()
    }
}

/// Settings for a supervised [`Pool`]; from [`Pool::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_core::{Pool, Routing};
/// # #[derive(Default)] struct Worker;
/// # impl Actor for Worker { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pool = Pool::builder(2, Worker::default)
///     .backoff(Duration::from_millis(10))
///     .spawn(&ActorSystem::new())
///     .await
///     .unwrap();
/// assert_eq!(pool.routing(), Routing::RoundRobin);
/// # }
/// ```
#[must_use = "call spawn(..) to start the pool"]
pub struct PoolBuilder<A: Actor> {
    size: usize,
    factory: Arc<dyn Fn() -> A + Send + Sync>,
    routing: Routing,
    max_restarts: Option<(u32, Duration)>,
    backoff: Option<Duration>,
    mailbox: Option<Mailbox>,
}

impl<A: Actor> PoolBuilder<A> {
    /// How messages are routed; default [`Routing::RoundRobin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{Pool, Routing};
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Job;
    /// # impl Message for Job { type Reply = (); }
    /// # impl Handler<Job> for Worker { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::builder(2, Worker::default)
    ///     .routing(Routing::LeastLoaded)
    ///     .spawn(&ActorSystem::new())
    ///     .await
    ///     .unwrap();
    /// let [busy, idle] = pool.workers() else { unreachable!() };
    /// // The workers have not run yet (one thread): two jobs wait at the first.
    /// busy.try_tell(Job).unwrap();
    /// busy.try_tell(Job).unwrap();
    /// // Round-robin would alternate; least-loaded keeps to the idle worker.
    /// assert_eq!(pool.pick().id(), idle.id());
    /// assert_eq!(pool.pick().id(), idle.id());
    /// # }
    /// ```
    pub fn routing(mut self, routing: Routing) -> Self {
        self.routing = routing;
        self
    }

    /// The supervisor's restart intensity, counted over all workers
    /// together: more than `max` restarts within `within` and the
    /// supervisor gives up, which stops every worker. Default: that of
    /// [`Supervisor::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{Pool, prelude::*};
    ///
    /// struct Divider;
    ///
    /// #[actor]
    /// impl Divider {
    ///     #[message]
    ///     fn divide(&mut self, n: u32) -> u32 {
    ///         100 / n
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let builder = Pool::builder(2, || Divider).max_restarts(1, Duration::from_secs(60));
    /// let pool = builder.spawn(&ActorSystem::new()).await.unwrap();
    /// let [a, b] = pool.workers() else { unreachable!() };
    /// assert!(a.divide(0).await.is_err()); // a panic and a restart: within the limit
    /// assert!(b.divide(0).await.is_err()); // another worker's: one restart too many
    /// tokio::time::timeout(Duration::from_secs(5), pool.wait_for_stop()).await.expect("gave up");
    /// assert!(matches!(pool.supervisor().unwrap().wait_for_stop().await, StopReason::TooManyRestarts(_)));
    /// # }
    /// ```
    pub fn max_restarts(mut self, max: u32, within: Duration) -> Self {
        self.max_restarts = Some((max, within));
        self
    }

    /// Waits `delay` before restarting a failed worker; messages routed to
    /// it meanwhile wait in its mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{Pool, prelude::*};
    ///
    /// struct Divider;
    ///
    /// #[actor]
    /// impl Divider {
    ///     #[message]
    ///     fn divide(&mut self, n: u32) -> u32 {
    ///         100 / n
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let builder = Pool::builder(1, || Divider).backoff(Duration::from_secs(1));
    /// let pool = builder.spawn(&ActorSystem::new()).await.unwrap();
    /// assert!(pool.ask(Divide { n: 0 }).await.is_err()); // a panic
    /// let start = tokio::time::Instant::now();
    /// // Routed to the worker during the backoff, the message waits for the restart.
    /// assert_eq!(pool.ask(Divide { n: 4 }).timeout(Duration::from_secs(5)).await.unwrap(), 25);
    /// assert!(start.elapsed() >= Duration::from_secs(1));
    /// # }
    /// ```
    pub fn backoff(mut self, delay: Duration) -> Self {
        self.backoff = Some(delay);
        self
    }

    /// Each worker's mailbox; default that of [`SpawnOptions::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::Pool;
    /// # #[derive(Default)] struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Job;
    /// # impl Message for Job { type Reply = (); }
    /// # impl Handler<Job> for Worker { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::builder(2, Worker::default)
    ///     .mailbox(Mailbox::bounded(1))
    ///     .spawn(&ActorSystem::new())
    ///     .await
    ///     .unwrap();
    /// // The workers have not run yet (one thread): one job fills each mailbox.
    /// for worker in pool.workers() {
    ///     worker.try_tell(Job).unwrap();
    ///     assert!(matches!(worker.try_tell(Job), Err(SendError::Full(Job))));
    /// }
    /// # }
    /// ```
    pub fn mailbox(mut self, mailbox: Mailbox) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// Spawns the supervisor on `system`, starts the workers under it, and
    /// returns the pool.
    ///
    /// Workers are [transient](Restart::Transient) children: one that
    /// panics or fails is restarted in place, while one that stops normally
    /// stays stopped and the pool routes around it.
    ///
    /// # Errors
    ///
    /// As [`Pool::spawn`].
    ///
    /// # Cancel safety
    ///
    /// As [`Pool::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{Pool, prelude::*};
    ///
    /// struct Divider;
    ///
    /// #[actor]
    /// impl Divider {
    ///     #[message]
    ///     fn divide(&mut self, n: u32) -> u32 {
    ///         100 / n
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = Pool::builder(2, || Divider).spawn(&ActorSystem::new()).await.unwrap();
    /// let [a, b] = pool.workers() else { unreachable!() };
    /// assert!(a.divide(0).await.is_err()); // a panic: restarted in place
    /// assert_eq!(a.divide(4).timeout(Duration::from_secs(5)).await.unwrap(), 25);
    /// b.stop(); // a normal stop: it stays stopped, and the pool routes around it
    /// tokio::time::timeout(Duration::from_secs(5), b.wait_for_stop()).await.expect("stopped");
    /// assert!(pool.supervisor().unwrap().child::<Divider>(1).await.unwrap().is_none());
    /// assert_eq!((pool.pick().id(), pool.pick().id()), (a.id(), a.id()));
    /// # }
    /// ```
    pub async fn spawn(self, system: &ActorSystem) -> Result<Pool<A>, Error> {
        let PoolBuilder { size, factory, routing, max_restarts, backoff, mailbox } = self;
        let mut supervisor = Supervisor::new(Strategy::OneForOne);
        if let Some((max, within)) = max_restarts {
            supervisor = supervisor.max_restarts(max, within);
        }
        if let Some(delay) = backoff {
            supervisor = supervisor.backoff(delay);
        }
        // Dropped on every early return, which stops what was started.
        let supervisor = system.spawn(supervisor);
        let mut options = SpawnOptions::new();
        if let Some(mailbox) = mailbox {
            options = options.mailbox(mailbox);
        }
        let mut workers = Vec::with_capacity(size);
        for _ in 0..size {
            let factory = factory.clone();
            let spec = ChildSpec::new(move || factory()).restart(Restart::Transient).options(options.clone());
            workers.push(supervisor.start_child(spec).await?);
        }
        Ok(Pool::new(workers, routing, Some(supervisor)))
    }
}

impl<A: Actor> fmt::Debug for PoolBuilder<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("actor", &std::any::type_name::<A>())
            .field("size", &self.size)
            .field("routing", &self.routing)
            .field("max_restarts", &self.max_restarts)
            .field("backoff", &self.backoff)
            .field("mailbox", &self.mailbox)
            .finish()
    }
}
