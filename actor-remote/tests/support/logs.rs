//! What the nodes of a test binary (or of one test) log at WARN and
//! above, kept in memory so that a test can check what a node said, or
//! that it said nothing.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

/// Log lines at WARN and above, as they were written.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

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

impl Captured {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish()
    }

    /// Captures what this thread logs while the guard lives (the tests
    /// that use it run on tokio's current-thread runtime).
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// Everything captured so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

static CAPTURED: OnceLock<Captured> = OnceLock::new();

/// Starts capturing what every thread logs (once per test binary; later
/// calls do nothing).
pub(crate) fn capture() {
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let _ = tracing::subscriber::set_global_default(captured.subscriber());
        captured
    });
}

/// The lines logged so far that contain every one of `words`.
pub(crate) fn lines_with(words: &[&str]) -> Vec<String> {
    let Some(captured) = CAPTURED.get() else { return Vec::new() };
    captured.text().lines().filter(|line| words.iter().all(|w| line.contains(w))).map(str::to_owned).collect()
}
