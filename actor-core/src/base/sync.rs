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
//! through here; the rest of the crate uses std's atomics and parking_lot's
//! mutex directly, since no model runs it.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

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
