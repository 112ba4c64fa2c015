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
//! [`plain`]'s mutex, since no model runs it.
//!
//! Under Miri both mutexes are std's, behind parking_lot's interface
//! ([`plain`]): parking_lot_core parks a thread that finds a lock taken
//! with a `futex` system call given `&AtomicI32` where `*mut u32` is
//! declared, and Miri rejects variadic arguments of the wrong type (it
//! checks them since nightly 2026-09-11). Whether a test meets that
//! depends on Miri's interleaving; std's own futex calls pass the check.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use plain::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// The mutex of the code no model runs: parking_lot's, or under Miri std's
/// with the same interface.
pub(crate) mod plain {
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
