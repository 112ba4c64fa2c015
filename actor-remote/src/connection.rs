//! A connection as every transport hands it up to the node: a byte
//! stream, and the hooks a transport may add (a reason for closing, a
//! per-message seal). TCP, Unix sockets, the simulated network, TLS and
//! NATS virtual connections all end here.

use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

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
    fn seal(&self, keys: &SessionKeys);
}

/// A fresh connection, with its abort and seal if the transport has
/// them.
pub(crate) struct Connection {
    pub(crate) stream: BoxStream,
    pub(crate) abort: Option<Arc<dyn Abort>>,
    pub(crate) seal: Option<Arc<dyn Seal>>,
}

/// The per-direction keys of one connection, for transports that sign
/// their framing.
#[derive(Clone)]
// Only the NATS transport signs with them.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) struct SessionKeys {
    /// Signs what this side sends.
    pub(crate) send: [u8; 32],
    /// Checks what the peer sends.
    pub(crate) receive: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}
