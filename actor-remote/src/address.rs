//! Where a node listens: TCP, a Unix domain socket for processes on one
//! machine, or a name on a NATS server (feature `nats`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::error::NodeError;

/// A node's address: `tcp://127.0.0.1:4000`, `unix:/tmp/node.sock`, or
/// `nats://127.0.0.1:4222/node-a` (the node named `node-a` on that NATS
/// server; dialing and listening on it need the `nats` feature).
///
/// A NATS node name becomes a token of NATS subjects, so it may only hold
/// ASCII letters, digits, `-` and `_` (1 to 64 of them). Credentials never
/// go in the address (it is logged and sent to peers): give them to
/// `NodeBuilder::nats`.
///
/// # Examples
///
/// ```
/// use actor_remote::Address;
///
/// let tcp: Address = "tcp://127.0.0.1:0".parse().unwrap();
/// assert_eq!(tcp.to_string(), "tcp://127.0.0.1:0");
/// let unix: Address = "unix:/tmp/a.sock".parse().unwrap();
/// assert!(matches!(unix, Address::Unix(_)));
/// let nats: Address = "nats://127.0.0.1:4222/node-a".parse().unwrap();
/// assert_eq!(nats, Address::Nats { server: "nats://127.0.0.1:4222".into(), node: "node-a".into() });
/// assert_eq!(nats.to_string(), "nats://127.0.0.1:4222/node-a");
/// assert!("nats://127.0.0.1:4222/a.b".parse::<Address>().is_err(), "a dot would split the subject");
/// assert!("nats://user:pw@127.0.0.1:4222/a".parse::<Address>().is_err(), "no credentials in addresses");
/// assert!("ftp://x".parse::<Address>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A node of a simulated network (`sim:<network>/<node>`): see
    /// `testkit::SimNet` (feature `test-util`). For tests only.
    #[doc(hidden)]
    Sim(String),
    /// A node reached through a NATS server.
    Nats {
        /// The server's URL, `nats://host:port`.
        server: String,
        /// The node's name on it.
        node: String,
    },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "tcp://{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Sim(node) => write!(f, "sim:{node}"),
            Address::Nats { server, node } => write!(f, "{server}/{node}"),
        }
    }
}

/// Whether `token` may be one token of a NATS subject (a node name, a
/// group name, a prefix): ASCII letters, digits, `-` and `_`, 1 to 64.
pub(crate) fn is_subject_token(token: &str) -> bool {
    (1..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_nats(s: &str, rest: &str) -> Result<Address, NodeError> {
    let bad = || NodeError::Address(s.to_owned());
    let (host, node) = rest.split_once('/').ok_or_else(bad)?;
    if host.is_empty() || host.contains('@') || !is_subject_token(node) {
        return Err(bad());
    }
    let port_ok = match host.rsplit_once(':') {
        Some((name, port)) => !name.is_empty() && port.parse::<u16>().is_ok(),
        None => !host.contains(['/', ' ']),
    };
    if !port_ok {
        return Err(bad());
    }
    Ok(Address::Nats { server: format!("nats://{host}"), node: node.to_owned() })
}

impl FromStr for Address {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<Self, NodeError> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            rest.parse().map(Address::Tcp).map_err(|_| NodeError::Address(s.to_owned()))
        } else if let Some(rest) = s.strip_prefix("unix:") {
            if rest.is_empty() {
                return Err(NodeError::Address(s.to_owned()));
            }
            Ok(Address::Unix(PathBuf::from(rest)))
        } else if let Some(rest) = s.strip_prefix("sim:")
            && !rest.is_empty()
        {
            Ok(Address::Sim(rest.to_owned()))
        } else if let Some(rest) = s.strip_prefix("nats://") {
            parse_nats(s, rest)
        } else {
            Err(NodeError::Address(s.to_owned()))
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tcp(addr)
    }
}

/// A connected byte stream: TCP, Unix, or a virtual connection over NATS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub(crate) type BoxStream = Pin<Box<dyn Stream>>;

/// A stream that can be told why this node gives it up (a heartbeat
/// timeout, a bad frame), to pass the reason on to the peer: a NATS
/// virtual connection says it in its close chunk.
pub(crate) trait Abort: Send + Sync {
    /// Records why the connection is given up, unless a reason is known
    /// already.
    fn fail(&self, why: &str);
}

/// A stream that signs each message it sends, and checks each it
/// receives, with the session keys of the handshake it carried.
pub(crate) trait Seal: Send + Sync {
    /// From now on, sign and check. Called once the handshake succeeded,
    /// before anything else is sent.
    fn seal(&self, keys: &crate::handshake::SessionKeys);
}

/// A fresh connection, with its abort and seal if the transport has
/// them.
pub(crate) struct Connection {
    pub(crate) stream: BoxStream,
    pub(crate) abort: Option<std::sync::Arc<dyn Abort>>,
    pub(crate) seal: Option<std::sync::Arc<dyn Seal>>,
}

/// Opens a TCP, Unix or simulated connection to `address`, from the node
/// listening at `from` (NATS virtual connections are opened by the node,
/// which holds the NATS clients).
pub(crate) async fn connect(address: &Address, from: &Address) -> std::io::Result<BoxStream> {
    match address {
        Address::Tcp(addr) => {
            let stream = TcpStream::connect(addr).await?;
            // Frames are coalesced by the writer; Nagle would only add delay.
            stream.set_nodelay(true)?;
            Ok(Box::pin(stream))
        }
        Address::Unix(path) => connect_unix(path).await,
        #[cfg(feature = "test-util")]
        Address::Sim(node) => {
            let from = match from {
                Address::Sim(own) => own.clone(),
                other => other.to_string(),
            };
            Ok(Box::pin(crate::sim::connect(node, &from)?))
        }
        #[cfg(not(feature = "test-util"))]
        Address::Sim(_) => {
            let _ = from;
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "simulated networks need feature test-util"))
        }
        Address::Nats { .. } => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "nats:// addresses need the `nats` feature of actor-remote",
        )),
    }
}

#[cfg(unix)]
async fn connect_unix(path: &std::path::Path) -> std::io::Result<BoxStream> {
    Ok(Box::pin(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn connect_unix(_: &std::path::Path) -> std::io::Result<BoxStream> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "Unix sockets need a Unix system"))
}

/// A bound listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, PathBuf),
    #[cfg(feature = "test-util")]
    Sim(tokio::sync::Mutex<crate::sim::SimListener>),
    #[cfg(feature = "nats")]
    Nats(crate::nats::Acceptor),
}

impl Listener {
    /// Binds `address`; returns the listener and the address actually bound
    /// (with the port the OS chose for `:0`).
    pub(crate) async fn bind(address: &Address) -> Result<(Listener, Address), NodeError> {
        match address {
            Address::Tcp(addr) => {
                let listener = TcpListener::bind(addr).await?;
                let bound = listener.local_addr()?;
                Ok((Listener::Tcp(listener), Address::Tcp(bound)))
            }
            #[cfg(unix)]
            Address::Unix(path) => {
                let listener = tokio::net::UnixListener::bind(path)?;
                Ok((Listener::Unix(listener, path.clone()), Address::Unix(path.clone())))
            }
            #[cfg(not(unix))]
            Address::Unix(_) => Err(NodeError::Address("Unix sockets need a Unix system".into())),
            #[cfg(feature = "test-util")]
            Address::Sim(node) => {
                let listener = crate::sim::bind(node)?;
                Ok((Listener::Sim(tokio::sync::Mutex::new(listener)), address.clone()))
            }
            #[cfg(not(feature = "test-util"))]
            Address::Sim(_) => Err(NodeError::Address("simulated networks need feature test-util".into())),
            Address::Nats { .. } => Err(NodeError::Nats("listening on NATS needs the `nats` feature".into())),
        }
    }

    /// The next connection, where it came from, and its abort.
    pub(crate) async fn accept(&self) -> std::io::Result<(Connection, String)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, from) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Connection { stream: Box::pin(stream), abort: None, seal: None }, from.to_string()))
            }
            #[cfg(unix)]
            Listener::Unix(listener, path) => {
                let (stream, _) = listener.accept().await?;
                Ok((Connection { stream: Box::pin(stream), abort: None, seal: None }, path.display().to_string()))
            }
            #[cfg(feature = "test-util")]
            Listener::Sim(listener) => {
                let (stream, from) = listener.lock().await.accept().await?;
                Ok((Connection { stream: Box::pin(stream), abort: None, seal: None }, from))
            }
            #[cfg(feature = "nats")]
            Listener::Nats(acceptor) => acceptor.accept().await,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            // The socket file outlives the listener otherwise, and a later
            // bind of the same path would fail.
            let _ = std::fs::remove_file(path);
        }
    }
}
