//! What the nodes of a test binary log at WARN and above, kept in memory
//! so that a test can check that a node said why it closed a connection.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

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

static CAPTURED: OnceLock<Captured> = OnceLock::new();

/// Starts capturing (once per test binary; later calls do nothing).
pub(crate) fn capture() {
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        captured
    });
}

/// The lines logged so far that contain every one of `words`.
pub(crate) fn lines_with(words: &[&str]) -> Vec<String> {
    let Some(captured) = CAPTURED.get() else { return Vec::new() };
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    text.lines().filter(|line| words.iter().all(|w| line.contains(w))).map(str::to_owned).collect()
}
