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
use std::fs::OpenOptions;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
    WriteTransaction,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::backend::CappedFile;
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
/// Cheap to clone; the file is closed when the last clone (and every queue,
/// journal and consumer using it) is dropped. Every write goes through one
/// committer thread, which gathers the writes that arrive while it commits
/// into the next transaction: concurrent senders share one `fsync`.
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
    db: Arc<Database>,
    path: PathBuf,
    ops: Option<mpsc::Sender<Op>>,
    committer: Option<JoinHandle<()>>,
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
        self.inner.db.begin_read().map_err(StoreError::from_redb)
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
        let first = match txn.open_table(queue_def(&table)) {
            Ok(t) => t.first().map_err(StoreError::from_storage)?.map(|(k, _)| k.value()),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(StoreError::from_redb(e)),
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
        let table = match txn.open_table(queue_def(&queue.table)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::from_redb(e)),
        };
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
        let table = match txn.open_table(queue_def(&queue.table)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::from_redb(e)),
        };
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::from_storage)? {
            out.push(row.map_err(StoreError::from_storage)?.0.value());
        }
        Ok(out)
    }

    /// How many messages of `queue` are pending.
    pub(crate) fn count_pending(&self, queue: &QueueState) -> Result<u64, StoreError> {
        let txn = self.read()?;
        match txn.open_table(queue_def(&queue.table)) {
            Ok(t) => t.len().map_err(StoreError::from_storage),
            Err(TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(StoreError::from_redb(e)),
        }
    }

    pub(crate) fn read_dead(&self, queue: &QueueState) -> Result<Vec<(u64, Vec<u8>, String)>, StoreError> {
        let txn = self.read()?;
        let table = match txn.open_table(dead_def(&queue.dead)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::from_redb(e)),
        };
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
        let snapshot = match txn.open_table(SNAPSHOTS) {
            Ok(t) => t.get(stream).map_err(StoreError::from_storage)?.map(|v| {
                let (seq, bytes) = v.value();
                (seq, bytes.to_vec())
            }),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(StoreError::from_redb(e)),
        };
        // A snapshot is taken at the journal's last event, so the events
        // after it are all that is left to replay.
        let after = snapshot.as_ref().map_or(0, |(seq, _)| *seq);
        let mut events = Vec::new();
        let mut last = after;
        match txn.open_table(JOURNAL) {
            Ok(t) => {
                for row in t.range((stream, after + 1)..=(stream, u64::MAX)).map_err(StoreError::from_storage)? {
                    let (k, v) = row.map_err(StoreError::from_storage)?;
                    last = k.value().1;
                    events.push((last, v.value().to_vec()));
                }
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(StoreError::from_redb(e)),
        }
        Ok(JournalRead { snapshot, events, last })
    }

    pub(crate) fn dedup_contains(&self, table: &str, key: &[u8]) -> Result<bool, StoreError> {
        let txn = self.read()?;
        match txn.open_table(dedup_def(table)) {
            Ok(t) => Ok(t.get(key).map_err(StoreError::from_storage)?.is_some()),
            Err(TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(StoreError::from_redb(e)),
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the committer after its current batch;
        // joining it releases the file before the drop returns, so the same
        // path can be opened again at once.
        self.ops.take();
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
    }
}

impl StoreBuilder {
    /// Caps the size of the store file at `bytes`: a write that would grow
    /// it further fails with [`StoreError::StorageFull`], exactly as a full
    /// disk does. Unlimited by default.
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
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::from_io)?;
        let backend = CappedFile::new(file, self.max_size).map_err(|e| open_error(e, &path))?;
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
        let (tx, rx) = mpsc::channel(self.max_batch.max(64) * 4);
        let committer = Committer { db: db.clone(), next_seq: HashMap::new(), max_batch: self.max_batch, failed: None };
        let thread = std::thread::Builder::new()
            .name("actor-durable-committer".into())
            .spawn(move || committer.run(rx))
            .map_err(StoreError::from_io)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path,
                ops: Some(tx),
                committer: Some(thread),
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

fn read_meta(txn: &ReadTransaction, key: &str) -> Result<u64, StoreError> {
    match txn.open_table(META) {
        Ok(t) => Ok(t.get(key).map_err(StoreError::from_storage)?.map_or(1, |v| v.value())),
        Err(TableError::TableDoesNotExist(_)) => Ok(1),
        Err(e) => Err(StoreError::from_redb(e)),
    }
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
        let result = self.db.begin_write().map_err(StoreError::from_redb).and_then(|txn| {
            let mut dirty = HashMap::new();
            let mut done = Vec::with_capacity(batch.len());
            for op in batch.iter() {
                done.push(self.apply(&txn, op, &mut dirty)?);
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

    fn apply(&mut self, txn: &WriteTransaction, op: &Op, dirty: &mut HashMap<String, u64>) -> Result<Done, StoreError> {
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
                txn.open_table(queue_def(&queue.table))
                    .map_err(table_err)?
                    .insert(next, bytes.as_slice())
                    .map_err(storage)?;
                self.next_seq.insert(queue.table.clone(), next + 1);
                dirty.insert(queue.table.clone(), next + 1);
                Ok(Done::Pushed(next))
            }
            Op::Ack { queue, seq } => {
                txn.open_table(queue_def(&queue.table)).map_err(table_err)?.remove(*seq).map_err(storage)?;
                Ok(Done::Acked)
            }
            Op::DeadLetter { queue, seq, bytes, reason, .. } => {
                txn.open_table(queue_def(&queue.table)).map_err(table_err)?.remove(*seq).map_err(storage)?;
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

/// Answers an op whose commit is durable.
fn finish(op: Op, done: Done) {
    match (op, done) {
        (Op::Push { queue, reply, .. }, Done::Pushed(seq)) => {
            queue.progress.send_modify(|p| p.committed = p.committed.max(seq));
            let _ = reply.send(Ok(seq));
        }
        (Op::Ack { queue, seq }, _) => queue.progress.send_modify(|p| p.acked = p.acked.max(seq)),
        (Op::DeadLetter { queue, seq, reply, .. }, _) => {
            queue.progress.send_modify(|p| p.acked = p.acked.max(seq));
            let _ = reply.send(Ok(()));
        }
        (Op::Journal { reply, .. } | Op::Record { reply, .. }, Done::Recorded(new)) => {
            let _ = reply.send(Ok(new));
        }
        (Op::Snapshot { reply, .. }, _) => {
            let _ = reply.send(Ok(()));
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
