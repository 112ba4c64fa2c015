//! Actor identities.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// The identity of an actor, unique across processes and nodes.
///
/// An id is a UUID whose high half is drawn at random once per process and
/// whose low half counts up, so minting one costs an atomic increment rather
/// than a call to the operating system's random source. One counter for the
/// whole process, so that ids order a process's actors by spawn, whatever
/// thread spawned them (the observer lists siblings in that order).
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

impl ActorId {
    /// Mints a fresh id.
    pub(crate) fn next() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        ActorId(Uuid::from_u64_pair(*PROCESS_PREFIX, n))
    }

    /// The counting half of an id minted by [`next`](ActorId::next) in
    /// this process: never 0, below 2^63. With [`local`](ActorId::local)
    /// it packs a local id into one word.
    #[inline]
    pub(crate) fn local_seq(&self) -> u64 {
        let (prefix, n) = self.0.as_u64_pair();
        debug_assert!(prefix == *PROCESS_PREFIX && n != 0 && n < 1 << 63, "not an id minted here: {self}");
        n
    }

    /// The id minted in this process with counting half `n` (see
    /// [`local_seq`](ActorId::local_seq)).
    pub(crate) fn local(n: u64) -> Self {
        ActorId(Uuid::from_u64_pair(*PROCESS_PREFIX, n))
    }

    /// Rebuilds an id from its UUID, for example one read off the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::ActorId;
    /// use uuid::Uuid;
    ///
    /// let uuid = Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
    /// let id = ActorId::from_uuid(uuid);
    /// assert_eq!(id.as_uuid(), uuid);
    /// assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
    /// ```
    pub fn from_uuid(uuid: Uuid) -> Self {
        ActorId(uuid)
    }

    /// The UUID behind this id.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use uuid::Uuid;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let idle = ActorSystem::new().spawn(Idle);
    /// let bytes = idle.id().as_uuid().into_bytes(); // 16 bytes, to write to the wire, say
    /// assert_eq!(ActorId::from_uuid(Uuid::from_bytes(bytes)), idle.id());
    /// assert_eq!(idle.id().as_uuid().to_string(), idle.id().to_string());
    /// # }
    /// ```
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
    use super::*;

    #[test]
    fn a_local_id_packs_into_its_counting_half() {
        let id = ActorId::next();
        assert_eq!(ActorId::local(id.local_seq()), id);
        assert_ne!(ActorId::next().local_seq(), id.local_seq());
    }

    /// Ids count up in the order they are minted, whichever thread mints
    /// them: the observer's spawn order of siblings relies on it.
    #[test]
    fn ids_count_up_in_mint_order_across_threads() {
        let mut last = ActorId::next();
        for _ in 0..4 {
            let there = std::thread::spawn(ActorId::next).join().unwrap();
            assert!(there > last, "an id minted later on another thread is greater");
            let here = ActorId::next();
            assert!(here > there, "an id minted here after the other thread's is greater");
            last = here;
        }
    }
}
