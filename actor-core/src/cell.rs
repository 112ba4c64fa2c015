//! The type-erased part of an actor, whatever its type: its identity, its
//! family, its termination and who waits for it (tasks, notices, links),
//! and `Lane`, how code that does not know the actor's type signals it.
//! The typed rest of the actor's shared block (its mailbox, its system) is
//! `Shared<A>` in `actor/shared.rs`, which holds a `Cell`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context as TaskContext, Poll, Waker};

use crate::base::sync::plain::{Mutex, MutexGuard};

use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::base::stats::{ActorStats, Counters};
use crate::mailbox::signal::Signal;

/// An actor as seen by code that does not know its type: the system's table
/// of root actors, a parent's children, a child's parent.
pub(crate) trait Lane: Send + Sync {
    fn cell(&self) -> &Cell;
    /// A snapshot of the actor for `ActorSystem::stats`.
    fn stats(&self) -> ActorStats;
    /// Queues a signal; ignored once the actor has terminated.
    fn signal(&self, signal: Signal);
}

/// The type-erased part of an actor: identity, family, termination.
pub(crate) struct Cell {
    pub(crate) id: ActorId,
    pub(crate) actor_type: &'static str,
    pub(crate) name: Option<Arc<str>>,
    family: Family,
    pub(crate) counters: Counters,
    /// Who waits for the end: tasks, notices (monitors, remote watches) and
    /// linked actors; then, once the actor has ended, why. Each waiter can
    /// take itself back (a dropped `wait_for_stop`, a `demonitor`, an
    /// `unlink`), so the list holds only those still waiting, however long
    /// the actor lives. Whether it has ended is also in `counters` (one
    /// load, and for the common reasons, the reason itself without the
    /// lock).
    waiters: Mutex<Waiters>,
}

/// The census key of a root actor that is not listed (yet), and of every
/// child actor.
pub(crate) const UNLISTED: u64 = u64::MAX;

/// Where an actor hangs: under its parent, or at the root of its system,
/// listed in the system's census under a key (`UNLISTED` until
/// it is). The key fits beside the parent's pointer: 16 bytes either way.
enum Family {
    Root(AtomicU64),
    Child(Arc<dyn Lane>),
}

/// The waiters of one actor. Most actors have none, or one task awaiting
/// the stop, which is kept without allocating (and, fitting in the
/// enum's spare values, without growing the actor).
#[derive(Default)]
enum Waiters {
    #[default]
    None,
    /// One task waits for the stop, under key 0.
    Task(Waker),
    /// Anything more: boxed, so that the common cases stay one word.
    Many(Box<Watchers>),
    /// The actor has ended, for this reason: nobody waits any more.
    Ended(StopReason),
}

/// The waiters of an actor that has more than one task waiting, or any
/// notice or link.
#[derive(Default)]
struct Watchers {
    /// Tasks and notices, by key, in the order they came. A key is the
    /// largest one present plus one: unique among the waiters present,
    /// which is all it must be, since a key is only used by the one
    /// waiter it was given to, while its entry is there.
    waits: BTreeMap<u64, Waiter>,
    /// Links, by the linked actor: what to do when this actor ends.
    links: BTreeMap<ActorId, LinkBack>,
}

/// `Counters::ended` values: the actor runs, or has ended for a reason
/// kept in `Waiters::Ended`, or for one of the reasons that carry nothing
/// (which a waiter reads without taking the lock).
mod ended {
    pub(super) const NOT_YET: u8 = 0;
    pub(super) const SEE_WAITERS: u8 = 1;
    pub(super) const NORMAL: u8 = 2;
    pub(super) const KILLED: u8 = 3;
}

impl Waiters {
    /// Adds a waiter and returns its key. Not for an actor that has ended.
    fn add(&mut self, waiter: Waiter) -> u64 {
        match (self, waiter) {
            // The usual case, in place: one task waiting for the stop.
            (this @ Waiters::None, Waiter::Task(waker)) => {
                *this = Waiters::Task(waker);
                0
            }
            (this, waiter) => {
                let all = this.many();
                let key = all.waits.last_key_value().map_or(0, |(k, _)| k + 1);
                all.waits.insert(key, waiter);
                key
            }
        }
    }

    /// The list form, made from what is there.
    fn many(&mut self) -> &mut Watchers {
        if !matches!(self, Waiters::Many(_)) {
            let mut all = Box::<Watchers>::default();
            match std::mem::take(self) {
                Waiters::None => {}
                Waiters::Task(first) => {
                    all.waits.insert(0, Waiter::Task(first));
                }
                Waiters::Many(_) | Waiters::Ended(_) => unreachable!("nobody waits for an actor that has ended"),
            }
            *self = Waiters::Many(all);
        }
        match self {
            Waiters::Many(all) => all,
            _ => unreachable!("made above"),
        }
    }

    /// Takes back the waiter of `key`, if it is still there.
    fn remove(&mut self, key: u64) -> Option<Waiter> {
        match self {
            Waiters::Task(_) if key == 0 => match std::mem::take(self) {
                Waiters::Task(waker) => Some(Waiter::Task(waker)),
                _ => unreachable!("matched above"),
            },
            Waiters::Many(all) => {
                let waiter = all.waits.remove(&key);
                self.shrink();
                waiter
            }
            _ => None,
        }
    }

    /// Frees the list once nobody is in it.
    fn shrink(&mut self) {
        if let Waiters::Many(all) = self
            && all.waits.is_empty()
            && all.links.is_empty()
        {
            *self = Waiters::None;
        }
    }

    /// Stores `waker` for the task waiting under `key`, or adds it if its
    /// entry is gone; returns its key.
    fn park(&mut self, key: Option<u64>, waker: &Waker) -> u64 {
        let slot = match (key, &mut *self) {
            (Some(0), Waiters::Task(task)) => Some(task),
            (Some(key), Waiters::Many(all)) => match all.waits.get_mut(&key) {
                Some(Waiter::Task(task)) => Some(task),
                _ => None,
            },
            _ => None,
        };
        match (slot, key) {
            (Some(task), Some(key)) => {
                if !task.will_wake(waker) {
                    task.clone_from(waker);
                }
                key
            }
            _ => self.add(Waiter::Task(waker.clone())),
        }
    }

    /// How many wait: tasks, notices and links.
    fn count(&self) -> usize {
        match self {
            Waiters::None | Waiters::Ended(_) => 0,
            Waiters::Task(_) => 1,
            Waiters::Many(all) => all.waits.len() + all.links.len(),
        }
    }
}

/// A notice run when an actor terminates, with its id and reason.
pub(crate) type Notice = Box<dyn FnOnce(ActorId, &StopReason) + Send>;

enum Waiter {
    Task(Waker),
    Notice(Notice),
}

/// What an actor does for a linked one when it ends.
pub(crate) enum LinkBack {
    /// Signal the linked actor of this node (if it still holds its side of
    /// the link).
    Local(Weak<dyn Lane>),
    /// The linked actor is on another node: take back the watch set on it
    /// (once it is known). Only with the `serde` feature, without which
    /// every actor is local.
    #[cfg(feature = "serde")]
    Remote(Option<Box<dyn FnOnce() + Send>>),
}

impl LinkBack {
    /// Runs what is left to do for a link that ends from this side
    /// (this actor ended, or unlinked): the other actor's side of the
    /// link, or the remote watch, is taken back.
    fn release(self, me: ActorId) {
        match self {
            LinkBack::Local(other) => {
                if let Some(other) = other.upgrade() {
                    let taken = other.cell().lock_waiters().take_link(me);
                    drop(taken);
                }
            }
            #[cfg(feature = "serde")]
            LinkBack::Remote(Some(unwatch)) => unwatch(),
            #[cfg(feature = "serde")]
            LinkBack::Remote(None) => {}
        }
    }
}

impl Waiters {
    fn take_link(&mut self, other: ActorId) -> Option<LinkBack> {
        let Waiters::Many(all) = self else { return None };
        let back = all.links.remove(&other);
        self.shrink();
        back
    }
}

/// What [`Cell::add_link`] found.
pub(crate) enum AddedLink {
    /// The link is in place on this side.
    Added,
    /// There was one already.
    Already,
    /// The actor has ended, for this reason.
    Ended(StopReason),
}

/// The exit of `from` reaches `to`, linked to it: signalled only if `to`
/// still holds its side of the link, which is taken under `to`'s waiters'
/// lock. So an `unlink` by `to` either ran first (no signal, ever) or
/// finds its side gone (the exit has reached it, and takes effect as if
/// the unlink had come after it).
pub(crate) fn link_exit(to: &dyn Lane, from: ActorId, reason: &StopReason) {
    let mut waiters = to.cell().lock_waiters();
    let taken = waiters.take_link(from);
    if taken.is_some() {
        // Under the lock, for the reason above; the system lane's own lock
        // is never held while a waiters' lock is taken.
        to.signal(Signal::LinkExit(from, reason.clone()));
    }
    drop(waiters);
    drop(taken);
}

impl Cell {
    pub(crate) fn new(actor_type: &'static str, name: Option<Arc<str>>, parent: Option<Arc<dyn Lane>>) -> Self {
        Cell {
            id: ActorId::next(),
            actor_type,
            name,
            family: match parent {
                Some(parent) => Family::Child(parent),
                None => Family::Root(AtomicU64::new(UNLISTED)),
            },
            counters: Counters::default(),
            waiters: Mutex::new(Waiters::None),
        }
    }

    /// The actor's parent; `None` for a root actor.
    pub(crate) fn parent(&self) -> Option<&Arc<dyn Lane>> {
        match &self.family {
            Family::Child(parent) => Some(parent),
            Family::Root(_) => None,
        }
    }

    /// A root actor's key in the census, once it is listed; `UNLISTED`
    /// for a child.
    pub(crate) fn root_key(&self) -> u64 {
        match &self.family {
            // Stored before the actor's task is spawned, which orders it
            // before anything the task does.
            Family::Root(key) => key.load(Ordering::Relaxed),
            Family::Child(_) => UNLISTED,
        }
    }

    /// Records the key a root actor was listed under.
    pub(crate) fn set_root_key(&self, key: u64) {
        if let Family::Root(at) = &self.family {
            at.store(key, Ordering::Relaxed);
        }
    }

    /// Called by the registry before it adds a name for this actor.
    pub(crate) fn mark_named(&self) {
        self.counters.mark_named();
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.counters.ended() != ended::NOT_YET
    }

    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock()
    }

    /// Why the actor ended, if it has, read without the lock for the
    /// common reasons.
    fn ended(&self) -> Option<StopReason> {
        match self.counters.ended() {
            ended::NOT_YET => None,
            ended::NORMAL => Some(StopReason::Normal),
            ended::KILLED => Some(StopReason::Killed),
            _ => match &*self.lock_waiters() {
                Waiters::Ended(reason) => Some(reason.clone()),
                _ => unreachable!("the reason is kept before the flag is set"),
            },
        }
    }

    /// Records the actor's end and wakes everyone waiting for it. The first
    /// reason recorded stays.
    pub(crate) fn terminate(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Normal => ended::NORMAL,
            StopReason::Killed => ended::KILLED,
            _ => ended::SEE_WAITERS,
        };
        let mut guard = self.lock_waiters();
        if let Waiters::Ended(_) = *guard {
            return;
        }
        // Only notices and links need the reason once the lock is let go; a
        // task reads it again when it wakes.
        let for_notices = matches!(*guard, Waiters::Many(_)).then(|| reason.clone());
        let waiters = std::mem::replace(&mut *guard, Waiters::Ended(reason));
        // Set under the lock: a waiter either registered before this (and
        // is in `waiters`) or finds the flag set.
        self.counters.set_ended(code);
        drop(guard);
        match waiters {
            Waiters::None | Waiters::Ended(_) => {}
            Waiters::Task(waker) => waker.wake(),
            Waiters::Many(all) => {
                let reason = for_notices.as_ref().expect("taken for notices");
                let Watchers { waits, links } = *all;
                for waiter in waits.into_values() {
                    match waiter {
                        Waiter::Task(waker) => waker.wake(),
                        Waiter::Notice(notice) => notice(self.id, reason),
                    }
                }
                for back in links.into_values() {
                    match back {
                        LinkBack::Local(other) => {
                            if let Some(other) = other.upgrade() {
                                link_exit(&*other, self.id, reason);
                            }
                        }
                        #[cfg(feature = "serde")]
                        remote @ LinkBack::Remote(_) => remote.release(self.id),
                    }
                }
            }
        }
    }

    /// Runs `notice` when the actor terminates, or now if it already has.
    /// Returns the key that takes it back ([`forget_notice`](Cell::forget_notice)),
    /// or `None` if it ran now.
    pub(crate) fn on_terminated(&self, notice: Notice) -> Option<u64> {
        let mut waiters = self.lock_waiters();
        match &*waiters {
            Waiters::Ended(reason) => {
                let reason = reason.clone();
                drop(waiters);
                notice(self.id, &reason);
                None
            }
            _ => Some(waiters.add(Waiter::Notice(notice))),
        }
    }

    /// Takes back the notice of `key`; false if it has run (or is about to,
    /// the actor having ended) or was taken back already.
    pub(crate) fn forget_notice(&self, key: u64) -> bool {
        if self.is_terminated() {
            return false;
        }
        let removed = self.lock_waiters().remove(key);
        // Dropped outside the lock: a notice may own anything.
        removed.is_some()
    }

    /// Adds this actor's side of a link to `other`: what to do for it when
    /// this actor ends.
    pub(crate) fn add_link(&self, other: ActorId, back: LinkBack) -> AddedLink {
        let mut waiters = self.lock_waiters();
        let found = match &mut *waiters {
            Waiters::Ended(reason) => AddedLink::Ended(reason.clone()),
            some => match some.many().links.entry(other) {
                Entry::Vacant(vacant) => {
                    vacant.insert(back);
                    return AddedLink::Added;
                }
                Entry::Occupied(_) => AddedLink::Already,
            },
        };
        // Dropped outside the lock.
        drop(waiters);
        drop(back);
        found
    }

    /// Sets how a link to a remote actor is taken back, once its watch is
    /// in place; hands `unwatch` back if the link is gone meanwhile.
    #[cfg(feature = "serde")]
    pub(crate) fn set_link_unwatch(
        &self,
        other: ActorId,
        unwatch: Box<dyn FnOnce() + Send>,
    ) -> Result<(), Box<dyn FnOnce() + Send>> {
        let mut waiters = self.lock_waiters();
        match &mut *waiters {
            Waiters::Many(all) => match all.links.get_mut(&other) {
                Some(LinkBack::Remote(slot @ None)) => {
                    *slot = Some(unwatch);
                    Ok(())
                }
                _ => Err(unwatch),
            },
            _ => Err(unwatch),
        }
    }

    /// Removes this actor's side of the link to `other` and releases the
    /// other side; false if there was none.
    pub(crate) fn unlink(&self, other: ActorId) -> bool {
        let taken = self.lock_waiters().take_link(other);
        match taken {
            Some(back) => {
                back.release(self.id);
                true
            }
            None => false,
        }
    }

    /// How many wait for this actor's end: tasks, notices and links.
    pub(crate) fn watcher_count(&self) -> usize {
        self.lock_waiters().count()
    }

    /// Waits until the actor has terminated and returns why. Dropping the
    /// future takes its waker back.
    pub(crate) fn wait_terminated(&self) -> WaitTerminated<'_> {
        WaitTerminated { cell: self, key: None }
    }
}

/// The future of [`Cell::wait_terminated`]: while pending, its waker is in
/// the actor's waiters under its own key, and dropping it takes the waker
/// back, so a wait that is given up (a timeout, a `select!`) leaves
/// nothing behind.
pub(crate) struct WaitTerminated<'a> {
    cell: &'a Cell,
    key: Option<u64>,
}

impl Future for WaitTerminated<'_> {
    type Output = StopReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<StopReason> {
        if let Some(reason) = self.cell.ended() {
            // The end took every waiter with it.
            self.key = None;
            return Poll::Ready(reason);
        }
        let mut waiters = self.cell.lock_waiters();
        if let Waiters::Ended(reason) = &*waiters {
            // Ended between the check above and the lock.
            let reason = reason.clone();
            drop(waiters);
            self.key = None;
            return Poll::Ready(reason);
        }
        let key = waiters.park(self.key, cx.waker());
        drop(waiters);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for WaitTerminated<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && !self.cell.is_terminated()
        {
            let removed = self.cell.lock_waiters().remove(key);
            drop(removed);
        }
    }
}
