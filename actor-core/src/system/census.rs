//! Which actors a system has: how many are alive, and its root actors (for
//! `shutdown` and `stats`), kept in per-thread shards.
//!
//! On a multi-thread runtime an actor is often spawned on one worker and
//! ends on the other. Were the live count and the root list two words of
//! the system, their cache lines would move between cores twice per actor,
//! which in the lifecycle benchmark costs more than everything else the
//! framework adds. So each thread counts in the shard it was given, a cache
//! line of its own, and lists the roots it spawns there; readers
//! (`actor_count`, `shutdown`, `stats`) add the shards up, which is rare
//! and may take a moment longer. A root leaves the list of the shard that
//! listed it when it ends, by the key it was given.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crate::base::sync::plain::Mutex;

use crate::cell::{Lane, UNLISTED};

/// Shards per system: more than the threads of most runtimes, so that two
/// workers rarely share one; threads beyond that share, which is correct,
/// only slower.
const SHARDS: usize = 16;

/// Room a shard's list keeps once it has emptied, in entries: what one
/// thread spawning and stopping root actors one by one needs, so that such
/// a thread never allocates for the list.
const KEPT_ROOM: usize = 64;

/// The system's census.
pub(crate) struct Census {
    shards: Box<[Shard]>,
}

/// One thread's part: actors it spawned minus actors that ended on it (so
/// one shard may be negative; the sum is not), and the root actors it
/// spawned that have not ended. Aligned to 128 bytes: two cache lines, as
/// the spatial prefetcher pairs them.
#[repr(align(128))]
struct Shard {
    live: AtomicIsize,
    roots: Mutex<Roots>,
}

/// Root actors, weakly held, each in the slot it was given at spawn until
/// it ends, when the actor takes its entry out by its key (shard and
/// slot). A weak entry keeps no actor alive; and since it goes at the
/// actor's end, before the actor's own references do, a stopped actor's
/// memory is freed with its last reference, as if it had never been
/// listed. Vacant slots are chained, the most recently vacated first, so a
/// thread spawning and stopping actors one at a time reuses one slot.
struct Roots {
    slots: Vec<Slot>,
    /// The first vacant slot (`NO_SLOT`: none).
    vacant: usize,
    /// Slots holding a root.
    listed: usize,
}

enum Slot {
    Listed(Weak<dyn Lane>),
    /// Vacant; the next vacant slot (`NO_SLOT`: none). Fits beside the weak
    /// pointer: a slot is 16 bytes either way.
    Vacant(usize),
}

const NO_SLOT: usize = usize::MAX;

impl Roots {
    /// Lists `root`; returns its slot.
    fn list(&mut self, root: Weak<dyn Lane>) -> usize {
        self.listed += 1;
        match self.slots.get_mut(self.vacant) {
            Some(slot) => {
                let Slot::Vacant(next) = std::mem::replace(slot, Slot::Listed(root)) else {
                    unreachable!("the chain of vacant slots holds only vacant slots")
                };
                std::mem::replace(&mut self.vacant, next)
            }
            None => {
                self.slots.push(Slot::Listed(root));
                self.slots.len() - 1
            }
        }
    }

    /// Takes the root out of `slot`. Once no root is left, a list grown
    /// past `KEPT_ROOM` entries starts over with that much room: a burst of
    /// root actors leaves no memory behind it.
    fn unlist(&mut self, slot: usize) -> Option<Weak<dyn Lane>> {
        let entry = self.slots.get_mut(slot)?;
        if matches!(entry, Slot::Vacant(_)) {
            return None;
        }
        let Slot::Listed(root) = std::mem::replace(entry, Slot::Vacant(self.vacant)) else { unreachable!() };
        self.vacant = slot;
        self.listed -= 1;
        if self.listed == 0 && self.slots.capacity() > KEPT_ROOM {
            self.slots.clear();
            self.slots.shrink_to(KEPT_ROOM);
            self.vacant = NO_SLOT;
        }
        Some(root)
    }
}

/// This thread's shard number, given on first use.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
    }
    INDEX.with(|index| match index.get() {
        Some(i) => i,
        None => {
            let i = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
            index.set(Some(i));
            i
        }
    })
}

/// A root's key: its slot above the low byte, its shard in it.
fn key(shard: usize, slot: usize) -> u64 {
    ((slot as u64) << 8) | shard as u64
}

impl Census {
    pub(crate) fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                live: AtomicIsize::new(0),
                roots: Mutex::new(Roots { slots: Vec::new(), vacant: NO_SLOT, listed: 0 }),
            })
            .collect();
        Census { shards }
    }

    /// Counts a new child actor (its parent lists it).
    pub(crate) fn spawned(&self) {
        self.shards[shard_index()].live.fetch_add(1, Ordering::Release);
    }

    /// Counts and lists a new root actor; returns the key its end is
    /// counted with (`ended`).
    pub(crate) fn spawned_root(&self, root: Weak<dyn Lane>) -> u64 {
        let index = shard_index();
        let shard = &self.shards[index];
        shard.live.fetch_add(1, Ordering::Release);
        let slot = shard.roots.lock().list(root);
        key(index, slot)
    }

    /// Counts an actor's end; a root actor (one with a key other than
    /// `UNLISTED`) also leaves the list.
    ///
    /// A root usually ends on the thread that spawned it, whose shard is
    /// then in this core's cache; on another thread the shard's lock and
    /// slot move once between cores, the price of giving the memory back
    /// at the end rather than in batches.
    pub(crate) fn ended(&self, root: u64) {
        self.shards[shard_index()].live.fetch_sub(1, Ordering::Release);
        if root != UNLISTED {
            let (shard, slot) = ((root & 0xff) as usize, (root >> 8) as usize);
            let taken = self.shards.get(shard).and_then(|s| s.roots.lock().unlist(slot));
            debug_assert!(taken.is_some(), "a root actor ended twice, or under a key it was not given");
            // The weak reference is dropped outside the lock.
            drop(taken);
        }
    }

    /// Actors spawned and not yet ended.
    pub(crate) fn live(&self) -> usize {
        let sum: isize = self.shards.iter().map(|s| s.live.load(Ordering::Acquire)).sum();
        // An end is counted after its spawn, but a reader adding up the
        // shards may see the end and miss the spawn for a moment.
        sum.max(0) as usize
    }

    /// Root actors listed and not ended.
    #[cfg(test)]
    pub(crate) fn listed(&self) -> usize {
        self.shards.iter().map(|s| s.roots.lock().listed).sum()
    }

    /// The root actors still alive.
    pub(crate) fn roots(&self) -> Vec<Arc<dyn Lane>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let roots = shard.roots.lock();
            all.extend(roots.slots.iter().filter_map(|slot| match slot {
                Slot::Listed(root) => root.upgrade(),
                Slot::Vacant(_) => None,
            }));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An actor is often counted in on one thread and out on another: the
    /// sum is still right. (That roots listed from any thread are all found
    /// is checked where actors are spawned, in `spawn.rs`.)
    #[test]
    fn counts_add_up_across_threads() {
        let census = Arc::new(Census::new());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let spawner = {
            let census = census.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    census.spawned();
                    // The ender stops listening after 60.
                    let _ = tx.send(());
                }
            })
        };
        let ender = {
            let census = census.clone();
            std::thread::spawn(move || {
                for () in rx.iter().take(60) {
                    census.ended(UNLISTED);
                }
            })
        };
        spawner.join().unwrap();
        ender.join().unwrap();
        assert_eq!(census.live(), 40);
    }

    /// A root leaves the list by its key, from any thread; a vacated slot
    /// is the next one given; and once the list is empty it keeps no more
    /// than `KEPT_ROOM` entries of room, whatever its peak.
    #[test]
    fn roots_leave_by_their_key_and_the_list_shrinks_once_empty() {
        struct Root(crate::cell::Cell);
        impl Lane for Root {
            fn cell(&self) -> &crate::cell::Cell {
                &self.0
            }
            fn stats(&self) -> crate::base::stats::ActorStats {
                unreachable!("not asked here")
            }
            fn signal(&self, _: crate::mailbox::signal::Signal) {}
        }
        let census = Census::new();
        let roots: Vec<Arc<dyn Lane>> =
            (0..1000).map(|_| Arc::new(Root(crate::cell::Cell::new("Root", None, None))) as Arc<dyn Lane>).collect();
        let keys: Vec<u64> = roots.iter().map(|r| census.spawned_root(Arc::downgrade(r))).collect();
        assert_eq!((census.live(), census.listed(), census.roots().len()), (1000, 1000, 1000));

        // Ended on another thread than the one that listed it.
        std::thread::scope(|s| s.spawn(|| census.ended(keys[10])).join().unwrap());
        assert_eq!((census.live(), census.listed()), (999, 999));
        assert!(!census.roots().iter().any(|r| Arc::ptr_eq(r, &roots[10])));
        // The vacated slot is given to the next root.
        let again = census.spawned_root(Arc::downgrade(&roots[10]));
        assert_eq!(again, keys[10]);

        // A root whose actor is gone is not returned, though still listed.
        let gone: Arc<dyn Lane> = Arc::new(Root(crate::cell::Cell::new("Root", None, None)));
        let gone_key = census.spawned_root(Arc::downgrade(&gone));
        drop(gone);
        assert_eq!(census.roots().len(), 1000);

        for key in keys.iter().chain([&gone_key]) {
            census.ended(*key);
        }
        assert_eq!((census.live(), census.listed()), (0, 0));
        assert!(census.roots().is_empty());
        for shard in census.shards.iter() {
            assert!(shard.roots.lock().slots.capacity() <= KEPT_ROOM);
        }
    }
}
