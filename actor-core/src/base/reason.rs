//! Why an actor stopped, and how its parent hears of it.

use std::fmt;
use std::time::Duration;

use crate::base::error::{ActorError, PanicError};
use crate::base::id::ActorId;

/// Why an actor stopped.
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
