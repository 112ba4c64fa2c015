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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorState {
    /// Accepting and handling messages.
    Running,
    /// Stopping: it accepts no new messages and is finishing up.
    Stopping,
}

/// One actor, as [`ActorSystem::stats`](crate::ActorSystem::stats) sees it.
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
