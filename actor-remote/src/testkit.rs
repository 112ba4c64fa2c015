//! A simulated, lossy network for tests of distributed code (feature
//! `test-util`).
//!
//! [`SimNet`] gives nodes in-memory connections instead of sockets, and
//! passes every frame through a fault injector: delay, loss and
//! partitions, each decided from a seed so that a failing test replays
//! exactly. Everything else is the real node: handshake, framing, credit,
//! heartbeats, reconnection. See [`SimNet`] for an example.
//!
//! How the faults behave, and why:
//!
//! - The injector works on whole frames: every byte on a connection (the
//!   handshake included) travels in 4-byte length-prefixed frames, which it
//!   reads one at a time.
//! - **Delay** holds each frame for a time drawn from the range, but never
//!   lets it overtake the frame before it: a connection stays a stream.
//! - **Loss** of a frame breaks its connection there. A stream cannot lose
//!   a frame and go on, so the frames before it are delivered, it and the
//!   rest are not, and both nodes see the connection end: asks pending on
//!   it fail with `NodeDown`, tells being written become dead letters, and
//!   the node that dialed reconnects.
//! - A **partition** holds the frames between its two sides (as TCP keeps
//!   retransmitting), and they flow again on `heal`. A partition longer
//!   than the heartbeat timeout ends the connections (the nodes presume
//!   each other dead: `NodeDown`, monitors fire); a connection dialed
//!   across it never completes its handshake. Held frames of a connection
//!   that ended are lost with it.
//! - Nodes on a simulated network do not use TLS (`NodeBuilder::tls`):
//!   the injector reads the node's own frames, which TLS would hide.
//! - Every decision is a pure function of (seed, link, frame index): a
//!   link is one direction of one connection, named by the dialing node,
//!   the dialed node and the connection's number between them, so the same
//!   seed drops and delays the same frames as long as the nodes send the
//!   same frames, which they do on tokio's paused clock and a
//!   current-thread runtime. The generator is splitmix64, a counter-based
//!   mix: hashing (seed, link, index) directly is what "a pure function of
//!   them" means, with no generator state to keep in step.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use actor_core::ActorSystem;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::address::{Address, BoxStream};
use crate::error::NodeError;
use crate::node::{Node, NodeBuilder};

/// The secret every node of a [`SimNet`] is given by [`SimNet::node`].
const SECRET: &str = "simnet";

/// Bytes a simulated socket buffers before its writer waits.
const BUFFER: usize = 64 * 1024;

/// A frame larger than this ends the connection (no node sends one).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// The networks alive in this process, by id, for `connect` and `bind`.
static NETS: LazyLock<Mutex<HashMap<u64, Weak<Net>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A simulated network: nodes on it connect through in-memory streams
/// that can drop, delay and partition frames, deterministically from a
/// seed.
///
/// Build nodes with [`node`](SimNet::node) (an ordinary [`NodeBuilder`],
/// listening on the network), connect them as usual with their
/// [`address`](Node::address), then turn faults on and off at any time.
/// [`log`](SimNet::log) lists every fault injected: print it with the
/// seed when a test fails, and the same seed replays the same faults.
///
/// Run such tests on tokio's paused clock and a current-thread runtime
/// (`#[tokio::test(start_paused = true)]`): delays, heartbeats and
/// timeouts then cost no real time, and the run is the same every time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_remote::Limits;
/// use actor_remote::testkit::SimNet;
///
/// #[derive(Default)]
/// struct Counter(u64);
///
/// #[actor]
/// impl Counter {
///     #[message(remote)]
///     fn add(&mut self, n: u64) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let net = SimNet::new(7);
/// let limits = Limits { heartbeat_timeout: Duration::from_secs(1), ..Limits::default() };
/// let a = net.node("a", ActorSystem::new()).limits(limits.clone()).start().await?;
/// let b = net.node("b", ActorSystem::new()).limits(limits).start().await?;
/// let counter = a.system().spawn(Counter::default());
/// a.register("counter", &counter)?;
/// b.connect(&a.address().to_string()).await?;
/// let remote: ActorRef<Counter> = b.lookup("a", "counter").await?;
///
/// // Every frame now takes 1 to 20 ms, in order: asks still succeed.
/// net.delay(Duration::from_millis(1)..Duration::from_millis(20));
/// assert_eq!(remote.add(2).await?, 2);
///
/// // Cut a off from b: the heartbeat timeout declares the node down.
/// net.partition(&["a"], &["b"]);
/// let err = remote.add(1).timeout(Duration::from_secs(5)).await.unwrap_err();
/// assert!(err.is_node_down() || err.is_timeout());
///
/// // Heal: b redials, and traffic flows again.
/// net.heal();
/// loop {
///     match remote.add(1).timeout(Duration::from_secs(1)).await {
///         Ok(n) => break assert!(n >= 3),
///         Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
///     }
/// }
/// assert!(!net.log().is_empty(), "every delayed and held frame is logged");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SimNet {
    net: Arc<Net>,
}

/// One direction of one connection: from the node that writes the frames
/// to the node that reads them, and the connection's number between the
/// node that dialed and the node that was dialed (from 1).
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

/// One entry of a [`SimNet`]'s fault log.
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

struct Net {
    id: u64,
    seed: u64,
    state: Mutex<State>,
    /// Bumped when a partition starts or heals, so held frames look again.
    epoch: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Listening nodes, by name.
    listeners: HashMap<String, mpsc::UnboundedSender<(BoxStream, String)>>,
    /// Connections made so far, per (dialer, dialed).
    connections: HashMap<(String, String), u32>,
    drop: f64,
    delay: Range<Duration>,
    partition: Option<(Vec<String>, Vec<String>)>,
    log: Vec<FaultEvent>,
}

impl State {
    fn partitioned(&self, from: &str, to: &str) -> bool {
        self.partition.as_ref().is_some_and(|(a, b)| {
            let on = |side: &[String], name: &str| side.iter().any(|n| n == name);
            (on(a, from) && on(b, to)) || (on(b, from) && on(a, to))
        })
    }
}

impl SimNet {
    /// A network whose faults are drawn from `seed`; none are on yet.
    pub fn new(seed: u64) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let net = Arc::new(Net { id, seed, state: Mutex::new(State::default()), epoch: watch::Sender::new(0) });
        let mut nets = lock(&NETS);
        nets.retain(|_, n| n.strong_count() > 0);
        nets.insert(id, Arc::downgrade(&net));
        SimNet { net }
    }

    /// The seed the faults are drawn from.
    pub fn seed(&self) -> u64 {
        self.net.seed
    }

    /// The address of the node `name` on this network, as
    /// [`Node::connect`] takes it.
    pub fn address(&self, name: &str) -> String {
        format!("sim:{}/{name}", self.net.id)
    }

    /// A builder for a node named `name` on this network: it listens here
    /// and has the network's shared secret. Set limits and start it as
    /// usual.
    pub fn node(&self, name: &str, system: ActorSystem) -> NodeBuilder {
        Node::builder(system).name(name).secret(SECRET).listen(&self.address(name)).expect("a simulated address parses")
    }

    /// Loses each frame with this probability (0 to 1), breaking its
    /// connection.
    pub fn drop_frames(&self, probability: f64) {
        lock(&self.net.state).drop = probability.clamp(0.0, 1.0);
    }

    /// Delays each frame by a time drawn from `range` (order is kept).
    pub fn delay(&self, range: Range<Duration>) {
        lock(&self.net.state).delay = range;
    }

    /// Holds every frame between a node of `a` and a node of `b` until
    /// [`heal`](SimNet::heal). Replaces any partition before.
    pub fn partition(&self, a: &[&str], b: &[&str]) {
        let side = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        lock(&self.net.state).partition = Some((side(a), side(b)));
        self.net.epoch.send_modify(|e| *e += 1);
    }

    /// Ends the partition: held frames flow again.
    pub fn heal(&self) {
        lock(&self.net.state).partition = None;
        self.net.epoch.send_modify(|e| *e += 1);
    }

    /// Turns every fault off: no loss, no delay, no partition.
    pub fn calm(&self) {
        {
            let mut state = lock(&self.net.state);
            state.drop = 0.0;
            state.delay = Duration::ZERO..Duration::ZERO;
        }
        self.heal();
    }

    /// Every fault injected so far, in order.
    pub fn log(&self) -> Vec<FaultEvent> {
        lock(&self.net.state).log.clone()
    }
}

impl fmt::Debug for SimNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.net.state);
        f.debug_struct("SimNet")
            .field("id", &self.net.id)
            .field("seed", &self.net.seed)
            .field("drop", &state.drop)
            .field("delay", &state.delay)
            .field("partition", &state.partition)
            .field("faults", &state.log.len())
            .finish()
    }
}

/// What happens to one frame.
enum Fate {
    Drop,
    Deliver(Duration),
}

impl Net {
    /// Decides a frame's fate from (seed, link, index) and logs it.
    fn decide(&self, link: &Link, hash: u64, frame: u64) -> Fate {
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
fn link_hash(link: &Link) -> u64 {
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
    accepted: mpsc::UnboundedReceiver<(BoxStream, String)>,
}

impl SimListener {
    pub(crate) async fn accept(&mut self) -> std::io::Result<(BoxStream, String)> {
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

/// Connects the node at `from` to the node at `net/name`: two in-memory
/// streams joined by a fault injector per direction.
pub(crate) fn connect(address: &str, from: &Address) -> std::io::Result<BoxStream> {
    let (net, to) = find(address)?;
    let dialer = match from {
        Address::Sim(own) => parse(own).map_or_else(|| own.clone(), |(_, name)| name.to_owned()),
        other => other.to_string(),
    };
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
        .send((Box::pin(dialed_end), format!("sim:{}/{dialer}", net.id)))
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "the node stopped listening"))?;
    Ok(Box::pin(dialer_end))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_depend_only_on_seed_link_and_index() {
        let link = |connection| Link { from: "a".into(), to: "b".into(), connection };
        let fates = |seed: u64, connection| {
            let net = SimNet::new(seed);
            net.drop_frames(0.3);
            net.delay(Duration::from_millis(1)..Duration::from_millis(9));
            let l = link(connection);
            let hash = link_hash(&l);
            for i in 0..200 {
                let _ = net.net.decide(&l, hash, i);
            }
            net.log()
        };
        assert_eq!(fates(1, 1), fates(1, 1));
        assert_ne!(fates(1, 1), fates(2, 1), "another seed, other faults");
        assert_ne!(fates(1, 1), fates(1, 2), "another connection, other faults");
        let drops = fates(1, 1).iter().filter(|e| e.fault == Fault::Dropped).count();
        assert!((30..90).contains(&drops), "about 30% of 200 dropped: {drops}");
    }
}
