//! Thin entry points into the wire format and the handshake, for the fuzz
//! targets (`fuzz/`) and the robustness tests. Not part of the API: hidden
//! from the docs, and may change in any release.

use std::time::Duration;

use actor_core::ActorId;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::HandshakeError;
use crate::frame::{self, Frame, System};
use crate::handshake::{self, Identity};

/// The largest handshake frame a node accepts.
pub const MAX_HANDSHAKE_FRAME: usize = handshake::MAX_HANDSHAKE_FRAME;

/// Decodes one frame body (what follows the 4-byte length prefix) and
/// names its kind, or says why it does not decode. Never panics.
pub fn decode_frame(bytes: &[u8]) -> Result<&'static str, String> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Tell { .. }) => Ok("tell"),
        Ok(Frame::Ask { .. }) => Ok("ask"),
        Ok(Frame::Reply { .. }) => Ok("reply"),
        Ok(Frame::Failure { .. }) => Ok("failure"),
        Ok(Frame::System(_)) => Ok("system"),
        Ok(Frame::Credit { .. }) => Ok("credit"),
        Ok(Frame::Ping) => Ok("ping"),
        Err(e) => Err(e.to_string()),
    }
}

/// The body of a tell frame.
pub fn tell_frame(target: ActorId, wire_name: &str, payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::tell(&mut buf, target, wire_name, payload);
    buf.to_vec()
}

/// The body of an ask frame.
pub fn ask_frame(corr: u64, target: ActorId, wire_name: &str, payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::ask(&mut buf, corr, target, wire_name, payload);
    buf.to_vec()
}

/// The body of a lookup frame (a control frame).
pub fn lookup_frame(corr: u64, name: &str) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::system(&mut buf, &System::Lookup { corr, name: name.to_owned() });
    buf.to_vec()
}

/// The body of a watch frame (a control frame): the sender asks to be told
/// when actor `id` stops.
pub fn watch_frame(id: ActorId) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::system(&mut buf, &System::Watch { id });
    buf.to_vec()
}

/// If `bytes` is a frame body telling that an actor stopped, that actor.
pub fn down_of(bytes: &[u8]) -> Option<ActorId> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::System(System::Down { id, .. })) => Some(id),
        _ => None,
    }
}

/// If `bytes` is the answer to a lookup, its correlation id.
pub fn found_of(bytes: &[u8]) -> Option<u64> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::System(System::Found { corr, .. })) => Some(corr),
        _ => None,
    }
}

/// The body of a ping frame.
pub fn ping_frame() -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::ping(&mut buf);
    buf.to_vec()
}

/// Prefixes a frame body with its 4-byte big-endian length.
pub fn length_prefixed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// If `bytes` is an answer to an ask (a reply or a failure frame body),
/// its correlation id and whether it is a failure.
pub fn answer_of(bytes: &[u8]) -> Option<(u64, bool)> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Reply { corr, .. }) => Some((corr, false)),
        Ok(Frame::Failure { corr, .. }) => Some((corr, true)),
        _ => None,
    }
}

/// Runs the dialing side of the handshake as node `name` with `secret`, as
/// a node would; on success returns the stream and the bytes read past the
/// handshake.
///
/// # Errors
///
/// Whatever the handshake fails with.
pub async fn dial_handshake<S>(stream: S, name: &str, secret: &[u8]) -> Result<(S, Vec<u8>), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let me = Identity {
        node: name.to_owned(),
        incarnation: 1,
        address: "tcp://127.0.0.1:9".to_owned(),
        version: u16::from(frame::VERSION),
    };
    let (stream, _, early) = handshake::run(stream, &me, secret, Duration::from_secs(5)).await?;
    Ok((stream, early.to_vec()))
}

/// Feeds `input` to the accepting side of a handshake, as if a peer had
/// sent it and then closed its side, and returns how the handshake ended.
/// Never panics; returns within a few hundred milliseconds.
pub async fn accept_handshake_from(input: &[u8]) -> Result<(), HandshakeError> {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let me = Identity {
        node: "fuzzed".to_owned(),
        incarnation: 1,
        address: "tcp://127.0.0.1:9".to_owned(),
        version: u16::from(frame::VERSION),
    };
    let (mut their_read, mut their_write) = tokio::io::split(theirs);
    let input = input.to_vec();
    let peer = async move {
        let _ = their_write.write_all(&input).await;
        let _ = their_write.shutdown().await;
        // Drain what the node sends, so that it never blocks on a write.
        let mut sink = [0u8; 4096];
        while let Ok(n) = their_read.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let admit = |name: &str| if name == "throttled" { Err(HandshakeError::Throttled) } else { Ok(()) };
    let node = handshake::run_with(
        ours,
        &me,
        b"fuzzing secret",
        Duration::from_millis(200),
        Duration::from_millis(100),
        Some(&admit),
    );
    let (result, ()) = tokio::join!(async { node.await.map(|_| ()) }, peer);
    result
}

/// [`accept_handshake_from`] on a fresh single-threaded runtime, for
/// callers without one (the fuzz targets).
pub fn accept_handshake_blocking(input: &[u8]) -> Result<(), HandshakeError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime starts");
    runtime.block_on(accept_handshake_from(input))
}

/// A well-formed first handshake frame (length-prefixed) of a peer named
/// `name`, with a zero nonce: a starting point for mutations.
pub fn hello_frame(name: &str) -> Vec<u8> {
    handshake::hello_bytes(name, u16::from(frame::VERSION))
}
