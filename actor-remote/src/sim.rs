//! The simulated network's transport: in-memory connections between the
//! nodes of one network, each frame passed through a seeded fault injector
//! (feature `test-util`). `address.rs` listens and dials through it for
//! `sim:` addresses; [`SimNet`](crate::testkit::SimNet) in the test kit is
//! the public handle that sets the faults. How the faults behave, and why,
//! is in the test kit's docs.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::error::NodeError;

/// Bytes a simulated socket buffers before its writer waits.
const BUFFER: usize = 64 * 1024;

/// A frame larger than this ends the connection (no node sends one).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// The networks alive in this process, by id, for `connect` and `bind`.
static NETS: LazyLock<Mutex<HashMap<u64, Weak<Net>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One direction of one connection: from the node that writes the frames
/// to the node that reads them, and the connection's number between the
/// node that dialed and the node that was dialed (from 1).
///
/// # Examples
///
/// ```
/// use actor_remote::testkit::Link;
///
/// let link = Link { from: "b".into(), to: "a".into(), connection: 1 };
/// assert_eq!(link.to_string(), "b->a#1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// The node writing the frames.
    pub from: String,
    /// The node reading them.
    pub to: String,
    /// Which connection between the two (counted per dialer and dialed
    /// node, from 1).
    pub connection: u32,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}#{}", self.from, self.to, self.connection)
    }
}

/// What the network did to a frame.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_remote::testkit::Fault;
///
/// fn describe(fault: Fault) -> String {
///     match fault {
///         Fault::Dropped => "lost".to_owned(),
///         Fault::Delayed(by) => format!("late by {by:?}"),
///         Fault::Held => "held by a partition".to_owned(),
///         // More kinds of fault may come.
///         _ => format!("{fault:?}"),
///     }
/// }
/// assert_eq!(describe(Fault::Delayed(Duration::from_millis(3))), "late by 3ms");
/// assert_eq!(describe(Fault::Dropped), "lost");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Lost: its connection broke there.
    Dropped,
    /// Held back this long (but not past the frame before it).
    Delayed(Duration),
    /// Held by a partition until it healed (or the connection ended).
    Held,
}

/// One entry of a [`SimNet`](crate::testkit::SimNet)'s fault log.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_remote::testkit::{Fault, FaultEvent, Link};
///
/// let event = FaultEvent {
///     link: Link { from: "a".into(), to: "b".into(), connection: 2 },
///     frame: 7,
///     fault: Fault::Delayed(Duration::from_millis(3)),
/// };
/// assert_eq!(event.to_string(), "a->b#2 frame 7: Delayed(3ms)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultEvent {
    /// Where.
    pub link: Link,
    /// Which frame of the link (from 0; the handshake's frames count).
    pub frame: u64,
    /// What happened to it.
    pub fault: Fault,
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} frame {}: {:?}", self.link, self.frame, self.fault)
    }
}

pub(crate) struct Net {
    pub(crate) id: u64,
    pub(crate) seed: u64,
    pub(crate) state: Mutex<State>,
    /// Bumped when a partition starts or heals, so held frames look again.
    pub(crate) epoch: watch::Sender<u64>,
}

#[derive(Default)]
pub(crate) struct State {
    /// Listening nodes, by name.
    pub(crate) listeners: HashMap<String, mpsc::UnboundedSender<(DuplexStream, String)>>,
    /// Connections made so far, per (dialer, dialed).
    pub(crate) connections: HashMap<(String, String), u32>,
    pub(crate) drop: f64,
    pub(crate) delay: Range<Duration>,
    pub(crate) partition: Option<(Vec<String>, Vec<String>)>,
    pub(crate) log: Vec<FaultEvent>,
}

impl State {
    fn partitioned(&self, from: &str, to: &str) -> bool {
        self.partition.as_ref().is_some_and(|(a, b)| {
            let on = |side: &[String], name: &str| side.iter().any(|n| n == name);
            (on(a, from) && on(b, to)) || (on(b, from) && on(a, to))
        })
    }
}

/// What happens to one frame.
pub(crate) enum Fate {
    Drop,
    Deliver(Duration),
}

impl Net {
    /// A new network, listed so that `sim:` addresses find it.
    pub(crate) fn register(seed: u64) -> Arc<Net> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let net = Arc::new(Net { id, seed, state: Mutex::new(State::default()), epoch: watch::Sender::new(0) });
        let mut nets = lock(&NETS);
        nets.retain(|_, n| n.strong_count() > 0);
        nets.insert(id, Arc::downgrade(&net));
        net
    }

    /// Decides a frame's fate from (seed, link, index) and logs it.
    pub(crate) fn decide(&self, link: &Link, hash: u64, frame: u64) -> Fate {
        let roll = splitmix64(splitmix64(self.seed ^ hash) ^ frame);
        let mut state = lock(&self.state);
        if state.drop > 0.0 && unit(roll) < state.drop {
            state.log.push(FaultEvent { link: link.clone(), frame, fault: Fault::Dropped });
            return Fate::Drop;
        }
        let Range { start, end } = state.delay;
        let delay = if end > start {
            let span = (end - start).as_micros().max(1) as u64;
            start + Duration::from_micros(splitmix64(roll) % span)
        } else {
            start
        };
        if !delay.is_zero() {
            state.log.push(FaultEvent { link: link.clone(), frame, fault: Fault::Delayed(delay) });
        }
        Fate::Deliver(delay)
    }
}

/// splitmix64's output function: a well-mixed 64-bit value for each input.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `0..1` from 64 random bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable hash of a link (FNV-1a), the same in every build.
pub(crate) fn link_hash(link: &Link) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let connection = link.connection.to_be_bytes();
    for bytes in [link.from.as_bytes(), &[0], link.to.as_bytes(), &[0], &connection] {
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Splits `net/name` (an `Address::Sim`).
fn parse(address: &str) -> Option<(u64, &str)> {
    let (net, name) = address.split_once('/')?;
    Some((net.parse().ok()?, name))
}

fn find(address: &str) -> std::io::Result<(Arc<Net>, String)> {
    let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("no node at sim:{address}"));
    let (id, name) = parse(address).ok_or_else(refused)?;
    let net = lock(&NETS).get(&id).and_then(Weak::upgrade).ok_or_else(refused)?;
    Ok((net, name.to_owned()))
}

/// A node's listener on a simulated network.
pub(crate) struct SimListener {
    net: Arc<Net>,
    name: String,
    accepted: mpsc::UnboundedReceiver<(DuplexStream, String)>,
}

impl SimListener {
    pub(crate) async fn accept(&mut self) -> std::io::Result<(DuplexStream, String)> {
        self.accepted.recv().await.ok_or_else(|| std::io::Error::other("the simulated network is gone"))
    }
}

impl Drop for SimListener {
    fn drop(&mut self) {
        lock(&self.net.state).listeners.remove(&self.name);
    }
}

/// Listens at `net/name`.
pub(crate) fn bind(address: &str) -> Result<SimListener, NodeError> {
    let (net, name) = find(address).map_err(|_| NodeError::Address(format!("sim:{address}")))?;
    let (tx, accepted) = mpsc::unbounded_channel();
    let mut state = lock(&net.state);
    if state.listeners.get(&name).is_some_and(|l| !l.is_closed()) {
        return Err(NodeError::Io(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("sim:{address} is taken"),
        )));
    }
    state.listeners.insert(name.clone(), tx);
    drop(state);
    Ok(SimListener { net, name, accepted })
}

/// Connects the node at `from` (its own `sim:` address without the scheme,
/// or any other address as text) to the node at `net/name`: two in-memory
/// streams joined by a fault injector per direction.
pub(crate) fn connect(address: &str, from: &str) -> std::io::Result<DuplexStream> {
    let (net, to) = find(address)?;
    let dialer = parse(from).map_or_else(|| from.to_owned(), |(_, name)| name.to_owned());
    let (listener, connection) = {
        let mut state = lock(&net.state);
        let listener = state.listeners.get(&to).filter(|l| !l.is_closed()).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("no node listens at sim:{address}"))
        })?;
        let count = state.connections.entry((dialer.clone(), to.clone())).or_insert(0);
        *count += 1;
        (listener, *count)
    };
    let (dialer_end, dialer_far) = tokio::io::duplex(BUFFER);
    let (dialed_end, dialed_far) = tokio::io::duplex(BUFFER);
    let (dialer_read, dialer_write) = tokio::io::split(dialer_far);
    let (dialed_read, dialed_write) = tokio::io::split(dialed_far);
    let cut = Arc::new(watch::Sender::new(false));
    let outgoing = Link { from: dialer.clone(), to: to.clone(), connection };
    let incoming = Link { from: to, to: dialer.clone(), connection };
    spawn_direction(net.clone(), outgoing, dialer_read, dialed_write, cut.clone());
    spawn_direction(net.clone(), incoming, dialed_read, dialer_write, cut);
    listener
        .send((dialed_end, format!("sim:{}/{dialer}", net.id)))
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "the node stopped listening"))?;
    Ok(dialer_end)
}

/// Reads one length-prefixed frame, prefix included; `None` at the end of
/// the stream.
async fn read_frame(read: &mut ReadHalf<DuplexStream>) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    read.read_exact(&mut prefix).await.ok()?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return None;
    }
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&prefix);
    read.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

/// Starts the two tasks of one direction: a reader that takes frames off
/// the writing node's stream and decides their fate, and a forwarder that
/// hands them to the reading node's stream when due.
fn spawn_direction(
    net: Arc<Net>,
    link: Link,
    mut read: ReadHalf<DuplexStream>,
    mut write: WriteHalf<DuplexStream>,
    cut: Arc<watch::Sender<bool>>,
) {
    let (due_tx, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>, u64)>();
    let hash = link_hash(&link);
    let reader_net = net.clone();
    let reader_link = link.clone();
    let reader_cut = cut.clone();
    tokio::spawn(async move {
        let (net, link, cut) = (reader_net, reader_link, reader_cut);
        let mut broken = cut.subscribe();
        let mut last = Instant::now();
        for index in 0u64.. {
            let frame = tokio::select! {
                biased;
                _ = broken.wait_for(|cut| *cut) => break,
                frame = read_frame(&mut read) => match frame {
                    Some(frame) => frame,
                    // The writing node closed: what is due still goes.
                    None => break,
                },
            };
            match net.decide(&link, hash, index) {
                Fate::Drop => {
                    cut.send_replace(true);
                    break;
                }
                Fate::Deliver(delay) => {
                    last = last.max(Instant::now() + delay);
                    if due_tx.send((last, frame, index)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut broken = cut.subscribe();
        let mut epoch = net.epoch.subscribe();
        'frames: while let Some((at, frame, index)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            let mut held = false;
            loop {
                // Seen before the check, so a heal just after it still wakes.
                epoch.borrow_and_update();
                let partitioned = lock(&net.state).partitioned(&link.from, &link.to);
                if !partitioned {
                    break;
                }
                if !held {
                    held = true;
                    let event = FaultEvent { link: link.clone(), frame: index, fault: Fault::Held };
                    lock(&net.state).log.push(event);
                }
                tokio::select! {
                    biased;
                    _ = broken.wait_for(|cut| *cut) => break 'frames,
                    changed = epoch.changed() => if changed.is_err() { break 'frames },
                }
            }
            if write.write_all(&frame).await.is_err() {
                // The reading node closed its end: the connection is gone.
                cut.send_replace(true);
                break;
            }
        }
        let _ = write.shutdown().await;
    });
}
