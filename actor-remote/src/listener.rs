//! Opening and accepting connections on each kind of [`Address`]: TCP,
//! Unix sockets, the simulated network (feature `test-util`) and NATS
//! (feature `nats`; dialing NATS goes through the node's clients).

use std::path::PathBuf;

use tokio::net::{TcpListener, TcpStream};

use crate::address::Address;
use crate::connection::{BoxStream, Connection};
use crate::error::NodeError;

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
