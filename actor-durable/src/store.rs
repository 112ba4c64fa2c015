//! The store: one redb file, one committer thread that turns concurrent
//! writes into group commits, and the reads the queues and journals need.
//!
//! Layout of the file (all keys sort in delivery order):
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `meta` | `"queue/{name}"` | the next sequence number of the queue |
//! | `queue/{name}` | sequence number | a pending message (postcard) |
//! | `dead/{name}` | sequence number | (message bytes, reason) |
//! | `journal` | (stream, sequence number) | an event (postcard) |
//! | `snapshots` | stream | (sequence number of the last event in it, state) |
//! | `dedup/{name}` | key | nothing |

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redb::{
    Database, Durability, Key, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    StorageBackend, Table, TableDefinition, TableError, Value, WriteTransaction,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::backend::{CappedFile, Counters};
use crate::error::StoreError;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const JOURNAL: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("journal");
const SNAPSHOTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("snapshots");

fn queue_def(table: &str) -> TableDefinition<'_, u64, &'static [u8]> {
    TableDefinition::new(table)
}

fn dead_def(table: &str) -> TableDefinition<'_, u64, (&'static [u8], &'static str)> {
    TableDefinition::new(table)
}

fn dedup_def(table: &str) -> TableDefinition<'_, &'static [u8], ()> {
    TableDefinition::new(table)
}

/// The default for [`StoreBuilder::max_batch`].
pub const DEFAULT_MAX_BATCH: usize = 1024;

/// A handle to a store file: durable queues, event journals, snapshots and
/// deduplication sets, all in one [redb](https://docs.rs/redb) file.
///
/// Cheap to clone. Every write goes through one committer thread, which
/// gathers the writes that arrive while it commits into the next
/// transaction: concurrent senders, and one sender with many writes in
/// flight ([`Queue::send`](crate::Queue::send)), share one `fsync`.
///
/// The store closes when the last clone (and every queue, journal and
/// consumer using it) is dropped: the committer finishes the writes it was
/// given and releases the file in the background, so a drop never blocks
/// (an async task may drop it). [`Store::close`] waits for that, and a
/// [`Store::open`] of the same file in this process waits for it too.
///
/// # Examples
///
/// ```
/// use actor_durable::Store;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.redb");
///
/// let store = Store::open(&path).unwrap();
/// let queue = store.queue::<String>("greetings").unwrap();
/// let seq = queue.push("hello".to_string()).await.unwrap(); // committed and fsynced
/// assert_eq!(seq, 1);
/// drop((queue, store));
///
/// // The message survived the close.
/// let store = Store::open(&path).unwrap();
/// assert_eq!(store.queue::<String>("greetings").unwrap().pending_seqs().unwrap(), [1]);
/// # }
/// ```
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Taken out first when the store closes, so that the committer holds
    /// the last reference and closes the file.
    db: Option<Arc<Database>>,
    path: PathBuf,
    ops: Option<mpsc::Sender<Op>>,
    /// Set by the committer thread once it has let go of the file.
    closed: Arc<Closed>,
    /// The file's canonical path, for a reopen in this process to wait
    /// until this store has let go of it (none for a simulated disk).
    file_key: Option<PathBuf>,
    counters: Arc<Counters>,
    queues: Mutex<HashMap<String, Arc<QueueState>>>,
    claims: Mutex<HashSet<String>>,
}

/// Options for opening a [`Store`]; see [`Store::builder`].
///
/// # Examples
///
/// ```
/// use actor_durable::Store;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::builder()
///     .max_size(64 << 20) // refuse to grow the file past 64 MiB
///     .max_batch(256) // at most 256 writes per group commit
///     .open(dir.path().join("capped.redb"))
///     .unwrap();
/// # drop(store);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct StoreBuilder {
    max_size: Option<u64>,
    max_batch: usize,
}

impl Store {
    /// Opens the store at `path`, creating the file if it does not exist.
    ///
    /// An existing file is checked before it is used: every page's checksum
    /// is verified (so the open reads the whole file once), and a file that
    /// is not a store, is truncated or is corrupt is refused with
    /// [`StoreError::Corrupt`], never a panic. An empty file is taken as a
    /// new store.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`], [`StoreError::AlreadyOpen`] if another
    /// process or handle has the file open, [`StoreError::Io`] otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::{Store, StoreError};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("once.redb");
    /// let store = Store::open(&path).unwrap();
    /// assert!(matches!(Store::open(&path), Err(StoreError::AlreadyOpen { .. })));
    /// # drop(store);
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::builder().open(path)
    }

    /// Options for opening a store.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("built.redb");
    /// let store = Store::builder().max_batch(64).open(&path).unwrap();
    /// assert_eq!(store.path(), path);
    /// ```
    pub fn builder() -> StoreBuilder {
        StoreBuilder { max_size: None, max_batch: DEFAULT_MAX_BATCH }
    }

    /// The file this store lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = actor_durable::Store::open(dir.path().join("a.redb")).unwrap();
    /// assert!(store.path().ends_with("a.redb"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What the store has done since it was opened: commits, the writes in
    /// them, and fsyncs. Each group commit syncs the file once (twice when
    /// it also had to grow the file), so `syncs / commits` near 1 and
    /// `ops / commits` well above 1 mean concurrent writes are sharing
    /// fsyncs.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("s.redb")).unwrap();
    /// let queue = store.queue::<u32>("q").unwrap();
    /// let before = store.stats();
    /// queue.push(1).await.unwrap();
    /// let after = store.stats();
    /// assert_eq!(after.commits - before.commits, 1);
    /// assert_eq!(after.ops - before.ops, 1);
    /// assert!(after.syncs > before.syncs, "an acknowledged push was synced");
    /// # }
    /// ```
    pub fn stats(&self) -> StoreStats {
        let c = &self.inner.counters;
        StoreStats {
            commits: c.commits.load(Ordering::Relaxed),
            ops: c.ops.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
        }
    }

    /// Drops this handle and waits, without blocking the thread, until the
    /// store is closed: every other handle to it (clones, queues, journals,
    /// consumers) is gone too, the committer has finished the writes it was
    /// given, and the file is released, so that it can be copied or opened
    /// again.
    ///
    /// Dropping the last handle closes the store just the same, in the
    /// background; a [`Store::open`] of the same file in this process waits
    /// for that close to finish.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the handle is dropped at the first poll either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("c.redb");
    /// let store = Store::open(&path).unwrap();
    /// store.queue::<u8>("q").unwrap().push(1).await.unwrap();
    /// store.close().await; // the queue handle was a temporary: nothing else holds the store
    /// let copy = dir.path().join("backup.redb");
    /// std::fs::copy(&path, &copy).unwrap();
    /// assert_eq!(Store::open(&copy).unwrap().queue::<u8>("q").unwrap().len().unwrap(), 1);
    /// # }
    /// ```
    pub async fn close(self) {
        let mut closed = self.inner.closed.done_rx.clone();
        drop(self);
        let _ = closed.wait_for(|done| *done).await;
    }

    pub(crate) async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await.unwrap_or(Err(StoreError::Closed))
    }

    pub(crate) async fn send(&self, op: Op) -> Result<(), StoreError> {
        let ops = self.inner.ops.as_ref().ok_or(StoreError::Closed)?;
        ops.send(op).await.map_err(|_| StoreError::Closed)
    }

    fn read(&self) -> Result<ReadTransaction, StoreError> {
        let db = self.inner.db.as_ref().ok_or(StoreError::Closed)?;
        db.begin_read().map_err(StoreError::from_redb)
    }

    /// The shared state of queue `name`, loaded on first use.
    pub(crate) fn queue_state(&self, name: &str) -> Result<Arc<QueueState>, StoreError> {
        if name.is_empty() {
            return Err(StoreError::Codec("a queue name must not be empty".into()));
        }
        let mut queues = lock(&self.inner.queues);
        if let Some(state) = queues.get(name) {
            return Ok(state.clone());
        }
        let table = format!("queue/{name}");
        let txn = self.read()?;
        let next = read_meta(&txn, &table)?;
        let first = match open_existing(&txn, queue_def(&table))? {
            Some(t) => t.first().map_err(StoreError::from_storage)?.map(|(k, _)| k.value()),
            None => None,
        };
        let committed = next.saturating_sub(1);
        let acked = first.map_or(committed, |f| f - 1);
        let (progress, _) = watch::channel(Progress { committed, acked, consumer: false });
        let state = Arc::new(QueueState { name: name.into(), dead: format!("dead/{name}"), table, progress });
        queues.insert(name.into(), state.clone());
        Ok(state)
    }

    /// Reserves `what` (a queue or journal) for one consumer in this process.
    pub(crate) fn claim(&self, what: String) -> Result<Claim, StoreError> {
        if !lock(&self.inner.claims).insert(what.clone()) {
            return Err(StoreError::InUse(what));
        }
        Ok(Claim { store: self.clone(), what })
    }

    /// Up to `limit` pending messages of `queue` after sequence number `after`.
    pub(crate) fn read_pending(
        &self,
        queue: &QueueState,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read()?;
        let Some(table) = open_existing(&txn, queue_def(&queue.table))? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for row in table.range(after.saturating_add(1)..).map_err(StoreError::from_storage)?.take(limit) {
            let (k, v) = row.map_err(StoreError::from_storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The sequence numbers of every pending message of `queue`, in order.
    pub(crate) fn read_pending_seqs(&self, queue: &QueueState) -> Result<Vec<u64>, StoreError> {
        let txn = self.read()?;
        let Some(table) = open_existing(&txn, queue_def(&queue.table))? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::from_storage)? {
            out.push(row.map_err(StoreError::from_storage)?.0.value());
        }
        Ok(out)
    }

    /// How many messages of `queue` are pending.
    pub(crate) fn count_pending(&self, queue: &QueueState) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let Some(table) = open_existing(&txn, queue_def(&queue.table))? else { return Ok(0) };
        table.len().map_err(StoreError::from_storage)
    }

    pub(crate) fn read_dead(&self, queue: &QueueState) -> Result<Vec<(u64, Vec<u8>, String)>, StoreError> {
        let txn = self.read()?;
        let Some(table) = open_existing(&txn, dead_def(&queue.dead))? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::from_storage)? {
            let (k, v) = row.map_err(StoreError::from_storage)?;
            let (bytes, reason) = v.value();
            out.push((k.value(), bytes.to_vec(), reason.to_string()));
        }
        Ok(out)
    }

    /// The last snapshot of `stream` and the events after it.
    pub(crate) fn read_journal(&self, stream: &str) -> Result<JournalRead, StoreError> {
        let txn = self.read()?;
        let snapshot = match open_existing(&txn, SNAPSHOTS)? {
            Some(t) => t.get(stream).map_err(StoreError::from_storage)?.map(|v| {
                let (seq, bytes) = v.value();
                (seq, bytes.to_vec())
            }),
            None => None,
        };
        // A snapshot is taken at the journal's last event, so the events
        // after it are all that is left to replay.
        let after = snapshot.as_ref().map_or(0, |(seq, _)| *seq);
        let mut events = Vec::new();
        let mut last = after;
        if let Some(t) = open_existing(&txn, JOURNAL)? {
            for row in t.range((stream, after + 1)..=(stream, u64::MAX)).map_err(StoreError::from_storage)? {
                let (k, v) = row.map_err(StoreError::from_storage)?;
                last = k.value().1;
                events.push((last, v.value().to_vec()));
            }
        }
        Ok(JournalRead { snapshot, events, last })
    }

    pub(crate) fn dedup_contains(&self, table: &str, key: &[u8]) -> Result<bool, StoreError> {
        let txn = self.read()?;
        let Some(t) = open_existing(&txn, dedup_def(table))? else { return Ok(false) };
        Ok(t.get(key).map_err(StoreError::from_storage)?.is_some())
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the committer after the writes it was
        // given; the thread then drops the database and releases the file.
        // It is not joined here: the last handle is often dropped inside an
        // async task, which must not wait for an fsync. A reopen of the same
        // file in this process waits for the close instead (`Closed::wait`),
        // and `Store::close` awaits it.
        if let Some(key) = self.file_key.take() {
            lock(&CLOSING).insert(key, self.closed.clone());
        }
        self.db.take();
        self.ops.take();
    }
}

/// Stores of this process whose committer may still hold their file, by
/// canonical path.
static CLOSING: LazyLock<Mutex<HashMap<PathBuf, Arc<Closed>>>> = LazyLock::new(Mutex::default);

/// How long a reopen waits for a closing store of this process to let go
/// of the file before it reports `AlreadyOpen`.
const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// Whether a store's committer has finished and released the file.
pub(crate) struct Closed {
    done: Mutex<bool>,
    cond: Condvar,
    done_tx: watch::Sender<bool>,
    done_rx: watch::Receiver<bool>,
}

impl Closed {
    fn new() -> Arc<Closed> {
        let (done_tx, done_rx) = watch::channel(false);
        Arc::new(Closed { done: Mutex::new(false), cond: Condvar::new(), done_tx, done_rx })
    }

    fn set(&self) {
        *lock(&self.done) = true;
        self.cond.notify_all();
        self.done_tx.send_replace(true);
    }

    /// Waits (blocking) until set or `timeout` passes; whether it was set.
    fn wait(&self, timeout: Duration) -> bool {
        let done = lock(&self.done);
        let (done, _) =
            self.cond.wait_timeout_while(done, timeout, |done| !*done).unwrap_or_else(PoisonError::into_inner);
        *done
    }
}

/// Marks the store closed when the committer thread ends, however it ends:
/// the committer's last field, dropped after its database (the last
/// reference to it once every handle is gone, so the file is closed by
/// then).
struct CloseOnExit {
    closed: Arc<Closed>,
    key: Option<PathBuf>,
}

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.closed.set();
        if let Some(key) = &self.key {
            let mut closing = lock(&CLOSING);
            if closing.get(key).is_some_and(|c| Arc::ptr_eq(c, &self.closed)) {
                closing.remove(key);
            }
        }
    }
}

/// Waits until no store of this process is closing the file at `key`.
fn wait_for_close(key: &Path) {
    let closing = lock(&CLOSING).get(key).cloned();
    if let Some(closed) = closing
        && closed.wait(CLOSE_WAIT)
    {
        let mut closing = lock(&CLOSING);
        if closing.get(key).is_some_and(|c| Arc::ptr_eq(c, &closed)) {
            closing.remove(key);
        }
    }
}

/// Makes a new directory entry durable: syncs the directory holding `path`.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()?;
    #[cfg(test)]
    tests::record_dir_sync(parent);
    Ok(())
}

/// What a store has done since it was opened; see [`Store::stats`].
///
/// # Examples
///
/// Pushes awaited one after the other each take a group commit of their
/// own, and each commit syncs the file:
///
/// ```
/// use actor_durable::{Store, StoreStats};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("s.redb")).unwrap();
/// let queue = store.queue::<u32>("q").unwrap();
/// let before: StoreStats = store.stats();
/// for n in 0..3 {
///     queue.push(n).await.unwrap();
/// }
/// let after = store.stats();
/// assert_eq!(after.commits - before.commits, 3);
/// assert_eq!(after.ops - before.ops, 3);
/// assert!(after.syncs - before.syncs >= 3);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Group commits (write transactions) completed.
    pub commits: u64,
    /// Writes in them: tells, acknowledgements, dead letters, journal
    /// appends, snapshots, dedup keys.
    pub ops: u64,
    /// Completed fsyncs of the store file.
    pub syncs: u64,
}

impl StoreBuilder {
    /// Caps the size of the store file at `bytes`: a write that would grow
    /// it further fails with [`StoreError::StorageFull`], exactly as a full
    /// disk does. Unlimited by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().max_size(1 << 20).open(dir.path().join("1mib.redb")).unwrap();
    /// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    ///
    /// let err = queue.push(vec![0; 2 << 20]).await.unwrap_err(); // 2 MiB into 1 MiB
    /// assert!(err.error().is_storage_full());
    /// assert_eq!(queue.len().unwrap(), 0); // nothing of it was stored
    /// # }
    /// ```
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// The most writes (tells, acknowledgements, journal appends) one group
    /// commit takes; [`DEFAULT_MAX_BATCH`] by default. Writes that arrive
    /// while a commit runs wait for the next one.
    ///
    /// # Panics
    ///
    /// If `max_batch` is 0.
    ///
    /// # Examples
    ///
    /// One write per commit: ten messages in flight still take ten commits.
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().max_batch(1).open(dir.path().join("b.redb")).unwrap();
    /// let queue = store.queue::<u32>("q").unwrap();
    /// let before = store.stats();
    /// let mut receipts = Vec::new();
    /// for i in 0..10 {
    ///     receipts.push(queue.send(i).await.unwrap());
    /// }
    /// for receipt in receipts {
    ///     receipt.await.unwrap();
    /// }
    /// let after = store.stats();
    /// assert_eq!(after.ops - before.ops, 10);
    /// assert_eq!(after.commits - before.commits, 10);
    /// # }
    /// ```
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        assert!(max_batch > 0, "max_batch must be at least 1");
        self.max_batch = max_batch;
        self
    }

    /// Opens the store at `path` with these options; see [`Store::open`].
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    ///
    /// # Examples
    ///
    /// One builder can open several stores with the same options.
    ///
    /// ```
    /// use actor_durable::{Store, StoreError};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let options = Store::builder().max_size(16 << 20);
    /// let orders = options.open(dir.path().join("orders.redb")).unwrap();
    /// let events = options.open(dir.path().join("events.redb")).unwrap();
    /// assert!(events.path().ends_with("events.redb"));
    /// // Each file is open once at a time.
    /// let again = options.open(orders.path());
    /// assert!(matches!(again, Err(StoreError::AlreadyOpen { .. })));
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.try_exists().map_err(StoreError::from_io)? {
            self.create(&path)?;
        }
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(StoreError::from_io)?;
        let key = std::fs::canonicalize(&path).map_err(StoreError::from_io)?;
        // A store of this process may still be closing this file.
        wait_for_close(&key);
        let counters = Arc::new(Counters::default());
        let backend = CappedFile::new(file, self.max_size, counters.clone()).map_err(|e| open_error(e, &path))?;
        self.open_backend(backend, path, Some(key), counters)
    }

    /// Creates an empty store at `path` so that a crash at any moment
    /// leaves either no file there or a complete store: the store is
    /// written and synced under a temporary name in the same directory,
    /// linked to `path` (which fails if another process created it first),
    /// and the directory is synced. Without this, a power cut during the
    /// first open could leave a file with a length but no valid header,
    /// which every later open would refuse as corrupt.
    fn create(&self, path: &Path) -> Result<(), StoreError> {
        let name = path.file_name().ok_or_else(|| {
            StoreError::from_io(io::Error::new(io::ErrorKind::InvalidInput, "a store path must name a file"))
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(".creating");
        let temp = path.with_file_name(temp_name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&temp)
            .map_err(StoreError::from_io)?;
        // Locks the file: a second process creating the same store waits
        // its turn as `AlreadyOpen`.
        let backend = CappedFile::new(file, self.max_size, Arc::default()).map_err(|e| open_error(e, &temp))?;
        // Left over from a creation cut short: start again.
        backend.set_len(0).map_err(StoreError::from_io)?;
        let db = redb::Builder::new().create_with_backend(backend).map_err(|e| open_error(e, &temp))?;
        drop(db); // synced and closed
        match std::fs::hard_link(&temp, path) {
            Ok(()) => {}
            // Another process created it meanwhile: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: rename (which would replace
            // a store created meanwhile, hence the check).
            Err(_) if !path.try_exists().map_err(StoreError::from_io)? => {
                std::fs::rename(&temp, path).map_err(StoreError::from_io)?;
            }
            Err(e) => return Err(StoreError::from_io(e)),
        }
        match std::fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(StoreError::from_io(e)),
            _ => {}
        }
        // The new name is durable only once its directory is synced.
        sync_parent_dir(path).map_err(StoreError::from_io)
    }

    /// Opens a store on a [`SimulatedDisk`](crate::testkit::SimulatedDisk),
    /// which can lose power at a chosen moment. For tests (feature
    /// `test-util`).
    ///
    /// # Errors
    ///
    /// As [`Store::open`]: [`StoreError::Corrupt`] if the disk does not hold
    /// a store, [`StoreError::Io`] if its power is off.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    /// use actor_durable::testkit::SimulatedDisk;
    ///
    /// let disk = SimulatedDisk::new(1);
    /// let store = Store::builder().open_simulated(&disk).unwrap();
    /// assert!(store.queue::<u8>("q").unwrap().is_empty().unwrap());
    /// ```
    #[cfg(any(test, feature = "test-util"))]
    pub fn open_simulated(&self, disk: &crate::backend::SimulatedDisk) -> Result<Store, StoreError> {
        let path = PathBuf::from("<simulated disk>");
        if disk.is_empty() {
            // As `create` does for a file: build the empty store elsewhere,
            // then put it in place in one step, so that a crash leaves the
            // disk empty or holding a complete store.
            let staging = crate::backend::SimulatedDisk::new(0);
            let db = redb::Builder::new()
                .create_with_backend(staging.backend(Arc::default()))
                .map_err(|e| open_error(e, &path))?;
            drop(db);
            disk.install(staging.image()).map_err(StoreError::from_io)?;
        }
        let counters = Arc::new(Counters::default());
        self.open_backend(disk.backend(counters.clone()), path, None, counters)
    }

    fn open_backend(
        &self,
        backend: impl StorageBackend,
        path: PathBuf,
        key: Option<PathBuf>,
        counters: Arc<Counters>,
    ) -> Result<Store, StoreError> {
        // With the integrity check on, redb reports a damaged file as an
        // error; the catch is a second line of defence, for damage the
        // check misses and redb panics on.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            redb::Builder::new().set_check_integrity_on_open(true).create_with_backend(backend)
        }));
        let db = match opened {
            Ok(result) => result.map_err(|e| open_error(e, &path))?,
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the storage engine failed reading it".into());
                return Err(StoreError::Corrupt { path, detail });
            }
        };
        let db = Arc::new(db);
        let closed = Closed::new();
        let (tx, rx) = mpsc::channel(self.max_batch.max(64) * 4);
        let committer = Committer {
            db: db.clone(),
            next_seq: HashMap::new(),
            max_batch: self.max_batch,
            failed: None,
            counters: counters.clone(),
            on_exit: CloseOnExit { closed: closed.clone(), key: key.clone() },
        };
        std::thread::Builder::new()
            .name("actor-durable-committer".into())
            .spawn(move || committer.run(rx))
            .map_err(StoreError::from_io)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db: Some(db),
                path,
                ops: Some(tx),
                closed,
                file_key: key,
                counters,
                queues: Mutex::default(),
                claims: Mutex::default(),
            }),
        })
    }
}

fn open_error(err: redb::DatabaseError, path: &Path) -> StoreError {
    use redb::DatabaseError as D;
    let corrupt = |detail: String| StoreError::Corrupt { path: path.to_path_buf(), detail };
    match err {
        D::DatabaseAlreadyOpen | D::LockProtocolMismatch => StoreError::AlreadyOpen { path: path.to_path_buf() },
        D::Storage(redb::StorageError::Corrupted(detail)) => corrupt(detail),
        // A file too short for what its header promises, or with a header
        // that is not redb's.
        D::Storage(redb::StorageError::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            corrupt(e.to_string())
        }
        D::Storage(e) => StoreError::from_storage(e),
        D::UpgradeRequired(version) => {
            corrupt(format!("written in redb file format {version}, which this version cannot read"))
        }
        other => corrupt(other.to_string()),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens `table` to read it, or `None` if no write has created it yet
/// (which reads as empty).
fn open_existing<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<'_, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(StoreError::from_redb(e)),
    }
}

fn read_meta(txn: &ReadTransaction, key: &str) -> Result<u64, StoreError> {
    let Some(t) = open_existing(txn, META)? else { return Ok(1) };
    Ok(t.get(key).map_err(StoreError::from_storage)?.map_or(1, |v| v.value()))
}

/// A queue's shared state in this process.
#[derive(Debug)]
pub(crate) struct QueueState {
    pub(crate) name: String,
    pub(crate) table: String,
    pub(crate) dead: String,
    pub(crate) progress: watch::Sender<Progress>,
}

/// Where a queue stands: what is committed, what is acknowledged.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Progress {
    /// The highest sequence number committed.
    pub(crate) committed: u64,
    /// Every message up to this one is acknowledged (or dead-lettered).
    pub(crate) acked: u64,
    /// Whether a consumer is attached.
    pub(crate) consumer: bool,
}

/// A reservation of a queue or journal for one consumer; released on drop.
#[derive(Debug)]
pub(crate) struct Claim {
    store: Store,
    what: String,
}

impl Claim {
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.store.inner.claims).remove(&self.what);
    }
}

/// What a journal holds for one stream.
#[derive(Debug)]
pub(crate) struct JournalRead {
    pub(crate) snapshot: Option<(u64, Vec<u8>)>,
    pub(crate) events: Vec<(u64, Vec<u8>)>,
    /// The sequence number of the last event (0 if none).
    pub(crate) last: u64,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write, applied by the committer in the next group commit.
pub(crate) enum Op {
    Push { queue: Arc<QueueState>, bytes: Vec<u8>, reply: Reply<u64> },
    Ack { queue: Arc<QueueState>, seq: u64 },
    DeadLetter { queue: Arc<QueueState>, seq: u64, bytes: Vec<u8>, reason: String, reply: Reply<()> },
    Journal { stream: Arc<str>, first: u64, events: Vec<Vec<u8>>, dedup: Option<(String, Vec<u8>)>, reply: Reply<bool> },
    Snapshot { stream: Arc<str>, seq: u64, state: Vec<u8>, reply: Reply<()> },
    Record { table: String, key: Vec<u8>, reply: Reply<bool> },
}

/// What an op did, to be reported once the commit is durable.
enum Done {
    Pushed(u64),
    Acked,
    Recorded(bool),
}

/// The queue tables one commit has open, by table name: opening a table
/// costs a look-up in redb's table of tables, too much to pay per message.
type OpenQueues<'txn> = HashMap<String, Table<'txn, u64, &'static [u8]>>;

struct Committer {
    db: Arc<Database>,
    /// The next sequence number per queue table, read from `meta` on first
    /// use; forgotten when a commit fails.
    next_seq: HashMap<String, u64>,
    max_batch: usize,
    /// The I/O error that failed a commit. redb refuses every write after
    /// one until the file is reopened; this keeps reporting the cause (a
    /// full disk stays `StorageFull`) instead of redb's generic refusal.
    failed: Option<StoreError>,
    counters: Arc<Counters>,
    /// Last, so that it is dropped after `db`: see [`CloseOnExit`].
    on_exit: CloseOnExit,
}

impl Committer {
    fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(op) = rx.blocking_recv() {
            batch.push(op);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
        let _ = &self.on_exit;
    }

    /// Applies every op of `batch` in one write transaction, commits it (one
    /// fsync), then answers each op and advances the queues' progress.
    fn commit(&mut self, batch: &mut Vec<Op>) {
        if let Some(err) = &self.failed {
            for op in batch.drain(..) {
                fail(op, err.clone());
            }
            return;
        }
        let result = self.db.begin_write().map_err(StoreError::from_redb).and_then(|mut txn| {
            // What makes an acknowledged write durable: with
            // `Durability::Immediate`, `commit()` returns only after the
            // file is synced (fsync), and only then is any writer answered.
            // It is redb's default today; it is set here so that a change
            // of that default cannot silently weaken what `tell` promises.
            // Tested by `store::tests::an_acknowledged_write_survives_losing_everything_unsynced`
            // and the power-loss suite (`tests/power_loss.rs`).
            txn.set_durability(Durability::Immediate)
                .map_err(|e| StoreError::Storage(format!("cannot commit durably: {e}")))?;
            // One-phase commit: one fsync per commit. A commit torn by a
            // power cut is recognised at the next open by its page
            // checksums (redb verifies the newest commit and falls back to
            // the one before); two-phase commit would add a second fsync
            // to guard against a deliberately crafted checksum collision,
            // which is not our threat.
            txn.set_two_phase_commit(false);
            let mut dirty = HashMap::new();
            let mut done = Vec::with_capacity(batch.len());
            {
                let mut queues = OpenQueues::new();
                for op in batch.iter() {
                    done.push(self.apply(&txn, &mut queues, op, &mut dirty)?);
                }
            }
            if !dirty.is_empty() {
                let mut meta = txn.open_table(META).map_err(StoreError::from_redb)?;
                for (table, next) in &dirty {
                    meta.insert(table.as_str(), *next).map_err(StoreError::from_storage)?;
                }
            }
            txn.commit().map_err(StoreError::from_redb)?;
            Ok(done)
        });
        match result {
            Ok(done) => {
                Counters::add(&self.counters.commits, 1);
                Counters::add(&self.counters.ops, batch.len() as u64);
                // Progress first, replies after: whoever a reply wakes sees
                // the queue's progress already include its message.
                let mut progress = ProgressUpdates::default();
                for (op, done) in batch.iter().zip(&done) {
                    progress.note(op, done);
                }
                progress.publish();
                for (op, done) in batch.drain(..).zip(done) {
                    finish(op, done);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, ops = batch.len(), "group commit failed");
                if matches!(err, StoreError::StorageFull | StoreError::Io(_)) {
                    self.failed = Some(err.clone());
                }
                self.next_seq.clear();
                for op in batch.drain(..) {
                    fail(op, err.clone());
                }
            }
        }
    }

    fn apply<'txn>(
        &mut self,
        txn: &'txn WriteTransaction,
        queues: &mut OpenQueues<'txn>,
        op: &Op,
        dirty: &mut HashMap<String, u64>,
    ) -> Result<Done, StoreError> {
        let storage = StoreError::from_storage;
        let table_err = StoreError::from_redb;
        match op {
            Op::Push { queue, bytes, .. } => {
                let next = match self.next_seq.get(&queue.table) {
                    Some(next) => *next,
                    None => {
                        let meta = txn.open_table(META).map_err(table_err)?;
                        meta.get(queue.table.as_str()).map_err(storage)?.map_or(1, |v| v.value())
                    }
                };
                open_queue(txn, queues, &queue.table)?.insert(next, bytes.as_slice()).map_err(storage)?;
                self.next_seq.insert(queue.table.clone(), next + 1);
                dirty.insert(queue.table.clone(), next + 1);
                Ok(Done::Pushed(next))
            }
            Op::Ack { queue, seq } => {
                open_queue(txn, queues, &queue.table)?.remove(*seq).map_err(storage)?;
                Ok(Done::Acked)
            }
            Op::DeadLetter { queue, seq, bytes, reason, .. } => {
                open_queue(txn, queues, &queue.table)?.remove(*seq).map_err(storage)?;
                txn.open_table(dead_def(&queue.dead))
                    .map_err(table_err)?
                    .insert(*seq, (bytes.as_slice(), reason.as_str()))
                    .map_err(storage)?;
                Ok(Done::Acked)
            }
            Op::Journal { stream, first, events, dedup, .. } => {
                if let Some((table, key)) = dedup {
                    let mut seen = txn.open_table(dedup_def(table)).map_err(table_err)?;
                    if seen.insert(key.as_slice(), ()).map_err(storage)?.is_some() {
                        return Ok(Done::Recorded(false));
                    }
                }
                let mut journal = txn.open_table(JOURNAL).map_err(table_err)?;
                for (i, event) in events.iter().enumerate() {
                    journal.insert((&**stream, first + i as u64), event.as_slice()).map_err(storage)?;
                }
                Ok(Done::Recorded(true))
            }
            Op::Snapshot { stream, seq, state, .. } => {
                txn.open_table(SNAPSHOTS)
                    .map_err(table_err)?
                    .insert(&**stream, (*seq, state.as_slice()))
                    .map_err(storage)?;
                Ok(Done::Acked)
            }
            Op::Record { table, key, .. } => {
                let mut seen = txn.open_table(dedup_def(table)).map_err(table_err)?;
                let new = seen.insert(key.as_slice(), ()).map_err(storage)?.is_none();
                Ok(Done::Recorded(new))
            }
        }
    }
}

/// Queue table `name`, opened once per commit.
fn open_queue<'q, 'txn>(
    txn: &'txn WriteTransaction,
    queues: &'q mut OpenQueues<'txn>,
    name: &str,
) -> Result<&'q mut Table<'txn, u64, &'static [u8]>, StoreError> {
    use std::collections::hash_map::Entry;
    match queues.entry(name.to_string()) {
        Entry::Occupied(e) => Ok(e.into_mut()),
        Entry::Vacant(e) => Ok(e.insert(txn.open_table(queue_def(name)).map_err(StoreError::from_redb)?)),
    }
}

/// The queues' progress after one commit, published once per queue rather
/// than once per message (each publication wakes the queue's feeder).
#[derive(Default)]
struct ProgressUpdates {
    /// (queue, highest committed, highest acknowledged); few queues per
    /// commit, so a list.
    queues: Vec<(Arc<QueueState>, u64, u64)>,
}

impl ProgressUpdates {
    fn entry(&mut self, queue: &Arc<QueueState>) -> &mut (Arc<QueueState>, u64, u64) {
        let i = match self.queues.iter().position(|(q, ..)| Arc::ptr_eq(q, queue)) {
            Some(i) => i,
            None => {
                self.queues.push((queue.clone(), 0, 0));
                self.queues.len() - 1
            }
        };
        &mut self.queues[i]
    }

    fn committed(&mut self, queue: &Arc<QueueState>, seq: u64) {
        let e = self.entry(queue);
        e.1 = e.1.max(seq);
    }

    fn acked(&mut self, queue: &Arc<QueueState>, seq: u64) {
        let e = self.entry(queue);
        e.2 = e.2.max(seq);
    }

    /// Notes what a committed op changes in its queue's progress.
    fn note(&mut self, op: &Op, done: &Done) {
        match (op, done) {
            (Op::Push { queue, .. }, Done::Pushed(seq)) => self.committed(queue, *seq),
            (Op::Ack { queue, seq } | Op::DeadLetter { queue, seq, .. }, _) => self.acked(queue, *seq),
            _ => {}
        }
    }

    fn publish(self) {
        for (queue, committed, acked) in self.queues {
            queue.progress.send_modify(|p| {
                p.committed = p.committed.max(committed);
                p.acked = p.acked.max(acked);
            });
        }
    }
}

/// Answers an op whose commit is durable (its progress already published).
fn finish(op: Op, done: Done) {
    match (op, done) {
        (Op::Push { reply, .. }, Done::Pushed(seq)) => {
            let _ = reply.send(Ok(seq));
        }
        (Op::Ack { .. }, _) => {}
        (Op::DeadLetter { reply, .. } | Op::Snapshot { reply, .. }, _) => {
            let _ = reply.send(Ok(()));
        }
        (Op::Journal { reply, .. } | Op::Record { reply, .. }, Done::Recorded(new)) => {
            let _ = reply.send(Ok(new));
        }
        (op, _) => fail(op, StoreError::Storage("internal: op and outcome disagree".into())),
    }
}

/// Answers an op whose commit failed.
fn fail(op: Op, err: StoreError) {
    match op {
        Op::Push { reply, .. } => drop(reply.send(Err(err))),
        Op::Ack { queue, seq } => {
            tracing::warn!(queue = %queue.name, seq, error = %err, "acknowledgement not committed; the message will be delivered again");
        }
        Op::DeadLetter { reply, .. } | Op::Snapshot { reply, .. } => drop(reply.send(Err(err))),
        Op::Journal { reply, .. } | Op::Record { reply, .. } => drop(reply.send(Err(err))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{Store, lock};
    use crate::testkit::SimulatedDisk;
    use crate::{Queue, Receipt};

    /// Every directory synced by `sync_parent_dir`, in this test process.
    static DIR_SYNCS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(crate) fn record_dir_sync(dir: &Path) {
        lock(&DIR_SYNCS).push(dir.to_path_buf());
    }

    fn dir_syncs_of(dir: &Path) -> usize {
        lock(&DIR_SYNCS).iter().filter(|d| d.as_path() == dir).count()
    }

    #[test]
    fn creating_a_store_file_syncs_its_directory_and_opening_an_existing_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.redb");
        assert_eq!(dir_syncs_of(dir.path()), 0);
        drop(Store::open(&path).unwrap());
        assert_eq!(dir_syncs_of(dir.path()), 1, "the new file's directory entry was not synced");
        drop(Store::open(&path).unwrap());
        assert_eq!(dir_syncs_of(dir.path()), 1, "an existing file needs no directory sync");
    }

    #[test]
    fn a_new_store_appears_complete_under_its_name_and_a_stale_temporary_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.redb");
        // What a creation cut short by a crash leaves: a temporary file of
        // zeros, never linked to the store's name.
        let temp = dir.path().join(".fresh.redb.creating");
        std::fs::write(&temp, vec![0; 8192]).unwrap();
        let store = Store::open(&path).unwrap();
        assert!(!temp.exists(), "the temporary file was left behind");
        assert!(store.queue::<u8>("q").unwrap().is_empty().unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["fresh.redb"]);
    }

    #[test]
    fn a_crash_during_creation_leaves_no_store_or_a_complete_one() {
        // On the simulated disk, the crash comes at each step of a first
        // open in turn: the next open must always succeed.
        for crash_at in 1..40 {
            let disk = SimulatedDisk::new(crash_at);
            disk.crash_after(crash_at);
            let first = Store::builder().open_simulated(&disk);
            drop(first);
            let disk = disk.restart();
            let store = Store::builder().open_simulated(&disk);
            assert!(store.is_ok(), "crash at step {crash_at} of the creation: {:?}", store.err());
        }
    }

    #[tokio::test]
    async fn an_acknowledged_write_survives_losing_everything_unsynced() {
        // If commits were not synced (a weakened durability mode), the
        // acknowledged messages would be among the unsynced writes lost here.
        let mut disk = SimulatedDisk::new(11);
        let mut acknowledged = Vec::new();
        for round in 0..5u64 {
            let store = Store::builder().open_simulated(&disk).unwrap();
            let queue = store.queue::<u64>("q").unwrap();
            assert_eq!(queue.pending_seqs().unwrap(), acknowledged, "round {round}: acknowledged messages lost");
            acknowledged.push(queue.push(round).await.unwrap());
            let receipt = queue.send(round + 100).await.unwrap();
            acknowledged.push(receipt.await.unwrap());
            disk.crash_losing_unsynced();
            drop((queue, store));
            disk = disk.restart();
        }
    }

    #[tokio::test]
    async fn a_receipt_resolves_only_after_the_sync() {
        let disk = SimulatedDisk::new(5);
        let store = Store::builder().open_simulated(&disk).unwrap();
        let queue = store.queue::<u8>("q").unwrap();
        let syncs = store.stats().syncs;
        disk.pause_syncs();
        let mut receipt = queue.send(1).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(100), &mut receipt).await;
        assert!(waited.is_err(), "acknowledged before its commit was synced");
        disk.resume_syncs();
        assert_eq!(receipt.await.unwrap(), 1);
        assert!(store.stats().syncs > syncs);
    }

    /// Opens the syncs after 10 s if the test has not, and says so.
    fn watchdog(disk: &SimulatedDisk) -> Arc<AtomicBool> {
        let fired = Arc::new(AtomicBool::new(false));
        let (disk, flag) = (disk.clone(), fired.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            flag.store(true, Ordering::SeqCst);
            disk.resume_syncs();
        });
        fired
    }

    /// A store on a simulated disk of `seed` whose syncs are paused, with
    /// one message sent (its commit will stop in the sync) and the
    /// [`watchdog`]'s flag.
    async fn a_commit_held_in_its_sync(seed: u64) -> (SimulatedDisk, Store, Queue<u8>, Receipt<u8>, Arc<AtomicBool>) {
        let disk = SimulatedDisk::new(seed);
        let store = Store::builder().open_simulated(&disk).unwrap();
        let queue = store.queue::<u8>("q").unwrap();
        disk.pause_syncs();
        let fired = watchdog(&disk);
        let receipt = queue.send(7).await.unwrap();
        (disk, store, queue, receipt, fired)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dropping_the_last_handle_in_a_task_does_not_wait_for_a_commit_in_progress() {
        let (disk, store, queue, receipt, fired) = a_commit_held_in_its_sync(9).await;
        // Let the committer take the write and stop in its sync.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop((queue, store)); // would join the stuck committer if it blocked
        assert!(!fired.load(Ordering::SeqCst), "dropping the store blocked the task until the watchdog freed it");
        // The committer still finishes what it was given.
        disk.resume_syncs();
        assert_eq!(receipt.await.unwrap(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn close_waits_for_the_committer_without_blocking_the_thread() {
        let (disk, store, queue, receipt, fired) = a_commit_held_in_its_sync(10).await;
        drop(queue);
        let mut close = Box::pin(store.close());
        // On this one thread, the timer can only fire if `close` yields.
        let early = tokio::time::timeout(Duration::from_millis(100), &mut close).await;
        assert!(early.is_err(), "closed while a commit was still in progress");
        disk.resume_syncs();
        close.await;
        assert!(!fired.load(Ordering::SeqCst), "the watchdog had to free the committer");
        assert_eq!(receipt.await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_file_dropped_in_a_task_can_be_reopened_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("again.redb");
        for i in 0..20u64 {
            let store = Store::open(&path).unwrap();
            let queue = store.queue::<u64>("q").unwrap();
            assert_eq!(queue.push(i).await.unwrap(), i + 1);
            drop((queue, store)); // closes in the background; the open waits for it
        }
    }
}
