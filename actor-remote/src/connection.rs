//! A connection as every transport hands it up to the node: a byte
//! stream, and the hooks a transport may add (a reason for closing, a
//! per-message seal). TCP, Unix sockets, the simulated network, TLS and
//! NATS virtual connections all end here.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};

/// A connected byte stream: TCP, Unix, or a virtual connection over NATS.
/// `Any`, so that [`split`] can tell a plain socket.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Any + Send + Unpin + 'static {}
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

/// Splits a connection into its read and write sides.
///
/// Plain TCP and Unix sockets split into tokio's owned halves, which share
/// no lock: every read and write of a `tokio::io::split` half takes one
/// (two atomic operations), and a round trip makes about six. Any other
/// stream (TLS, NATS, the simulated network) is split with
/// `tokio::io::split`.
pub(crate) fn split(stream: BoxStream) -> (ReadSide, WriteSide) {
    let stream = Pin::into_inner(stream);
    let stream = match split_as(stream, |tcp: tokio::net::TcpStream| {
        let (read, write) = tcp.into_split();
        (ReadSide::Tcp(read), WriteSide(Some(WriteInner::Tcp(write))))
    }) {
        Ok(sides) => return sides,
        Err(stream) => stream,
    };
    #[cfg(unix)]
    let stream = match split_as(stream, |unix: tokio::net::UnixStream| {
        let (read, write) = unix.into_split();
        (ReadSide::Unix(read), WriteSide(Some(WriteInner::Unix(write))))
    }) {
        Ok(sides) => return sides,
        Err(stream) => stream,
    };
    let (read, write) = tokio::io::split(Pin::new(stream));
    (ReadSide::Other(read), WriteSide(Some(WriteInner::Other(write))))
}

/// `stream` split by `split` if it is an `S`; handed back otherwise.
fn split_as<S: Stream>(
    stream: Box<dyn Stream>,
    split: impl FnOnce(S) -> (ReadSide, WriteSide),
) -> Result<(ReadSide, WriteSide), Box<dyn Stream>> {
    let any: &dyn Any = &*stream;
    if !any.is::<S>() {
        return Err(stream);
    }
    let any: Box<dyn Any + Send> = stream;
    match any.downcast::<S>() {
        Ok(stream) => Ok(split(*stream)),
        Err(_) => unreachable!("checked to be an `S` just above"),
    }
}

/// The read side of a connection; see [`split`].
pub(crate) enum ReadSide {
    Tcp(tokio::net::tcp::OwnedReadHalf),
    #[cfg(unix)]
    Unix(tokio::net::unix::OwnedReadHalf),
    Other(ReadHalf<BoxStream>),
}

impl AsyncRead for ReadSide {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadSide::Tcp(read) => Pin::new(read).poll_read(cx, buf),
            #[cfg(unix)]
            ReadSide::Unix(read) => Pin::new(read).poll_read(cx, buf),
            ReadSide::Other(read) => Pin::new(read).poll_read(cx, buf),
        }
    }
}

/// The write side of a connection; see [`split`].
///
/// As with `tokio::io::split`, dropping it does not shut the connection's
/// sending direction: the socket closes once both sides are gone, or when
/// the write side is shut down.
pub(crate) struct WriteSide(Option<WriteInner>);

enum WriteInner {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    #[cfg(unix)]
    Unix(tokio::net::unix::OwnedWriteHalf),
    Other(WriteHalf<BoxStream>),
}

impl WriteSide {
    fn inner(self: Pin<&mut Self>) -> Pin<&mut (dyn AsyncWrite + Send + Unpin)> {
        // `Some` until dropped.
        match self.get_mut().0.as_mut().expect("a write side is whole until dropped") {
            WriteInner::Tcp(write) => Pin::new(write),
            #[cfg(unix)]
            WriteInner::Unix(write) => Pin::new(write),
            WriteInner::Other(write) => Pin::new(write),
        }
    }
}

impl AsyncWrite for WriteSide {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner().poll_shutdown(cx)
    }
}

impl Drop for WriteSide {
    fn drop(&mut self) {
        // An owned write half would shut the sending direction when
        // dropped; `forget` leaves the socket to close with its read half.
        match self.0.take() {
            Some(WriteInner::Tcp(write)) => write.forget(),
            #[cfg(unix)]
            Some(WriteInner::Unix(write)) => write.forget(),
            Some(WriteInner::Other(_)) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Both sides work, and the far end sees the connection close only
    /// once both are gone, as with `tokio::io::split`.
    async fn check_sides(mut read: ReadSide, mut write: WriteSide, far: &mut (impl AsyncRead + AsyncWrite + Unpin)) {
        let mut buf = [0; 4];
        write.write_all(b"ping").await.unwrap();
        far.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        far.write_all(b"pong").await.unwrap();
        read.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        drop(write);
        let early = tokio::time::timeout(Duration::from_millis(100), far.read(&mut buf)).await;
        assert!(early.is_err(), "the far end saw the write side's drop: {early:?}");
        drop(read);
        let end = tokio::time::timeout(Duration::from_secs(5), far.read(&mut buf)).await;
        assert_eq!(end.expect("the far end saw no close").unwrap(), 0);
    }

    #[tokio::test]
    async fn tcp_streams_split_into_owned_halves() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (near, accepted) = tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        let (mut far, _) = accepted.unwrap();
        let (read, write) = split(Box::pin(near.unwrap()));
        assert!(matches!(read, ReadSide::Tcp(_)));
        check_sides(read, write, &mut far).await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn unix_streams_split_into_owned_halves() {
        let (near, mut far) = tokio::net::UnixStream::pair().unwrap();
        let (read, write) = split(Box::pin(near));
        assert!(matches!(read, ReadSide::Unix(_)));
        check_sides(read, write, &mut far).await;
    }

    #[tokio::test]
    async fn other_streams_split_with_tokio() {
        let (near, mut far) = tokio::io::duplex(64);
        let (read, write) = split(Box::pin(near));
        assert!(matches!(read, ReadSide::Other(_)));
        check_sides(read, write, &mut far).await;
    }
}
