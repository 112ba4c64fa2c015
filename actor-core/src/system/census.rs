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
/// one shard may be negative; the sum is not), and the roots it spawned.
/// Aligned to 128 bytes: two cache lines, as the spatial prefetcher pairs
/// them.
#[repr(align(128))]
struct Shard {
    live: AtomicIsize,
    roots: Mutex<Roots>,
}

/// Root actors, weakly held: pushed at spawn, never removed at stop
/// (nothing on the stop path), compacted when the list has doubled since
/// the last pass. A weak entry is 16 bytes and keeps no actor alive (only,
/// until the next pass, a stopped actor's shared memory).
struct Roots {
    live: Vec<Weak<dyn Lane>>,
    compact_at: usize,
}

impl Roots {
    fn push(&mut self, root: Weak<dyn Lane>) {
        if self.live.len() >= self.compact_at {
            self.live.retain(|r| r.strong_count() > 0);
            self.compact_at = (self.live.len() * 2).max(64);
        }
        self.live.push(root);
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

impl Census {
    pub(crate) fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| Shard { live: AtomicIsize::new(0), roots: Mutex::new(Roots { live: Vec::new(), compact_at: 64 }) })
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
            shard.roots.lock().push(root);
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
