//! The storage under the store: redb's own file backend with an optional
//! cap on how large the file may grow, and (for tests, feature `test-util`)
//! a simulated disk that can lose power.

use std::fs::File;
use std::io;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// What a store's storage has done, counted where it happens.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// `sync_data` calls that returned `Ok`: fsyncs.
    pub(crate) syncs: AtomicU64,
    /// Write transactions committed by the committer.
    pub(crate) commits: AtomicU64,
    /// Writes (tells, acknowledgements, journal appends, ...) in them.
    pub(crate) ops: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// redb's file backend, refusing to grow the file past `max_size` with the
/// same error a full disk gives (`StorageFull`), and counting fsyncs.
#[derive(Debug)]
pub(crate) struct CappedFile {
    inner: FileBackend,
    max_size: Option<u64>,
    counters: Arc<Counters>,
}

impl CappedFile {
    pub(crate) fn new(file: File, max_size: Option<u64>, counters: Arc<Counters>) -> Result<Self, redb::DatabaseError> {
        Ok(CappedFile { inner: FileBackend::new(file)?, max_size, counters })
    }

    fn check(&self, end: u64) -> io::Result<()> {
        match self.max_size {
            Some(max) if end > max => {
                Err(io::Error::new(io::ErrorKind::StorageFull, format!("store size limit of {max} bytes reached")))
            }
            _ => Ok(()),
        }
    }
}

impl StorageBackend for CappedFile {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.check(len)?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.inner.sync_data()?;
        Counters::add(&self.counters.syncs, 1);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.check(offset.saturating_add(data.len() as u64))?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use simulated::{CrashReport, SimulatedDisk, Survived};

#[cfg(any(test, feature = "test-util"))]
mod simulated {
    use std::fmt;
    use std::io;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

    use redb::StorageBackend;

    use super::Counters;

    /// A disk in memory that can lose power at a chosen moment.
    ///
    /// It keeps two images: what a sync has made durable, and every write,
    /// resize and sync since, in order (what a real disk holds in its
    /// cache). Reads see everything written, as the page cache would. When
    /// the power is cut ([`crash_now`](SimulatedDisk::crash_now), or on its
    /// own after a number of writes set by
    /// [`crash_after`](SimulatedDisk::crash_after)), it decides, from its
    /// seed, what of the unsynced writes reached the platter: none, all, an
    /// ordered prefix whose last write is torn at a 512-byte sector, or a
    /// random subset (a cache that writes back out of order). From then on
    /// every write and sync fails, as the machine would be off;
    /// [`restart`](SimulatedDisk::restart) gives a new disk holding only
    /// what survived.
    ///
    /// The decisions depend only on the seed and the sequence of calls, so
    /// a failure is replayed by its seed (given the same sequence of writes
    /// up to the crash).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    /// use actor_durable::testkit::SimulatedDisk;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let disk = SimulatedDisk::new(7);
    /// let store = Store::builder().open_simulated(&disk).unwrap();
    /// let queue = store.queue::<String>("q").unwrap();
    /// let seq = queue.push("kept".into()).await.unwrap(); // synced before it returns
    ///
    /// disk.crash_now();
    /// drop((queue, store));
    /// let store = Store::builder().open_simulated(&disk.restart()).unwrap();
    /// assert_eq!(store.queue::<String>("q").unwrap().pending_seqs().unwrap(), [seq]);
    /// # }
    /// ```
    #[derive(Clone)]
    pub struct SimulatedDisk {
        shared: Arc<Shared>,
    }

    struct Shared {
        state: Mutex<State>,
        /// Woken when syncs are let through again.
        unpaused: Condvar,
    }

    struct State {
        rng: SplitMix64,
        /// The bytes as of the last sync.
        durable: Vec<u8>,
        /// The bytes readers see: `durable` plus `pending`.
        current: Vec<u8>,
        /// Writes and resizes since the last sync, in order.
        pending: Vec<Pending>,
        /// Power is cut when this many more writes, resizes or syncs were
        /// asked for (the one that reaches zero does not happen).
        countdown: Option<u64>,
        /// Set at the crash: what survived.
        crash: Option<(CrashReport, Vec<u8>)>,
        syncs: u64,
        syncs_paused: bool,
    }

    enum Pending {
        Write { offset: u64, data: Vec<u8> },
        SetLen(u64),
    }

    /// What of the unsynced writes survived a crash; see
    /// [`SimulatedDisk::crash_report`].
    ///
    /// # Examples
    ///
    /// The seed decides what survives a crash in the middle of a commit;
    /// [`crash_losing_unsynced`](SimulatedDisk::crash_losing_unsynced)
    /// always keeps nothing:
    ///
    /// ```
    /// use actor_durable::Store;
    /// use actor_durable::testkit::{SimulatedDisk, Survived};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let disk = SimulatedDisk::new(11);
    /// let store = Store::builder().open_simulated(&disk).unwrap();
    /// disk.crash_after(2); // one write goes through, then the power goes
    /// assert!(store.queue::<u8>("q").unwrap().push(1).await.is_err());
    ///
    /// let report = disk.crash_report().unwrap();
    /// let kept = match report.survived {
    ///     Survived::None => 0,
    ///     Survived::All => report.unsynced,
    ///     Survived::TornPrefix { whole, .. } => whole,
    ///     Survived::Subset { kept } => kept,
    ///     _ => unreachable!(),
    /// };
    /// assert!(kept <= report.unsynced);
    ///
    /// let disk = SimulatedDisk::new(11);
    /// disk.crash_losing_unsynced();
    /// assert_eq!(disk.crash_report().unwrap().survived, Survived::None);
    /// # }
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Survived {
        /// Nothing written since the last sync.
        None,
        /// Everything, as if the last sync had completed.
        All,
        /// The first `whole` writes in order, then `torn_bytes` bytes (a
        /// multiple of 512, possibly 0) of the next one.
        TornPrefix {
            /// Writes kept whole.
            whole: usize,
            /// Bytes kept of the next write.
            torn_bytes: usize,
        },
        /// `kept` of the writes, chosen at random, applied in their order.
        Subset {
            /// Writes kept.
            kept: usize,
        },
    }

    /// How a [`SimulatedDisk`] lost power.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    /// use actor_durable::testkit::SimulatedDisk;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let disk = SimulatedDisk::new(12);
    /// let store = Store::builder().open_simulated(&disk).unwrap();
    /// let syncs = disk.syncs();
    /// disk.crash_after(2); // one write goes through, then the power goes
    /// assert!(store.queue::<u8>("q").unwrap().push(1).await.is_err());
    ///
    /// let report = disk.crash_report().expect("the power is off");
    /// assert_eq!(report.unsynced, 1); // the write that went through
    /// assert_eq!(report.syncs, syncs); // no sync completed since
    /// # }
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct CrashReport {
        /// Writes and resizes since the last sync when the power went.
        pub unsynced: usize,
        /// What of them survived.
        pub survived: Survived,
        /// Syncs completed before the crash.
        pub syncs: u64,
    }

    impl SimulatedDisk {
        /// An empty disk whose crash decisions follow from `seed`.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// let disk = SimulatedDisk::new(42);
        /// assert!(!disk.has_crashed());
        /// assert_eq!((disk.syncs(), disk.unsynced()), (0, 0));
        ///
        /// // The same seed makes the same decisions.
        /// let again = SimulatedDisk::new(42);
        /// disk.crash_now();
        /// again.crash_now();
        /// assert_eq!(disk.crash_report(), again.crash_report());
        /// ```
        pub fn new(seed: u64) -> SimulatedDisk {
            SimulatedDisk::with_image(Vec::new(), SplitMix64(seed))
        }

        fn with_image(image: Vec<u8>, rng: SplitMix64) -> SimulatedDisk {
            SimulatedDisk {
                shared: Arc::new(Shared {
                    state: Mutex::new(State {
                        rng,
                        current: image.clone(),
                        durable: image,
                        pending: Vec::new(),
                        countdown: None,
                        crash: None,
                        syncs: 0,
                        syncs_paused: false,
                    }),
                    unpaused: Condvar::new(),
                }),
            }
        }

        fn state(&self) -> MutexGuard<'_, State> {
            self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Cuts the power when `n` more writes, resizes or syncs are asked
        /// for: the `n`-th does not happen (`n = 1`: the next one).
        ///
        /// # Panics
        ///
        /// If `n` is 0.
        ///
        /// # Examples
        ///
        /// The next write fails, so the message is not acknowledged:
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(1);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let queue = store.queue::<u8>("q").unwrap();
        /// disk.crash_after(1);
        /// assert!(!disk.has_crashed()); // not yet
        /// assert!(queue.push(1).await.is_err());
        /// assert!(disk.has_crashed());
        /// # }
        /// ```
        pub fn crash_after(&self, n: u64) {
            assert!(n > 0, "crash_after(0): use crash_now");
            self.state().countdown = Some(n);
        }

        /// Cuts the power now (a no-op if it is already cut).
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(2);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let queue = store.queue::<u8>("q").unwrap();
        /// queue.push(1).await.unwrap();
        ///
        /// disk.crash_now();
        /// let report = disk.crash_report();
        /// assert!(queue.push(2).await.is_err()); // the machine is off
        /// disk.crash_now(); // already off: changes nothing
        /// assert_eq!(disk.crash_report(), report);
        /// # }
        /// ```
        pub fn crash_now(&self) {
            self.state().crash();
            self.shared.unpaused.notify_all();
        }

        /// Cuts the power now, losing everything written since the last
        /// sync (a no-op if it is already cut): the harshest crash, the one
        /// that tells a missing sync from a real one.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::{SimulatedDisk, Survived};
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(3);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let seq = store.queue::<u8>("q").unwrap().push(1).await.unwrap();
        ///
        /// disk.crash_losing_unsynced();
        /// assert_eq!(disk.crash_report().unwrap().survived, Survived::None);
        /// drop(store);
        /// // What was acknowledged had been synced, so it is still there.
        /// let store = Store::builder().open_simulated(&disk.restart()).unwrap();
        /// assert_eq!(store.queue::<u8>("q").unwrap().pending_seqs().unwrap(), [seq]);
        /// # }
        /// ```
        pub fn crash_losing_unsynced(&self) {
            let mut state = self.state();
            if state.crash.is_none() {
                let report =
                    CrashReport { unsynced: state.pending.len(), survived: Survived::None, syncs: state.syncs };
                state.crash = Some((report, state.durable.clone()));
            }
            drop(state);
            self.shared.unpaused.notify_all();
        }

        /// Whether the power has been cut.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// let disk = SimulatedDisk::new(4);
        /// assert!(!disk.has_crashed());
        /// disk.crash_now();
        /// assert!(disk.has_crashed());
        /// assert!(!disk.restart().has_crashed()); // the restarted disk has power
        /// ```
        pub fn has_crashed(&self) -> bool {
            self.state().crash.is_some()
        }

        /// How the power was lost, once it was.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(5);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// store.queue::<u8>("q").unwrap().push(1).await.unwrap();
        /// assert_eq!(disk.crash_report(), None);
        ///
        /// disk.crash_now();
        /// let report = disk.crash_report().unwrap();
        /// assert_eq!(report.syncs, disk.syncs());
        /// assert_eq!(report.unsynced, 0); // the push was synced before it returned
        /// # }
        /// ```
        pub fn crash_report(&self) -> Option<CrashReport> {
            self.state().crash.as_ref().map(|(report, _)| *report)
        }

        /// Syncs completed so far.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(6);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let before = disk.syncs();
        /// store.queue::<u8>("q").unwrap().push(1).await.unwrap();
        /// assert!(disk.syncs() > before); // an acknowledged write was synced
        /// # }
        /// ```
        pub fn syncs(&self) -> u64 {
            self.state().syncs
        }

        /// Writes and resizes not yet made durable by a sync.
        ///
        /// # Examples
        ///
        /// Let one write of a commit through, then cut the power:
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(7);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// assert_eq!(disk.unsynced(), 0);
        /// disk.crash_after(2);
        /// assert!(store.queue::<u8>("q").unwrap().push(1).await.is_err());
        /// assert_eq!(disk.unsynced(), 1);
        /// assert_eq!(disk.crash_report().unwrap().unsynced, 1);
        /// # }
        /// ```
        pub fn unsynced(&self) -> usize {
            self.state().pending.len()
        }

        /// Holds every sync until [`resume_syncs`](SimulatedDisk::resume_syncs)
        /// (or a crash): a disk that takes its time.
        ///
        /// # Examples
        ///
        /// A write is not acknowledged while its sync is held:
        ///
        /// ```
        /// use std::time::Duration;
        ///
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(8);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let queue = store.queue::<u8>("q").unwrap();
        ///
        /// disk.pause_syncs();
        /// let mut receipt = queue.send(1).await.unwrap();
        /// let early = tokio::time::timeout(Duration::from_millis(100), &mut receipt).await;
        /// assert!(early.is_err(), "acknowledged before the sync");
        ///
        /// disk.resume_syncs();
        /// let seq = tokio::time::timeout(Duration::from_secs(10), receipt).await.unwrap();
        /// assert_eq!(seq.unwrap(), 1);
        /// # }
        /// ```
        pub fn pause_syncs(&self) {
            self.state().syncs_paused = true;
        }

        /// Lets held syncs complete.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        ///
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(9);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let queue = store.queue::<u8>("q").unwrap();
        /// disk.pause_syncs();
        /// let receipt = queue.send(1).await.unwrap();
        ///
        /// let syncs = disk.syncs();
        /// disk.resume_syncs();
        /// let seq = tokio::time::timeout(Duration::from_secs(10), receipt).await.unwrap();
        /// assert_eq!(seq.unwrap(), 1);
        /// assert!(disk.syncs() > syncs);
        /// # }
        /// ```
        pub fn resume_syncs(&self) {
            self.state().syncs_paused = false;
            self.shared.unpaused.notify_all();
        }

        /// A powered-on disk holding what survived the crash (the power is
        /// cut now if it was not yet). Its seed follows from this one's.
        ///
        /// # Examples
        ///
        /// ```
        /// use actor_durable::Store;
        /// use actor_durable::testkit::SimulatedDisk;
        ///
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// let disk = SimulatedDisk::new(10);
        /// let store = Store::builder().open_simulated(&disk).unwrap();
        /// let seq = store.queue::<String>("q").unwrap().push("kept".into()).await.unwrap();
        /// drop(store);
        ///
        /// let restarted = disk.restart();
        /// assert!(disk.has_crashed()); // restarting cut the old disk's power
        /// assert!(!restarted.has_crashed());
        /// let store = Store::builder().open_simulated(&restarted).unwrap();
        /// assert_eq!(store.queue::<String>("q").unwrap().pending_seqs().unwrap(), [seq]);
        /// # }
        /// ```
        pub fn restart(&self) -> SimulatedDisk {
            let mut state = self.state();
            state.crash();
            let image = state.crash.as_ref().map(|(_, image)| image.clone()).unwrap_or_default();
            let rng = SplitMix64(state.rng.next());
            drop(state);
            self.shared.unpaused.notify_all();
            SimulatedDisk::with_image(image, rng)
        }

        /// Whether nothing was ever written (or nothing survived).
        pub(crate) fn is_empty(&self) -> bool {
            self.state().current.is_empty()
        }

        /// Everything written, synced or not.
        pub(crate) fn image(&self) -> Vec<u8> {
            self.state().current.clone()
        }

        /// Replaces the whole content in one durable step, as a rename of
        /// a synced file followed by a sync of its directory does; counts
        /// as one write for the crash countdown.
        pub(crate) fn install(&self, image: Vec<u8>) -> io::Result<()> {
            let mut state = self.state();
            SimulatedDisk::tick(&mut state)?;
            state.pending.clear();
            state.current = image.clone();
            state.durable = image;
            Ok(())
        }

        pub(crate) fn backend(&self, counters: Arc<Counters>) -> SimulatedBackend {
            SimulatedBackend { disk: self.clone(), counters }
        }

        /// Counts one write, resize or sync against the crash countdown;
        /// `Err` if the power is (now) off.
        fn tick(state: &mut State) -> io::Result<()> {
            if state.crash.is_none()
                && let Some(left) = &mut state.countdown
            {
                *left -= 1;
                if *left == 0 {
                    state.crash();
                }
            }
            if state.crash.is_some() { Err(power_off()) } else { Ok(()) }
        }
    }

    impl fmt::Debug for SimulatedDisk {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let state = self.state();
            f.debug_struct("SimulatedDisk")
                .field("len", &state.current.len())
                .field("unsynced", &state.pending.len())
                .field("syncs", &state.syncs)
                .field("crash", &state.crash.as_ref().map(|(report, _)| report))
                .finish()
        }
    }

    impl State {
        /// Decides what survives, once.
        fn crash(&mut self) {
            if self.crash.is_some() {
                return;
            }
            let n = self.pending.len();
            let mut image = self.durable.clone();
            let survived = match self.rng.below(4) {
                0 => Survived::None,
                1 => {
                    for op in &self.pending {
                        op.apply(&mut image, usize::MAX);
                    }
                    Survived::All
                }
                2 => {
                    let whole = self.rng.below(n as u64 + 1) as usize;
                    for op in &self.pending[..whole] {
                        op.apply(&mut image, usize::MAX);
                    }
                    let torn_bytes = match self.pending.get(whole) {
                        Some(op @ Pending::Write { data, .. }) => {
                            let sectors = data.len().div_ceil(512) as u64;
                            let bytes = (self.rng.below(sectors) as usize) * 512;
                            op.apply(&mut image, bytes);
                            bytes
                        }
                        _ => 0,
                    };
                    Survived::TornPrefix { whole, torn_bytes }
                }
                _ => {
                    let mut kept = 0;
                    for op in &self.pending {
                        if self.rng.below(2) == 1 {
                            op.apply(&mut image, usize::MAX);
                            kept += 1;
                        }
                    }
                    Survived::Subset { kept }
                }
            };
            let report = CrashReport { unsynced: n, survived, syncs: self.syncs };
            self.crash = Some((report, image));
        }
    }

    impl Pending {
        /// Applies this write (at most its first `limit` bytes) or resize.
        fn apply(&self, image: &mut Vec<u8>, limit: usize) {
            match self {
                Pending::SetLen(len) => image.resize(*len as usize, 0),
                Pending::Write { offset, data } => {
                    let data = &data[..data.len().min(limit)];
                    write_at(image, *offset, data);
                }
            }
        }
    }

    fn write_at(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
        let start = offset as usize;
        let end = start + data.len();
        if image.len() < end {
            image.resize(end, 0);
        }
        image[start..end].copy_from_slice(data);
    }

    fn power_off() -> io::Error {
        io::Error::other("simulated power loss: the disk is off")
    }

    /// The redb backend over a [`SimulatedDisk`].
    #[derive(Debug)]
    pub(crate) struct SimulatedBackend {
        disk: SimulatedDisk,
        counters: Arc<Counters>,
    }

    impl StorageBackend for SimulatedBackend {
        fn len(&self) -> Result<u64, io::Error> {
            Ok(self.disk.state().current.len() as u64)
        }

        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
            let state = self.disk.state();
            let start = offset as usize;
            match state.current.get(start..start + out.len()) {
                Some(bytes) => {
                    out.copy_from_slice(bytes);
                    Ok(())
                }
                None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the disk")),
            }
        }

        fn set_len(&self, len: u64) -> Result<(), io::Error> {
            let mut state = self.disk.state();
            SimulatedDisk::tick(&mut state)?;
            state.current.resize(len as usize, 0);
            state.pending.push(Pending::SetLen(len));
            Ok(())
        }

        fn sync_data(&self) -> Result<(), io::Error> {
            let mut state = self.disk.state();
            SimulatedDisk::tick(&mut state)?;
            while state.syncs_paused && state.crash.is_none() {
                state = self.disk.shared.unpaused.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.crash.is_some() {
                return Err(power_off());
            }
            let state = &mut *state;
            for op in state.pending.drain(..) {
                op.apply(&mut state.durable, usize::MAX);
            }
            state.syncs += 1;
            Counters::add(&self.counters.syncs, 1);
            Ok(())
        }

        fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
            let mut state = self.disk.state();
            SimulatedDisk::tick(&mut state)?;
            write_at(&mut state.current, offset, data);
            state.pending.push(Pending::Write { offset, data: data.to_vec() });
            Ok(())
        }
    }

    /// A small seeded generator (SplitMix64): the crash decisions need to
    /// be replayable from one number, not unpredictable.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A number in `0..n` (0 if `n` is 0).
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 { 0 } else { self.next() % n }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use redb::StorageBackend;

    use super::{Counters, SimulatedDisk, Survived};

    fn read_all(disk: &SimulatedDisk) -> Vec<u8> {
        let backend = disk.backend(Arc::default());
        let mut out = vec![0; backend.len().unwrap() as usize];
        backend.read(0, &mut out).unwrap();
        out
    }

    #[test]
    fn writes_since_the_last_sync_are_lost_and_synced_ones_kept() {
        let disk = SimulatedDisk::new(1);
        let backend = disk.backend(Arc::new(Counters::default()));
        backend.write(0, b"synced").unwrap();
        backend.sync_data().unwrap();
        backend.write(0, b"SYNC").unwrap();
        backend.write(6, b" and not").unwrap();
        // Readers see everything written, as from the page cache.
        assert_eq!(read_all(&disk), b"SYNCed and not");
        assert_eq!(disk.unsynced(), 2);

        disk.crash_losing_unsynced();
        assert!(backend.write(0, b"x").is_err(), "the power is off");
        assert!(backend.sync_data().is_err(), "the power is off");
        let report = disk.crash_report().unwrap();
        assert_eq!((report.unsynced, report.survived, report.syncs), (2, Survived::None, 1));
        assert_eq!(read_all(&disk.restart()), b"synced");
    }

    /// What a crash of `seed` leaves of: "0123456789" synced, then three
    /// unsynced writes (the last one two sectors long).
    fn crash_with_seed(seed: u64) -> (Survived, Vec<u8>) {
        let disk = SimulatedDisk::new(seed);
        let backend = disk.backend(Arc::default());
        backend.write(0, b"0123456789").unwrap();
        backend.sync_data().unwrap();
        backend.write(0, b"a").unwrap();
        backend.write(1, b"b").unwrap();
        backend.write(10, &[b'c'; 1024]).unwrap();
        disk.crash_now();
        (disk.crash_report().unwrap().survived, read_all(&disk.restart()))
    }

    #[test]
    fn a_crash_keeps_none_all_a_torn_prefix_or_a_subset_of_the_unsynced_writes_by_seed() {
        let base = b"0123456789".to_vec();
        let with = |a: bool, b: bool, c: usize| {
            let mut image = base.clone();
            if a {
                image[0] = b'a';
            }
            if b {
                image[1] = b'b';
            }
            image.extend(std::iter::repeat_n(b'c', c));
            image
        };
        let mut seen = [false; 4];
        for seed in 0..200 {
            let (survived, image) = crash_with_seed(seed);
            let expected = match survived {
                Survived::None => {
                    seen[0] = true;
                    base.clone()
                }
                Survived::All => {
                    seen[1] = true;
                    with(true, true, 1024)
                }
                Survived::TornPrefix { whole, torn_bytes } => {
                    seen[2] = true;
                    assert!(whole <= 3 && torn_bytes % 512 == 0 && torn_bytes < 1024, "{survived:?}");
                    assert!(whole == 2 || torn_bytes == 0, "only a write can be torn: {survived:?}");
                    let c = if whole == 3 { 1024 } else { torn_bytes };
                    with(whole >= 1, whole >= 2, c)
                }
                Survived::Subset { kept } => {
                    seen[3] = true;
                    // Which writes survived is the seed's choice: the image
                    // is one of the eight combinations, with `kept` of them.
                    let (a, b, c) = (image[0] == b'a', image[1] == b'b', image.len() > 10);
                    assert_eq!(usize::from(a) + usize::from(b) + usize::from(c), kept);
                    with(a, b, if c { 1024 } else { 0 })
                }
            };
            assert_eq!(image, expected, "seed {seed}: {survived:?}");
            // The same seed makes the same decision.
            assert_eq!(crash_with_seed(seed), (survived, image), "seed {seed} is not replayable");
        }
        assert_eq!(seen, [true; 4], "every kind of crash occurs");
    }

    #[test]
    fn crash_after_cuts_the_power_at_the_nth_write_or_sync() {
        let disk = SimulatedDisk::new(3);
        let backend = disk.backend(Arc::default());
        disk.crash_after(3);
        backend.write(0, b"one").unwrap();
        backend.sync_data().unwrap();
        assert!(!disk.has_crashed());
        assert!(backend.write(3, b"two").is_err(), "the third call found the power off");
        assert!(disk.has_crashed());
        // Reads still answer (from memory) after the crash.
        assert_eq!(read_all(&disk), b"one");
        assert_eq!(read_all(&disk.restart()), b"one");
    }
}
