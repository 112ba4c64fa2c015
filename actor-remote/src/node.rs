//! The node: a listener, the peers, and the actors other nodes can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use actor_core::transport::{self, Exported, IdHasher, RefCodec, Resolved, WireRef};
use actor_core::{ActorId, ActorRef, ActorSystem, RemoteActor};
use dashmap::DashMap;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::address::Address;
use crate::connection::{BoxStream, Connection};
use crate::error::{HandshakeError, NodeError};
use crate::frame::VERSION;
use crate::handshake::{self, Identity};
use crate::limits::Limits;
use crate::listener::{self, Listener};
use crate::peer::{Endpoint, Host, Peer, Wire};

/// Builds a [`Node`]; see [`Node::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_remote::{Limits, Node};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), actor_remote::NodeError> {
/// let node = Node::builder(ActorSystem::new())
///     .name("a")
///     .secret("cookie")
///     .listen("tcp://127.0.0.1:0")?
///     .limits(Limits { heartbeat_timeout: Duration::from_secs(1), ..Limits::default() })
///     .start()
///     .await?;
/// assert_eq!(node.name(), "a");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NodeBuilder {
    system: ActorSystem,
    name: Option<String>,
    listen: Option<Address>,
    secret: Option<Vec<u8>>,
    limits: Limits,
    version: u16,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
    #[cfg(feature = "nats")]
    nats: Option<crate::nats::NatsOptions>,
}

impl NodeBuilder {
    /// The node's name, unique among the nodes it talks to. Defaults to a
    /// random one.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let named = Node::builder(ActorSystem::new()).name("worker-1").secret("cookie").start().await?;
    /// assert_eq!(named.name(), "worker-1");
    ///
    /// let unnamed = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// assert!(!unnamed.name().is_empty(), "a random name is chosen");
    /// assert_ne!(unnamed.name(), named.name());
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Where to listen: `"tcp://127.0.0.1:0"` (the OS picks the port; read
    /// it back with [`Node::address`]), `"unix:/path/to.sock"`, or, with
    /// the `nats` feature, `"nats://127.0.0.1:4222/node-a"`: the node
    /// connects to that NATS server and answers there as `node-a`, which
    /// becomes its name (naming it otherwise is an error).
    ///
    /// # Errors
    ///
    /// [`NodeError::Address`] if `address` does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Address, Node, NodeError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let node = Node::builder(ActorSystem::new()).secret("cookie").listen("tcp://127.0.0.1:0")?.start().await?;
    /// let Address::Tcp(socket) = node.address() else { panic!("listens on TCP") };
    /// assert!(socket.ip().is_loopback());
    /// assert_ne!(socket.port(), 0, "the port the OS chose");
    ///
    /// let err = Node::builder(ActorSystem::new()).listen("ftp://127.0.0.1:21").unwrap_err();
    /// assert!(matches!(err, NodeError::Address(_)));
    /// # Ok(()) }
    /// ```
    pub fn listen(mut self, address: &str) -> Result<Self, NodeError> {
        self.listen = Some(address.parse()?);
        Ok(self)
    }

    /// The shared secret every node of the cluster is given. Peers prove
    /// they know it without sending it; a peer that cannot is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let stranger = Node::builder(ActorSystem::new()).name("stranger").secret("guess").start().await?;
    ///
    /// // The same secret: admitted.
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    /// // Another secret: refused during the handshake.
    /// let err = stranger.connect(&a.address().to_string()).await.unwrap_err();
    /// assert!(matches!(err, NodeError::Handshake(_)), "{err}");
    /// assert!(stranger.peers().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Encrypts every connection with mutual TLS: peers must present a
    /// certificate signed by the same CA (and still prove the secret).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{HandshakeError, Node, NodeError, TlsConfig};
    /// # use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    /// # struct Ca(rcgen::Certificate, KeyPair);
    /// # fn ca() -> Ca {
    /// #     let key = KeyPair::generate().unwrap();
    /// #     let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    /// #     params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    /// #     Ca(params.self_signed(&key).unwrap(), key)
    /// # }
    /// # /// A node certificate signed by `ca`, for the name `nodes.cluster`.
    /// # fn node_tls(ca: &Ca) -> TlsConfig {
    /// #     let key = KeyPair::generate().unwrap();
    /// #     let cert = CertificateParams::new(vec!["nodes.cluster".to_owned()]).unwrap()
    /// #         .signed_by(&key, &ca.0, &ca.1).unwrap();
    /// #     TlsConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), ca.0.pem().as_bytes(), "nodes.cluster")
    /// #         .unwrap()
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let cluster_ca = ca();
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").tls(node_tls(&cluster_ca)).start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").tls(node_tls(&cluster_ca)).start().await?;
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    ///
    /// // The right secret but a certificate from another CA: refused.
    /// let other_ca = ca();
    /// let c = Node::builder(ActorSystem::new()).name("c").secret("cookie").tls(node_tls(&other_ca)).start().await?;
    /// let err = c.connect(&a.address().to_string()).await.unwrap_err();
    /// assert!(matches!(err, NodeError::Handshake(HandshakeError::Tls(_))), "{err}");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How the node uses NATS (feature `nats`): subject prefix,
    /// credentials and TLS for the server, flow-control window. Without
    /// it, the defaults of [`NatsOptions`](crate::NatsOptions) apply to
    /// every NATS server the node listens on or dials.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let node = Node::builder(ActorSystem::new())
    ///     .secret("cookie")
    ///     .nats(NatsOptions::new().prefix("shop")?)
    ///     .listen("nats://127.0.0.1:4222/orders-1")?
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "orders-1");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "nats")]
    pub fn nats(mut self, options: crate::nats::NatsOptions) -> Self {
        self.nats = Some(options);
        self
    }

    /// Limits and timings.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{HandshakeError, Limits, Node, NodeError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let limits = Limits { max_peers: 1, ..Limits::default() };
    /// let hub = Node::builder(ActorSystem::new()).name("hub").secret("cookie").limits(limits).start().await?;
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    ///
    /// hub.connect(&a.address().to_string()).await?;
    /// // The peer table is full: a second peer is not kept.
    /// let err = hub.connect(&b.address().to_string()).await.unwrap_err();
    /// assert!(matches!(err, NodeError::Handshake(HandshakeError::TooManyPeers { limit: 1 })), "{err}");
    /// assert_eq!(hub.peers(), ["a"]);
    /// # Ok(()) }
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Speaks another protocol version in the handshake: for testing that a
    /// mismatch is refused.
    #[doc(hidden)]
    pub fn protocol_version(mut self, version: u16) -> Self {
        self.version = version;
        self
    }

    /// Binds the listener and starts accepting peers.
    ///
    /// # Errors
    ///
    /// [`NodeError::NoSecret`] without a secret, [`NodeError::Name`] for a
    /// name that is empty or longer than 255 bytes, [`NodeError::Address`]
    /// for an address longer than 512 bytes, [`NodeError::Io`] if the
    /// address cannot be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let node = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// assert!(node.address().to_string().starts_with("tcp://127.0.0.1:"), "loopback by default");
    ///
    /// let no_secret = Node::builder(ActorSystem::new()).start().await.unwrap_err();
    /// assert!(matches!(no_secret, NodeError::NoSecret));
    /// let empty_name = Node::builder(ActorSystem::new()).name("").secret("cookie").start().await.unwrap_err();
    /// assert!(matches!(empty_name, NodeError::Name(_)));
    /// // The port is taken by the first node.
    /// let taken = Node::builder(ActorSystem::new())
    ///     .secret("cookie")
    ///     .listen(&node.address().to_string())?
    ///     .start()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(taken, NodeError::Io(_)), "{taken}");
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Node, NodeError> {
        let secret = self.secret.filter(|s| !s.is_empty()).ok_or(NodeError::NoSecret)?;
        if let Some(name) = &self.name
            && (name.is_empty() || name.len() > handshake::MAX_NODE_NAME)
        {
            return Err(NodeError::Name(name.clone()));
        }
        let listen = match self.listen {
            Some(address) => address,
            None => "tcp://127.0.0.1:0".parse()?,
        };
        let mut incarnation = [0u8; 8];
        getrandom::fill(&mut incarnation).map_err(|e| NodeError::Io(std::io::Error::other(e.to_string())))?;
        let incarnation = u64::from_le_bytes(incarnation) | 1;
        let name = match (&listen, self.name) {
            (Address::Nats { node, .. }, Some(name)) if *node != name => {
                return Err(NodeError::Nats(format!(
                    "the node is named {name:?} but listens on NATS as {node:?}: a NATS node's name is its address's"
                )));
            }
            (Address::Nats { node, .. }, _) => node.clone(),
            (_, Some(name)) => name,
            (_, None) => format!("node-{:016x}", incarnation),
        };
        #[cfg(feature = "nats")]
        let hub = crate::nats::Hub::new(self.nats.unwrap_or_default(), &name);
        let (listener, address) = match &listen {
            #[cfg(feature = "nats")]
            Address::Nats { server, node } => (Listener::Nats(hub.listen(server, node).await?), listen.clone()),
            _ => Listener::bind(&listen).await?,
        };
        if address.to_string().len() > handshake::MAX_ADDRESS {
            return Err(NodeError::Address(address.to_string()));
        }
        let credit_window = u32::try_from(self.limits.credit_window.max(1)).unwrap_or(u32::MAX);
        let identity =
            Identity { node: name, incarnation, address: address.to_string(), version: self.version, credit_window };
        let inner = Arc::new_cyclic(|me| NodeInner {
            me: me.clone(),
            system: self.system,
            identity,
            address,
            secret: secret.into(),
            failures: std::sync::Mutex::new(std::collections::HashMap::new()),
            #[cfg(feature = "tls")]
            tls: self.tls,
            limits: self.limits,
            #[cfg(feature = "nats")]
            nats: hub,
            peers: DashMap::new(),
            exports: DashMap::default(),
            named: DashMap::new(),
            shut_down: AtomicBool::new(false),
            stop_accepting: Notify::new(),
            cluster: OnceLock::new(),
        });
        tokio::spawn(accept_loop(Arc::downgrade(&inner), listener));
        #[cfg(feature = "nats")]
        if let Address::Nats { server, .. } = &inner.address {
            let me = crate::nats::NatsPeer { name: inner.identity.node.clone(), address: inner.address.to_string() };
            let node = Arc::downgrade(&inner);
            let alive = move || node.upgrade().is_some_and(|n| !n.is_shut_down());
            inner.nats.announce(server, me, alive).await;
        }
        tracing::info!(node = %inner.identity.node, address = %inner.address, "node started");
        Ok(Node { inner })
    }
}

/// A node: makes this process's actors reachable from other nodes, and
/// theirs from here, through references used exactly like local ones.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::Node;
///
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
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Two nodes; in real use, two processes or machines.
/// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
///
/// let counter = a.system().spawn(Counter(0));
/// a.register("counter", &counter)?;
///
/// let peer = b.connect(&a.address().to_string()).await?;
/// let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await?;
/// remote.tell_add(1).await?;               // the typed client, as for a local ref
/// assert_eq!(remote.add(2).await?, 3);     // an ask across the wire
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

pub(crate) struct NodeInner {
    me: Weak<NodeInner>,
    pub(crate) system: ActorSystem,
    pub(crate) identity: Identity,
    address: Address,
    pub(crate) secret: Arc<[u8]>,
    /// Recent handshake failures, by (address, claimed node name).
    failures: std::sync::Mutex<std::collections::HashMap<(String, String), Bucket>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
    pub(crate) limits: Limits,
    /// The NATS clients, one per server used.
    #[cfg(feature = "nats")]
    pub(crate) nats: crate::nats::Hub,
    peers: DashMap<String, Arc<Peer>>,
    /// Local actors reachable by id.
    /// Keyed by ids of this node's actors (see [`IdHasher`]).
    pub(crate) exports: DashMap<ActorId, Arc<dyn Exported>, IdHasher>,
    /// Local actors reachable by name.
    pub(crate) named: DashMap<String, Arc<dyn Exported>>,
    shut_down: AtomicBool,
    stop_accepting: Notify,
    /// The cluster layer, once `Cluster::start` ran on this node.
    pub(crate) cluster: OnceLock<Arc<dyn Membership>>,
}

impl std::fmt::Debug for NodeInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("name", &self.identity.node).field("address", &self.address).finish()
    }
}

impl Node {
    /// Starts building a node for `system`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let system = ActorSystem::new();
    /// let _idle = system.spawn(Idle);
    /// let node = Node::builder(system).secret("cookie").start().await?;
    /// assert_eq!(node.system().actor_count(), 1, "the node serves the system it was given");
    /// # Ok(()) }
    /// ```
    pub fn builder(system: ActorSystem) -> NodeBuilder {
        NodeBuilder {
            system,
            name: None,
            listen: None,
            secret: None,
            limits: Limits::default(),
            version: u16::from(VERSION),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "nats")]
            nats: None,
        }
    }

    /// The node's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// assert_eq!(a.name(), "a");
    /// // Peers know a node by its name.
    /// assert_eq!(b.connect(&a.address().to_string()).await?, a.name());
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.identity.node
    }

    /// Where the node listens (with the port the OS chose).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Address, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").listen("tcp://127.0.0.1:0")?.start().await?;
    /// let Address::Tcp(socket) = a.address() else { panic!("listens on TCP") };
    /// assert_ne!(socket.port(), 0, "the port the OS chose, not 0");
    ///
    /// // The address, as a string, is what other nodes connect to.
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// assert_eq!(b.connect(&a.address().to_string()).await?, "a");
    /// # Ok(()) }
    /// ```
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// The actor system the node serves.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    /// # struct Idle;
    /// # impl Actor for Idle { type Error = std::convert::Infallible; }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let system = ActorSystem::new();
    /// let node = Node::builder(system.clone()).secret("cookie").start().await?;
    /// let _idle = node.system().spawn(Idle);
    /// assert_eq!(system.actor_count(), 1, "the same system");
    /// # Ok(()) }
    /// ```
    pub fn system(&self) -> &ActorSystem {
        &self.inner.system
    }

    /// The names of the peers connected now.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// assert!(b.peers().is_empty());
    /// b.connect(&a.address().to_string()).await?;
    /// assert_eq!(b.peers(), ["a"]);
    /// # Ok(()) }
    /// ```
    pub fn peers(&self) -> Vec<String> {
        self.inner.peers.iter().filter(|p| p.is_up()).map(|p| p.key().clone()).collect()
    }

    /// Connects to the node at `address` (`tcp://host:port`,
    /// `unix:/path`, or `nats://host:port/node-name` with the `nats`
    /// feature) and returns its name. Reconnects with backoff if the
    /// connection drops later. Returns at once if already connected to it.
    ///
    /// # Errors
    ///
    /// [`NodeError::Io`] if it cannot be reached (over NATS: no node of
    /// that name answers, an `io::ErrorKind::ConnectionRefused` like a
    /// closed TCP port), [`NodeError::Handshake`] if it refuses us or we
    /// refuse it (wrong secret, wrong version), [`NodeError::Nats`] if the
    /// NATS server cannot be reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let address = a.address().to_string();
    /// assert_eq!(b.connect(&address).await?, "a");
    /// // Connected already: the same peer, no second connection.
    /// assert_eq!(b.connect(&address).await?, "a");
    /// assert_eq!(b.peers(), ["a"]);
    ///
    /// // Nobody listens on a port just freed.
    /// let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    /// let err = b.connect(&format!("tcp://{closed}")).await.unwrap_err();
    /// assert!(matches!(err, NodeError::Io(_)), "{err}");
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self, address: &str) -> Result<String, NodeError> {
        let address: Address = address.parse()?;
        let peer = self.inner.dial(&address).await?;
        Ok(peer.name.clone())
    }

    /// Makes a local actor reachable from other nodes under `name` (also
    /// registering it in the system's registry). The name is freed when
    /// the actor stops.
    ///
    /// # Errors
    ///
    /// [`NodeError::NameTaken`] if another live actor holds the name,
    /// [`NodeError::NotLocal`] for a remote reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let counter = a.system().spawn(Counter(0));
    /// a.register("counter", &counter)?;
    /// assert!(a.system().lookup::<Counter>("counter").is_some(), "in the local registry too");
    ///
    /// // Another node reaches it by that name.
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let peer = b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await?;
    /// assert_eq!(remote.add(5).timeout(std::time::Duration::from_secs(10)).await?, 5);
    ///
    /// // The name is held while its actor lives, and only local actors qualify.
    /// let other = a.system().spawn(Counter(0));
    /// assert!(matches!(a.register("counter", &other), Err(NodeError::NameTaken(_))));
    /// assert!(matches!(b.register("counter", &remote), Err(NodeError::NotLocal)));
    /// # Ok(()) }
    /// ```
    pub fn register<A: RemoteActor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        let exported = transport::export(actor).ok_or(NodeError::NotLocal)?;
        match self.inner.named.entry(name.to_owned()) {
            dashmap::mapref::entry::Entry::Occupied(mut held) => {
                if held.get().is_alive() && held.get().id() != actor.id() {
                    return Err(NodeError::NameTaken(name.to_owned()));
                }
                held.insert(exported.clone());
            }
            dashmap::mapref::entry::Entry::Vacant(vacant) => {
                vacant.insert(exported.clone());
            }
        }
        let _ = self.inner.system.register(name, actor);
        self.inner.export(exported.clone());
        let node = Arc::downgrade(&self.inner);
        let name = name.to_owned();
        exported.on_terminated(Box::new(move |id, _| {
            if let Some(node) = node.upgrade() {
                node.named.remove_if(&name, |_, e| e.id() == id);
            }
        }));
        Ok(())
    }

    /// Stops offering `name` to other nodes (and frees it in the registry).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let counter = a.system().spawn(Counter(0));
    /// a.register("counter", &counter)?;
    ///
    /// assert!(a.unregister("counter"));
    /// assert!(!a.unregister("counter"), "already gone");
    /// assert!(a.system().lookup::<Counter>("counter").is_none());
    ///
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let peer = b.connect(&a.address().to_string()).await?;
    /// let err = b.lookup::<Counter>(&peer, "counter").await.unwrap_err();
    /// assert!(matches!(err, NodeError::NotFound { .. }), "{err}");
    /// assert!(counter.is_alive(), "the actor itself goes on");
    /// # Ok(()) }
    /// ```
    pub fn unregister(&self, name: &str) -> bool {
        self.inner.system.unregister(name);
        self.inner.named.remove(name).is_some()
    }

    /// A reference to the actor registered as `name` on the connected peer
    /// `peer`; used exactly like a local `ActorRef<A>`.
    ///
    /// # Errors
    ///
    /// [`NodeError::UnknownPeer`], [`NodeError::NotFound`],
    /// [`NodeError::NodeDown`] or [`NodeError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// let peer = b.connect(&a.address().to_string()).await?;
    ///
    /// let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await?;
    /// assert_eq!(remote.add(2).timeout(Duration::from_secs(10)).await?, 2);
    ///
    /// let err = b.lookup::<Counter>(&peer, "nobody").await.unwrap_err();
    /// assert!(matches!(err, NodeError::NotFound { ref name, .. } if name == "nobody"), "{err}");
    /// let err = b.lookup::<Counter>("c", "counter").await.unwrap_err();
    /// assert!(matches!(err, NodeError::UnknownPeer(_)), "{err}");
    /// # Ok(()) }
    /// ```
    pub async fn lookup<A: RemoteActor>(&self, peer: &str, name: &str) -> Result<ActorRef<A>, NodeError> {
        let handle =
            self.inner.peers.get(peer).map(|p| p.clone()).ok_or_else(|| NodeError::UnknownPeer(peer.into()))?;
        let (id, _actor_type) = handle.lookup(name, self.inner.limits.lookup_timeout).await.map_err(|e| match e {
            NodeError::NotFound { reason, .. } => NodeError::NotFound { name: name.to_owned(), reason },
            other => other,
        })?;
        Ok(transport::remote_ref(&self.inner.system, self.inner.endpoint(&handle, id)))
    }

    /// Says goodbye to every peer and stops accepting connections. Remote
    /// references held elsewhere see this node as left, not crashed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// a.register("counter", &a.system().spawn(Counter(0)))?;
    /// let peer = b.connect(&a.address().to_string()).await?;
    /// let remote: ActorRef<Counter> = b.lookup(&peer, "counter").await?;
    ///
    /// a.shutdown().await;
    /// assert!(a.peers().is_empty());
    /// // From b, the node is gone: asks to its actors fail.
    /// let err = remote.add(1).timeout(Duration::from_secs(10)).await.unwrap_err();
    /// assert!(err.is_node_down(), "{err}");
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self) {
        let Some(peers) = self.stop_once(|cluster| cluster.leave()) else { return };
        for peer in &peers {
            peer.say_goodbye();
        }
        // Let the goodbyes go out before closing.
        tokio::time::sleep(Duration::from_millis(20)).await;
        for peer in peers {
            peer.close();
        }
    }
}

impl Node {
    /// Stops at once, as a crashed process would look to its peers: no
    /// goodbye, no cluster leave; connections and the listener close. For
    /// tests of failure detection.
    #[doc(hidden)]
    pub fn crash(&self) {
        let Some(peers) = self.stop_once(|cluster| cluster.halt()) else { return };
        for peer in peers {
            peer.close();
        }
    }

    /// What a shutdown and a crash both do, the first time either comes
    /// (`None` afterwards): marks the node shut down, stops accepting,
    /// tells the cluster (`leave` or `halt`), and returns the peers to
    /// close.
    fn stop_once(&self, tell_cluster: impl FnOnce(&dyn Membership)) -> Option<Vec<Arc<Peer>>> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.inner.stop_accepting.notify_waiters();
        if let Some(cluster) = self.inner.cluster.get() {
            tell_cluster(cluster.as_ref());
        }
        Some(self.inner.peers.iter().map(|p| p.value().clone()).collect())
    }
}

impl Node {
    /// Asks sent from this node that still wait for an answer, over all
    /// peers: for tests that check nothing is left behind.
    #[doc(hidden)]
    pub fn pending_asks(&self) -> usize {
        self.inner.peers.iter().map(|p| p.pending_asks()).sum()
    }

    /// The figures of the link to `peer`: its resend buffer (now and at
    /// its peak), frames written again and duplicates dropped, restarts
    /// of the stream. For tests and figures.
    #[doc(hidden)]
    pub fn link_stats(&self, peer: &str) -> Option<crate::peer::LinkStats> {
        self.inner.peers.get(peer).map(|p| p.link_stats())
    }

    /// Over all peers: the notices this node holds for other nodes' actors
    /// (monitors, waits for their stop, links), and the watches other
    /// nodes hold on this node's actors. For tests that check nothing is
    /// left behind.
    #[doc(hidden)]
    pub fn watch_counts(&self) -> (usize, usize) {
        self.inner.peers.iter().map(|p| p.watch_counts()).fold((0, 0), |(n, w), (pn, pw)| (n + pn, w + pw))
    }
}

/// The NATS side of a node (feature `nats`); queue groups are in the
/// NATS layer, above the node.
#[cfg(feature = "nats")]
impl Node {
    /// The nodes listening on the same NATS server (and subject prefix)
    /// as this one, found by asking them: every node listening on NATS
    /// answers with its name and address within `wait`. This node is
    /// left out. Connect to one with [`Node::connect`] and its address.
    ///
    /// # Errors
    ///
    /// [`NodeError::Nats`] if this node does not listen on NATS or the
    /// server cannot be reached.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use actor_core::prelude::*;
    /// # use actor_remote::Node;
    /// # async fn demo() -> Result<(), actor_remote::NodeError> {
    /// let node = Node::builder(ActorSystem::new())
    ///     .secret("cookie")
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .start()
    ///     .await?;
    /// for peer in node.discover(std::time::Duration::from_millis(200)).await? {
    ///     node.connect(&peer.address).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn discover(&self, wait: Duration) -> Result<Vec<crate::nats::NatsPeer>, NodeError> {
        let (hub, url) = self.inner.nats_home()?;
        let mut found = hub.discover(&url, wait).await?;
        found.retain(|p| p.name != self.name());
        Ok(found)
    }
}

impl NodeInner {
    /// The peer of that name, connected or not.
    pub(crate) fn peer(&self, name: &str) -> Option<Arc<Peer>> {
        self.peers.get(name).map(|p| p.value().clone())
    }

    /// Where the node listens.
    #[cfg(feature = "nats")]
    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn arc(&self) -> Arc<NodeInner> {
        self.me.upgrade().expect("a node is alive while used")
    }

    /// Makes an exported actor reachable by id until it stops.
    fn export(&self, exported: Arc<dyn Exported>) {
        let id = exported.id();
        if self.exports.insert(id, exported.clone()).is_none() {
            let node = self.me.clone();
            exported.on_terminated(Box::new(move |id, _| {
                if let Some(node) = node.upgrade() {
                    node.exports.remove(&id);
                }
            }));
        }
    }

    /// An endpoint for one of `peer`'s actors.
    fn endpoint(&self, peer: &Arc<Peer>, id: ActorId) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            peer: peer.clone(),
            id,
            target: peer.target(id),
            codec: self.arc(),
            outbox: self.limits.outbox,
            max_frame: self.limits.max_frame,
        })
    }

    /// Whether the peer table has room for the peer `name` (it is there
    /// already, or there is room, after forgetting the peers that are down
    /// for good if need be).
    fn room_for(&self, name: &str) -> Result<(), HandshakeError> {
        let limit = self.limits.max_peers.max(1);
        if self.peers.contains_key(name) || self.peers.len() < limit {
            return Ok(());
        }
        self.peers.retain(|_, peer| !peer.forgettable());
        if self.peers.len() < limit { Ok(()) } else { Err(HandshakeError::TooManyPeers { limit }) }
    }

    /// The entry of the peer `name`, made if need be and if there is room.
    fn peer_entry(&self, name: &str, advertised: &str) -> Result<Arc<Peer>, HandshakeError> {
        self.room_for(name)?;
        let (window, resend) = (self.limits.credit_window, self.limits.resend_buffer);
        Ok(self
            .peers
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Peer::new(name.to_owned(), self.me.clone(), advertised.to_owned(), window, resend))
            })
            .clone())
    }

    /// Wraps a fresh connection in TLS, when the node is configured for it.
    #[cfg_attr(not(feature = "tls"), allow(clippy::unused_async))]
    async fn secure(&self, stream: BoxStream, dialed: bool) -> Result<BoxStream, HandshakeError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let secured = async { if dialed { tls.connect(stream).await } else { tls.accept(stream).await } };
            let limit = if dialed { self.limits.handshake_timeout } else { self.limits.hello_timeout };
            return match tokio::time::timeout(limit, secured).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) => Err(HandshakeError::Tls(e.to_string())),
                Err(_) => Err(HandshakeError::Timeout),
            };
        }
        let _ = dialed;
        Ok(stream)
    }

    /// Whether senders may write to a connection at `address` themselves
    /// (see `Peer::send_now`): plain TCP and Unix sockets, not TLS.
    fn direct_writes(&self, address: &Address) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return false;
        }
        matches!(address, Address::Tcp(_) | Address::Unix(_))
    }

    /// Opens a raw connection to `address`.
    async fn open(&self, address: &Address) -> Result<Connection, NodeError> {
        match address {
            #[cfg(feature = "nats")]
            Address::Nats { server, node } => self.nats.dial(server, node, self.limits.handshake_timeout).await,
            _ => Ok(Connection { stream: listener::connect(address, &self.address).await?, abort: None, seal: None }),
        }
    }

    /// The abort and seal of a connection, unless TLS wraps it: then the
    /// bytes the transport carries are not the bytes the node writes, and
    /// TLS already protects them.
    fn unless_tls(&self, connection: Connection) -> Connection {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return Connection { abort: None, seal: None, ..connection };
        }
        connection
    }

    /// The NATS server this node listens on, with the node's NATS side.
    #[cfg(feature = "nats")]
    pub(crate) fn nats_home(&self) -> Result<(&crate::nats::Hub, String), NodeError> {
        match &self.address {
            Address::Nats { server, .. } => Ok((&self.nats, server.clone())),
            other => Err(NodeError::Nats(format!("this node listens on {other}, not on a NATS server"))),
        }
    }

    /// Dials `address`, runs the handshake and attaches the connection.
    pub(crate) async fn dial(&self, address: &Address) -> Result<Arc<Peer>, NodeError> {
        if let Some(peer) = self.peers.iter().find(|p| p.is_up() && p.dial_address().as_ref() == Some(address)) {
            return Ok(peer.clone());
        }
        let Connection { stream, abort, seal } = self.unless_tls(self.open(address).await?);
        let stream = self.secure(stream, true).await.map_err(|e| {
            tracing::warn!(%address, error = %e, "TLS with a node we dialed failed");
            NodeError::Handshake(e)
        })?;
        let (stream, info, early) =
            handshake::dial(stream, &self.identity, &self.secret, self.limits.handshake_timeout).await.map_err(
                |e| {
                    tracing::warn!(%address, error = %e, "handshake with a node we dialed failed");
                    NodeError::Handshake(e)
                },
            )?;
        if let Some(seal) = &seal {
            seal.seal(&info.keys);
        }
        let peer = self.peer_entry(&info.node, &info.address).map_err(|e| {
            tracing::warn!(%address, peer = %info.node, error = %e, "a node we dialed was not kept");
            NodeError::Handshake(e)
        })?;
        peer.set_dial(address.clone());
        let node = self.arc();
        // A connection already up (the peer dialed us meanwhile) serves.
        peer.attach(&*node, stream, info, early, false, Wire { direct: self.direct_writes(address), abort });
        Ok(peer)
    }

    /// Runs the handshake on an accepted connection and attaches it.
    async fn accepted(self: Arc<Self>, connection: Connection, from: String, hello: Arc<AtomicBool>) {
        let Connection { stream, abort, seal } = self.unless_tls(connection);
        let stream = match self.secure(stream, false).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%from, error = %e, "refused a connection");
                return;
            }
        };
        let source = source_of(&from);
        let claimed = std::sync::Mutex::new(None::<String>);
        let admit = |name: &str| {
            hello.store(true, Ordering::Release);
            *claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(name.to_owned());
            self.admit(&source, name)?;
            self.room_for(name)
        };
        let result = handshake::accept(
            stream,
            &self.identity,
            &self.secret,
            self.limits.handshake_timeout,
            self.limits.hello_timeout,
            Some(&admit),
        )
        .await;
        if let Some(name) = claimed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            self.record_handshake(&source, &name, result.is_ok());
        }
        match result {
            Ok((stream, info, early)) => {
                if let Some(seal) = &seal {
                    seal.seal(&info.keys);
                }
                let peer = match self.peer_entry(&info.node, &info.address) {
                    Ok(peer) => peer,
                    Err(e) => {
                        tracing::warn!(%from, peer = %info.node, error = %e, "refused a connection");
                        return;
                    }
                };
                let name = info.node.clone();
                let wire = Wire { direct: self.direct_writes(&self.address), abort };
                if !peer.attach(&*self, stream, info, early, true, wire) {
                    tracing::debug!(peer = %name, "a second connection from a connected peer was closed");
                }
            }
            Err(e) => tracing::warn!(%from, error = %e, "refused a connection"),
        }
    }
}

/// The address a connection came from, without its port: what failures
/// are counted against.
fn source_of(from: &str) -> String {
    from.parse::<std::net::SocketAddr>().map(|a| a.ip().to_string()).unwrap_or_else(|_| from.to_owned())
}

/// The handshake failures tolerated from one (address, name): a token
/// bucket, one token per failure, refilled one per
/// `Limits::handshake_failure_refill`.
#[derive(Debug)]
struct Bucket {
    tokens: u32,
    since: std::time::Instant,
}

/// How many (address, name) pairs the failure table remembers; past it,
/// the pairs whose budget is whole again are forgotten first.
const FAILURE_TABLE: usize = 4096;

impl NodeInner {
    fn refill(&self, bucket: &mut Bucket) {
        let burst = self.limits.handshake_failure_burst;
        let every = self.limits.handshake_failure_refill.max(Duration::from_millis(1));
        let earned = (bucket.since.elapsed().as_nanos() / every.as_nanos()).min(u128::from(burst)) as u32;
        if earned > 0 {
            bucket.tokens = (bucket.tokens + earned).min(burst);
            bucket.since += every * earned;
        }
        if bucket.tokens == burst {
            bucket.since = std::time::Instant::now();
        }
    }

    /// Whether a handshake from `source` claiming `name` may go on.
    fn admit(&self, source: &str, name: &str) -> Result<(), HandshakeError> {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match failures.get_mut(&(source.to_owned(), name.to_owned())) {
            Some(bucket) => {
                self.refill(bucket);
                if bucket.tokens == 0 { Err(HandshakeError::Throttled) } else { Ok(()) }
            }
            None => Ok(()),
        }
    }

    /// Counts a finished handshake: a failure spends a token, a success
    /// forgives.
    fn record_handshake(&self, source: &str, name: &str, ok: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (source.to_owned(), name.to_owned());
        if ok {
            failures.remove(&key);
            return;
        }
        if failures.len() >= FAILURE_TABLE && !failures.contains_key(&key) {
            let burst = self.limits.handshake_failure_burst;
            let mut whole: Vec<_> = Vec::new();
            for (k, b) in failures.iter_mut() {
                self.refill(b);
                if b.tokens == burst {
                    whole.push(k.clone());
                }
            }
            for k in whole {
                failures.remove(&k);
            }
            if failures.len() >= FAILURE_TABLE {
                // Every remembered pair is throttled: the newcomer is not
                // remembered, and only the other limits bound it.
                return;
            }
        }
        let bucket = failures.entry(key).or_insert_with(|| Bucket {
            tokens: self.limits.handshake_failure_burst,
            since: std::time::Instant::now(),
        });
        self.refill(bucket);
        bucket.tokens = bucket.tokens.saturating_sub(1);
    }
}

/// A handshake of an accepted connection, running.
struct Handshake {
    id: u64,
    /// The peer sent a valid hello.
    hello: Arc<AtomicBool>,
    abort: tokio::task::AbortHandle,
}

async fn accept_loop(node: Weak<NodeInner>, listener: Listener) {
    // Handshakes running now, oldest first, so that a connection past the
    // limit can close the oldest rather than wait behind it.
    let running = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::<Handshake>::new()));
    let mut next_id = 0u64;
    loop {
        let stop = match node.upgrade() {
            Some(n) if !n.is_shut_down() => n,
            _ => return,
        };
        let limit = stop.limits.concurrent_handshakes.max(1);
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.stop_accepting.notified() => return,
        };
        drop(stop);
        match accepted {
            Ok((connection, from)) => {
                let Some(node) = node.upgrade() else { return };
                // Past the limit, the running handshakes first get a turn
                // to read what their peers sent: a peer that said hello at
                // once must not lose its place only because this loop
                // accepted a flood faster than its task was polled.
                if running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() >= limit {
                    tokio::task::yield_now().await;
                }
                let mut list = running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                while list.len() >= limit {
                    // The oldest that has not sent a valid hello yet (a
                    // staller), else the oldest of all.
                    let at = list.iter().position(|h| !h.hello.load(Ordering::Acquire)).unwrap_or(0);
                    if let Some(evicted) = list.remove(at) {
                        tracing::debug!("closed a pending handshake to admit a new connection");
                        evicted.abort.abort();
                    }
                }
                next_id += 1;
                let id = next_id;
                let done = running.clone();
                let hello = Arc::new(AtomicBool::new(false));
                let said_hello = hello.clone();
                let task = tokio::spawn(async move {
                    node.accepted(connection, from, said_hello).await;
                    done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|h| h.id != id);
                });
                list.push_back(Handshake { id, hello, abort: task.abort_handle() });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

impl Host for NodeInner {
    fn name(&self) -> &str {
        &self.identity.node
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn exported(&self, id: ActorId) -> Option<Arc<dyn Exported>> {
        self.exports.get(&id).map(|e| e.value().clone())
    }

    fn named(&self, name: &str) -> Option<Arc<dyn Exported>> {
        self.named.get(name).map(|e| e.value().clone())
    }

    fn is_shut_down(&self) -> bool {
        NodeInner::is_shut_down(self)
    }

    fn dial<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move { NodeInner::dial(self, address).await.map(drop) })
    }

    fn cluster_message(&self, from: &str, bytes: &[u8]) {
        match self.cluster.get() {
            Some(cluster) => cluster.receive(from, bytes),
            None => tracing::debug!(peer = %from, "a cluster message for a node that is not in a cluster"),
        }
    }
}

/// The cluster layer as the node sees it, once `Cluster::start` ran on
/// it: the node hands it the cluster's frames, asks it where a member
/// listens, and tells it when the node leaves or stops. A trait, so that
/// the node never names the cluster, which stands a layer above.
pub(crate) trait Membership: Send + Sync {
    /// A frame of the cluster layer from the peer `from`.
    fn receive(&self, from: &str, bytes: &[u8]);
    /// Where the member `name` listens, if it is up.
    fn member_address(&self, name: &str) -> Option<String>;
    /// The node is shutting down gracefully: say goodbye to the members.
    fn leave(&self);
    /// The node stops at once: the cluster does nothing more.
    fn halt(&self);
}

impl RefCodec for NodeInner {
    fn system(&self) -> &ActorSystem {
        &self.system
    }

    fn export(&self, actor: Arc<dyn Exported>) -> WireRef {
        let id = actor.id();
        if !self.exports.contains_key(&id) {
            NodeInner::export(self, actor);
        }
        WireRef { node: self.identity.node.clone(), address: self.address.to_string(), id }
    }

    fn resolve(&self, wire: &WireRef) -> Result<Resolved, String> {
        if wire.node == self.identity.node {
            return self
                .exports
                .get(&wire.id)
                .map(|e| Resolved::Local(e.value().clone()))
                .ok_or_else(|| format!("actor {} is not (or no longer) on this node", wire.id));
        }
        if let Some(peer) = self.peer(&wire.node) {
            // A node this node knows: the reference says which actor, not
            // where the node is (its address stays what it was).
            return Ok(Resolved::Remote(self.endpoint(&peer, wire.id)));
        }
        // A node this node has not met. A peer's message cannot make this
        // node dial an address of the peer's choosing, nor fill the peer
        // table: only a member of this node's cluster is dialed, at the
        // address membership knows for it.
        let member = self.cluster.get().and_then(|cluster| cluster.member_address(&wire.node));
        let Some(address) = member.and_then(|a| a.parse::<Address>().ok()) else {
            return Err(format!(
                "the reference names node {:?}, which this node is not connected to (connect to it first, \
                 or run a cluster both are members of)",
                wire.node
            ));
        };
        let peer = self.peer_entry(&wire.node, &address.to_string()).map_err(|e| e.to_string())?;
        if !peer.is_up() && peer.dial_address().is_none() {
            // Dialed in the background; messages wait in the outbox
            // meanwhile.
            peer.set_dial(address.clone());
            let node = self.arc();
            let peer = peer.clone();
            tokio::spawn(async move {
                if let Err(e) = node.dial(&address).await {
                    tracing::warn!(%address, error = %e, "could not reach a cluster member named in a message");
                    peer.reconnect();
                }
            });
        }
        Ok(Resolved::Remote(self.endpoint(&peer, wire.id)))
    }
}
