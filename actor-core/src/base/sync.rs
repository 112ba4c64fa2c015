//! The synchronisation primitives of the mailbox and the registry's fence:
//! std's atomics and parking_lot's mutex, or loom's under `--cfg loom`, so
//! that the models in `mailbox/models.rs` run the very code the crate ships.
//!
//! parking_lot's rather than std's mutex: std's checks for a panic in
//! progress when it locks and when it unlocks (poisoning), which this crate
//! never wants (see `lock`). Every send and every batch the run loop takes
//! lock the mailbox, and without those checks a request and its reply
//! between two actors cost 7% fewer instructions (2026-12-05). Both take one
//! compare-and-swap to lock and one atomic operation to unlock.
//!
//! Only the mailbox (`mailbox/queue.rs`) and the registry's fence go
//! through here; the rest of the crate uses std's atomics and
//! [`plain`]'s mutex and map, since no model runs it.
//!
//! Under Miri both mutexes are std's, behind parking_lot's interface
//! ([`plain`]): parking_lot_core parks a thread that finds a lock taken
//! with a `futex` system call given `&AtomicI32` where `*mut u32` is
//! declared, and Miri rejects variadic arguments of the wrong type (it
//! checks them since nightly 2026-09-11). Whether a test meets that
//! depends on Miri's interleaving; std's own futex calls pass the check.
//! DashMap locks its shards with parking_lot_core too, so under Miri
//! [`plain::DashMap`] is a std mutex around a `HashMap`, with the part of
//! DashMap's interface the crate uses.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use plain::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// The mutex and the concurrent map of the code no model runs:
/// parking_lot's mutex and DashMap, or under Miri std-backed stand-ins
/// with the same interface.
pub(crate) mod plain {
    #[cfg(miri)]
    pub(crate) use super::std_map::{DashMap, Entry};
    #[cfg(not(miri))]
    pub(crate) use dashmap::{DashMap, mapref::entry::Entry};
    #[cfg(not(miri))]
    pub(crate) use parking_lot::{Mutex, MutexGuard};
    #[cfg(miri)]
    pub(crate) use std_backed::{Mutex, MutexGuard};

    #[cfg(miri)]
    mod std_backed {
        use std::sync::PoisonError;

        /// std's mutex with parking_lot's `lock`, which returns the guard.
        /// A lock poisoned by a panic is taken all the same, as
        /// parking_lot's, which has no poison, would be.
        #[derive(Debug, Default)]
        pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

        pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

        impl<T> Mutex<T> {
            pub(crate) const fn new(value: T) -> Self {
                Mutex(std::sync::Mutex::new(value))
            }
        }

        impl<T: ?Sized> Mutex<T> {
            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                self.0.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }
    }
}

#[cfg(miri)]
mod std_map {
    //! DashMap's interface, as far as the crate uses it, over one std mutex
    //! around a `HashMap` (see the module's notes on Miri). One lock for
    //! the whole map where DashMap has one per shard: code that holds a
    //! guard of a map while it takes another of the same map deadlocks
    //! here. The crate never does (DashMap may deadlock on it too, when the
    //! two keys share a shard).

    use std::borrow::Borrow;
    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hash, RandomState};
    use std::ops::{Deref, DerefMut};
    use std::rc::Rc;
    use std::sync::{Mutex, MutexGuard, PoisonError};

    type Guard<'a, K, V, S> = MutexGuard<'a, HashMap<K, V, S>>;

    pub(crate) struct DashMap<K, V, S = RandomState>(Mutex<HashMap<K, V, S>>);

    impl<K: Eq + Hash + Clone, V> DashMap<K, V> {
        pub(crate) fn new() -> Self {
            DashMap(Mutex::new(HashMap::new()))
        }
    }

    impl<K: Eq + Hash + Clone, V, S: BuildHasher> DashMap<K, V, S> {
        pub(crate) fn with_hasher(hasher: S) -> Self {
            DashMap(Mutex::new(HashMap::with_hasher(hasher)))
        }

        fn lock(&self) -> Guard<'_, K, V, S> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn len(&self) -> usize {
            self.lock().len()
        }

        pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
            self.lock().insert(key, value)
        }

        pub(crate) fn remove<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(K, V)>
        where
            K: Borrow<Q>,
        {
            self.lock().remove_entry(key)
        }

        pub(crate) fn remove_if<Q: Hash + Eq + ?Sized>(&self, key: &Q, f: impl FnOnce(&K, &V) -> bool) -> Option<(K, V)>
        where
            K: Borrow<Q>,
        {
            let mut map = self.lock();
            let (k, v) = map.get_key_value(key)?;
            if f(k, v) { map.remove_entry(key) } else { None }
        }

        /// The map, locked, and the key it holds for `key`, if any.
        fn find<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(Guard<'_, K, V, S>, K)>
        where
            K: Borrow<Q>,
        {
            let map = self.lock();
            let key = map.get_key_value(key)?.0.clone();
            Some((map, key))
        }

        pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<Ref<'_, K, V, S>>
        where
            K: Borrow<Q>,
        {
            self.find(key).map(|(map, key)| Ref { map, key })
        }

        pub(crate) fn get_mut<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<RefMut<'_, K, V, S>>
        where
            K: Borrow<Q>,
        {
            self.find(key).map(|(map, key)| RefMut { map, key })
        }

        pub(crate) fn entry(&self, key: K) -> Entry<'_, K, V, S> {
            let map = self.lock();
            if map.contains_key(&key) {
                Entry::Occupied(OccupiedEntry { map, key })
            } else {
                Entry::Vacant(VacantEntry { map, key })
            }
        }

        /// Every entry, the map locked until the last is dropped.
        pub(crate) fn iter(&self) -> impl Iterator<Item = RefMulti<'_, K, V, S>> {
            let map = Rc::new(self.lock());
            let keys: Vec<K> = map.keys().cloned().collect();
            keys.into_iter().map(move |key| RefMulti { map: Rc::clone(&map), key })
        }
    }

    /// A guard of one entry, read-only.
    pub(crate) struct Ref<'a, K, V, S> {
        map: Guard<'a, K, V, S>,
        key: K,
    }

    impl<K: Eq + Hash, V, S: BuildHasher> Ref<'_, K, V, S> {
        pub(crate) fn key(&self) -> &K {
            &self.key
        }
    }

    impl<K: Eq + Hash, V, S: BuildHasher> Deref for Ref<'_, K, V, S> {
        type Target = V;
        fn deref(&self) -> &V {
            self.map.get(&self.key).expect("the entry is kept by its lock")
        }
    }

    /// A guard of one entry.
    pub(crate) struct RefMut<'a, K, V, S> {
        map: Guard<'a, K, V, S>,
        key: K,
    }

    impl<K: Eq + Hash, V, S: BuildHasher> Deref for RefMut<'_, K, V, S> {
        type Target = V;
        fn deref(&self) -> &V {
            self.map.get(&self.key).expect("the entry is kept by its lock")
        }
    }

    impl<K: Eq + Hash, V, S: BuildHasher> DerefMut for RefMut<'_, K, V, S> {
        fn deref_mut(&mut self) -> &mut V {
            self.map.get_mut(&self.key).expect("the entry is kept by its lock")
        }
    }

    /// One entry of `iter`.
    pub(crate) struct RefMulti<'a, K, V, S> {
        map: Rc<Guard<'a, K, V, S>>,
        key: K,
    }

    impl<K: Eq + Hash, V, S: BuildHasher> RefMulti<'_, K, V, S> {
        pub(crate) fn value(&self) -> &V {
            self.map.get(&self.key).expect("the entry is kept by its lock")
        }
    }

    pub(crate) enum Entry<'a, K, V, S> {
        Occupied(OccupiedEntry<'a, K, V, S>),
        Vacant(VacantEntry<'a, K, V, S>),
    }

    impl<'a, K: Eq + Hash + Clone, V, S: BuildHasher> Entry<'a, K, V, S> {
        pub(crate) fn or_insert_with(self, make: impl FnOnce() -> V) -> RefMut<'a, K, V, S> {
            match self {
                Entry::Occupied(OccupiedEntry { map, key }) => RefMut { map, key },
                Entry::Vacant(vacant) => vacant.insert(make()),
            }
        }

        pub(crate) fn or_default(self) -> RefMut<'a, K, V, S>
        where
            V: Default,
        {
            self.or_insert_with(V::default)
        }
    }

    pub(crate) struct OccupiedEntry<'a, K, V, S> {
        map: Guard<'a, K, V, S>,
        key: K,
    }

    impl<K: Eq + Hash, V, S: BuildHasher> OccupiedEntry<'_, K, V, S> {
        pub(crate) fn get(&self) -> &V {
            self.map.get(&self.key).expect("the entry is kept by its lock")
        }
    }

    pub(crate) struct VacantEntry<'a, K, V, S> {
        map: Guard<'a, K, V, S>,
        key: K,
    }

    impl<'a, K: Eq + Hash + Clone, V, S: BuildHasher> VacantEntry<'a, K, V, S> {
        pub(crate) fn insert(mut self, value: V) -> RefMut<'a, K, V, S> {
            self.map.insert(self.key.clone(), value);
            RefMut { map: self.map, key: self.key }
        }
    }
}

/// Locks `mutex`. Under loom, recovering from poison: nothing panics while
/// one of these locks is held, so a poisoned lock still guards consistent
/// data, and recovering keeps one panic from cascading through every
/// sender; parking_lot's mutex has no poison to recover from.
#[cfg(loom)]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(not(loom))]
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::plain::{DashMap, Entry};

    /// The map the crate uses, DashMap or under Miri its stand-in, does
    /// the same for every call the crate makes: run in both builds, this
    /// holds the stand-in to DashMap's behaviour.
    #[test]
    fn the_map_behaves_as_dashmap_does() {
        let map: DashMap<String, Vec<u32>> = DashMap::new();
        assert!(map.insert("a".into(), vec![1]).is_none());
        match map.entry("a".into()) {
            Entry::Occupied(held) => assert_eq!(held.get(), &[1]),
            Entry::Vacant(_) => panic!("`a` is in the map"),
        }
        match map.entry("b".into()) {
            Entry::Vacant(free) => drop(free.insert(vec![2])),
            Entry::Occupied(_) => panic!("`b` is not in the map"),
        }
        map.entry("c".into()).or_default().push(3);
        map.entry("c".into()).or_insert_with(|| vec![9]).push(4);
        assert_eq!(*map.get("c").expect("`c` is in the map"), [3, 4]);
        assert_eq!(map.get("b").expect("`b` is in the map").key(), "b");
        assert!(map.get("d").is_none() && map.get_mut("d").is_none());
        map.get_mut("a").expect("`a` is in the map").push(5);
        assert_eq!(map.get("a").map(|v| v.clone()), Some(vec![1, 5]));
        assert!(map.remove_if("a", |_, v| v.len() > 2).is_none());
        assert_eq!(map.remove_if("a", |_, v| v.len() == 2), Some(("a".into(), vec![1, 5])));
        assert_eq!(map.remove("b"), Some(("b".into(), vec![2])));
        assert!(map.remove("b").is_none());
        assert_eq!(map.insert("e".into(), vec![6]), None);
        assert_eq!(map.insert("e".into(), vec![7]), Some(vec![6]));
        let mut values: Vec<Vec<u32>> = map.iter().map(|e| e.value().clone()).collect();
        values.sort();
        assert_eq!(values, [vec![3, 4], vec![7]]);
        assert_eq!(map.len(), 2);

        let hashed: DashMap<u64, u8, std::hash::RandomState> = DashMap::with_hasher(std::hash::RandomState::new());
        hashed.entry(7).or_insert_with(|| 1);
        assert_eq!(hashed.get(&7).map(|v| *v), Some(1));
    }
}
