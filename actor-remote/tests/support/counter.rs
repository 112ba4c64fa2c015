//! A counter for tests that need a remote actor: it adds (`Counter::Add`
//! on the wire) and naps (`Counter::Nap`); resetting and reading its total
//! are local only (`Counter::Reset`, `Counter::Total` are refused to other
//! nodes).

use std::time::Duration;

use actor_core::prelude::*;

#[derive(Default)]
pub(crate) struct Counter {
    total: u64,
}

#[actor]
impl Counter {
    #[message(remote)]
    pub(crate) fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[message(remote)]
    pub(crate) async fn nap(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    /// Local only: no other node may make this run.
    #[message]
    pub(crate) fn reset(&mut self) {
        self.total = 0;
    }

    #[message]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}
