//! What the nodes of a test binary (or of one test) log at WARN and
//! above, kept in memory so that a test can check what a node said, or
//! that it said nothing.

use std::sync::OnceLock;

/// Log lines at WARN and above, as they were written.
pub(crate) use test_support::Captured;

fn subscriber(captured: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish()
}

/// Captures what this thread logs while the guard lives (the tests that
/// use it run on tokio's current-thread runtime).
pub(crate) fn install(captured: &Captured) -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(subscriber(captured))
}

static CAPTURED: OnceLock<Captured> = OnceLock::new();

/// Starts capturing what every thread logs (once per test binary; later
/// calls do nothing).
pub(crate) fn capture() {
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let _ = tracing::subscriber::set_global_default(subscriber(&captured));
        captured
    });
}

/// The lines logged so far that contain every one of `words`.
pub(crate) fn lines_with(words: &[&str]) -> Vec<String> {
    let Some(captured) = CAPTURED.get() else { return Vec::new() };
    captured.text().lines().filter(|line| words.iter().all(|w| line.contains(w))).map(str::to_owned).collect()
}
