//! A cluster of nodes: membership and failure detection (SWIM, with foca),
//! a cluster-wide name registry, and process groups.
//!
//! Everything travels over the nodes' own authenticated connections, as
//! `System::Cluster` control frames: SWIM's probes and gossip, and the
//! registry's replication. A node dials another when membership says it
//! is up and there is something to send to it.

mod group;
mod membership;
mod state;

use std::any::{Any, type_name};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actor_core::transport::{self, RefCodec, Resolved, WireRef};
use actor_core::{ActorId, ActorRef, Message, Recipient, RemoteActor};
use foca::{OwnedNotification, Timer};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

pub use self::group::Group;
use self::membership::{Effects, Id, Swim};
use self::state::{Claim, Entry, OwnerState, View};
use crate::address::Address;
use crate::node::{Membership, Node, NodeInner};
use crate::peer::Lane;

/// Timings of membership and failure detection; every field has a default.
///
/// A node that stops answering is *suspected* after one missed probe
/// (`probe_timeout`, then indirect probes through other members), and
/// declared down only if it does not refute the suspicion within
/// `suspicion_timeout`: a slow node (a long pause, a busy machine) has that
/// long to answer again. [`ClusterConfig::detection_time`] estimates how
/// long the cluster takes to report a crashed node.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_remote::ClusterConfig;
///
/// let fast = ClusterConfig {
///     probe_period: Duration::from_millis(100),
///     probe_timeout: Duration::from_millis(50),
///     suspicion_timeout: Duration::from_millis(300),
///     ..ClusterConfig::default()
/// };
/// assert!(fast.detection_time() < Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// How often each node probes one other member.
    pub probe_period: Duration,
    /// How long a probe waits for an answer before asking other members to
    /// probe indirectly. Kept below `probe_period`.
    pub probe_timeout: Duration,
    /// How many members are asked to probe indirectly.
    pub indirect_probes: usize,
    /// How long a suspected member has to prove it is alive before it is
    /// declared down.
    pub suspicion_timeout: Duration,
    /// How often membership news is gossiped to a few members.
    pub gossip_interval: Duration,
    /// How often each node sends its registry entries to every member, to
    /// repair anything lost (changes are also sent at once).
    pub sync_interval: Duration,
    /// How long a down member's identity is remembered (so that stale news
    /// about it is not believed).
    pub remember_down: Duration,
    /// How long [`Cluster::join`] waits for the cluster to accept this
    /// node.
    pub join_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            probe_period: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_probes: 3,
            suspicion_timeout: Duration::from_secs(4),
            gossip_interval: Duration::from_millis(200),
            sync_interval: Duration::from_secs(5),
            remember_down: Duration::from_secs(30),
            join_timeout: Duration::from_secs(5),
        }
    }
}

impl ClusterConfig {
    /// About how long after a crash the other nodes report `NodeDown`: one
    /// probe period to get to the node, the probe's timeout, and the
    /// suspicion. Gossip adds a little.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_remote::ClusterConfig;
    ///
    /// let config = ClusterConfig {
    ///     probe_period: Duration::from_secs(1),
    ///     probe_timeout: Duration::from_millis(500),
    ///     suspicion_timeout: Duration::from_secs(3),
    ///     ..ClusterConfig::default()
    /// };
    /// assert_eq!(config.detection_time(), Duration::from_millis(4_500));
    /// ```
    pub fn detection_time(&self) -> Duration {
        self.probe_period + self.probe_timeout + self.suspicion_timeout
    }
}

/// A node of the cluster, as membership sees it.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// # let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
/// # let _on_a = Cluster::start(&a, ClusterConfig::default()).await?;
/// # let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
/// // `b` joined the cluster through `a`.
/// # on_b.join(&[&a.address().to_string()]).await?;
/// let member = &on_b.members()[0];
/// assert_eq!(member.name, "a");
/// assert_eq!(member.address, a.address().to_string());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// The node's name.
    pub name: String,
    /// Where it listens.
    pub address: String,
    /// Tells a restarted process from its predecessor of the same name.
    pub incarnation: u64,
}

impl Member {
    fn of(id: &Id) -> Self {
        Member { name: id.name.clone(), address: id.address.clone(), incarnation: id.incarnation }
    }
}

/// Who holds a cluster-wide name.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, NameOwner, Node};
///
/// # struct Cache;
/// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let cache = node.system().spawn(Cache);
/// cluster.register("cache", &cache)?;
/// assert_eq!(cluster.whereis("cache"), Some(NameOwner { node: "a".into(), id: cache.id() }));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameOwner {
    /// The node the actor lives on.
    pub node: String,
    /// The actor.
    pub id: ActorId,
}

impl NameOwner {
    fn of(claim: &Claim) -> Self {
        NameOwner { node: claim.node.clone(), id: claim.id }
    }
}

/// What a subscriber of [`Cluster::subscribe`] is told.
///
/// # Examples
///
/// A node that leaves is reported as having left, not as down:
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, ClusterEvent, Node};
/// use tokio::sync::mpsc;
///
/// /// Passes the events it is sent on to a channel.
/// struct Watcher(mpsc::UnboundedSender<ClusterEvent>);
///
/// impl Actor for Watcher {
///     type Error = std::convert::Infallible;
/// }
///
/// impl Handler<ClusterEvent> for Watcher {
///     async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) {
///         let _ = self.0.send(event);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
/// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
/// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
/// let (tx, mut events) = mpsc::unbounded_channel();
/// on_a.subscribe(a.system().spawn(Watcher(tx)).recipient());
/// on_b.join(&[&a.address().to_string()]).await?;
///
/// let mut seen = Vec::new();
/// tokio::time::timeout(Duration::from_secs(10), async {
///     while let Some(event) = events.recv().await {
///         match event {
///             ClusterEvent::NodeUp(member) if member.name == "b" => on_b.leave().await,
///             ClusterEvent::NodeLeft(member) => {
///                 seen.push(format!("{} left", member.name));
///                 return;
///             }
///             ClusterEvent::NodeDown(member) => seen.push(format!("{} down", member.name)),
///             _ => {}
///         }
///     }
/// })
/// .await?;
/// assert_eq!(seen, ["b left"]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// A node joined (or a subscriber is told of one already up).
    NodeUp(Member),
    /// A node stopped answering and was declared down: a crash, a hang or
    /// a partition. Its names and group members are gone.
    NodeDown(Member),
    /// A node left gracefully ([`Cluster::leave`] or `Node::shutdown`). Its
    /// names and group members are gone.
    NodeLeft(Member),
    /// Two actors claimed one name (registered concurrently on different
    /// nodes, or in two clusters that merged). Every node picks the same
    /// winner, the lowest `(node name, actor id)`; the loser's node
    /// withdraws its claim. The losing actor keeps running. Reported on the
    /// loser's node always, and on every other node that saw both claims.
    NameConflict {
        /// The name.
        name: String,
        /// Who keeps it.
        winner: NameOwner,
        /// Whose claim was withdrawn.
        loser: NameOwner,
    },
}

impl Message for ClusterEvent {
    type Reply = ();
}

/// Why a cluster operation failed.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
///
/// # struct Cache;
/// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let err = cluster.lookup::<Cache>("cache").unwrap_err();
/// assert_eq!(err, ClusterError::NotFound("cache".into()));
/// assert_eq!(err.to_string(), r#"no actor holds the name "cache" in the cluster"#);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// `Cluster::start` already ran on this node.
    AlreadyStarted,
    /// Only actors of this node can be registered or join groups from here.
    NotLocal,
    /// The actor has stopped.
    Stopped,
    /// The name is held by another actor.
    NameTaken {
        /// The name.
        name: String,
        /// Who holds it.
        owner: NameOwner,
    },
    /// No actor holds this name in the cluster.
    NotFound(String),
    /// The name is held by an actor of another type.
    WrongType {
        /// The name.
        name: String,
        /// The type asked for.
        expected: String,
        /// The holder's type.
        found: String,
    },
    /// No seed could be reached, or none accepted this node in time.
    Join(String),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::AlreadyStarted => f.write_str("the cluster is already started on this node"),
            ClusterError::NotLocal => f.write_str("only a local actor can be registered from this node"),
            ClusterError::Stopped => f.write_str("the actor has stopped"),
            ClusterError::NameTaken { name, owner } => {
                write!(f, "the name {name:?} is held by actor {} on node {}", owner.id, owner.node)
            }
            ClusterError::NotFound(name) => write!(f, "no actor holds the name {name:?} in the cluster"),
            ClusterError::WrongType { name, expected, found } => {
                write!(f, "the name {name:?} is held by a {found}, not a {expected}")
            }
            ClusterError::Join(why) => write!(f, "could not join the cluster: {why}"),
        }
    }
}

impl std::error::Error for ClusterError {}

/// What nodes of a cluster say to each other, inside `System::Cluster`.
#[derive(Debug, Serialize, Deserialize)]
enum Wire {
    /// A SWIM packet, for foca.
    Swim(Vec<u8>),
    /// The sender's registry entries and group memberships.
    State(OwnerState),
    /// The sender is leaving gracefully.
    Leaving { incarnation: u64 },
}

fn encode(wire: &Wire) -> Vec<u8> {
    postcard::to_allocvec(wire).expect("cluster messages always encode")
}

/// This node's membership of a cluster: its handle.
///
/// Start it on a [`Node`] with [`Cluster::start`], then [`join`](Cluster::join)
/// through one or more seeds (any node already in the cluster; the first
/// node has none). Every node then learns of every other and connects to it
/// when there is something to send.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node};
///
/// struct Greeter;
///
/// #[actor]
/// impl Greeter {
///     #[message(remote)]
///     fn greet(&mut self, who: String) -> String {
///         format!("hello, {who}")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
/// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
/// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
/// on_b.join(&[&a.address().to_string()]).await?;
///
/// // A name registered on `a` resolves on `b` once replicated.
/// on_a.register("greeter", &a.system().spawn(Greeter))?;
/// let greeter = loop {
///     match on_b.lookup::<Greeter>("greeter") {
///         Ok(greeter) => break greeter,
///         Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
///     }
/// };
/// assert_eq!(greeter.greet("b".into()).await?, "hello, b");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    shared: Arc<Shared>,
}

impl Cluster {
    /// Starts the cluster layer on `node`. The node is a cluster of one
    /// until it [joins](Cluster::join) others or others join it.
    ///
    /// # Errors
    ///
    /// [`ClusterError::AlreadyStarted`] if it already runs on this node.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// // A cluster of one: no other member yet.
    /// assert_eq!(cluster.node_name(), "a");
    /// assert!(cluster.members().is_empty());
    /// // Once per node.
    /// let again = Cluster::start(&node, ClusterConfig::default()).await;
    /// assert!(matches!(again, Err(ClusterError::AlreadyStarted)));
    /// # Ok(()) }
    /// ```
    pub async fn start(node: &Node, config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let inner = &node.inner;
        if inner.cluster.get().is_some() {
            return Err(ClusterError::AlreadyStarted);
        }
        let generation = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        let id = Id {
            name: inner.identity.node.clone(),
            address: inner.identity.address.clone(),
            incarnation: inner.identity.incarnation,
            generation,
        };
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        let rng = SmallRng::seed_from_u64(u64::from_le_bytes(seed) ^ generation);
        let swim = Swim::new(id.clone(), membership::swim_config(&config), rng, foca::PostcardCodec);
        let (events, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(rx));
        let (changes, _) = watch::channel(0);
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            node: Arc::downgrade(inner),
            name: id.name.clone(),
            config: config.clone(),
            events,
            changes,
            halted: AtomicBool::new(false),
            dialing: Mutex::new(HashSet::new()),
            state: Mutex::new(Inner {
                swim,
                effects: Effects::new(),
                view: View::default(),
                local: OwnerState::new(id.name.clone(), id.address.clone(), id.incarnation),
                local_refs: HashMap::new(),
                watched: HashSet::new(),
                up: HashMap::new(),
                pending: HashMap::new(),
                reported: HashSet::new(),
                dirty: false,
                leaving: false,
                epoch: 0,
                deaf_until: None,
                frozen_inbox: Vec::new(),
            }),
        });
        inner.cluster.set(shared.clone()).map_err(|_| ClusterError::AlreadyStarted)?;
        tokio::spawn(sync_loop(Arc::downgrade(&shared), config.sync_interval));
        tracing::info!(node = %id.name, "cluster started");
        Ok(Cluster { shared })
    }

    /// Joins the cluster through `seeds` (node addresses such as
    /// `tcp://10.0.0.1:4000`; this node's own address is skipped), and
    /// waits until a member has accepted this node. Returns how many seeds
    /// were reached. With no seeds other than itself, returns `Ok(0)` at
    /// once: this node starts a cluster others can join.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Join`] if no seed can be reached (wrong address, wrong
    /// secret) or none answers within [`ClusterConfig::join_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
    /// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
    ///
    /// // The first node has no seed but itself: it starts the cluster.
    /// assert_eq!(on_a.join(&[&a.address().to_string()]).await?, 0);
    /// // `b` joins through `a`; once `join` returns, `a` is a member in `b`'s view.
    /// assert_eq!(on_b.join(&[&a.address().to_string()]).await?, 1);
    /// assert_eq!(on_b.members()[0].name, "a");
    ///
    /// // A seed with another secret refuses the handshake.
    /// # let c = Node::builder(ActorSystem::new()).name("c").secret("other").start().await?;
    /// # let on_c = Cluster::start(&c, ClusterConfig::default()).await?;
    /// let refused = on_c.join(&[&a.address().to_string()]).await;
    /// assert!(matches!(refused, Err(ClusterError::Join(_))));
    /// # Ok(()) }
    /// ```
    pub async fn join(&self, seeds: &[&str]) -> Result<usize, ClusterError> {
        let node = self.shared.node()?;
        let own = node.identity.address.clone();
        let mut reached = 0;
        let mut last_error = String::from("no seed given");
        for seed in seeds.iter().filter(|s| **s != own) {
            let address: Address = match seed.parse() {
                Ok(address) => address,
                Err(e) => {
                    last_error = e.to_string();
                    continue;
                }
            };
            match node.dial(&address).await {
                Ok(peer) => {
                    reached += 1;
                    // The seed's full identity is learned from its answer:
                    // foca accepts an announce addressed to any identity of
                    // its name.
                    let guess =
                        Id { name: peer.name.clone(), address: seed.to_string(), incarnation: 0, generation: 0 };
                    self.shared.update(|inner, _| {
                        if let Err(e) = inner.swim.announce(guess, &mut inner.effects) {
                            tracing::warn!(error = %e, "announce failed");
                        }
                    });
                }
                Err(e) => last_error = format!("{seed}: {e}"),
            }
        }
        if seeds.iter().all(|s| *s == own) {
            return Ok(0);
        }
        if reached == 0 {
            return Err(ClusterError::Join(last_error));
        }
        let deadline = Instant::now() + self.shared.config.join_timeout;
        while self.shared.lock().up.is_empty() {
            if Instant::now() >= deadline {
                return Err(ClusterError::Join("no member answered in time".into()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(reached)
    }

    /// This node's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("edge-1").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// assert_eq!(cluster.node_name(), "edge-1");
    /// assert_eq!(cluster.node_name(), node.name());
    /// # Ok(()) }
    /// ```
    pub fn node_name(&self) -> &str {
        &self.shared.name
    }

    /// The other nodes that are up now, by name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
    /// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
    /// on_b.join(&[&a.address().to_string()]).await?;
    ///
    /// let members = on_b.members();
    /// assert_eq!(members.len(), 1);
    /// assert_eq!((members[0].name.as_str(), members[0].address.clone()), ("a", a.address().to_string()));
    /// // `a` learns of `b` from membership gossip.
    /// tokio::time::timeout(Duration::from_secs(10), async {
    ///     while on_a.members().iter().all(|m| m.name != "b") {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///     }
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub fn members(&self) -> Vec<Member> {
        let mut members: Vec<Member> = self.shared.lock().up.values().map(Member::of).collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        members
    }

    /// Sends membership events to `recipient`, starting with a
    /// [`ClusterEvent::NodeUp`] for each node already up. Events arrive in
    /// the order this node saw them. A subscriber that stops is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterEvent, Node};
    /// use tokio::sync::mpsc;
    ///
    /// /// Passes the events it is sent on to a channel.
    /// struct Watcher(mpsc::UnboundedSender<ClusterEvent>);
    ///
    /// impl Actor for Watcher {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// impl Handler<ClusterEvent> for Watcher {
    ///     async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) {
    ///         let _ = self.0.send(event);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
    /// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
    ///
    /// let (tx, mut events) = mpsc::unbounded_channel();
    /// on_a.subscribe(a.system().spawn(Watcher(tx)).recipient());
    /// on_b.join(&[&a.address().to_string()]).await?;
    /// let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await?;
    /// assert!(matches!(event, Some(ClusterEvent::NodeUp(member)) if member.name == "b"));
    /// # Ok(()) }
    /// ```
    pub fn subscribe(&self, recipient: Recipient<ClusterEvent>) {
        let inner = self.shared.lock();
        let mut current: Vec<&Id> = inner.up.values().collect();
        current.sort_by(|a, b| a.name.cmp(&b.name));
        let initial = current.into_iter().map(|id| ClusterEvent::NodeUp(Member::of(id))).collect();
        let _ = self.shared.events.send(Dispatch::Subscribe(recipient, initial));
    }

    /// Registers a local actor under `name` cluster-wide: once replicated
    /// (at once to the nodes up, by gossip of state to later ones),
    /// [`lookup`](Cluster::lookup) on any node resolves it. The name is
    /// released when the actor stops or this node goes down or leaves. The
    /// cluster holds a reference to the actor until then.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NameTaken`] if this node already knows another
    /// holder; [`ClusterError::NotLocal`], [`ClusterError::Stopped`]. Two
    /// registrations racing on different nodes both succeed here, then
    /// resolve as described at [`ClusterEvent::NameConflict`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
    ///
    /// # #[derive(Default)] struct Cache;
    /// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let cache = node.system().spawn(Cache);
    /// cluster.register("cache", &cache)?;
    /// assert_eq!(cluster.whereis("cache").map(|owner| owner.id), Some(cache.id()));
    ///
    /// // Registering the same actor again is fine; another one is refused.
    /// cluster.register("cache", &cache)?;
    /// let other = node.system().spawn(Cache);
    /// let taken = cluster.register("cache", &other);
    /// assert!(matches!(taken, Err(ClusterError::NameTaken { owner, .. }) if owner.id == cache.id()));
    /// # Ok(()) }
    /// ```
    pub fn register<A: RemoteActor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), ClusterError> {
        let (node, exported) = self.export_live(actor)?;
        self.shared.update(|inner, _| {
            if let Some(holder) = inner.view.resolve(name)
                && holder.id != actor.id()
            {
                return Err(ClusterError::NameTaken { name: name.to_owned(), owner: NameOwner::of(&holder) });
            }
            inner.local.names.insert(name.to_owned(), Entry { id: actor.id(), actor_type: type_name::<A>().into() });
            inner.local_refs.insert(actor.id(), Arc::new(actor.clone()));
            inner.dirty = true;
            Ok(())
        })?;
        self.shared.watch(&node, exported);
        Ok(())
    }

    /// Releases `name` if this node holds it. Returns whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Cache;
    /// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// cluster.register("cache", &node.system().spawn(Cache))?;
    /// assert!(cluster.unregister("cache"));
    /// assert!(cluster.whereis("cache").is_none());
    /// assert!(!cluster.unregister("cache"));
    /// # Ok(()) }
    /// ```
    pub fn unregister(&self, name: &str) -> bool {
        self.shared.update(|inner, _| {
            let removed = inner.local.names.remove(name).is_some();
            inner.dirty |= removed;
            removed
        })
    }

    /// Who holds `name` in the cluster, as this node knows it.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Cache;
    /// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// assert_eq!(cluster.whereis("cache"), None);
    /// let cache = node.system().spawn(Cache);
    /// cluster.register("cache", &cache)?;
    /// let owner = cluster.whereis("cache").unwrap();
    /// assert_eq!((owner.node.as_str(), owner.id), ("a", cache.id()));
    /// # Ok(()) }
    /// ```
    pub fn whereis(&self, name: &str) -> Option<NameOwner> {
        self.shared.lock().view.resolve(name).map(|c| NameOwner::of(&c))
    }

    /// Every name registered in the cluster, with its holder.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Cache;
    /// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let hot = node.system().spawn(Cache);
    /// let cold = node.system().spawn(Cache);
    /// cluster.register("hot", &hot)?;
    /// cluster.register("cold", &cold)?;
    /// let names = cluster.names();
    /// assert_eq!(names.keys().collect::<Vec<_>>(), ["cold", "hot"]);
    /// assert_eq!(names["hot"].id, hot.id());
    /// # Ok(()) }
    /// ```
    pub fn names(&self) -> BTreeMap<String, NameOwner> {
        self.shared.lock().view.names().into_iter().map(|(n, c)| (n, NameOwner::of(&c))).collect()
    }

    /// A reference to the actor registered as `name` anywhere in the
    /// cluster: the local reference if it lives here, else a remote one,
    /// used the same way.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotFound`] if no actor holds it (yet: replication
    /// takes a round trip), [`ClusterError::WrongType`] if its holder is
    /// not an `A`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
    ///
    /// struct Cache(u64);
    ///
    /// #[actor]
    /// impl Cache {
    ///     #[message(remote)]
    ///     fn size(&self) -> u64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// # struct Other;
    /// # #[actor] impl Other { #[message(remote)] fn ping(&self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// cluster.register("cache", &node.system().spawn(Cache(7)))?;
    ///
    /// let cache = cluster.lookup::<Cache>("cache")?;
    /// assert_eq!(cache.size().await?, 7);
    /// assert!(matches!(cluster.lookup::<Cache>("nope"), Err(ClusterError::NotFound(_))));
    /// assert!(matches!(cluster.lookup::<Other>("cache"), Err(ClusterError::WrongType { .. })));
    /// # Ok(()) }
    /// ```
    pub fn lookup<A: RemoteActor>(&self, name: &str) -> Result<ActorRef<A>, ClusterError> {
        let claim = self.shared.lock().view.resolve(name).ok_or_else(|| ClusterError::NotFound(name.to_owned()))?;
        if claim.actor_type != type_name::<A>() {
            return Err(ClusterError::WrongType {
                name: name.to_owned(),
                expected: type_name::<A>().to_owned(),
                found: claim.actor_type,
            });
        }
        self.shared.actor_ref(&claim).ok_or_else(|| ClusterError::NotFound(name.to_owned()))
    }

    /// Adds a local actor to `group`. Joining twice is one membership. The
    /// actor leaves the group when it stops, and with its node. The cluster
    /// holds a reference to the actor until then.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotLocal`], [`ClusterError::Stopped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterError, Node};
    ///
    /// # #[derive(Default)] struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let worker = node.system().spawn(Worker);
    /// cluster.join_group("workers", &worker)?;
    /// cluster.join_group("workers", &worker)?;
    /// assert_eq!(cluster.group::<Worker>("workers").len(), 1);
    ///
    /// // A stopped actor cannot join, and a member that stops leaves.
    /// worker.stop();
    /// tokio::time::timeout(Duration::from_secs(10), worker.wait_for_stop()).await?;
    /// assert!(cluster.group::<Worker>("workers").is_empty());
    /// assert_eq!(cluster.join_group("workers", &worker), Err(ClusterError::Stopped));
    /// # Ok(()) }
    /// ```
    pub fn join_group<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> Result<(), ClusterError> {
        let (node, exported) = self.export_live(actor)?;
        self.shared.update(|inner, _| {
            let entry = Entry { id: actor.id(), actor_type: type_name::<A>().into() };
            inner.dirty |= inner.local.groups.entry(group.to_owned()).or_default().insert(entry);
            inner.local_refs.insert(actor.id(), Arc::new(actor.clone()));
        });
        self.shared.watch(&node, exported);
        Ok(())
    }

    /// The node and the exported handle of `actor`, which must be a live
    /// actor of this node: what `register` and `join_group` publish and
    /// then watch.
    fn export_live<A: RemoteActor>(
        &self,
        actor: &ActorRef<A>,
    ) -> Result<(Arc<NodeInner>, Arc<dyn transport::Exported>), ClusterError> {
        let node = self.shared.node()?;
        let exported = transport::export(actor).ok_or(ClusterError::NotLocal)?;
        if !exported.is_alive() {
            return Err(ClusterError::Stopped);
        }
        Ok((node, exported))
    }

    /// Removes a local actor from `group`. Returns whether it was a member.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let worker = node.system().spawn(Worker);
    /// cluster.join_group("workers", &worker)?;
    /// assert!(cluster.leave_group("workers", &worker));
    /// assert!(cluster.group::<Worker>("workers").is_empty());
    /// assert!(!cluster.leave_group("workers", &worker));
    /// # Ok(()) }
    /// ```
    pub fn leave_group<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> bool {
        self.shared.update(|inner, _| {
            let removed = inner.local.groups.get_mut(group).is_some_and(|m| m.retain_len(actor.id()));
            inner.dirty |= removed;
            removed
        })
    }

    /// The group `name`, seen as actors of type `A` (members of another
    /// type are skipped).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[derive(Default)] struct Auditor;
    /// # #[actor] impl Auditor { #[message(remote)] fn audit(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let worker = node.system().spawn(Worker);
    /// cluster.join_group("staff", &worker)?;
    /// cluster.join_group("staff", &node.system().spawn(Auditor))?;
    ///
    /// // Each view of the group sees only the members of its type.
    /// let workers = cluster.group::<Worker>("staff");
    /// assert_eq!(workers.name(), "staff");
    /// assert_eq!(workers.members().iter().map(|m| m.id()).collect::<Vec<_>>(), [worker.id()]);
    /// assert_eq!(cluster.group::<Auditor>("staff").len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn group<A: RemoteActor>(&self, name: &str) -> Group<A> {
        Group::new(self.clone(), name)
    }

    /// The names of the groups with members.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # #[derive(Default)] struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let worker = node.system().spawn(Worker);
    /// cluster.join_group("eu", &worker)?;
    /// cluster.join_group("us", &worker)?;
    /// assert_eq!(cluster.groups(), ["eu", "us"]);
    /// cluster.leave_group("us", &worker);
    /// assert_eq!(cluster.groups(), ["eu"]);
    /// # Ok(()) }
    /// ```
    pub fn groups(&self) -> Vec<String> {
        self.shared.lock().view.groups().into_iter().collect()
    }

    /// Leaves the cluster gracefully and shuts the node down: the other
    /// nodes report [`ClusterEvent::NodeLeft`] (not `NodeDown`) and drop this
    /// node's names and group members at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, ClusterEvent, Node};
    /// # use tokio::sync::mpsc;
    /// # struct Watcher(mpsc::UnboundedSender<ClusterEvent>);
    /// # impl Actor for Watcher { type Error = std::convert::Infallible; }
    /// # impl Handler<ClusterEvent> for Watcher {
    /// #     async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) { let _ = self.0.send(event); }
    /// # }
    /// # #[derive(Default)] struct Cache;
    /// # #[actor] impl Cache { #[message(remote)] fn size(&self) -> u64 { 0 } }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
    /// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
    /// on_b.join(&[&a.address().to_string()]).await?;
    /// // `a` records its events in `events` (a channel fed by a subscriber).
    /// # let (tx, mut events) = mpsc::unbounded_channel();
    /// # on_a.subscribe(a.system().spawn(Watcher(tx)).recipient());
    /// on_b.register("cache", &b.system().spawn(Cache))?;
    /// tokio::time::timeout(Duration::from_secs(10), async {
    ///     while on_a.whereis("cache").is_none() {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///     }
    /// })
    /// .await?;
    ///
    /// on_b.leave().await;
    /// let left = tokio::time::timeout(Duration::from_secs(10), async {
    ///     while let Some(event) = events.recv().await {
    ///         if let ClusterEvent::NodeLeft(member) = event {
    ///             return member.name;
    ///         }
    ///     }
    ///     String::new()
    /// })
    /// .await?;
    /// assert_eq!(left, "b");
    /// assert!(on_a.whereis("cache").is_none());
    /// # Ok(()) }
    /// ```
    pub async fn leave(&self) {
        if let Ok(node) = self.shared.node() {
            Node { inner: node }.shutdown().await;
        }
    }

    /// Acts frozen for `pause`, as a process in a long garbage collection or
    /// a stopped VM would: nothing is sent, timers fire late, and SWIM
    /// packets that arrive wait (as in a socket's buffer) until it thaws.
    /// For tests of suspicion.
    #[doc(hidden)]
    pub fn freeze(&self, pause: Duration) {
        self.shared.lock().deaf_until = Some(Instant::now() + pause);
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let Some(shared) = shared.upgrade() else { return };
            shared.update(|inner, _| {
                for data in std::mem::take(&mut inner.frozen_inbox) {
                    if let Err(e) = inner.swim.handle_data(&data, &mut inner.effects) {
                        tracing::debug!(error = %e, "SWIM packet refused");
                    }
                }
            });
        });
    }

    /// The members of `group` as references, in `(node, id)` order.
    fn group_refs<A: RemoteActor>(&self, group: &str) -> Vec<ActorRef<A>> {
        let claims = self.shared.lock().view.group(group);
        claims
            .iter()
            .filter(|c| c.actor_type == type_name::<A>())
            .filter_map(|c| self.shared.actor_ref::<A>(c))
            .filter(ActorRef::is_alive)
            .collect()
    }
}

/// What the sharding layer reads of the cluster (see `sharding.rs`): one
/// consistent look at the members up and a group's members.
pub(crate) struct GroupSnapshot<A: actor_core::Actor> {
    /// The other members up, by name.
    pub(crate) up: HashSet<String>,
    /// The members (this node included) whose registry state this node
    /// holds: for them, "not in the group" is known, not merely unheard of.
    pub(crate) known: HashSet<String>,
    /// The group's members on this node and on members up: node, actor id,
    /// reference.
    pub(crate) members: Vec<(String, ActorId, ActorRef<A>)>,
}

/// Hooks for the sharding layer: change notices and snapshots.
impl Cluster {
    /// A receiver that sees a new value whenever the members up or the
    /// merged registry change.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// The members up and the members of `group` typed as `A`, now.
    pub(crate) fn group_snapshot<A: RemoteActor>(&self, group: &str) -> GroupSnapshot<A> {
        let (up, known, claims) = {
            let inner = self.shared.lock();
            let up: HashSet<String> = inner.up.keys().cloned().collect();
            let known = inner.view.owners().map(str::to_owned).collect();
            (up, known, inner.view.group(group))
        };
        let members = claims
            .iter()
            .filter(|c| c.actor_type == type_name::<A>())
            .filter(|c| c.node == self.shared.name || up.contains(&c.node))
            .filter_map(|c| self.shared.actor_ref::<A>(c).map(|r| (c.node.clone(), c.id, r)))
            .collect();
        GroupSnapshot { up, known, members }
    }

    /// The node this cluster runs on, while it exists.
    pub(crate) fn node_inner(&self) -> Result<Arc<NodeInner>, ClusterError> {
        self.shared.node()
    }
}

trait RetainLen {
    fn retain_len(&mut self, id: ActorId) -> bool;
}

impl RetainLen for std::collections::BTreeSet<Entry> {
    /// Removes the entries of `id`; whether there were any.
    fn retain_len(&mut self, id: ActorId) -> bool {
        let before = self.len();
        self.retain(|e| e.id != id);
        before != self.len()
    }
}

/// What the event dispatcher is asked to do.
enum Dispatch {
    Subscribe(Recipient<ClusterEvent>, Vec<ClusterEvent>),
    Event(ClusterEvent),
}

/// Delivers events to subscribers in order, waiting for mailbox room.
async fn dispatch(mut rx: mpsc::UnboundedReceiver<Dispatch>) {
    let mut subscribers: Vec<Recipient<ClusterEvent>> = Vec::new();
    while let Some(work) = rx.recv().await {
        match work {
            Dispatch::Subscribe(recipient, initial) => {
                for event in initial {
                    let _ = recipient.tell(event).await;
                }
                subscribers.push(recipient);
            }
            Dispatch::Event(event) => {
                subscribers.retain(Recipient::is_alive);
                for subscriber in &subscribers {
                    let _ = subscriber.tell(event.clone()).await;
                }
            }
        }
    }
}

/// Sends this node's state to every member now and then, repairing lost
/// updates.
async fn sync_loop(shared: Weak<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else { return };
        if shared.halted.load(Ordering::Acquire) {
            return;
        }
        shared.update(|inner, out| inner.send_state_to_all(out));
    }
}

/// The cluster layer of one node, shared by its handles, the node's reader
/// tasks (incoming messages) and timer tasks.
pub(crate) struct Shared {
    me: Weak<Shared>,
    node: Weak<NodeInner>,
    name: String,
    config: ClusterConfig,
    events: mpsc::UnboundedSender<Dispatch>,
    /// Bumped whenever the members up or the merged view change, for the
    /// layers built on them (sharding).
    changes: watch::Sender<u64>,
    /// Crashed (see `Node::crash`) or left: ignore everything.
    halted: AtomicBool,
    /// Nodes being dialed for the cluster; packets for them meanwhile are
    /// dropped (SWIM tolerates loss).
    dialing: Mutex<HashSet<String>>,
    state: Mutex<Inner>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").field("node", &self.name).finish()
    }
}

struct Inner {
    swim: Swim,
    effects: Effects,
    /// Every owner's entries, this node's included.
    view: View,
    /// This node's entries; replicated whole when `dirty`.
    local: OwnerState,
    /// Typed references (`ActorRef<A>`) of the local actors in `local`.
    local_refs: HashMap<ActorId, Arc<dyn Any + Send + Sync>>,
    /// Local actors whose termination is watched.
    watched: HashSet<ActorId>,
    /// The other members up, by name.
    up: HashMap<String, Id>,
    /// States received from owners not (yet) up.
    pending: HashMap<String, OwnerState>,
    /// Name conflicts already reported: (name, loser node, loser id).
    reported: HashSet<(String, String, ActorId)>,
    dirty: bool,
    /// Set by `leave`: from then on SWIM's packets keep their order behind
    /// the notice of leaving, which must arrive first.
    leaving: bool,
    /// Counts changes of `up` and `view`; see `Shared::changes`.
    epoch: u64,
    deaf_until: Option<Instant>,
    frozen_inbox: Vec<Vec<u8>>,
}

impl Inner {
    fn send_state_to_all(&self, out: &mut Out) {
        let bytes = encode(&Wire::State(self.local.clone()));
        for id in self.up.values() {
            out.sends.push((id.clone(), bytes.clone()));
        }
    }
}

/// Effects to carry out once the lock is released.
#[derive(Default)]
struct Out {
    /// Registry state and leave notices: behind what is queued already.
    sends: Vec<(Id, Vec<u8>)>,
    /// SWIM's packets: ahead of queued data (see `Peer::send_cluster`).
    probes: Vec<(Id, Vec<u8>)>,
    timers: Vec<(Duration, Timer<Id>)>,
    close: Vec<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn node(&self) -> Result<Arc<NodeInner>, ClusterError> {
        self.node.upgrade().ok_or(ClusterError::Stopped)
    }

    /// Runs `f` under the lock, then settles what it set off (foca's
    /// effects, membership changes, replication), and carries out the
    /// sends and timers after releasing the lock.
    fn update<R>(&self, f: impl FnOnce(&mut Inner, &mut Out) -> R) -> R {
        let mut out = Out::default();
        let (result, changed) = {
            let mut inner = self.lock();
            let before = inner.epoch;
            let result = f(&mut inner, &mut out);
            self.settle(&mut inner, &mut out);
            (result, (inner.epoch != before).then_some(inner.epoch))
        };
        if let Some(epoch) = changed {
            self.changes.send_replace(epoch);
        }
        if !self.halted.load(Ordering::Acquire) {
            self.perform(out);
        }
        result
    }

    /// When a frozen node (see `Cluster::freeze`) thaws.
    fn frozen_until(&self) -> Option<Instant> {
        self.lock().deaf_until.filter(|until| Instant::now() < *until)
    }

    fn settle(&self, inner: &mut Inner, out: &mut Out) {
        loop {
            let mut progressed = false;
            while let Some((to, data)) = inner.effects.to_send() {
                let bytes = encode(&Wire::Swim(data.to_vec()));
                if inner.leaving {
                    out.sends.push((to, bytes))
                } else {
                    out.probes.push((to, bytes))
                }
                progressed = true;
            }
            while let Some((after, timer)) = inner.effects.to_schedule() {
                out.timers.push((after, timer));
                progressed = true;
            }
            while let Some(notification) = inner.effects.to_notify() {
                self.notified(inner, notification, out);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        self.resolve_conflicts(inner);
        if inner.dirty {
            inner.dirty = false;
            inner.local.version += 1;
            inner.view.apply(inner.local.clone());
            inner.epoch += 1;
            // Drop the references of actors that no longer hold anything.
            let local = &inner.local;
            inner.local_refs.retain(|id, _| {
                local.names.values().any(|e| e.id == *id) || local.groups.values().flatten().any(|e| e.id == *id)
            });
            inner.send_state_to_all(out);
        }
    }

    fn notified(&self, inner: &mut Inner, notification: OwnedNotification<Id>, out: &mut Out) {
        match notification {
            OwnedNotification::MemberUp(id) => self.member_up(inner, id, out),
            OwnedNotification::MemberDown(id) => self.member_gone(inner, &id, false, true, out),
            OwnedNotification::Rename(old, new) => {
                // A new identity of the same name: a restarted process, or
                // one that rejoined after being declared down.
                self.member_gone(inner, &old, false, false, out);
                if inner.swim.iter_members().any(|m| *m.id() == new) {
                    self.member_up(inner, new, out);
                }
            }
            OwnedNotification::Rejoin(id) => {
                tracing::warn!(node = %id.name, "this node was declared down by the cluster and rejoined");
                inner.send_state_to_all(out);
            }
            OwnedNotification::Defunct => tracing::warn!(node = %self.name, "this node was declared down"),
            OwnedNotification::Idle => tracing::info!(node = %self.name, "no other member is up"),
            OwnedNotification::Active => tracing::debug!(node = %self.name, "member of a cluster"),
        }
    }

    fn member_up(&self, inner: &mut Inner, id: Id, out: &mut Out) {
        if inner.up.get(&id.name) == Some(&id) {
            return;
        }
        if let Some(old) = inner.up.get(&id.name).cloned() {
            self.member_gone(inner, &old, false, false, out);
        }
        tracing::info!(node = %self.name, member = %id.name, "node up");
        inner.up.insert(id.name.clone(), id.clone());
        inner.epoch += 1;
        if let Some(state) = inner.pending.remove(&id.name)
            && state.incarnation == id.incarnation
        {
            inner.view.apply(state);
        }
        self.emit(ClusterEvent::NodeUp(Member::of(&id)));
        out.sends.push((id, encode(&Wire::State(inner.local.clone()))));
    }

    /// `id` is down (or left, if `graceful`): forget its entries and tell
    /// the subscribers. `close` closes the connection to it, failing what
    /// waits on it and firing monitors of its actors.
    fn member_gone(&self, inner: &mut Inner, id: &Id, graceful: bool, close: bool, out: &mut Out) {
        if inner.up.get(&id.name) != Some(id) {
            return;
        }
        inner.up.remove(&id.name);
        inner.epoch += 1;
        inner.pending.remove(&id.name);
        inner.view.remove(&id.name, id.incarnation);
        let said_bye = self.node.upgrade().and_then(|n| n.peer(&id.name)).is_some_and(|p| p.has_left());
        if graceful || said_bye {
            tracing::info!(node = %self.name, member = %id.name, "node left");
            self.emit(ClusterEvent::NodeLeft(Member::of(id)));
        } else {
            tracing::warn!(node = %self.name, member = %id.name, "node down");
            self.emit(ClusterEvent::NodeDown(Member::of(id)));
        }
        if close {
            out.close.push(id.name.clone());
        }
    }

    /// Applies the conflict rule: reports each conflict once, and withdraws
    /// this node's losing claims.
    fn resolve_conflicts(&self, inner: &mut Inner) {
        for (name, winner, losers) in inner.view.conflicts() {
            for loser in losers {
                if inner.reported.insert((name.clone(), loser.node.clone(), loser.id)) {
                    tracing::warn!(
                        node = %self.name, %name, winner = %winner.node, loser = %loser.node,
                        "a name was registered twice; the lower (node, actor id) keeps it"
                    );
                    self.emit(ClusterEvent::NameConflict {
                        name: name.clone(),
                        winner: NameOwner::of(&winner),
                        loser: NameOwner::of(&loser),
                    });
                }
                if loser.node == self.name && inner.local.names.get(&name).is_some_and(|e| e.id == loser.id) {
                    inner.local.names.remove(&name);
                    inner.dirty = true;
                }
            }
        }
    }

    fn emit(&self, event: ClusterEvent) {
        let _ = self.events.send(Dispatch::Event(event));
    }

    fn receive(&self, from: &str, bytes: &[u8]) {
        if self.halted.load(Ordering::Acquire) {
            return;
        }
        let wire = match postcard::from_bytes::<Wire>(bytes) {
            Ok(wire) => wire,
            Err(e) => {
                tracing::warn!(peer = %from, error = %e, "undecodable cluster message");
                return;
            }
        };
        match wire {
            Wire::Swim(data) => self.update(|inner, _| {
                if inner.deaf_until.is_some_and(|until| Instant::now() < until) {
                    inner.frozen_inbox.push(data);
                    return;
                }
                if let Err(e) = inner.swim.handle_data(&data, &mut inner.effects) {
                    tracing::debug!(peer = %from, error = %e, "SWIM packet refused");
                }
            }),
            Wire::State(state) => {
                if state.node != from {
                    // A node may only speak for itself.
                    tracing::warn!(peer = %from, owner = %state.node, "refused registry entries sent for another node");
                    return;
                }
                self.update(|inner, _| {
                    if inner.up.get(from).is_some_and(|id| id.incarnation == state.incarnation) {
                        if inner.view.apply(state) {
                            inner.epoch += 1;
                        }
                    } else {
                        inner.pending.insert(from.to_owned(), state);
                    }
                });
            }
            Wire::Leaving { incarnation } => self.update(|inner, out| {
                if let Some(id) = inner.up.get(from).filter(|id| id.incarnation == incarnation).cloned() {
                    self.member_gone(inner, &id, true, false, out);
                }
            }),
        }
    }

    fn perform(&self, out: Out) {
        if self.frozen_until().is_none() {
            for (to, bytes) in out.probes {
                self.send(&to, bytes, Lane::Ahead);
            }
            for (to, bytes) in out.sends {
                self.send(&to, bytes, Lane::Behind);
            }
        }
        for (after, timer) in out.timers {
            let shared = self.me.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let Some(shared) = shared.upgrade() else { return };
                if shared.halted.load(Ordering::Acquire) {
                    return;
                }
                if let Some(until) = shared.frozen_until() {
                    tokio::time::sleep_until(until.into()).await;
                }
                shared.update(|inner, _| {
                    if let Err(e) = inner.swim.handle_timer(timer, &mut inner.effects) {
                        tracing::debug!(error = %e, "SWIM timer failed");
                    }
                });
            });
        }
        if let Some(node) = self.node.upgrade() {
            for name in out.close {
                if let Some(peer) = node.peer(&name) {
                    peer.close();
                }
            }
        }
    }

    /// Sends to a member over its connection, dialing it first if need be.
    fn send(&self, to: &Id, bytes: Vec<u8>, lane: Lane) {
        let Some(node) = self.node.upgrade() else { return };
        if node.is_shut_down() {
            // Leaving: only what goes out on open connections, and in order,
            // so that no notice of leaving overtakes the last data.
            if let Some(peer) = node.peer(&to.name) {
                peer.send_cluster(bytes, Lane::Behind);
            }
            return;
        }
        if let Some(peer) = node.peer(&to.name)
            && peer.send_cluster(bytes.clone(), lane)
        {
            return;
        }
        let Ok(address) = to.address.parse::<Address>() else { return };
        if !self.dialing.lock().unwrap_or_else(PoisonError::into_inner).insert(to.name.clone()) {
            return;
        }
        let shared = self.me.clone();
        let name = to.name.clone();
        tokio::spawn(async move {
            let dialed = node.dial(&address).await;
            if let Some(shared) = shared.upgrade() {
                shared.dialing.lock().unwrap_or_else(PoisonError::into_inner).remove(&name);
            }
            match dialed {
                Ok(peer) => {
                    peer.send_cluster(bytes, lane);
                }
                Err(e) => tracing::debug!(member = %name, error = %e, "could not reach a member"),
            }
        });
    }

    /// Watches a local actor: when it stops, its names and memberships go.
    fn watch(&self, node: &NodeInner, exported: Arc<dyn transport::Exported>) {
        let id = exported.id();
        if !self.lock().watched.insert(id) {
            return;
        }
        // Reachable by id from other nodes.
        <NodeInner as RefCodec>::export(node, exported.clone());
        let shared = self.me.clone();
        exported.on_terminated(Box::new(move |id, _| {
            let Some(shared) = shared.upgrade() else { return };
            shared.update(|inner, _| {
                inner.watched.remove(&id);
                let before = (inner.local.names.len(), inner.local.groups.values().map(|g| g.len()).sum::<usize>());
                inner.local.names.retain(|_, e| e.id != id);
                for members in inner.local.groups.values_mut() {
                    members.retain(|e| e.id != id);
                }
                inner.local.groups.retain(|_, m| !m.is_empty());
                let after = (inner.local.names.len(), inner.local.groups.values().map(|g| g.len()).sum::<usize>());
                inner.dirty |= before != after;
            });
        }));
    }

    /// Where membership says the member `name` listens, while it is up.
    pub(crate) fn member_address(&self, name: &str) -> Option<String> {
        self.lock().up.get(name).map(|id| id.address.clone())
    }

    /// A reference to a claimed actor: the local one, or a remote one.
    fn actor_ref<A: RemoteActor>(&self, claim: &Claim) -> Option<ActorRef<A>> {
        if claim.node == self.name {
            let local = self.lock().local_refs.get(&claim.id).cloned()?;
            return local.downcast_ref::<ActorRef<A>>().cloned();
        }
        let node = self.node.upgrade()?;
        let wire = WireRef { node: claim.node.clone(), address: claim.address.clone(), id: claim.id };
        match node.resolve(&wire) {
            Ok(Resolved::Remote(endpoint)) => Some(transport::remote_ref(&node.system, endpoint)),
            _ => None,
        }
    }

    /// Leaves gracefully: tells the members, and lets SWIM spread it.
    pub(crate) fn leave(&self) {
        self.update(|inner, out| {
            inner.leaving = true;
            let bytes = encode(&Wire::Leaving { incarnation: inner.local.incarnation });
            for id in inner.up.values() {
                out.sends.push((id.clone(), bytes.clone()));
            }
            if let Err(e) = inner.swim.leave_cluster(&mut inner.effects) {
                tracing::debug!(error = %e, "SWIM leave failed");
            }
        });
        self.halted.store(true, Ordering::Release);
    }

    /// Stops at once, answering nothing more (a crash, for tests).
    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::Release);
    }
}

impl Membership for Shared {
    fn receive(&self, from: &str, bytes: &[u8]) {
        Shared::receive(self, from, bytes);
    }

    fn member_address(&self, name: &str) -> Option<String> {
        Shared::member_address(self, name)
    }

    fn leave(&self) {
        Shared::leave(self);
    }

    fn halt(&self) {
        Shared::halt(self);
    }
}
