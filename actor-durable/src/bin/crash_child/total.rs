//! The child's event-sourced running total; `tests/crash.rs` includes this
//! file too, so that it reads the journal with the very same type.

use actor_durable::EventSourced;
use serde::{Deserialize, Serialize};

/// A running total, event-sourced.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Total(pub(crate) u64);

impl EventSourced for Total {
    type Command = u64;
    type Event = u64;
    type Error = std::convert::Infallible;

    fn handle(&self, n: u64) -> Result<Vec<u64>, Self::Error> {
        Ok(vec![n])
    }

    fn apply(&mut self, n: &u64) {
        self.0 += n;
    }
}
