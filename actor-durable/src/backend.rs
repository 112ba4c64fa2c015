//! The file under the store: redb's own file backend, with an optional cap
//! on how large the file may grow.

use std::fs::File;
use std::io;
use std::ops::Bound;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// redb's file backend, refusing to grow the file past `max_size` with the
/// same error a full disk gives (`StorageFull`).
#[derive(Debug)]
pub(crate) struct CappedFile {
    inner: FileBackend,
    max_size: Option<u64>,
}

impl CappedFile {
    pub(crate) fn new(file: File, max_size: Option<u64>) -> Result<Self, redb::DatabaseError> {
        Ok(CappedFile { inner: FileBackend::new(file)?, max_size })
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
        self.inner.sync_data()
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
