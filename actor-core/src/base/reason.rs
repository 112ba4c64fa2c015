//! Why an actor stopped, and how its parent hears of it.

use std::fmt;
use std::time::Duration;

use crate::base::error::{ActorError, PanicError};
use crate::base::id::ActorId;

/// Why an actor stopped.
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
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// let system = ActorSystem::new();
/// let stopped = system.spawn(Worker);
/// stopped.stop();
/// let reason = tokio::time::timeout(wait, stopped.wait_for_stop()).await.unwrap();
/// assert!(matches!(reason, StopReason::Normal));
/// assert!(reason.is_normal());
///
/// let killed = system.spawn(Worker);
/// killed.kill();
/// let reason = tokio::time::timeout(wait, killed.wait_for_stop()).await.unwrap();
/// assert!(matches!(reason, StopReason::Killed));
/// assert!(reason.is_abnormal());
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StopReason {
    /// It was asked to stop ([`ActorRef::stop`](crate::ActorRef::stop),
    /// [`Context::stop`](crate::Context::stop)), its last strong reference was dropped, or the
    /// system shut down.
    Normal,
    /// It was killed ([`ActorRef::kill`](crate::ActorRef::kill)).
    Killed,
    /// A handler or hook panicked and `on_panic` chose to stop.
    Panicked(PanicError),
    /// `on_start` returned an error, or a handler called [`Context::fail`](crate::Context::fail).
    Failed(ActorError),
    /// A supervisor gave up: more of its children's restarts happened
    /// within a period than its restart intensity allows. Its children stop
    /// first; its own parent sees this reason. (Boxed, like `Linked`.)
    TooManyRestarts(Box<RestartIntensity>),
    /// An actor linked to this one ([`Context::link`](crate::Context::link)) stopped abnormally,
    /// and this one does not trap exits. (Boxed, to keep `StopReason` small:
    /// every actor stores one.)
    Linked(Box<LinkedExit>),
    /// Stopped by its supervisor so that a fresh incarnation can start (a
    /// sibling failed under a one-for-all or rest-for-one strategy). Seen by
    /// `on_stop` only: the actor lives on.
    Restart,
    /// The actor is on another node, and that node went down or the
    /// connection to it was lost: the actor may still be running, but it
    /// can no longer be reached. Seen by monitors of remote actors.
    NodeDown,
    /// The actor was not found when it was watched: it had already stopped
    /// (on another node, whose reason is no longer known), or never existed.
    NotFound,
    /// It was aborted ([`ActorRef::abort`](crate::ActorRef::abort)): the
    /// handler or hook in progress, if any, was dropped unfinished.
    /// Supervisors treat it like `Killed`.
    Aborted,
}

impl StopReason {
    /// Whether this is a normal stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let stopped = system.spawn(Worker);
    /// stopped.stop();
    /// assert!(stopped.wait_for_stop().await.is_normal());
    /// let killed = system.spawn(Worker);
    /// killed.kill();
    /// assert!(!killed.wait_for_stop().await.is_normal());
    /// # }
    /// ```
    pub fn is_normal(&self) -> bool {
        matches!(self, StopReason::Normal)
    }

    /// Whether the actor stopped because something went wrong: it was
    /// killed or aborted, it panicked, it failed, or a linked actor did.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::StopReason;
    ///
    /// assert!(StopReason::Killed.is_abnormal());
    /// assert!(StopReason::Aborted.is_abnormal());
    /// assert!(StopReason::NodeDown.is_abnormal());
    /// assert!(!StopReason::Normal.is_abnormal());
    /// // A restart in place, or an actor not found, is neither normal nor abnormal.
    /// assert!(!StopReason::Restart.is_abnormal() && !StopReason::Restart.is_normal());
    /// assert!(!StopReason::NotFound.is_abnormal() && !StopReason::NotFound.is_normal());
    /// ```
    pub fn is_abnormal(&self) -> bool {
        matches!(
            self,
            StopReason::Killed
                | StopReason::Aborted
                | StopReason::Panicked(_)
                | StopReason::Failed(_)
                | StopReason::TooManyRestarts(_)
                | StopReason::Linked(_)
                | StopReason::NodeDown
        )
    }
}

/// The exit that stopped a linked actor: see [`StopReason::Linked`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Partner;
///
/// #[actor]
/// impl Partner {
///     #[message]
///     fn link_to(&mut self, other: ActorRef<Partner>, ctx: &mut Context<Self>) {
///         ctx.link(&other);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let a = system.spawn(Partner);
/// let b = system.spawn(Partner);
/// a.link_to(b.clone()).await.unwrap();
/// b.kill();
/// let reason = tokio::time::timeout(Duration::from_secs(10), a.wait_for_stop()).await.unwrap();
/// let StopReason::Linked(exit) = reason else { panic!("stopped by the link") };
/// assert_eq!(exit.id, b.id());
/// assert!(matches!(exit.reason, StopReason::Killed));
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LinkedExit {
    /// The linked actor that stopped first.
    pub id: ActorId,
    /// Why it stopped.
    pub reason: StopReason,
}

/// A supervisor's restart intensity, as carried by
/// [`StopReason::TooManyRestarts`]: at most `max` restarts within `within`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::RestartIntensity;
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
/// let strict = Supervisor::new(Strategy::OneForOne).max_restarts(1, Duration::from_secs(60));
/// let supervisor = ActorSystem::new().spawn(strict);
/// let divider = supervisor.start_child(ChildSpec::new(|| Divider)).await.unwrap();
/// for _ in 0..2 { // one restart, then one failure too many
///     assert!(divider.divide(0).timeout(Duration::from_secs(5)).await.is_err());
/// }
/// let reason = tokio::time::timeout(Duration::from_secs(10), supervisor.wait_for_stop()).await.unwrap();
/// let StopReason::TooManyRestarts(intensity) = reason else { panic!("the supervisor gave up") };
/// assert_eq!(*intensity, RestartIntensity::new(1, Duration::from_secs(60)));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartIntensity {
    /// The most restarts allowed in the period.
    pub max: u32,
    /// The period.
    pub within: Duration,
}

impl RestartIntensity {
    /// At most `max` restarts within `within`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::RestartIntensity;
    ///
    /// let limit = RestartIntensity::new(3, Duration::from_secs(5));
    /// assert_eq!(limit.max, 3);
    /// assert_eq!(limit.within, Duration::from_secs(5));
    /// ```
    pub fn new(max: u32, within: Duration) -> Self {
        RestartIntensity { max, within }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Normal => f.write_str("stopped normally"),
            StopReason::Killed => f.write_str("killed"),
            StopReason::Panicked(p) => write!(f, "panicked: {p}"),
            StopReason::Failed(e) => write!(f, "failed: {e}"),
            StopReason::TooManyRestarts(limit) => {
                write!(f, "more than {} restarts within {:?}; the supervisor gave up", limit.max, limit.within)
            }
            StopReason::Linked(exit) => write!(f, "linked actor {} stopped: {}", exit.id, exit.reason),
            StopReason::Restart => f.write_str("restarted by its supervisor"),
            StopReason::NodeDown => f.write_str("its node is down"),
            StopReason::NotFound => f.write_str("no such actor"),
            StopReason::Aborted => f.write_str("aborted"),
        }
    }
}

/// A child's exit, as its parent's [`Actor::on_child_exit`](crate::Actor::on_child_exit) sees it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_core::supervision::ChildExit;
///
/// struct Kid;
/// impl Actor for Kid {
///     type Error = std::convert::Infallible;
/// }
///
/// #[derive(Default)]
/// struct Parent {
///     exits: Vec<(ActorId, bool)>,
/// }
///
/// impl Actor for Parent {
///     type Error = std::convert::Infallible;
///     async fn on_child_exit(&mut self, _: &mut Context<Self>, exit: &ChildExit) {
///         self.exits.push((exit.id, exit.reason.is_abnormal()));
///     }
/// }
///
/// #[actor(no_actor_impl)]
/// impl Parent {
///     #[message]
///     fn adopt(&mut self, ctx: &mut Context<Self>) -> ActorRef<Kid> {
///         ctx.spawn_child(Kid)
///     }
///     #[message]
///     fn exits(&mut self) -> Vec<(ActorId, bool)> {
///         self.exits.clone()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let parent = ActorSystem::new().spawn(Parent::default());
/// let kid = parent.adopt().await.unwrap();
/// kid.kill();
/// let exits = tokio::time::timeout(Duration::from_secs(10), async {
///     loop { // the parent hears of it soon after
///         let exits = parent.exits().await.unwrap();
///         if !exits.is_empty() {
///             break exits;
///         }
///         tokio::time::sleep(Duration::from_millis(1)).await;
///     }
/// })
/// .await
/// .unwrap();
/// assert_eq!(exits, [(kid.id(), true)]); // killed: abnormal
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildExit {
    /// The child.
    pub id: ActorId,
    /// Why it stopped.
    pub reason: StopReason,
    /// Whether the child failed under a supervisor and waits for its
    /// decision (restart or stop) rather than having terminated.
    pub awaiting_restart: bool,
}

impl ChildExit {
    pub(crate) fn new(id: ActorId, reason: StopReason, awaiting_restart: bool) -> Self {
        ChildExit { id, reason, awaiting_restart }
    }
}
