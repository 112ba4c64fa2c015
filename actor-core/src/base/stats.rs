//! Counters an observer reads while the system runs: per-actor messages
//! handled, restarts, mailbox depth and state, and the actor tree.
//!
//! The counters are written by the actor's own task only, with plain
//! relaxed stores (no lock, no read-modify-write per message), and read by
//! whoever asks for [`ActorSystem::stats`](crate::ActorSystem::stats).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;

use crate::base::error::PanicError;
use crate::base::id::ActorId;

/// How many restart times [`ActorStats::recent_restarts`] keeps.
pub const RECENT_RESTARTS: usize = 16;

/// Per-actor counters, kept in the actor's shared cell.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    processed: AtomicU64,
    restarts: AtomicU32,
    /// Whether the actor was ever given a name in the registry (see
    /// `Cell::forget_names`). Not a counter: it lives here because it fits
    /// in the padding after `restarts`, where as a field of its own it
    /// would add eight bytes to every actor.
    named: AtomicBool,
    /// Whether, and how simply, the actor has ended (see `Cell::terminate`);
    /// here for the same reason as `named`.
    ended: AtomicU8,
}

impl Counters {
    /// Counts one handled message. Only the actor's task writes, so a load
    /// and a store suffice.
    pub(crate) fn handled(&self) {
        let n = self.processed.load(Ordering::Relaxed);
        self.processed.store(n + 1, Ordering::Relaxed);
    }

    /// Counts one restart in place. Release, so that a reader that sees the
    /// count (with `restarts`' Acquire) also sees what was noted before it.
    pub(crate) fn restarted(&self) {
        let n = self.restarts.load(Ordering::Relaxed);
        self.restarts.store(n + 1, Ordering::Release);
    }

    pub(crate) fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Acquire)
    }

    pub(crate) fn mark_named(&self) {
        self.named.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_named(&self) -> bool {
        self.named.load(Ordering::SeqCst)
    }

    pub(crate) fn set_ended(&self, code: u8) {
        self.ended.store(code, Ordering::Release);
    }

    pub(crate) fn ended(&self) -> u8 {
        self.ended.load(Ordering::Acquire)
    }
}

/// Where an actor is in its life.
///
/// # Examples
///
/// ```
/// use actor_core::ActorState;
/// use actor_core::prelude::*;
///
/// struct Worker;
/// impl Actor for Worker {
///     type Error = std::convert::Infallible;
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let worker = system.spawn(Worker);
/// let stats = system.stats();
/// let entry = stats.actors.iter().find(|a| a.id == worker.id()).unwrap();
/// assert_eq!(entry.state, ActorState::Running);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorState {
    /// Accepting and handling messages.
    Running,
    /// Stopping: it accepts no new messages and is finishing up.
    Stopping,
}

/// One actor, as [`ActorSystem::stats`](crate::ActorSystem::stats) sees it.
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
/// let worker = system.spawn_with(Worker, SpawnOptions::new().name("worker"));
/// worker.ping().await.unwrap();
/// worker.ping().await.unwrap();
///
/// let stats = system.stats();
/// let entry = stats.actors.iter().find(|a| a.id == worker.id()).unwrap();
/// assert_eq!(entry.name.as_deref(), Some("worker"));
/// assert!(entry.actor_type.ends_with("Worker"));
/// assert_eq!(entry.parent, None); // a root actor
/// assert!(entry.processed >= 1); // the first ping, at least, is counted
/// assert_eq!(entry.restarts, 0);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorStats {
    /// The actor's id.
    pub id: ActorId,
    /// The name given at spawn, if any.
    pub name: Option<Arc<str>>,
    /// The actor's type name.
    pub actor_type: &'static str,
    /// Its parent, for a child actor.
    pub parent: Option<ActorId>,
    /// Messages waiting in its mailbox.
    pub mailbox_len: usize,
    /// Messages it has handled (across restarts).
    pub processed: u64,
    /// Times its supervisor restarted it in place.
    pub restarts: u32,
    /// What waits for it to stop: tasks in
    /// [`wait_for_stop`](crate::ActorRef::wait_for_stop), monitors (of this
    /// node's actors and, through a transport, of other nodes'), and links.
    /// A wait given up, a [`demonitor`](crate::Context::demonitor) and an
    /// [`unlink`](crate::Context::unlink) each take theirs back, so this
    /// counts only those still waiting.
    pub watchers: usize,
    /// Running or stopping.
    pub state: ActorState,
    /// Its last panic (in a handler, a hook or its factory), if it has
    /// panicked since it was spawned. Kept by systems built with
    /// [`SystemBuilder::observe`](crate::SystemBuilder::observe); always
    /// `None` otherwise.
    pub last_panic: Option<PanicRecord>,
    /// When its supervisor last restarted it, oldest first (at most
    /// [`RECENT_RESTARTS`]). Kept by observed systems, like `last_panic`.
    pub recent_restarts: Vec<SystemTime>,
}

/// A panic an actor had, with its time: what
/// [`ActorStats::last_panic`] holds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::error::PanicError;
/// use actor_core::prelude::*;
///
/// struct Sturdy;
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
///     fn poke(&mut self, hard: bool) {
///         assert!(!hard, "poked too hard");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::builder().observe(true).build(); // keeps panics
/// let sturdy = system.spawn(Sturdy);
/// assert!(sturdy.poke(true).timeout(Duration::from_secs(5)).await.is_err());
/// sturdy.poke(false).await.unwrap(); // resumed
///
/// let stats = system.stats();
/// let entry = stats.actors.iter().find(|a| a.id == sturdy.id()).unwrap();
/// let record = entry.last_panic.as_ref().expect("a panic was recorded");
/// assert_eq!(record.error.message(), "poked too hard");
/// assert!(record.at <= std::time::SystemTime::now());
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PanicRecord {
    /// When the panic was caught.
    pub at: SystemTime,
    /// The panic: its message, the message being handled, and the
    /// [flight record](PanicError::flight_record) when the actor keeps one.
    pub error: PanicError,
}

impl PartialEq for PanicRecord {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.error, &other.error);
        self.at == other.at
            && a.actor_id() == b.actor_id()
            && a.message() == b.message()
            && a.message_type() == b.message_type()
            && a.flight_record() == b.flight_record()
    }
}

impl Eq for PanicRecord {}
/// A snapshot of a system: every live actor (or only the root actors, for
/// a system built without
/// [`SystemBuilder::observe`](crate::SystemBuilder::observe)) and the
/// dead-letter count.
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
/// let system = ActorSystem::new();
/// let first = system.spawn(Worker);
/// let _second = system.spawn(Worker);
/// let stats = system.stats();
/// assert_eq!(stats.live, 2);
/// assert_eq!(stats.actors.len(), 2);
/// assert_eq!(stats.dead_letters, 0);
///
/// first.stop();
/// tokio::time::timeout(Duration::from_secs(10), first.wait_for_stop()).await.unwrap();
/// assert!(first.try_tell(Ping).is_err()); // a dead letter
/// assert_eq!(system.stats().dead_letters, 1);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SystemStats {
    /// The actors, in no particular order.
    pub actors: Vec<ActorStats>,
    /// How many actors are alive.
    pub live: usize,
    /// Dead letters so far.
    pub dead_letters: u64,
}

impl SystemStats {
    /// The children of `parent` (or the root actors, for `None`), by id.
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
    ///     fn adopt(&mut self, ctx: &mut Context<Self>) {
    ///         self.0.push(ctx.spawn_child(Kid));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::builder().observe(true).build(); // lists children too
    /// let parent = system.spawn(Parent(Vec::new()));
    /// parent.adopt().await.unwrap();
    /// parent.adopt().await.unwrap();
    /// let stats = system.stats();
    /// assert_eq!(stats.children_of(Some(parent.id())).count(), 2);
    /// let roots: Vec<_> = stats.children_of(None).map(|a| a.id).collect();
    /// assert_eq!(roots, [parent.id()]);
    /// # }
    /// ```
    pub fn children_of(&self, parent: Option<ActorId>) -> impl Iterator<Item = &ActorStats> + '_ {
        self.actors.iter().filter(move |a| a.parent == parent)
    }
}
