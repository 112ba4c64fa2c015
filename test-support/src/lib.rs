//! What the workspace's tests share across crates: a worker actor for the
//! stats and observer tests, and an in-memory log writer. Each crate's own
//! helpers stay in its `tests/support` module.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::prelude::*;
use tracing_subscriber::fmt::MakeWriter;

/// Counts the work it does; crashes, fails or sleeps on request.
#[derive(Debug, Default)]
pub struct Worker {
    handled: u32,
}

#[actor(vis = pub)]
impl Worker {
    /// Counts one more piece of work; replies with the count.
    #[message]
    fn work(&mut self) -> u32 {
        self.handled += 1;
        self.handled
    }

    /// Panics.
    #[message]
    fn crash(&mut self) {
        panic!("crash on purpose");
    }

    /// Panics with `why` as the message.
    #[message(derive(Debug))]
    fn fail(&mut self, why: String) {
        panic!("{why}");
    }

    /// Sleeps `millis` in the handler, holding up the mailbox.
    #[message]
    async fn hold(&mut self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

/// What a tracing subscriber writes, kept in memory; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}
