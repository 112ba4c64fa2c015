//! Which actors a system has: how many are alive, and its root actors (for
//! `shutdown` and `stats`), kept in per-thread shards.
//!
//! On a multi-thread runtime an actor is often spawned on one worker and
//! ends on the other. Were the live count and the root list two words of
//! the system, their cache lines would move between cores twice per actor,
//! which in the lifecycle benchmark costs more than everything else the
//! framework adds. So each thread writes the shard it was given, a cache
//! line of its own; readers (`actor_count`, `shutdown`, `stats`) add the
//! shards up, which is rare and may take a moment longer.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crate::base::sync::plain::Mutex;

use crate::cell::Lane;

/// Shards per system: more than the threads of most runtimes, so that two
/// workers rarely share one; threads beyond that share, which is correct,
/// only slower.
const SHARDS: usize = 16;

/// The system's census.
pub(crate) struct Census {
    shards: Box<[Shard]>,
}

/// One thread's part: actors it spawned minus actors that ended on it (so
/// one shard may be negative; the sum is not), the roots it spawned, and
/// the roots whose memory went while this thread held their last reference.
/// Aligned to 128 bytes: two cache lines, as the spatial prefetcher pairs
/// them.
#[repr(align(128))]
struct Shard {
    live: AtomicIsize,
    /// Root actors whose last reference went on this thread since the last
    /// sweep: their entries (in any shard) now keep only their memory.
    gone: AtomicUsize,
    /// How many entries `roots` holds, readable without its lock.
    entries: AtomicUsize,
    roots: Mutex<Roots>,
}

/// Root actors, weakly held: pushed at spawn, never removed at stop
/// (nothing on the stop path), compacted when the list has doubled since
/// the last pass, or when 256 of the census' entries, and a quarter of
/// them, are of actors that are gone (see `Census::root_gone`). A weak entry is 16 bytes and
/// keeps no actor alive, only, until the next pass, a stopped actor's
/// shared block.
struct Roots {
    live: Vec<Weak<dyn Lane>>,
    compact_at: usize,
}

impl Roots {
    fn push(&mut self, root: Weak<dyn Lane>) {
        if self.live.len() >= self.compact_at {
            self.compact();
        }
        self.live.push(root);
    }

    /// Drops the entries of actors that are gone, and the list's spare
    /// room once it is mostly empty.
    fn compact(&mut self) {
        self.live.retain(|r| r.strong_count() > 0);
        let len = self.live.len().max(32);
        if self.live.capacity() > 4 * len {
            self.live.shrink_to(2 * len);
        }
        self.compact_at = (self.live.len() * 2).max(64);
    }
}

/// A thread checks whether the census is worth a sweep once per this many
/// root actors gone on it.
const SWEEP_CHECK: usize = 64;

/// No sweep for fewer gone roots than this (about 75 KB of shared blocks):
/// below it, compaction at spawn is enough, and a sweep, which takes every
/// shard's lock, would cost more than the memory it gives back.
const SWEEP_FLOOR: usize = 256;

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

impl Census {
    pub(crate) fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                live: AtomicIsize::new(0),
                gone: AtomicUsize::new(0),
                entries: AtomicUsize::new(0),
                roots: Mutex::new(Roots { live: Vec::new(), compact_at: 64 }),
            })
            .collect();
        Census { shards }
    }

    fn here(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    /// Counts a new actor; a root actor is also listed.
    pub(crate) fn spawned(&self, root: Option<Weak<dyn Lane>>) {
        let shard = self.here();
        shard.live.fetch_add(1, Ordering::Release);
        if let Some(root) = root {
            let mut roots = shard.roots.lock();
            roots.push(root);
            shard.entries.store(roots.live.len(), Ordering::Relaxed);
        }
    }

    /// Counts a root actor whose shared block has lost its last reference:
    /// its entry now holds only the block's memory. Once `SWEEP_FLOOR` of
    /// them, and a quarter of the entries, are such, every shard is
    /// compacted, so that the memory of stopped actors comes back even if
    /// nothing is spawned afterwards (spawning compacts too, but only the
    /// spawning thread's shard).
    ///
    /// The count is this thread's, on its own cache line; the shards are
    /// added up once per `SWEEP_CHECK` actors gone on a thread. So what
    /// waits for a pass is at most `SWEEP_FLOOR` entries, or a quarter of
    /// them all, and `SWEEP_CHECK` more per thread. The counts are
    /// estimates (a sweep resets them while others may be counting): they
    /// only decide when to sweep; what a sweep removes is decided by each
    /// entry's own count of references.
    pub(crate) fn root_gone(&self) {
        let gone = self.here().gone.fetch_add(1, Ordering::Relaxed) + 1;
        if gone.is_multiple_of(SWEEP_CHECK) {
            self.sweep_if_due();
        }
    }

    #[cold]
    fn sweep_if_due(&self) {
        let gone: usize = self.shards.iter().map(|s| s.gone.load(Ordering::Relaxed)).sum();
        if gone < SWEEP_FLOOR {
            return;
        }
        let entries: usize = self.shards.iter().map(|s| s.entries.load(Ordering::Relaxed)).sum();
        if gone.saturating_mul(4) < entries {
            return;
        }
        for shard in self.shards.iter() {
            shard.gone.store(0, Ordering::Relaxed);
            let mut roots = shard.roots.lock();
            roots.compact();
            shard.entries.store(roots.live.len(), Ordering::Relaxed);
        }
    }

    /// Counts an actor's end.
    pub(crate) fn ended(&self) {
        self.here().live.fetch_sub(1, Ordering::Release);
    }

    /// Actors spawned and not yet ended.
    pub(crate) fn live(&self) -> usize {
        let sum: isize = self.shards.iter().map(|s| s.live.load(Ordering::Acquire)).sum();
        // An end is counted after its spawn, but a reader adding up the
        // shards may see the end and miss the spawn for a moment.
        sum.max(0) as usize
    }

    /// The root actors still alive.
    pub(crate) fn roots(&self) -> Vec<Arc<dyn Lane>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let roots = shard.roots.lock();
            all.extend(roots.live.iter().filter_map(Weak::upgrade));
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
                    census.spawned(None);
                    // The ender stops listening after 60.
                    let _ = tx.send(());
                }
            })
        };
        let ender = {
            let census = census.clone();
            std::thread::spawn(move || {
                for () in rx.iter().take(60) {
                    census.ended();
                }
            })
        };
        spawner.join().unwrap();
        ender.join().unwrap();
        assert_eq!(census.live(), 40);
    }
}
