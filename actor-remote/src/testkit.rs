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

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use actor_core::ActorSystem;

use crate::node::{Node, NodeBuilder};
pub use crate::sim::{Fault, FaultEvent, Link};
use crate::sim::{Net, lock};

/// The secret every node of a [`SimNet`] is given by [`SimNet::node`].
const SECRET: &str = "simnet";

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
/// for attempt in 1.. {
///     match remote.add(1).timeout(Duration::from_secs(1)).await {
///         Ok(n) => {
///             assert!(n >= 3);
///             break;
///         }
///         Err(e) => assert!(attempt < 100, "still no answer after the heal: {e}"),
///     }
///     tokio::time::sleep(Duration::from_millis(100)).await;
/// }
/// assert!(!net.log().is_empty(), "every delayed and held frame is logged");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SimNet {
    net: Arc<Net>,
}

impl SimNet {
    /// A network whose faults are drawn from `seed`; none are on yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message(remote)]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup("a", "counter").await?;
    /// assert_eq!(remote.add(3).timeout(Duration::from_secs(10)).await?, 3);
    /// assert!(net.log().is_empty(), "no fault is on until one is set");
    /// # Ok(()) }
    /// ```
    pub fn new(seed: u64) -> Self {
        SimNet { net: Net::register(seed) }
    }

    /// The seed the faults are drawn from.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::testkit::SimNet;
    ///
    /// let net = SimNet::new(42);
    /// assert_eq!(net.seed(), 42);
    /// ```
    pub fn seed(&self) -> u64 {
        self.net.seed
    }

    /// The address of the node `name` on this network, as
    /// [`Node::connect`] takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let net = SimNet::new(1);
    /// // Known before the node starts.
    /// let where_a = net.address("a");
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// assert_eq!(a.address().to_string(), where_a);
    ///
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// assert_eq!(b.connect(&where_a).await?, "a");
    /// # Ok(()) }
    /// ```
    pub fn address(&self, name: &str) -> String {
        format!("sim:{}/{name}", self.net.id)
    }

    /// A builder for a node named `name` on this network: it listens here
    /// and has the network's shared secret. Set limits and start it as
    /// usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// assert_eq!(a.name(), "a");
    /// assert!(a.address().to_string().starts_with("sim:"), "on the network, not on a socket");
    /// // Both have the network's secret: they connect.
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    /// # Ok(()) }
    /// ```
    pub fn node(&self, name: &str, system: ActorSystem) -> NodeBuilder {
        Node::builder(system).name(name).secret(SECRET).listen(&self.address(name)).expect("a simulated address parses")
    }

    /// Loses each frame with this probability (0 to 1), breaking its
    /// connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::{Fault, SimNet};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    ///
    /// // Every frame lost: no handshake completes.
    /// net.drop_frames(1.0);
    /// assert!(b.connect(&a.address().to_string()).await.is_err());
    /// let log = net.log();
    /// assert!(!log.is_empty() && log.iter().all(|event| event.fault == Fault::Dropped));
    ///
    /// net.drop_frames(0.0);
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    /// # Ok(()) }
    /// ```
    pub fn drop_frames(&self, probability: f64) {
        lock(&self.net.state).drop = probability.clamp(0.0, 1.0);
    }

    /// Delays each frame by a time drawn from `range` (order is kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    /// use tokio::time::Instant;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message(remote)]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup("a", "counter").await?;
    ///
    /// net.delay(Duration::from_millis(10)..Duration::from_millis(20));
    /// let started = Instant::now();
    /// assert_eq!(remote.add(1).timeout(Duration::from_secs(10)).await?, 1);
    /// // The ask and its answer were each held at least 10 ms.
    /// assert!(started.elapsed() >= Duration::from_millis(20));
    /// # Ok(()) }
    /// ```
    pub fn delay(&self, range: Range<Duration>) {
        lock(&self.net.state).delay = range;
    }

    /// Holds every frame between a node of `a` and a node of `b` until
    /// [`heal`](SimNet::heal). Replaces any partition before.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::{Fault, SimNet};
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message(remote)]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup("a", "counter").await?;
    ///
    /// net.partition(&["a"], &["b"]);
    /// let err = remote.add(1).timeout(Duration::from_millis(500)).await.unwrap_err();
    /// assert!(err.is_timeout(), "the ask is held, not answered: {err}");
    /// assert!(net.log().iter().any(|event| event.fault == Fault::Held));
    /// # Ok(()) }
    /// ```
    pub fn partition(&self, a: &[&str], b: &[&str]) {
        let side = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        lock(&self.net.state).partition = Some((side(a), side(b)));
        self.net.epoch.send_modify(|e| *e += 1);
    }

    /// Ends the partition: held frames flow again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    /// # struct Counter(u64);
    /// # #[actor]
    /// # impl Counter {
    /// #     #[message(remote)]
    /// #     fn add(&mut self, n: u64) -> u64 {
    /// #         self.0 += n;
    /// #         self.0
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup("a", "counter").await?;
    ///
    /// net.partition(&["a"], &["b"]);
    /// remote.tell_add(1).await?;
    /// assert!(remote.add(0).timeout(Duration::from_millis(500)).await.unwrap_err().is_timeout());
    ///
    /// // The held tell goes through once the partition heals.
    /// net.heal();
    /// assert_eq!(remote.add(10).timeout(Duration::from_secs(10)).await?, 11);
    /// # Ok(()) }
    /// ```
    pub fn heal(&self) {
        lock(&self.net.state).partition = None;
        self.net.epoch.send_modify(|e| *e += 1);
    }

    /// Turns every fault off: no loss, no delay, no partition.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::SimNet;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// net.drop_frames(1.0);
    /// net.delay(Duration::from_millis(5)..Duration::from_millis(50));
    /// net.partition(&["a"], &["b"]);
    ///
    /// net.calm();
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    /// assert!(net.log().is_empty(), "no frame was dropped, delayed or held");
    /// # Ok(()) }
    /// ```
    pub fn calm(&self) {
        {
            let mut state = lock(&self.net.state);
            state.drop = 0.0;
            state.delay = Duration::ZERO..Duration::ZERO;
        }
        self.heal();
    }

    /// Every fault injected so far, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::testkit::{Fault, Link, SimNet};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let net = SimNet::new(1);
    /// let a = net.node("a", ActorSystem::new()).start().await?;
    /// let b = net.node("b", ActorSystem::new()).start().await?;
    /// assert!(net.log().is_empty());
    ///
    /// net.drop_frames(1.0);
    /// assert!(b.connect(&a.address().to_string()).await.is_err());
    /// let log = net.log();
    /// // The first frame b sent on its first connection to a was lost.
    /// let first = log.iter().find(|event| event.link.from == "b").expect("b sent a frame");
    /// assert_eq!(first.link, Link { from: "b".into(), to: "a".into(), connection: 1 });
    /// assert_eq!((first.frame, first.fault), (0, Fault::Dropped));
    /// # Ok(()) }
    /// ```
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::link_hash;

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
