//! A persisted set of idempotency keys.

use std::fmt;

use crate::error::StoreError;
use crate::store::{Op, Store};

/// A persisted set of idempotency keys, for handlers whose effects leave
/// the store (an e-mail sent, a call to another service).
///
/// A durable mailbox delivers at least once, so a handler may see a message
/// again after a crash. A handler that checks the message's key with
/// [`contains`](Dedup::contains) before its effect and
/// [`insert`](Dedup::insert)s it after skips every repeat whose key made it
/// to disk; what remains is the window between the effect and the insert,
/// which only an idempotent effect (or one journaled in the same
/// transaction as the key, see
/// [`EventSourcedRef::execute_once`](crate::EventSourcedRef::execute_once))
/// closes.
///
/// # Examples
///
/// ```
/// use actor_durable::Store;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("d.redb")).unwrap();
/// let sent = store.dedup("emails-sent").unwrap();
///
/// assert!(!sent.contains(b"order-7").unwrap());
/// assert!(sent.insert(b"order-7".to_vec()).await.unwrap()); // new
/// assert!(!sent.insert(b"order-7".to_vec()).await.unwrap()); // seen before
/// assert!(sent.contains(b"order-7").unwrap());
/// # }
/// ```
#[derive(Clone)]
pub struct Dedup {
    store: Store,
    table: String,
}

impl Store {
    /// The deduplication set named `name`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Codec`] for an empty name.
    ///
    /// # Examples
    ///
    /// Sets of different names are independent; see [`Dedup`] for more.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = actor_durable::Store::open(dir.path().join("d.redb")).unwrap();
    /// let emails = store.dedup("emails").unwrap();
    /// let refunds = store.dedup("refunds").unwrap();
    /// emails.insert(b"order-1".to_vec()).await.unwrap();
    /// assert!(emails.contains(b"order-1").unwrap());
    /// assert!(!refunds.contains(b"order-1").unwrap());
    /// assert!(store.dedup("").is_err());
    /// # }
    /// ```
    pub fn dedup(&self, name: &str) -> Result<Dedup, StoreError> {
        if name.is_empty() {
            return Err(StoreError::Codec("a dedup set name must not be empty".into()));
        }
        Ok(Dedup { store: self.clone(), table: format!("dedup/{name}") })
    }
}

impl Dedup {
    /// Records `key` (committed in the next group commit, and synced) and
    /// returns whether it was new.
    ///
    /// # Errors
    ///
    /// [`StoreError::StorageFull`], [`StoreError::Io`] or
    /// [`StoreError::Closed`]; the key is not recorded then.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the key may be recorded after the future is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = actor_durable::Store::open(dir.path().join("d.redb")).unwrap();
    /// let seen = store.dedup("requests").unwrap();
    /// assert!(seen.insert(b"req-1".to_vec()).await.unwrap()); // new
    /// assert!(seen.insert(b"req-2".to_vec()).await.unwrap()); // new
    /// assert!(!seen.insert(b"req-1".to_vec()).await.unwrap()); // seen before
    /// # }
    /// ```
    pub async fn insert(&self, key: Vec<u8>) -> Result<bool, StoreError> {
        let table = self.table.clone();
        self.store.submit(|reply| Op::Record { table, key, reply }).await
    }

    /// Whether `key` has been recorded (a short read of the file).
    ///
    /// # Errors
    ///
    /// An I/O error reading the file.
    ///
    /// # Examples
    ///
    /// Keys stay recorded when the store is closed and opened again:
    ///
    /// ```
    /// use actor_durable::Store;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("d.redb");
    /// let store = Store::open(&path).unwrap();
    /// store.dedup("sent").unwrap().insert(b"invoice-9".to_vec()).await.unwrap();
    /// store.close().await;
    ///
    /// let sent = Store::open(&path).unwrap().dedup("sent").unwrap();
    /// assert!(sent.contains(b"invoice-9").unwrap());
    /// assert!(!sent.contains(b"invoice-10").unwrap());
    /// # }
    /// ```
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        self.store.dedup_contains(&self.table, key.as_ref())
    }
}

impl fmt::Debug for Dedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dedup").field("table", &self.table).finish()
    }
}
