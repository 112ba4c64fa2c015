//! The errors of nodes and connections.

use std::fmt;
use std::io;

/// Why a connection's handshake failed. The connection is closed and the
/// reason logged; no frame from it reached any actor.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{HandshakeError, Node, NodeError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), NodeError> {
/// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
/// let stranger = Node::builder(ActorSystem::new()).name("stranger").secret("guess").start().await?;
///
/// let err = stranger.connect(&a.address().to_string()).await.unwrap_err();
/// let NodeError::Handshake(why) = &err else { panic!("not a handshake failure: {err}") };
/// // Which side notices first decides between the two.
/// assert!(matches!(why, HandshakeError::Authentication | HandshakeError::RefusedByPeer(_)), "{why}");
/// assert!(std::error::Error::source(&err).is_some(), "the handshake error is the source");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer did not prove it knows the shared secret, or what it sent
    /// was not made for this connection (a replayed or relayed handshake,
    /// a hello changed on the way).
    Authentication,
    /// The peer speaks another protocol version.
    Version {
        /// This node's version.
        ours: u16,
        /// The peer's version.
        theirs: u16,
    },
    /// The peer refused us, saying why.
    RefusedByPeer(String),
    /// The peer sent something that is not a valid handshake.
    Protocol(String),
    /// The handshake did not finish in time.
    Timeout,
    /// The connection closed during the handshake.
    Closed,
    /// The connection failed.
    Io(io::Error),
    /// TLS failed: no certificate, one the CA did not sign, or not TLS.
    Tls(String),
    /// Too many handshakes from this address and claimed node name failed
    /// lately; refused without checking the proof. See
    /// [`Limits::handshake_failure_burst`](crate::limits::Limits::handshake_failure_burst).
    Throttled,
    /// The node keeps as many peers as it may
    /// ([`Limits::max_peers`](crate::limits::Limits::max_peers)), none of which it
    /// could forget.
    TooManyPeers {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Authentication => f.write_str("authentication failed (wrong or missing shared secret)"),
            HandshakeError::Version { ours, theirs } => {
                write!(f, "peer speaks protocol version {theirs}, this node speaks {ours}")
            }
            HandshakeError::RefusedByPeer(reason) => write!(f, "refused by the peer: {reason}"),
            HandshakeError::Protocol(what) => write!(f, "handshake protocol violation: {what}"),
            HandshakeError::Timeout => f.write_str("handshake timed out"),
            HandshakeError::Closed => f.write_str("connection closed during the handshake"),
            HandshakeError::Io(e) => write!(f, "i/o error during the handshake: {e}"),
            HandshakeError::Tls(e) => write!(f, "TLS failed: {e}"),
            HandshakeError::Throttled => f.write_str("too many failed handshakes lately; try again later"),
            HandshakeError::TooManyPeers { limit } => {
                write!(f, "the node keeps at most {limit} peers, and all are in use")
            }
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// What can go wrong with a node: starting it, connecting, looking up.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Address, Node, NodeError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let err = Node::builder(ActorSystem::new()).start().await.unwrap_err();
/// assert!(matches!(err, NodeError::NoSecret));
/// assert!(err.to_string().contains("secret"), "{err}");
///
/// let err = "ftp://127.0.0.1:21".parse::<Address>().unwrap_err();
/// assert!(matches!(err, NodeError::Address(ref a) if a == "ftp://127.0.0.1:21"));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The node was built without a shared secret.
    NoSecret,
    /// The node's name is empty or longer than 255 bytes.
    Name(String),
    /// Binding or connecting failed.
    Io(io::Error),
    /// The address could not be parsed.
    Address(String),
    /// The handshake with the peer failed.
    Handshake(HandshakeError),
    /// No connected or known peer has that name.
    UnknownPeer(String),
    /// The peer has no actor of that name.
    NotFound {
        /// The name looked up.
        name: String,
        /// The peer's explanation.
        reason: String,
    },
    /// The connection to the peer was lost.
    NodeDown(String),
    /// The peer did not answer in time.
    Timeout,
    /// The actor is remote: only local actors can be registered.
    NotLocal,
    /// The name is already registered on this node.
    NameTaken(String),
    /// The NATS transport failed: the server could not be reached, or a
    /// name or option does not fit NATS.
    Nats(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::NoSecret => f.write_str("a node needs a shared secret (NodeBuilder::secret)"),
            NodeError::Name(name) => {
                write!(f, "a node name must be 1 to 255 bytes long; {name:?} is {} bytes", name.len())
            }
            NodeError::Io(e) => write!(f, "i/o error: {e}"),
            NodeError::Address(a) => {
                write!(f, "bad address {a:?}: use tcp://host:port, unix:/path or nats://host:port/node-name")
            }
            NodeError::Handshake(e) => write!(f, "handshake failed: {e}"),
            NodeError::UnknownPeer(p) => write!(f, "no peer named {p:?}"),
            NodeError::NotFound { name, reason } => write!(f, "no actor named {name:?} on the peer: {reason}"),
            NodeError::NodeDown(p) => write!(f, "node {p:?} is down"),
            NodeError::Timeout => f.write_str("the peer did not answer in time"),
            NodeError::NotLocal => f.write_str("only a local actor can be registered"),
            NodeError::NameTaken(n) => write!(f, "the name {n:?} is already registered"),
            NodeError::Nats(e) => write!(f, "NATS: {e}"),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NodeError::Io(e) => Some(e),
            NodeError::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for NodeError {
    fn from(e: io::Error) -> Self {
        NodeError::Io(e)
    }
}

impl From<HandshakeError> for NodeError {
    fn from(e: HandshakeError) -> Self {
        NodeError::Handshake(e)
    }
}
