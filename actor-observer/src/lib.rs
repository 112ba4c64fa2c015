//! A live view of a running actor system, in a browser or a terminal.
//!
//! [`Observer::serve`] starts a small HTTP server on the address you give
//! (bind it to loopback: the page has no authentication) with two routes:
//!
//! - `GET /`: one self-contained HTML page (inline CSS and JS, nothing
//!   fetched from elsewhere) that polls `/stats.json` twice a second and
//!   shows the actor tree with each actor's mailbox depth, messages per
//!   second and their recent history, messages handled, restarts, state
//!   and last panic; for each actor that has failed, why: the panic's
//!   message, the message it was handling and its flight record, and the
//!   times of its last restarts; and the dead letters, grouped by reason,
//!   target and message type with a count;
//! - `GET /stats.json`: the same data as JSON, a [`Snapshot`].
//!
//! With the `tui` feature (on by default), [`ObserverHandle::run_terminal`]
//! shows the same view full-screen in the terminal, for a machine without
//! a browser, and [`tui::Dashboard`] is that view as a ratatui widget.
//!
//! It reads [`ActorSystem::stats`], so the whole tree, and each actor's
//! last panic and restart times, show only for a system built with
//! [`SystemBuilder::observe`](actor_core::SystemBuilder::observe)
//! (without it, only the root actors are listed). The counters behind it
//! cost the actors a relaxed store per message and no lock; the failures
//! are written only when a panic or a restart happens; the observer reads
//! them when asked. Message rates are the change in messages handled
//! between two samples, taken every 500 ms by default
//! ([`Observer::sample_every`]), and the last 60 of them are kept
//! ([`Observer::rate_history`]). Dead letters are collected by a task
//! subscribed to [`ActorSystem::dead_letters`]: the last 100 in a bounded
//! ring ([`Observer::recent_dead_letters`]), and every one counted in its
//! group (at most 200 groups; the one seen least recently gives way).
//!
//! # Examples
//!
//! ```
//! use actor_core::prelude::*;
//! use actor_observer::Observer;
//!
//! # struct Echo;
//! # impl Actor for Echo { type Error = std::convert::Infallible; }
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let system = ActorSystem::builder().observe(true).build();
//! let _echo = system.spawn_with(Echo, SpawnOptions::new().name("echo"));
//!
//! let observer = Observer::serve(&system, "127.0.0.1:0").await?;
//! println!("observer at {}", observer.url());
//!
//! // The same data the page shows, without HTTP:
//! let snapshot = observer.snapshot();
//! assert_eq!(snapshot.actors[0].name.as_deref(), Some("echo"));
//!
//! observer.stop().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::ActorSystem;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

mod http;
mod snapshot;
#[cfg(feature = "tui")]
pub mod tui;

pub use crate::snapshot::{ActorView, DeadLetterGroup, DeadLetterView, PanicView, RecordedView, Snapshot};
use crate::snapshot::{Shared, processed_by_id};

/// How many recent dead letters are kept, by default.
pub const DEFAULT_RECENT_DEAD_LETTERS: usize = 100;

/// How often the message rates are sampled, by default.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// How many windows of rates are kept, by default: 30 s at the default
/// sample interval.
pub const DEFAULT_RATE_HISTORY: usize = 60;

/// Configures and starts an observer; see the [crate docs](crate).
///
/// # Examples
///
/// Keep only the last two dead letters in full (all are still counted and
/// grouped):
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::prelude::*;
/// use actor_observer::Observer;
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn work(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer: Observer = Observer::new(&system).recent_dead_letters(2);
/// let observer = observer.bind("127.0.0.1:0").await?;
/// for _ in 0..3 {
///     assert!(system.tell_named::<Worker, _>("nobody", Work).await.is_err());
/// }
///
/// let snapshot = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         let snapshot = observer.snapshot();
///         if snapshot.dead_letter_groups.first().is_some_and(|g| g.count == 3) {
///             return snapshot;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("the three letters reach the observer");
/// let seqs: Vec<u64> = snapshot.recent_dead_letters.iter().map(|d| d.seq).collect();
/// assert_eq!(seqs, [2, 3]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Observer {
    system: ActorSystem,
    recent_dead_letters: usize,
    sample_every: Duration,
    rate_history: usize,
}

impl Observer {
    /// An observer of `system` with the default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    ///
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let _worker = system.spawn_with(Worker, SpawnOptions::new().name("worker"));
    ///
    /// let observer = Observer::new(&system).bind("127.0.0.1:0").await?;
    /// let snapshot = observer.snapshot();
    /// assert_eq!(snapshot.live, 1);
    /// assert_eq!(snapshot.actors[0].name.as_deref(), Some("worker"));
    /// # Ok(()) }
    /// ```
    pub fn new(system: &ActorSystem) -> Self {
        Observer {
            system: system.clone(),
            recent_dead_letters: DEFAULT_RECENT_DEAD_LETTERS,
            sample_every: DEFAULT_SAMPLE_INTERVAL,
            rate_history: DEFAULT_RATE_HISTORY,
        }
    }

    /// Starts an observer of `system` with the default settings, serving on
    /// `addr`; shorthand for `Observer::new(system).bind(addr)`.
    ///
    /// # Errors
    ///
    /// As for [`bind`](Observer::bind).
    ///
    /// # Examples
    ///
    /// Fetch `/stats.json` as the page's script does:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// use tokio::net::TcpStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    ///
    /// let mut response = String::new();
    /// let fetch = async {
    ///     let mut conn = TcpStream::connect(observer.local_addr()).await?;
    ///     conn.write_all(b"GET /stats.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    ///     conn.read_to_string(&mut response).await
    /// };
    /// tokio::time::timeout(Duration::from_secs(10), fetch).await??;
    /// assert!(response.starts_with("HTTP/1.1 200 OK"));
    /// assert!(response.contains("application/json"));
    /// assert!(response.contains(r#""actors":[]"#));
    /// # Ok(()) }
    /// ```
    pub async fn serve(system: &ActorSystem, addr: impl ToSocketAddrs) -> io::Result<ObserverHandle> {
        Observer::new(system).bind(addr).await
    }

    /// Keeps the last `n` dead letters for the page and the JSON (default
    /// [`DEFAULT_RECENT_DEAD_LETTERS`]). All are still counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    ///
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::new(&system).recent_dead_letters(2).bind("127.0.0.1:0").await?;
    ///
    /// let echo = system.spawn(Echo);
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// for _ in 0..3 {
    ///     assert!(echo.tell(Ping).await.is_err()); // a dead letter each
    /// }
    /// // Let the observer's collector catch up.
    /// let counted = || observer.snapshot().dead_letter_groups.first().map_or(0, |g| g.count);
    /// let caught_up = async {
    ///     while counted() < 3 {
    ///         tokio::task::yield_now().await;
    ///     }
    /// };
    /// tokio::time::timeout(Duration::from_secs(10), caught_up).await?;
    ///
    /// let snapshot = observer.snapshot();
    /// let seqs: Vec<u64> = snapshot.recent_dead_letters.iter().map(|d| d.seq).collect();
    /// assert_eq!(seqs, [2, 3]); // the last two listed
    /// assert_eq!(snapshot.dead_letter_groups[0].count, 3); // all three counted
    /// # Ok(()) }
    /// ```
    pub fn recent_dead_letters(mut self, n: usize) -> Self {
        self.recent_dead_letters = n;
        self
    }

    /// Samples the counters every `interval` to compute message rates
    /// (default [`DEFAULT_SAMPLE_INTERVAL`]; at least 10 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::new(&system)
    ///     .sample_every(Duration::ZERO) // raised to the 10 ms minimum
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// assert_eq!(observer.snapshot().rate_window_ms, 0); // no full window yet
    ///
    /// let first_window = async {
    ///     loop {
    ///         let window = observer.snapshot().rate_window_ms;
    ///         if window > 0 {
    ///             return window;
    ///         }
    ///         tokio::time::sleep(Duration::from_millis(5)).await;
    ///     }
    /// };
    /// let window = tokio::time::timeout(Duration::from_secs(10), first_window).await?;
    /// assert!(window >= 10, "a window of {window} ms");
    /// # Ok(()) }
    /// ```
    pub fn sample_every(mut self, interval: Duration) -> Self {
        self.sample_every = interval.max(Duration::from_millis(10));
        self
    }

    /// Keeps the rates of the last `n` sampling windows, overall and per
    /// actor, for the history the page and the terminal view draw (default
    /// [`DEFAULT_RATE_HISTORY`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::new(&system)
    ///     .rate_history(3)
    ///     .sample_every(Duration::from_millis(10))
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    ///
    /// // Wait for three windows, then for several more.
    /// let three = async {
    ///     while observer.snapshot().rate_history.len() < 3 {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///     }
    /// };
    /// tokio::time::timeout(Duration::from_secs(10), three).await?;
    /// tokio::time::sleep(Duration::from_millis(100)).await;
    /// assert_eq!(observer.snapshot().rate_history.len(), 3); // only the last three kept
    /// # Ok(()) }
    /// ```
    pub fn rate_history(mut self, n: usize) -> Self {
        self.rate_history = n;
        self
    }

    /// Binds `addr` and starts serving, sampling and collecting dead
    /// letters; dead letters are collected from the moment this returns.
    ///
    /// Use a loopback address (`127.0.0.1:0` picks a free port): the page
    /// has no authentication and shows the names of every actor.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::new(&system)
    ///     .recent_dead_letters(20)
    ///     .sample_every(Duration::from_secs(1))
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// assert!(observer.local_addr().ip().is_loopback());
    /// assert_ne!(observer.local_addr().port(), 0);
    /// # Ok(()) }
    /// ```
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<ObserverHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.system.clone(), self.recent_dead_letters, self.rate_history));
        let mut tasks = JoinSet::new();

        // Subscribe before returning, so no letter sent afterwards is missed.
        let mut letters = self.system.dead_letters();
        let collector = shared.clone();
        tasks.spawn(async move {
            loop {
                match letters.recv().await {
                    Ok(letter) => collector.record_dead_letter(&letter),
                    Err(lagged) => collector.record_missed(lagged.0),
                }
            }
        });

        let sampler = shared.clone();
        let every = self.sample_every;
        tasks.spawn(async move {
            let mut before = processed_by_id(&sampler.system().stats());
            let mut before_at = Instant::now();
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = sampler.system().stats();
                let now_at = Instant::now();
                sampler.record_rates(&before, &now, now_at - before_at);
                before = processed_by_id(&now);
                before_at = now_at;
            }
        });

        tasks.spawn(http::accept_loop(listener, shared.clone()));
        Ok(ObserverHandle { addr, shared, tasks })
    }
}

/// A running observer. Dropping it stops the server and its tasks, as
/// [`stop`](ObserverHandle::stop) does.
///
/// # Examples
///
/// It serves the page and the snapshot over HTTP at its address:
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::ActorSystem;
/// use actor_observer::{Observer, ObserverHandle};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tokio::net::TcpStream;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer: ObserverHandle = Observer::serve(&system, "127.0.0.1:0").await?;
///
/// let get = async {
///     let mut stream = TcpStream::connect(observer.local_addr()).await?;
///     stream.write_all(b"GET /stats.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
///     let mut response = String::new();
///     stream.read_to_string(&mut response).await?;
///     std::io::Result::Ok(response)
/// };
/// let response = tokio::time::timeout(Duration::from_secs(10), get).await??;
/// assert!(response.starts_with("HTTP/1.1 200"), "{response}");
/// assert!(response.contains(r#""live":0"#), "{response}");
///
/// observer.stop().await;
/// # Ok(()) }
/// ```
pub struct ObserverHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl fmt::Debug for ObserverHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObserverHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl ObserverHandle {
    /// The address it serves on (with the port picked, for port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let addr = observer.local_addr();
    /// assert!(addr.ip().is_loopback());
    /// assert_ne!(addr.port(), 0); // the port the system picked
    /// let connect = tokio::net::TcpStream::connect(addr);
    /// tokio::time::timeout(Duration::from_secs(10), connect).await??; // it is listening there
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, `http://ADDR/`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let port = observer.local_addr().port();
    /// assert_eq!(observer.url(), format!("http://127.0.0.1:{port}/"));
    /// # Ok(()) }
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What `GET /stats.json` would return now.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    ///
    /// # struct Echo;
    /// # impl Actor for Echo { type Error = std::convert::Infallible; }
    /// # struct Ping;
    /// # impl Message for Ping { type Reply = (); }
    /// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let echo = system.spawn(Echo);
    /// echo.ask(Ping).await.unwrap();
    /// echo.stop();
    /// echo.wait_for_stop().await;
    /// assert!(echo.tell(Ping).await.is_err());
    /// tokio::task::yield_now().await; // let the observer's subscriber run
    ///
    /// let snapshot = observer.snapshot();
    /// assert!(snapshot.actors.is_empty(), "a stopped actor is not listed");
    /// assert_eq!(snapshot.dead_letters, 1);
    /// assert_eq!(snapshot.recent_dead_letters[0].reason, "Stopped");
    /// # Ok(()) }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Stops serving (open connections are closed), sampling and collecting
    /// dead letters, and waits until they have.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    /// use tokio::net::TcpStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let addr = observer.local_addr();
    ///
    /// observer.stop().await;
    /// let connect = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await?;
    /// assert!(connect.is_err(), "nothing listens there any more");
    /// # Ok(()) }
    /// ```
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}
