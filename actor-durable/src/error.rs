//! Every public error type of the crate.
//!
//! Errors are written by hand, as in actor-core: [`StoreError`] is cheap to
//! clone (one failed group commit fails every message of the batch with the
//! same error), and the errors that concern one message hand it back.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the store could not do what was asked.
///
/// # Examples
///
/// ```
/// use actor_durable::{Store, StoreError};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("not-a-store");
/// assert!(matches!(Store::open(dir.path()), Err(StoreError::Io(_)))); // a directory
/// std::fs::write(&path, b"this is a text file, not a store").unwrap();
///
/// let err = Store::open(&path).unwrap_err();
/// assert!(err.is_corrupt());
/// assert!(err.to_string().starts_with("store file is corrupt or not a store"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is not a store, is truncated, or fails its checksums. Found
    /// at open: a store is checked before it is used.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the storage engine found.
        detail: String,
    },
    /// Another process, or another [`Store`](crate::Store) in this one, has
    /// the file open.
    AlreadyOpen {
        /// The file.
        path: PathBuf,
    },
    /// The disk, or the store's size limit
    /// ([`StoreBuilder::max_size`](crate::StoreBuilder::max_size)), is full.
    /// Nothing of the failed commit was stored. As after any I/O error
    /// during a commit, the store then refuses further writes with the same
    /// error until it is reopened; what was committed before is intact.
    StorageFull,
    /// Any other I/O error. A commit that fails with one leaves the store
    /// refusing writes, as for [`StorageFull`](StoreError::StorageFull).
    Io(Arc<io::Error>),
    /// A value could not be serialized, or a stored value could not be read
    /// back as the expected type.
    Codec(String),
    /// The queue or journal already has a consumer in this process; one at
    /// a time keeps deliveries in order and acknowledgements exact.
    InUse(String),
    /// The store has been closed, or its committer stopped after an earlier
    /// error.
    Closed,
    /// Any other error of the storage engine.
    Storage(String),
}

impl StoreError {
    /// Whether the file was corrupt, truncated, or not a store.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("notes.txt");
    /// std::fs::write(&path, "not a store, just some text").unwrap();
    /// let err = Store::open(&path).unwrap_err();
    /// assert!(err.is_corrupt());
    /// assert!(!err.is_storage_full());
    /// ```
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. })
    }

    /// Whether the disk (or the store's size limit) was full.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::builder().max_size(1 << 20).open(dir.path().join("s.redb")).unwrap();
    /// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    /// let err = queue.push(vec![1; 2 << 20]).await.unwrap_err();
    /// assert!(err.error().is_storage_full());
    /// assert!(!err.error().is_corrupt());
    /// # }
    /// ```
    pub fn is_storage_full(&self) -> bool {
        matches!(self, StoreError::StorageFull)
    }

    pub(crate) fn from_io(err: io::Error) -> StoreError {
        // ENOSPC and EDQUOT, for platforms where the kind is not mapped.
        let full = err.kind() == io::ErrorKind::StorageFull
            || err.kind() == io::ErrorKind::QuotaExceeded
            || matches!(err.raw_os_error(), Some(28 | 122));
        if full { StoreError::StorageFull } else { StoreError::Io(Arc::new(err)) }
    }

    pub(crate) fn from_storage(err: redb::StorageError) -> StoreError {
        match err {
            redb::StorageError::Io(e) => StoreError::from_io(e),
            redb::StorageError::DatabaseClosed => StoreError::Closed,
            other => StoreError::Storage(other.to_string()),
        }
    }

    /// Maps an error of redb's umbrella type.
    pub(crate) fn from_redb(err: impl Into<redb::Error>) -> StoreError {
        match err.into() {
            redb::Error::Io(e) => StoreError::from_io(e),
            redb::Error::DatabaseClosed => StoreError::Closed,
            other => StoreError::Storage(other.to_string()),
        }
    }

    pub(crate) fn codec(what: &str, err: impl fmt::Display) -> StoreError {
        StoreError::Codec(format!("{what}: {err}"))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Corrupt { path, detail } => {
                write!(f, "store file is corrupt or not a store: {}: {detail}", path.display())
            }
            StoreError::AlreadyOpen { path } => write!(f, "store file is already open: {}", path.display()),
            StoreError::StorageFull => f.write_str("storage is full; nothing was committed"),
            StoreError::Io(e) => write!(f, "store i/o error: {e}"),
            StoreError::Codec(e) => write!(f, "serialization error: {e}"),
            StoreError::InUse(name) => write!(f, "{name} already has a consumer"),
            StoreError::Closed => f.write_str("store is closed"),
            StoreError::Storage(e) => write!(f, "storage engine error: {e}"),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StoreError::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

/// A durable `tell` that was not committed: the message is handed back with
/// the reason.
///
/// # Examples
///
/// ```
/// use actor_durable::Store;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// // A store that may not grow past 1 MiB.
/// let store = Store::builder().max_size(1 << 20).open(dir.path().join("small.redb")).unwrap();
/// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
///
/// let mut full = None;
/// for _ in 0..64 {
///     if let Err(err) = queue.push(vec![7; 64 * 1024]).await {
///         full = Some(err);
///         break;
///     }
/// }
/// let err = full.expect("the store never filled up");
/// assert!(err.error().is_storage_full());
/// assert_eq!(err.into_inner().len(), 64 * 1024); // the message comes back
/// # }
/// ```
pub struct TellError<M> {
    message: M,
    error: StoreError,
}

impl<M> TellError<M> {
    pub(crate) fn new(message: M, error: StoreError) -> Self {
        TellError { message, error }
    }

    /// Why the message was not committed.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::{Store, StoreError, TellError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// // A store capped at 1 MiB refuses a 2 MiB message.
    /// let store = Store::builder().max_size(1 << 20).open(dir.path().join("s.redb")).unwrap();
    /// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    /// let err: TellError<Vec<u8>> = queue.push(vec![1; 2 << 20]).await.unwrap_err();
    /// assert!(matches!(err.error(), StoreError::StorageFull));
    /// # }
    /// ```
    pub fn error(&self) -> &StoreError {
        &self.error
    }

    /// The message that was not committed.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::{Store, TellError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// // A store capped at 1 MiB refuses a 2 MiB message.
    /// let store = Store::builder().max_size(1 << 20).open(dir.path().join("s.redb")).unwrap();
    /// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    /// let err: TellError<Vec<u8>> = queue.push(vec![1; 2 << 20]).await.unwrap_err();
    /// let message = err.into_inner();
    /// assert_eq!(message, vec![1; 2 << 20]); // handed back whole
    /// # }
    /// ```
    pub fn into_inner(self) -> M {
        self.message
    }

    /// The message and the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::{Store, TellError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// // A store capped at 1 MiB refuses a 2 MiB message.
    /// let store = Store::builder().max_size(1 << 20).open(dir.path().join("s.redb")).unwrap();
    /// let queue = store.queue::<Vec<u8>>("blobs").unwrap();
    /// let err: TellError<Vec<u8>> = queue.push(vec![1; 2 << 20]).await.unwrap_err();
    /// let (message, error) = err.into_parts();
    /// assert_eq!(message.len(), 2 << 20);
    /// assert!(error.is_storage_full());
    /// # }
    /// ```
    pub fn into_parts(self) -> (M, StoreError) {
        (self.message, self.error)
    }
}

// Hand-written so that `TellError<M>: Debug` without `M: Debug`.
impl<M> fmt::Debug for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TellError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<M> fmt::Display for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "durable tell failed: {}", self.error)
    }
}

impl<M> StdError for TellError<M> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// Why an event-sourced command was not applied.
///
/// # Examples
///
/// ```
/// use actor_durable::{CommandError, StoreError};
///
/// let err: CommandError<&str> = CommandError::Rejected("insufficient funds");
/// assert_eq!(err.to_string(), "command rejected: insufficient funds");
/// let err: CommandError<&str> = CommandError::Store(StoreError::StorageFull);
/// assert!(err.to_string().contains("storage is full"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CommandError<E> {
    /// The command was refused by
    /// [`EventSourced::handle`](crate::EventSourced::handle); nothing was
    /// journaled.
    Rejected(E),
    /// A command with this idempotency key was applied before; nothing was
    /// journaled this time.
    Duplicate,
    /// The events could not be journaled; the state is unchanged.
    Store(StoreError),
    /// The actor could not be reached (it stopped, or panicked handling the
    /// command).
    Actor(actor_core::Error),
}

impl<E: fmt::Display> fmt::Display for CommandError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Rejected(e) => write!(f, "command rejected: {e}"),
            CommandError::Duplicate => f.write_str("command already applied (duplicate idempotency key)"),
            CommandError::Store(e) => write!(f, "journal write failed: {e}"),
            CommandError::Actor(e) => write!(f, "event-sourced actor unreachable: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> StdError for CommandError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            CommandError::Store(e) => Some(e),
            CommandError::Actor(e) => Some(e),
            _ => None,
        }
    }
}
