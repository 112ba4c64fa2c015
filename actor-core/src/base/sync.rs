//! The synchronisation primitives of the mailbox and the registry's fence:
//! std's, or loom's under `--cfg loom`, so that the models in
//! `mailbox/models.rs` run the very code the crate ships.
//!
//! Only the mailbox (`mailbox/queue.rs`) and the
//! registry's fence go through here; the rest of the crate uses std
//! directly, since no model runs it.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering from poison: nothing panics while one of these
/// locks is held, so a poisoned lock still guards consistent data, and
/// recovering keeps one panic from cascading through every sender.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
