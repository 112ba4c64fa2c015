//! A recorder of numbered messages, for tests of order and loss: on the
//! wire it records (`Recorder::Record`, `Recorder::RecordBulk` with a
//! payload), reports (`Recorder::Report`, `Recorder::LastSeen`), echoes
//! and naps.

use std::collections::HashMap;
use std::time::Duration;

use actor_core::prelude::*;

/// Records, per sender, the sequence numbers it receives: any number not
/// above the sender's last one is a reordering or a duplicate.
#[derive(Default)]
pub(crate) struct Recorder {
    last: HashMap<u32, u64>,
    received: u64,
    violations: u64,
}

#[actor]
impl Recorder {
    #[message(remote)]
    pub(crate) fn record(&mut self, sender: u32, seq: u64) {
        if let Some(&last) = self.last.get(&sender)
            && seq <= last
        {
            self.violations += 1;
        }
        self.last.insert(sender, seq);
        self.received += 1;
    }

    #[message(remote)]
    pub(crate) fn report(&self) -> (u64, u64) {
        (self.received, self.violations)
    }

    /// As `record`, with a payload to fill socket buffers.
    #[message(remote)]
    pub(crate) fn record_bulk(&mut self, sender: u32, seq: u64, bulk: Vec<u8>) {
        assert!(!bulk.is_empty());
        self.record(sender, seq);
    }

    /// The last sequence number seen from `sender`.
    #[message(remote)]
    pub(crate) fn last_seen(&self, sender: u32) -> u64 {
        self.last.get(&sender).copied().unwrap_or(0)
    }

    #[message(remote)]
    pub(crate) fn echo(&mut self, n: u64) -> u64 {
        n
    }

    #[message(remote)]
    pub(crate) async fn nap(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
}
