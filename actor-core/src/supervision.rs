//! Supervision: restarting failed actors, as Erlang/OTP does.
//!
//! A [`Supervisor`] is an actor that starts children from [`ChildSpec`]s
//! and decides, when one fails, whether and whom to restart
//! ([`Strategy`], [`Restart`]). A restart happens *in place*: the child's
//! task, mailbox and [`ActorRef`] stay the same, only its state is rebuilt
//! from the spec's factory, so senders never see a dead reference and the
//! messages sent meanwhile wait in the mailbox. Past the restart intensity
//! (more than `n` restarts within `t`), the supervisor stops its children
//! and fails itself, so its own supervisor can act.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::actor::context::Actor;
use crate::base::error::{AskError, Error};
use crate::base::id::ActorId;
use crate::reference::actor_ref::ActorRef;
// Defined with the stop reasons, which the run loop and the system lane
// carry; its public home is here.
use crate::actor::context::Context;
use crate::actor::message::{Handler, Message};
pub use crate::base::reason::ChildExit;
use crate::cell::Lane;
use crate::mailbox::signal::Signal;
use crate::spawn::SpawnOptions;
/// Whom a supervisor restarts when a child fails.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::{prelude::*, supervision::Strategy};
///
/// struct Counter(u64);
///
/// #[actor]
/// impl Counter {
///     #[message]
///     fn add(&mut self, n: u64) -> u64 {
///         assert!(n > 0, "nothing to add");
///         self.0 += n;
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::builder().observe(true).build();
/// let supervisor = system.spawn(Supervisor::new(Strategy::OneForAll));
/// let a = supervisor.start_child(ChildSpec::new(|| Counter(0))).await.unwrap();
/// let b = supervisor.start_child(ChildSpec::new(|| Counter(0))).await.unwrap();
/// assert_eq!(a.add(5).await.unwrap(), 5);
/// assert!(b.add(0).await.is_err()); // b panics: under one-for-all, a restarts too
/// let restarts = |id| system.stats().actors.into_iter().find(|s| s.id == id).map(|s| s.restarts);
/// tokio::time::timeout(Duration::from_secs(10), async {
///     while restarts(a.id()) != Some(1) {
///         tokio::time::sleep(Duration::from_millis(1)).await;
///     }
/// })
/// .await
/// .unwrap();
/// assert_eq!(a.add(1).await.unwrap(), 1); // a fresh a
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Only the failed child.
    #[default]
    OneForOne,
    /// Every child.
    OneForAll,
    /// The failed child and every child started after it.
    RestForOne,
}

/// When a child is restarted.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::{prelude::*, supervision::Strategy};
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
/// # let wait = Duration::from_secs(10);
/// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
/// let permanent = supervisor.start_child(ChildSpec::new(|| Divider)).await.unwrap();
/// let temporary = supervisor.start_child(ChildSpec::new(|| Divider).restart(Restart::Temporary)).await.unwrap();
///
/// assert!(permanent.divide(0).timeout(wait).await.is_err());
/// assert_eq!(permanent.divide(5).timeout(wait).await.unwrap(), 20); // restarted in place
///
/// assert!(temporary.divide(0).timeout(wait).await.is_err());
/// let reason = tokio::time::timeout(wait, temporary.wait_for_stop()).await.unwrap();
/// assert!(matches!(reason, StopReason::Panicked(_))); // not restarted
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    /// Always. After an abnormal stop it is restarted in place; after a
    /// normal stop (its mailbox is closed) it is started again as a new
    /// actor, with a new id.
    #[default]
    Permanent,
    /// Only after an abnormal stop ([`StopReason::is_abnormal`](crate::StopReason::is_abnormal)).
    Transient,
    /// Never.
    Temporary,
}

/// How to start, and restart, one child.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::supervision::{ChildSpec, Restart};
/// # #[derive(Default)] struct Worker;
/// # impl Actor for Worker { type Error = std::convert::Infallible; }
/// let spec = ChildSpec::new(Worker::default).restart(Restart::Transient);
/// ```
pub struct ChildSpec<B: Actor> {
    factory: Arc<dyn Fn() -> B + Send + Sync>,
    restart: Restart,
    options: SpawnOptions,
}

impl<B: Actor> ChildSpec<B> {
    /// A permanent child whose state `factory` builds, at start and at
    /// every restart. Acquire resources in [`Actor::on_start`], not in the
    /// factory: the new state is built before the old one is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         assert!(n > 0, "nothing to add");
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let counter = supervisor.start_child(ChildSpec::new(|| Counter(0))).await.unwrap();
    /// assert_eq!(counter.add(5).await.unwrap(), 5);
    /// assert!(counter.add(0).await.is_err()); // a panic: restarted, on a state the factory builds anew
    /// assert_eq!(counter.add(1).timeout(Duration::from_secs(5)).await.unwrap(), 1);
    /// # }
    /// ```
    pub fn new(factory: impl Fn() -> B + Send + Sync + 'static) -> Self {
        ChildSpec { factory: Arc::new(factory), restart: Restart::Permanent, options: SpawnOptions::new() }
    }

    /// When to restart it; default [`Restart::Permanent`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
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
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let spec = ChildSpec::new(|| Divider).restart(Restart::Temporary);
    /// let divider = supervisor.start_child(spec).await.unwrap();
    /// assert!(divider.divide(0).await.is_err()); // a panic
    /// // A temporary child is not restarted: it stays stopped.
    /// let stopped = tokio::time::timeout(Duration::from_secs(5), divider.wait_for_stop()).await;
    /// assert!(matches!(stopped.expect("not restarted"), StopReason::Panicked(_)));
    /// # }
    /// ```
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Its mailbox and name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::supervision::Strategy;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # struct Job;
    /// # impl Message for Job { type Reply = (); }
    /// # impl Handler<Job> for Worker { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let options = SpawnOptions::new().name("billing").mailbox(Mailbox::bounded(1));
    /// let worker = supervisor.start_child(ChildSpec::new(|| Worker).options(options)).await.unwrap();
    /// assert_eq!(worker.name(), Some("billing"));
    /// // The worker has not run yet (one thread): one job fills its mailbox.
    /// worker.try_tell(Job).unwrap();
    /// assert!(matches!(worker.try_tell(Job), Err(SendError::Full(Job))));
    /// # }
    /// ```
    pub fn options(mut self, options: SpawnOptions) -> Self {
        self.options = options;
        self
    }

    /// How long the supervisor waits for it to stop before aborting it; see
    /// [`SpawnOptions::shutdown_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
    ///
    /// struct Stuck;
    ///
    /// #[actor]
    /// impl Stuck {
    ///     #[message]
    ///     async fn hang(&mut self) {
    ///         std::future::pending::<()>().await;
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let spec = ChildSpec::new(|| Stuck).shutdown_timeout(Duration::from_secs(5));
    /// supervisor.start_child(spec).await.unwrap().tell_hang().await.unwrap();
    /// let start = tokio::time::Instant::now();
    /// supervisor.stop(); // without the timeout, it would wait for `Stuck` forever
    /// tokio::time::timeout(Duration::from_secs(60), supervisor.wait_for_stop()).await.expect("aborted");
    /// assert!(start.elapsed() >= Duration::from_secs(5));
    /// # }
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options = self.options.shutdown_timeout(timeout);
        self
    }
}

impl<B: Actor> fmt::Debug for ChildSpec<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec").field("actor", &std::any::type_name::<B>()).field("restart", &self.restart).finish()
    }
}

/// Starts the child of a spec under `ctx` and returns its entry.
type Starter = Box<dyn Fn(&mut Context<Supervisor>) -> Child + Send + Sync>;

struct Child {
    id: ActorId,
    lane: Arc<dyn Lane>,
    restart: Restart,
    /// The child's `ActorRef<B>`: keeps it alive, and answers `child::<B>`.
    actor_ref: Box<dyn Any + Send + Sync>,
    /// Starts it again as a new actor (a permanent child that stopped).
    start: Arc<Starter>,
}

fn starter<B: Actor>(spec: ChildSpec<B>) -> Arc<Starter> {
    let ChildSpec { factory, restart, options } = spec;
    Arc::new(Box::new(move |ctx: &mut Context<Supervisor>| {
        let factory = factory.clone();
        let child: ActorRef<B> = ctx.spawn_supervised(Box::new(move || factory()), options.clone());
        Child {
            id: child.id(),
            lane: child.local().clone(),
            restart,
            actor_ref: Box::new(child),
            start: Arc::new(Box::new(|_: &mut Context<Supervisor>| unreachable!("replaced below"))),
        }
    }))
}

/// Starts a spec's child and records it, with its own starter kept for
/// respawns.
fn start(ctx: &mut Context<Supervisor>, start: &Arc<Starter>) -> Child {
    let mut child = start(ctx);
    child.start = start.clone();
    child
}

/// An actor that starts children and restarts them when they fail.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
///
/// #[derive(Default)]
/// struct Flaky(u32);
/// impl Actor for Flaky {
///     type Error = std::convert::Infallible;
/// }
///
/// struct Hit;
/// impl Message for Hit {
///     type Reply = u32;
/// }
/// impl Handler<Hit> for Flaky {
///     async fn handle(&mut self, _: Hit, _: &mut Context<Self>) -> u32 {
///         self.0 += 1;
///         assert!(self.0 < 3, "third hit breaks me");
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let supervisor =
///     system.spawn(Supervisor::new(Strategy::OneForOne).max_restarts(3, Duration::from_secs(5)));
/// let flaky = supervisor.start_child(ChildSpec::new(Flaky::default)).await.unwrap();
/// assert_eq!(flaky.ask(Hit).await.unwrap(), 1);
/// assert_eq!(flaky.ask(Hit).await.unwrap(), 2);
/// assert!(flaky.ask(Hit).await.unwrap_err().is_panic());
/// // Restarted in place: the same reference, a fresh state.
/// assert_eq!(flaky.ask(Hit).await.unwrap(), 1);
/// # }
/// ```
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: u32,
    within: Duration,
    backoff: Option<Duration>,
    restarts: VecDeque<Instant>,
    specs: Vec<Arc<Starter>>,
    children: Vec<Child>,
}

impl Supervisor {
    /// A supervisor with `strategy`, allowing 3 restarts within 5 seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
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
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let divider = supervisor.start_child(ChildSpec::new(|| Divider)).await.unwrap();
    /// for _ in 0..4 { // three restarts, then one failure too many
    ///     assert!(divider.divide(0).timeout(Duration::from_secs(5)).await.is_err());
    /// }
    /// let stopped = tokio::time::timeout(Duration::from_secs(5), supervisor.wait_for_stop()).await;
    /// assert!(matches!(stopped.unwrap(), StopReason::TooManyRestarts(l) if l.max == 3 && l.within.as_secs() == 5));
    /// # }
    /// ```
    pub fn new(strategy: Strategy) -> Self {
        Supervisor {
            strategy,
            max_restarts: 3,
            within: Duration::from_secs(5),
            backoff: None,
            restarts: VecDeque::new(),
            specs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The restart intensity: more than `max` restarts within `within`
    /// and the supervisor stops its children, then itself with
    /// [`StopReason::TooManyRestarts`](crate::StopReason::TooManyRestarts).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
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
    /// let limited = Supervisor::new(Strategy::OneForOne).max_restarts(1, Duration::from_secs(10));
    /// let supervisor = ActorSystem::new().spawn(limited);
    /// let divider = supervisor.start_child(ChildSpec::new(|| Divider)).await.unwrap();
    /// let crash = || divider.divide(0).timeout(Duration::from_secs(5));
    /// assert!(matches!(crash().await, Err(AskError::Panicked(_)))); // restarted
    /// tokio::time::sleep(Duration::from_secs(11)).await; // that restart leaves the window
    /// assert!(matches!(crash().await, Err(AskError::Panicked(_)))); // restarted
    /// assert!(matches!(crash().await, Err(AskError::Panicked(_)))); // a second within 10 s
    /// let stopped = tokio::time::timeout(Duration::from_secs(5), supervisor.wait_for_stop()).await;
    /// assert!(matches!(stopped.unwrap(), StopReason::TooManyRestarts(_)));
    /// # }
    /// ```
    pub fn max_restarts(mut self, max: u32, within: Duration) -> Self {
        self.max_restarts = max;
        self.within = within;
        self
    }

    /// Waits `delay` before each restart.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
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
    /// let slow = Supervisor::new(Strategy::OneForOne).backoff(Duration::from_secs(1));
    /// let supervisor = ActorSystem::new().spawn(slow);
    /// let divider = supervisor.start_child(ChildSpec::new(|| Divider)).await.unwrap();
    /// assert!(divider.divide(0).await.is_err()); // a panic
    /// let start = tokio::time::Instant::now();
    /// assert_eq!(divider.divide(4).timeout(Duration::from_secs(5)).await.unwrap(), 25); // waits for it
    /// assert!(start.elapsed() >= Duration::from_secs(1));
    /// # }
    /// ```
    pub fn backoff(mut self, delay: Duration) -> Self {
        self.backoff = Some(delay);
        self
    }

    /// A child started with the supervisor (in order), and again whenever
    /// the supervisor itself is restarted: how to build supervision trees.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::supervision::Strategy;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // A root supervisor over a branch supervisor over a counter.
    /// let make_branch = || Supervisor::new(Strategy::OneForOne).child(ChildSpec::new(|| Counter(0)));
    /// let root = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new(make_branch));
    /// let root = ActorSystem::new().spawn(root);
    /// let branch = root.child::<Supervisor>(0).await.unwrap().expect("started with the root");
    /// let counter = branch.child::<Counter>(0).await.unwrap().expect("started with the branch");
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// // Restarted, the branch starts its children again, afresh.
    /// branch.kill();
    /// let again = tokio::time::timeout(Duration::from_secs(5), branch.child::<Counter>(0)).await;
    /// let again = again.unwrap().unwrap().expect("started again");
    /// assert_ne!(again.id(), counter.id());
    /// assert_eq!(again.add(1).await.unwrap(), 1);
    /// # }
    /// ```
    pub fn child<B: Actor>(mut self, spec: ChildSpec<B>) -> Self {
        self.specs.push(starter(spec));
        self
    }

    /// Records a restart; false if that breaks the intensity.
    fn allow_restart(&mut self) -> bool {
        let now = Instant::now();
        self.restarts.push_back(now);
        while self.restarts.front().is_some_and(|t| now.duration_since(*t) > self.within) {
            self.restarts.pop_front();
        }
        self.restarts.len() <= self.max_restarts as usize
    }

    fn signal_after(&self, ctx: &mut Context<Self>, lane: Arc<dyn Lane>, signal: Signal) {
        match self.backoff {
            None => lane.signal(signal),
            Some(delay) => {
                let task = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    lane.signal(signal);
                });
                ctx.track_task(task.abort_handle());
            }
        }
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("strategy", &self.strategy)
            .field("max_restarts", &self.max_restarts)
            .field("within", &self.within)
            .field("children", &self.children.len())
            .finish()
    }
}

impl Actor for Supervisor {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        for spec in self.specs.clone() {
            let child = start(ctx, &spec);
            self.children.push(child);
        }
        Ok(())
    }

    async fn on_child_exit(&mut self, ctx: &mut Context<Self>, exit: &ChildExit) {
        let Some(pos) = self.children.iter().position(|c| c.id == exit.id) else { return };
        if !exit.awaiting_restart {
            // It terminated for good. Only a permanent child that stopped
            // normally (its mailbox closed, so it cannot restart in place)
            // comes back, as a new actor; one stopped while it waited for a
            // decision, or any other, leaves the list.
            if self.children[pos].restart == Restart::Permanent && exit.reason.is_normal() {
                if !self.allow_restart() {
                    self.give_up(ctx);
                    return;
                }
                let spec = self.children[pos].start.clone();
                self.children[pos] = start(ctx, &spec);
            } else {
                self.children.remove(pos);
            }
            return;
        }
        let restart = match self.children[pos].restart {
            Restart::Permanent | Restart::Transient => true,
            Restart::Temporary => false,
        };
        if !restart {
            let child = self.children.remove(pos);
            child.lane.signal(Signal::Shutdown);
            return;
        }
        if !self.allow_restart() {
            self.give_up(ctx);
            return;
        }
        let targets = match self.strategy {
            Strategy::OneForOne => pos..pos + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => pos..self.children.len(),
        };
        for i in targets {
            let lane = self.children[i].lane.clone();
            self.signal_after(ctx, lane, Signal::Restart);
        }
    }
}

impl Supervisor {
    /// Past the restart intensity: stop with
    /// [`StopReason::TooManyRestarts`](crate::StopReason::TooManyRestarts),
    /// children first; the parent hears of it.
    fn give_up(&self, ctx: &mut Context<Self>) {
        tracing::error!(max = self.max_restarts, within = ?self.within, "restart intensity exceeded");
        let limit = crate::base::reason::RestartIntensity::new(self.max_restarts, self.within);
        ctx.stop_with(crate::base::reason::StopReason::TooManyRestarts(Box::new(limit)));
    }
}

/// Starts a child under a supervisor; see [`ActorRef::start_child`].
struct StartChild<B: Actor>(ChildSpec<B>);

impl<B: Actor> Message for StartChild<B> {
    type Reply = ActorRef<B>;
}

impl<B: Actor> Handler<StartChild<B>> for Supervisor {
    async fn handle(&mut self, StartChild(spec): StartChild<B>, ctx: &mut Context<Self>) -> ActorRef<B> {
        let child = start(ctx, &starter(spec));
        let actor_ref = child.actor_ref.downcast_ref::<ActorRef<B>>().expect("a spec of B starts a B").clone();
        self.children.push(child);
        actor_ref
    }
}

/// Looks up a child by position.
struct GetChild<B: Actor>(usize, std::marker::PhantomData<fn() -> B>);

impl<B: Actor> Message for GetChild<B> {
    type Reply = Option<ActorRef<B>>;
}

impl<B: Actor> Handler<GetChild<B>> for Supervisor {
    async fn handle(&mut self, GetChild(index, _): GetChild<B>, _: &mut Context<Self>) -> Option<ActorRef<B>> {
        self.children.get(index)?.actor_ref.downcast_ref::<ActorRef<B>>().cloned()
    }
}

impl ActorRef<Supervisor> {
    /// Starts a child under this supervisor and returns a reference to it,
    /// valid across restarts.
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`], if the supervisor has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{prelude::*, supervision::Strategy};
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         assert!(n > 0, "nothing to add");
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let counter = supervisor.start_child(ChildSpec::new(|| Counter(0))).await.unwrap();
    /// assert_eq!(counter.add(2).await.unwrap(), 2);
    /// assert!(counter.add(0).await.is_err()); // a panic: the same reference reaches the restarted child
    /// assert_eq!(counter.add(1).timeout(Duration::from_secs(5)).await.unwrap(), 1);
    /// # }
    /// ```
    pub async fn start_child<B: Actor>(&self, spec: ChildSpec<B>) -> Result<ActorRef<B>, AskError<ChildSpec<B>>> {
        self.ask(StartChild(spec)).await.map_err(|e| e.map(|StartChild(spec)| spec))
    }

    /// The supervisor's child at `index` (in start order), if it is a `B`.
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`], if the supervisor has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::supervision::Strategy;
    /// # struct Counter(u64);
    /// # #[actor] impl Counter { #[message] fn add(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = ActorSystem::new().spawn(Supervisor::new(Strategy::OneForOne));
    /// let counter = supervisor.start_child(ChildSpec::new(|| Counter(0))).await.unwrap();
    /// supervisor.start_child(ChildSpec::new(|| Worker)).await.unwrap();
    /// let first = supervisor.child::<Counter>(0).await.unwrap();
    /// assert_eq!(first.map(|c| c.id()), Some(counter.id()));
    /// assert!(supervisor.child::<Counter>(1).await.unwrap().is_none()); // a Worker
    /// assert!(supervisor.child::<Counter>(2).await.unwrap().is_none()); // no such child
    /// # }
    /// ```
    pub async fn child<B: Actor>(&self, index: usize) -> Result<Option<ActorRef<B>>, Error> {
        Ok(self.ask(GetChild::<B>(index, std::marker::PhantomData)).await?)
    }
}
