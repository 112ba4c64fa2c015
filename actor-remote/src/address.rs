//! Where a node listens: TCP, or a Unix domain socket for processes on one
//! machine.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::error::NodeError;

/// A node's address: `tcp://127.0.0.1:4000` or `unix:/tmp/node.sock`.
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
/// assert!("ftp://x".parse::<Address>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A node of a simulated network (`sim:<network>/<node>`): see
    /// `testkit::SimNet` (feature `test-util`). For tests only.
    #[doc(hidden)]
    Sim(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "tcp://{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Sim(node) => write!(f, "sim:{node}"),
        }
    }
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

/// A connected byte stream, TCP or Unix.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub(crate) type BoxStream = Pin<Box<dyn Stream>>;

/// Opens a connection to `address`, from the node listening at `from`.
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
        Address::Sim(node) => crate::testkit::connect(node, from),
        #[cfg(not(feature = "test-util"))]
        Address::Sim(_) => {
            let _ = from;
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "simulated networks need feature test-util"))
        }
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
    Sim(tokio::sync::Mutex<crate::testkit::SimListener>),
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
                let listener = crate::testkit::bind(node)?;
                Ok((Listener::Sim(tokio::sync::Mutex::new(listener)), address.clone()))
            }
            #[cfg(not(feature = "test-util"))]
            Address::Sim(_) => Err(NodeError::Address("simulated networks need feature test-util".into())),
        }
    }

    pub(crate) async fn accept(&self) -> std::io::Result<(BoxStream, String)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, from) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::pin(stream), from.to_string()))
            }
            #[cfg(unix)]
            Listener::Unix(listener, path) => {
                let (stream, _) = listener.accept().await?;
                Ok((Box::pin(stream), path.display().to_string()))
            }
            #[cfg(feature = "test-util")]
            Listener::Sim(listener) => listener.lock().await.accept().await,
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
