//! The `Actor` trait and the `Context` its hooks and handlers receive.
//!
//! The two name each other (every hook takes `&mut Context<Self>`, and a
//! context is the context of one actor type), so they share a file. Most of
//! what a handler can do through its context is added by the layers above,
//! each in its own file: `actor_ref` there (reference/), spawning children
//! (spawn.rs), monitors and links (monitor.rs), timers and streams
//! (timer.rs), awaited tasks (task.rs).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};

use crate::actor::shared::Shared;
use crate::base::error::{ActorError, PanicError};
use crate::base::flight::{FlightRecord, Recorder};
use crate::base::id::ActorId;
use crate::base::reason::{ChildExit, StopReason};
use crate::cell::{Cell, Lane};
#[cfg(feature = "serde")]
use crate::endpoint::{RemoteEndpoint, WatchKey};
use crate::envelope::Addressee;
use crate::system::ActorSystem;

/// A unit of state that is only ever touched by its own task.
///
/// An actor is spawned with [`ActorSystem::spawn`](crate::ActorSystem::spawn),
/// receives messages through [`Handler`](crate::Handler) implementations, and
/// goes through a lifecycle of three hooks, all optional:
///
/// 1. [`on_start`](Actor::on_start) runs before the first message. An error
///    stops the actor with [`StopReason::Failed`].
/// 2. [`on_panic`](Actor::on_panic) runs when a handler panics and decides
///    whether the actor goes on ([`PanicAction::Resume`]) or stops
///    ([`PanicAction::Stop`], the default, as in Erlang's "let it crash").
/// 3. [`on_stop`](Actor::on_stop) runs once, last, whatever the reason,
///    after the actor's children have stopped.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Greeter {
///     greeted: usize,
/// }
///
/// impl Actor for Greeter {
///     type Error = std::convert::Infallible;
///
///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
///         println!("greeter {} is up", ctx.id());
///         Ok(())
///     }
///
///     async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
///         println!("greeted {} people, stopping: {reason}", self.greeted);
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let greeter = ActorSystem::new().spawn(Greeter { greeted: 0 });
/// greeter.stop();
/// assert!(greeter.wait_for_stop().await.is_normal());
/// # }
/// ```
pub trait Actor: Sized + Send + 'static {
    /// The error this actor can fail with (from `on_start`, or through
    /// [`Context::fail`]). Use [`std::convert::Infallible`] if it cannot.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs before the first message is handled.
    fn on_start(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs when a handler panics, and decides what happens next.
    ///
    /// The ask that caused the panic has already failed with
    /// [`AskError::Panicked`](crate::error::AskError::Panicked). The default
    /// stops the actor with [`StopReason::Panicked`].
    fn on_panic(&mut self, ctx: &mut Context<Self>, panic: &PanicError) -> impl Future<Output = PanicAction> + Send {
        let _ = (ctx, panic);
        async { PanicAction::Stop }
    }

    /// Runs when a child of this actor exits: it terminated, or, for a
    /// child started by a [`Supervisor`](crate::supervision::Supervisor),
    /// it failed and waits for the supervisor's decision. The default does
    /// nothing; use [`Context::monitor`] to be told about actors that are
    /// not your children.
    fn on_child_exit(&mut self, ctx: &mut Context<Self>, exit: &ChildExit) -> impl Future<Output = ()> + Send {
        let _ = (ctx, exit);
        async {}
    }

    /// Runs once when the actor stops, after its children have stopped.
    fn on_stop(&mut self, ctx: &mut Context<Self>, reason: &StopReason) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }
}

/// What an actor does after a handler panicked; returned by [`Actor::on_panic`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::error::PanicError;
/// use actor_core::prelude::*;
///
/// struct Sturdy(u32);
///
/// impl Actor for Sturdy {
///     type Error = std::convert::Infallible;
///     async fn on_panic(&mut self, _: &mut Context<Self>, _: &PanicError) -> PanicAction {
///         PanicAction::Resume
///     }
/// }
///
/// #[actor(no_actor_impl)]
/// impl Sturdy {
///     #[message]
///     fn poke(&mut self) -> u32 {
///         self.0 += 1;
///         assert!(self.0 != 2, "the second poke");
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sturdy = ActorSystem::new().spawn(Sturdy(0));
/// assert_eq!(sturdy.poke().await.unwrap(), 1);
/// assert!(matches!(sturdy.poke().await, Err(AskError::Panicked(_))));
/// // Resumed, with the state the panic left: the count went on.
/// assert_eq!(sturdy.poke().timeout(Duration::from_secs(5)).await.unwrap(), 3);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicAction {
    /// Go on with the next message, keeping the state as the panic left it.
    Resume,
    /// Stop with [`StopReason::Panicked`].
    Stop,
}

/// An actor's view of itself and of the system, passed to every handler and
/// lifecycle hook.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Parent;
/// impl Actor for Parent {
///     type Error = std::convert::Infallible;
/// }
/// struct Child;
/// impl Actor for Child {
///     type Error = std::convert::Infallible;
/// }
///
/// struct SpawnChild;
/// impl Message for SpawnChild {
///     type Reply = ActorRef<Child>;
/// }
///
/// impl Handler<SpawnChild> for Parent {
///     async fn handle(&mut self, _: SpawnChild, ctx: &mut Context<Self>) -> ActorRef<Child> {
///         // Stopped before this actor stops.
///         ctx.spawn_child(Child)
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let parent = system.spawn(Parent);
/// let child = parent.ask(SpawnChild).await.unwrap();
/// system.shutdown().await;
/// assert!(!child.is_alive());
/// # }
/// ```
pub struct Context<A: Actor> {
    shared: Arc<Shared<A>>,
    stop_now: Option<StopReason>,
    /// What only some actors use, allocated on first use: the context sits
    /// in every actor's task, and keeping it small keeps that task within
    /// one of tokio's 128-byte steps (see ARCHITECTURE.md, "Memory per actor").
    more: Option<Box<More<A>>>,
}

/// The parts of a [`Context`] that most actors never touch.
struct More<A: Actor> {
    children: Vec<Child>,
    /// Tasks that work for this actor (timers, attached streams): aborted
    /// when it stops, so they die with it.
    tasks: Vec<tokio::task::AbortHandle>,
    /// Set by `trap_exits`: how linked exits reach this actor as messages.
    exit_trap: Option<ExitTrap<A>>,
    /// The crash flight recorder, if the actor was spawned with one.
    recorder: Option<Box<Recorder>>,
    /// The monitors this actor holds, by id, until their notice is handled
    /// or they are removed; taken back from their targets when it stops.
    monitors: BTreeMap<u64, Monitored>,
    /// The id of the next monitor.
    next_monitor: u64,
}

impl<A: Actor> More<A> {
    fn new(recorder: Option<Box<Recorder>>) -> Self {
        More {
            children: Vec::new(),
            tasks: Vec::new(),
            exit_trap: None,
            recorder,
            monitors: BTreeMap::new(),
            next_monitor: 0,
        }
    }
}

/// How a trapping actor receives the exit of a linked one (set by
/// `Context::trap_exits`, in `monitor.rs`, which turns it into a
/// `Terminated` message).
pub(crate) type ExitTrap<A> = fn(&Shared<A>, ActorId, StopReason);

/// Where the notice of a monitor waits, so that it can be taken back.
pub(crate) enum Monitored {
    /// In the waiters of an actor of this node, under this key (`None`: it
    /// ran at once).
    Local(Weak<dyn Lane>, Option<u64>),
    /// With the transport, for an actor of another node.
    #[cfg(feature = "serde")]
    Remote(Arc<dyn RemoteEndpoint>, Option<WatchKey>),
}

impl Monitored {
    /// Takes the notice back from where it waits.
    pub(crate) fn take_back(self) {
        match self {
            Monitored::Local(target, Some(key)) => {
                if let Some(target) = target.upgrade() {
                    target.cell().forget_notice(key);
                }
            }
            #[cfg(feature = "serde")]
            Monitored::Remote(endpoint, Some(key)) => endpoint.unwatch(key),
            #[cfg(feature = "serde")]
            Monitored::Remote(_, None) => {}
            Monitored::Local(_, None) => {}
        }
    }
}

/// Every actor's envelopes start its handlers with its `Context`; see
/// [`Addressee`] for why the envelope names it only through this trait.
impl<A: Actor> Addressee for A {
    type Context = Context<A>;

    fn recorder(ctx: &mut Context<A>) -> Option<&mut Recorder> {
        ctx.recorder()
    }
}

impl<A: Actor> Context<A> {
    /// Drops what the context holds besides the actor's shared block (an
    /// exit trap, the recorder), at the end of the run loop.
    /// The monitors this actor still holds are taken back from their
    /// targets, so that they do not wait there for the rest of their lives.
    pub(crate) fn release(&mut self) {
        if let Some(more) = self.more.take() {
            let More { monitors, .. } = *more;
            for monitored in monitors.into_values() {
                monitored.take_back();
            }
        }
        self.stop_now = None;
    }

    pub(crate) fn new(shared: Arc<Shared<A>>, recorder: Option<Box<Recorder>>) -> Self {
        let more = recorder.map(|recorder| Box::new(More::new(Some(recorder))));
        Context { shared, stop_now: None, more }
    }

    fn more(&mut self) -> &mut More<A> {
        self.more.get_or_insert_with(|| Box::new(More::new(None)))
    }

    /// A fresh id for a monitor of this actor.
    pub(crate) fn next_monitor_id(&mut self) -> u64 {
        let more = self.more();
        more.next_monitor += 1;
        more.next_monitor
    }

    pub(crate) fn insert_monitor(&mut self, id: u64, monitored: Monitored) {
        self.more().monitors.insert(id, monitored);
    }

    /// Takes the monitor `id` out of those this actor holds, if it is there.
    pub(crate) fn take_monitor(&mut self, id: u64) -> Option<Monitored> {
        self.more.as_mut()?.monitors.remove(&id)
    }

    /// The flight recorder, if there is one.
    pub(crate) fn recorder(&mut self) -> Option<&mut Recorder> {
        self.more.as_mut()?.recorder.as_deref_mut()
    }

    /// What the flight recorder holds now.
    pub(crate) fn flight_record(&self) -> Option<FlightRecord> {
        self.more.as_ref()?.recorder.as_ref().map(|r| r.snapshot())
    }

    fn cell(&self) -> &Cell {
        &self.shared.cell
    }

    /// This actor's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Probe;
    ///
    /// #[actor]
    /// impl Probe {
    ///     #[message]
    ///     fn my_id(&mut self, ctx: &mut Context<Self>) -> ActorId {
    ///         ctx.id()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let first = system.spawn(Probe);
    /// let second = system.spawn(Probe);
    /// assert_eq!(first.my_id().await.unwrap(), first.id());
    /// assert_eq!(second.my_id().await.unwrap(), second.id());
    /// assert_ne!(first.id(), second.id());
    /// # }
    /// ```
    pub fn id(&self) -> ActorId {
        self.cell().id
    }

    /// The name given at spawn, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Probe;
    ///
    /// #[actor]
    /// impl Probe {
    ///     #[message]
    ///     fn my_name(&mut self, ctx: &mut Context<Self>) -> Option<String> {
    ///         ctx.name().map(String::from)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let named = system.spawn_with(Probe, SpawnOptions::new().name("probe"));
    /// let anonymous = system.spawn(Probe);
    /// assert_eq!(named.my_name().await.unwrap().as_deref(), Some("probe"));
    /// assert_eq!(anonymous.my_name().await.unwrap(), None);
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.cell().name.as_deref()
    }

    /// The system this actor belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Spawner;
    ///
    /// #[actor]
    /// impl Spawner {
    ///     #[message]
    ///     fn spawn_sibling(&mut self, ctx: &mut Context<Self>) -> ActorRef<Spawner> {
    ///         ctx.system().spawn(Spawner)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let first = system.spawn(Spawner);
    /// let sibling = first.spawn_sibling().await.unwrap();
    /// // The sibling was spawned in the same system, not as a child.
    /// assert_eq!(system.actor_count(), 2);
    /// system.shutdown().await;
    /// assert!(!sibling.is_alive());
    /// # }
    /// ```
    pub fn system(&self) -> &ActorSystem {
        &self.shared.system
    }

    /// Stops this actor gracefully: it accepts no new messages, handles the
    /// ones already queued, then stops with [`StopReason::Normal`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message]
    ///     fn work(&mut self) {}
    ///
    ///     #[message]
    ///     fn finish(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.stop();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let worker = system.spawn(Worker);
    /// worker.try_tell(Finish).unwrap();
    /// worker.try_tell(Work).unwrap(); // queued too: the worker has not run yet (one thread)
    /// let reason = tokio::time::timeout(Duration::from_secs(5), worker.wait_for_stop()).await.unwrap();
    /// assert!(matches!(reason, StopReason::Normal));
    /// assert_eq!(system.dead_letter_count(), 0, "`Work` was handled");
    /// assert!(worker.try_tell(Work).is_err());
    /// # }
    /// ```
    pub fn stop(&mut self) {
        self.shared.stop();
    }

    /// Stops this actor as soon as the current handler returns, with
    /// [`StopReason::Killed`]. Queued messages become dead letters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message]
    ///     fn work(&mut self) {}
    ///
    ///     #[message]
    ///     fn halt(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.kill();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let worker = system.spawn(Worker);
    /// worker.try_tell(Halt).unwrap();
    /// worker.try_tell(Work).unwrap(); // queued too: the worker has not run yet (one thread)
    /// let reason = tokio::time::timeout(Duration::from_secs(5), worker.wait_for_stop()).await.unwrap();
    /// assert!(matches!(reason, StopReason::Killed));
    /// assert_eq!(system.dead_letter_count(), 1, "`Work` was never handled");
    /// # }
    /// ```
    pub fn kill(&mut self) {
        self.stop_now.get_or_insert(StopReason::Killed);
    }

    /// Fails this actor with `error` as soon as the current handler returns:
    /// it stops with [`StopReason::Failed`], which its supervisor sees.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Loader;
    ///
    /// #[actor(error = std::io::Error)]
    /// impl Loader {
    ///     #[message]
    ///     fn load(&mut self, ctx: &mut Context<Self>) -> &'static str {
    ///         ctx.fail(std::io::Error::other("disk full"));
    ///         "the handler still returns"
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let loader = ActorSystem::new().spawn(Loader);
    /// assert_eq!(loader.load().await.unwrap(), "the handler still returns");
    /// let reason = tokio::time::timeout(Duration::from_secs(5), loader.wait_for_stop()).await.unwrap();
    /// let StopReason::Failed(error) = reason else { panic!("not failed: {reason}") };
    /// assert_eq!(error.to_string(), "disk full");
    /// # }
    /// ```
    pub fn fail(&mut self, error: A::Error) {
        self.stop_now.get_or_insert(StopReason::Failed(ActorError::new(error)));
    }

    /// Stops this actor with `reason` as soon as the current handler
    /// returns, like [`kill`](Context::kill) (what the supervisor uses to
    /// give up with a reason of its own).
    pub(crate) fn stop_with(&mut self, reason: StopReason) {
        self.stop_now.get_or_insert(reason);
    }

    /// Keeps a child just spawned (see `spawn.rs`), to stop it, and wait for
    /// it, before this actor's `on_stop`.
    pub(crate) fn add_child(&mut self, child: Child) {
        self.more().children.push(child);
    }

    /// The ids of this actor's live children, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Kid;
    /// # impl Actor for Kid { type Error = std::convert::Infallible; }
    ///
    /// struct Parent(Vec<ActorRef<Kid>>);
    ///
    /// #[actor]
    /// impl Parent {
    ///     #[message]
    ///     fn adopt(&mut self, ctx: &mut Context<Self>) -> ActorId {
    ///         self.0.push(ctx.spawn_child(Kid));
    ///         self.0.last().unwrap().id()
    ///     }
    ///
    ///     #[message]
    ///     fn kids(&mut self, ctx: &mut Context<Self>) -> Vec<ActorId> {
    ///         ctx.children()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let parent = ActorSystem::new().spawn(Parent(Vec::new()));
    /// assert!(parent.kids().await.unwrap().is_empty());
    /// let first = parent.adopt().await.unwrap();
    /// let second = parent.adopt().await.unwrap();
    /// assert_eq!(parent.kids().await.unwrap(), [first, second]);
    /// # }
    /// ```
    pub fn children(&self) -> Vec<ActorId> {
        self.more.as_ref().map_or_else(Vec::new, |m| m.children.iter().map(|c| c.lane.cell().id).collect())
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<A>> {
        &self.shared
    }

    /// Ties a task's life to this actor's: it is aborted when the actor
    /// stops. Finished tasks are pruned as new ones come.
    pub(crate) fn track_task(&mut self, task: tokio::task::AbortHandle) {
        let tasks = &mut self.more().tasks;
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    pub(crate) fn abort_tasks(&mut self) {
        let Some(more) = &mut self.more else { return };
        for task in more.tasks.drain(..) {
            task.abort();
        }
    }

    pub(crate) fn set_exit_trap(&mut self, trap: ExitTrap<A>) {
        self.more().exit_trap = Some(trap);
    }

    pub(crate) fn exit_trap(&self) -> Option<ExitTrap<A>> {
        self.more.as_ref()?.exit_trap
    }

    pub(crate) fn take_stop_now(&mut self) -> Option<StopReason> {
        self.stop_now.take()
    }

    /// Keeps the reason the actor stops for while its last incarnation ends
    /// (its children, then `on_stop`), until `take_stop_now` takes it back:
    /// the run loop's task then holds nothing of its own across those
    /// awaits. Unseen by the hooks: `kill`, `fail` and `stop_with` keep a
    /// reason already there, and a reason set at this point was ignored
    /// anyway.
    pub(crate) fn park_reason(&mut self, reason: StopReason) {
        self.stop_now = Some(reason);
    }

    /// The reason parked by `park_reason`.
    pub(crate) fn parked_reason(&self) -> &StopReason {
        self.stop_now.as_ref().expect("a reason is parked")
    }

    pub(crate) fn remove_child(&mut self, id: ActorId) {
        if let Some(more) = &mut self.more {
            more.children.retain(|c| c.lane.cell().id != id);
        }
    }

    pub(crate) fn take_children(&mut self) -> Vec<Child> {
        self.more.as_mut().map(|m| std::mem::take(&mut m.children)).unwrap_or_default()
    }

    pub(crate) fn has_children(&self) -> bool {
        self.more.as_ref().is_some_and(|m| !m.children.is_empty())
    }
}

/// What a parent keeps of a child: how to signal it, how to abort it, and
/// how long to wait for it to stop.
pub(crate) struct Child {
    pub(crate) lane: Arc<dyn Lane>,
    pub(crate) task: tokio::task::AbortHandle,
    pub(crate) shutdown_timeout: Option<std::time::Duration>,
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.cell().actor_type)
            .field("id", &self.cell().id)
            .field("children", &self.more.as_ref().map_or(0, |m| m.children.len()))
            .finish()
    }
}
