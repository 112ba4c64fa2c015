//! A fault-injecting TCP proxy for loopback tests.
//!
//! Every connection accepted is forwarded to the target, one task per
//! direction, chunk by chunk and in order: the proxy delays chunks, cuts
//! connections (possibly in the middle of a frame, after a seeded number of
//! bytes), freezes (holds bytes without closing), refuses new connections,
//! and can record what the first client sent. It never reorders or
//! duplicates bytes within a connection. Faults come from a seeded
//! generator, so a run can be repeated.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::XorShift;

/// Which faults to inject.
#[derive(Clone, Debug)]
pub(crate) struct Faults {
    /// Seeds every connection's generator.
    pub(crate) seed: u64,
    /// Percent of chunks delayed (0 = none).
    pub(crate) delay_percent: u64,
    /// The longest delay of a delayed chunk.
    pub(crate) max_delay: Duration,
    /// Cut each connection after a number of bytes (in either direction)
    /// drawn from this range; `None` never cuts.
    pub(crate) cut_after: Option<(u64, u64)>,
}

impl Faults {
    /// No faults: a plain forwarder.
    pub(crate) fn none() -> Self {
        Faults { seed: 1, delay_percent: 0, max_delay: Duration::ZERO, cut_after: None }
    }
}

/// What the proxy shares with its connection tasks.
#[derive(Debug)]
struct State {
    faults: Mutex<Faults>,
    frozen: AtomicBool,
    refusing: AtomicBool,
    cut_all: Notify,
    /// Counts `cut_all` calls: a connection accepted before the last one
    /// is cut even if its task had not started waiting yet.
    cut_epoch: AtomicU64,
    connections: AtomicU64,
    cuts: AtomicU64,
    bytes: AtomicU64,
    recording: Mutex<Option<Vec<u8>>>,
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// Where to connect: `tcp://127.0.0.1:port`.
    pub(crate) address: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut_all();
    }
}

impl Proxy {
    /// Listens on a fresh loopback port and forwards to `target`
    /// (`tcp://host:port` or `host:port`).
    pub(crate) async fn start(target: &str, faults: Faults) -> Proxy {
        let target = target.strip_prefix("tcp://").unwrap_or(target).to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("tcp://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            faults: Mutex::new(faults),
            frozen: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            cut_all: Notify::new(),
            cut_epoch: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            recording: Mutex::new(None),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                if shared.refusing.load(Ordering::Acquire) {
                    drop(client);
                    continue;
                }
                let n = shared.connections.fetch_add(1, Ordering::AcqRel);
                // Faults and epoch as of the accept, not of the task's start.
                let faults = shared.faults.lock().unwrap().clone();
                let epoch = shared.cut_epoch.load(Ordering::Acquire);
                let Ok(server) = TcpStream::connect(&target).await else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(serve(shared.clone(), client, server, n, faults, epoch));
            }
        });
        Proxy { address, state, task }
    }

    /// Replaces the faults for connections accepted from now on.
    pub(crate) fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    /// Holds every byte (without closing) while `frozen`.
    pub(crate) fn freeze(&self, frozen: bool) {
        self.state.frozen.store(frozen, Ordering::Release);
    }

    /// Closes new connections at once while `refusing`.
    pub(crate) fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::Release);
    }

    /// Cuts every live connection now.
    pub(crate) fn cut_all(&self) {
        self.state.cut_epoch.fetch_add(1, Ordering::AcqRel);
        self.state.cut_all.notify_waiters();
    }

    /// Starts recording what the next client sends (client to target).
    pub(crate) fn record(&self) {
        *self.state.recording.lock().unwrap() = Some(Vec::new());
    }

    /// What was recorded.
    pub(crate) fn recorded(&self) -> Vec<u8> {
        self.state.recording.lock().unwrap().clone().unwrap_or_default()
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Acquire)
    }

    /// Connections cut by a fault so far.
    pub(crate) fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::Acquire)
    }

    /// Bytes forwarded so far, both directions.
    pub(crate) fn bytes(&self) -> u64 {
        self.state.bytes.load(Ordering::Acquire)
    }
}

/// Forwards one connection until either side closes or a fault cuts it.
async fn serve(state: Arc<State>, client: TcpStream, server: TcpStream, n: u64, faults: Faults, epoch: u64) {
    let mut rng = XorShift(faults.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n) | 1);
    let budget = faults.cut_after.map(|(lo, hi)| rng.range(lo, hi));
    let remaining = Arc::new(AtomicU64::new(budget.unwrap_or(u64::MAX)));
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let record = state.recording.lock().unwrap().as_ref().is_some_and(Vec::is_empty);
    let up = pump(state.clone(), cr, sw, XorShift(rng.next() | 1), faults.clone(), remaining.clone(), record);
    let down = pump(state.clone(), sr, cw, XorShift(rng.next() | 1), faults, remaining, false);
    let cut = state.cut_all.notified();
    tokio::pin!(cut);
    // Registered before the epoch check, so no `cut_all` slips between.
    cut.as_mut().enable();
    if state.cut_epoch.load(Ordering::Acquire) != epoch {
        state.cuts.fetch_add(1, Ordering::AcqRel);
        return;
    }
    tokio::select! {
        cut_by_fault = up => if cut_by_fault { state.cuts.fetch_add(1, Ordering::AcqRel); },
        cut_by_fault = down => if cut_by_fault { state.cuts.fetch_add(1, Ordering::AcqRel); },
        () = cut => { state.cuts.fetch_add(1, Ordering::AcqRel); }
    }
    // Both halves of both sockets drop here: the two ends see the close.
}

/// Copies `from` to `to` with the faults; returns whether a fault cut it.
async fn pump(
    state: Arc<State>,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rng: XorShift,
    faults: Faults,
    remaining: Arc<AtomicU64>,
    record: bool,
) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        while state.frozen.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if faults.delay_percent > 0 && rng.range(0, 100) < faults.delay_percent {
            let max = faults.max_delay.as_micros().max(1) as u64;
            tokio::time::sleep(Duration::from_micros(rng.range(0, max))).await;
        }
        // Take this chunk's bytes from the connection's budget; a cut
        // forwards only what the budget allows, mid-frame or not.
        let left = remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| Some(r.saturating_sub(n as u64)))
            .unwrap_or_else(|r| r);
        let pass = (left.min(n as u64)) as usize;
        if record && let Some(recording) = state.recording.lock().unwrap().as_mut() {
            recording.extend_from_slice(&buf[..pass]);
        }
        if to.write_all(&buf[..pass]).await.is_err() {
            return false;
        }
        state.bytes.fetch_add(pass as u64, Ordering::AcqRel);
        if pass < n {
            return true;
        }
    }
}
