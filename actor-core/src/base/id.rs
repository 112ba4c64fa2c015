//! Actor identities.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// The identity of an actor, unique across processes and nodes.
///
/// An id is a UUID whose high half is drawn at random once per process and
/// whose low half counts up, so minting one costs a thread-local increment
/// (and an atomic one per block of ids) rather than a call to the operating
/// system's random source.
///
/// # Examples
///
/// ```
/// # use actor_core::prelude::*;
/// # struct Idle;
/// # impl Actor for Idle { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let a = system.spawn(Idle);
/// let b = system.spawn(Idle);
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id(), a.clone().id());
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActorId(Uuid);

static PROCESS_PREFIX: LazyLock<u64> = LazyLock::new(|| Uuid::new_v4().as_u64_pair().0);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Ids a thread takes from `NEXT` at a time, then hands out by itself.
const BLOCK: u64 = 256;

impl ActorId {
    /// Mints a fresh id: the next of this thread's block, a new block from
    /// the shared counter when it is used up. Ids from one thread count up;
    /// between threads they interleave by blocks. (Atomic operations are
    /// most of what a spawn costs: one per id was worth saving.)
    pub(crate) fn next() -> Self {
        thread_local! {
            /// The next id of this thread's block, and the block's end.
            static BLOCK_LEFT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let n = BLOCK_LEFT.with(|left| {
            let (mut n, mut end) = left.get();
            if n == end {
                n = NEXT.fetch_add(BLOCK, Ordering::Relaxed);
                end = n + BLOCK;
            }
            left.set((n + 1, end));
            n
        });
        ActorId(Uuid::from_u64_pair(*PROCESS_PREFIX, n))
    }

    /// Rebuilds an id from its UUID, for example one read off the wire.
    pub fn from_uuid(uuid: Uuid) -> Self {
        ActorId(uuid)
    }

    /// The UUID behind this id.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

// One `u64` per id, consistent with `Eq` (equal ids mix to equal values):
// cheaper to hash than the 16 bytes and length prefix of the derived impl.
impl Hash for ActorId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (hi, lo) = self.0.as_u64_pair();
        state.write_u64(hi.rotate_left(32) ^ lo);
    }
}

/// A hasher for maps keyed by [`ActorId`]: ids are a random prefix plus a
/// counter, not attacker-chosen, so one multiply spreads them well enough
/// and SipHash's cost buys nothing.
///
/// Only for maps whose keys are ids of this process's actors: a map keyed
/// by ids a peer chooses should keep SipHash, which a chosen set of keys
/// cannot drive into collisions. (Looking an id from a peer up in a map of
/// local ids is fine: the peer adds no keys.)
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::collections::HashMap;
/// use actor_core::ActorId;
/// use actor_core::transport::IdHasher;
///
/// let mut seen: HashMap<ActorId, u32, IdHasher> = HashMap::default();
/// let id = ActorId::from_uuid(uuid::Uuid::from_u128(42));
/// seen.insert(id, 1);
/// assert_eq!(seen.get(&id), Some(&1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(not(feature = "serde"), allow(unreachable_pub))] // exported in `transport`
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for IdHasher {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Threads minting at once, each past several blocks, never share an
    /// id, and each sees its own ids count up.
    #[test]
    fn ids_are_unique_across_threads_and_count_up_within_one() {
        let per_thread = 3 * BLOCK as usize + 7;
        let minted: Vec<Vec<ActorId>> = std::thread::scope(|s| {
            let threads: Vec<_> =
                (0..4).map(|_| s.spawn(move || (0..per_thread).map(|_| ActorId::next()).collect())).collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for ids in &minted {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "one thread's ids count up");
        }
        let all: HashSet<ActorId> = minted.into_iter().flatten().collect();
        assert_eq!(all.len(), 4 * per_thread);
    }
}
