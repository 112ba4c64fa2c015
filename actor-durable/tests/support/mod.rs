//! What actor-durable's tests share: a store file in a folder of its own,
//! and the system the tests spawn into.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use actor_core::prelude::*;
use actor_durable::Store;

/// A fresh temporary folder with a place for one store file, and a fresh
/// system. The folder (and the file) go when this is dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
    /// The store's file, not created until [`Scratch::open`].
    pub path: PathBuf,
    pub system: ActorSystem,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        Scratch { dir, path, system: ActorSystem::new() }
    }

    /// Opens the store file; opening it again after the last `Store` is
    /// dropped stands for a restart of the process.
    pub fn open(&self) -> Store {
        Store::open(&self.path).unwrap()
    }

    /// Another file in the same folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Ends the test: stops every actor of the system.
    pub async fn shutdown(self) {
        self.system.shutdown().await;
    }
}
