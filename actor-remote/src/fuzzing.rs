//! Thin entry points into the wire format, the handshake and the sealed
//! channel, for the fuzz targets (`fuzz/`), the robustness tests and the
//! attack tests (a peer that speaks the wire format by hand). Not part of
//! the API: hidden from the docs, and may change in any release.

use std::time::Duration;

use actor_core::ActorId;
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;

use crate::channel::{self, Records, Sealer};
use crate::error::HandshakeError;
use crate::frame::{self, Frame, System};
use crate::handshake::{self, Identity};

/// The largest handshake frame a node accepts.
pub const MAX_HANDSHAKE_FRAME: usize = handshake::MAX_HANDSHAKE_FRAME;

/// The largest sealed record, tag included.
pub const MAX_RECORD: usize = channel::MAX_RECORD;

/// The protocol version this build speaks.
pub const VERSION: u16 = frame::VERSION as u16;

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
        Ok(Frame::Resume { .. }) => Ok("resume"),
        Ok(Frame::Stream { .. }) => Ok("stream"),
        Ok(Frame::Ack { .. }) => Ok("ack"),
        Err(e) => Err(e.to_string()),
    }
}

/// The body of a tell frame (`wire_name` at most 255 bytes).
pub fn tell_frame(target: ActorId, wire_name: &str, payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::tell(&mut buf, target, wire_name, payload);
    buf.to_vec()
}

/// The body of an ask frame (`wire_name` at most 255 bytes).
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

/// The body of a resume frame: the first frame each side sends on a
/// connection (where it stands in the other's stream).
pub fn resume_frame(tracking: u64, received: u64, ack_every: u32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::resume(&mut buf, tracking, received, ack_every);
    buf.to_vec()
}

/// The body of a stream frame: the numbered frames that follow belong to
/// stream `id`, starting at `first`.
pub fn stream_frame(id: u64, first: u64) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::stream(&mut buf, id, first);
    buf.to_vec()
}

/// The body of an acknowledgement of stream `stream` up to `received`.
pub fn ack_frame(stream: u64, received: u64) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::ack(&mut buf, stream, received);
    buf.to_vec()
}

/// If `bytes` is a resume frame body, what it says: (tracking, received).
pub fn resume_of(bytes: &[u8]) -> Option<(u64, u64)> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Resume { tracking, received, .. }) => Some((tracking, received)),
        _ => None,
    }
}

/// If `bytes` is a stream frame body, what it says: (id, first).
pub fn stream_of(bytes: &[u8]) -> Option<(u64, u64)> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Stream { id, first }) => Some((id, first)),
        _ => None,
    }
}

/// If `bytes` is an acknowledgement, what it says: (stream, received).
pub fn ack_of(bytes: &[u8]) -> Option<(u64, u64)> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Ack { stream, received }) => Some((stream, received)),
        _ => None,
    }
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

/// If `bytes` is a credit frame body, its target and count.
pub fn credit_of(bytes: &[u8]) -> Option<(ActorId, u32)> {
    match frame::decode(Bytes::copy_from_slice(bytes)) {
        Ok(Frame::Credit { target, count, .. }) => Some((target, count)),
        _ => None,
    }
}

/// One end of a sealed channel, driven by hand: what a node's writer and
/// reader do with the connection's keys, for a test peer that speaks the
/// wire format itself.
///
/// Unless told otherwise ([`Session::raw`]), the first frames it seals are
/// preceded by what a node's writer sends first on a connection: a resume
/// frame (it tracks nothing of the other side's stream) and a stream frame
/// opening a fresh stream at 1, so that the frames it seals after are
/// numbered frames of that stream.
pub struct Session {
    sealer: Sealer,
    records: Records,
    /// Sealed bytes received and not yet opened.
    inbound: BytesMut,
    /// The resume and stream frames still to be sent before the first
    /// sealed frames, if any.
    opening: Option<Vec<u8>>,
    /// This side's stream id.
    stream: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("inbound", &self.inbound.len()).finish_non_exhaustive()
    }
}

impl Session {
    fn new(info: handshake::PeerInfo, early: &[u8]) -> Self {
        // A fresh stream for every session: a node takes each connection of
        // a test peer as the start of a new stream.
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system's randomness");
        let stream = u64::from_le_bytes(bytes) | 1;
        let mut opening = length_prefixed(&resume_frame(0, 0, u32::MAX));
        opening.extend(length_prefixed(&stream_frame(stream, 1)));
        Session {
            sealer: info.sealer,
            records: Records::new(info.opener, 8 * 1024 * 1024),
            inbound: BytesMut::from(early),
            opening: Some(opening),
            stream,
        }
    }

    /// Sends nothing before the frames it is given: the caller writes the
    /// resume and stream frames itself (or tests what a node does without
    /// them).
    pub fn raw(mut self) -> Self {
        self.opening = None;
        self
    }

    /// This side's stream id (for the stream frame it opens with).
    pub fn stream_id(&self) -> u64 {
        self.stream
    }

    /// Seals `plaintext` (length-prefixed frames, or anything) as the next
    /// records of this side, as a node's writer does for one write (after
    /// the opening frames, the first time).
    pub fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        match self.opening.take() {
            Some(mut opening) => {
                opening.extend_from_slice(plaintext);
                self.sealer.seal(&opening, &mut out);
            }
            None => self.sealer.seal(plaintext, &mut out),
        }
        out.to_vec()
    }

    /// Length-prefixes each frame body and seals them all in one write.
    pub fn seal_frames<B: AsRef<[u8]>>(&mut self, bodies: &[B]) -> Vec<u8> {
        let plain: Vec<u8> = bodies.iter().flat_map(|b| length_prefixed(b.as_ref())).collect();
        self.seal(&plain)
    }

    /// Takes in sealed bytes the other end sent.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.inbound.extend_from_slice(bytes);
    }

    /// The next frame body the other end sent, if all of it has been fed.
    ///
    /// # Errors
    ///
    /// If a record does not open (tampered, replayed, reordered, dropped,
    /// or from another connection) or a frame is over the limit.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.records.decode(&mut self.inbound) {
            Ok(frame) => Ok(frame.map(|f| f.to_vec())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Reads from `stream` until the next whole frame body; `None` once
    /// the stream ends or a record does not open.
    pub async fn read_frame<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> Option<Vec<u8>> {
        loop {
            match self.next_frame() {
                Ok(Some(frame)) => return Some(frame),
                Ok(None) => {}
                Err(_) => return None,
            }
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.feed(&chunk[..n]),
            }
        }
    }
}

fn identity(name: &str) -> Identity {
    Identity {
        node: name.to_owned(),
        incarnation: 1,
        address: "tcp://127.0.0.1:9".to_owned(),
        version: VERSION,
        credit_window: 1024,
    }
}

/// Two ends of one sealed channel, as a finished handshake leaves them
/// (dialer, acceptor), without a connection.
pub fn session_pair() -> (Session, Session) {
    let (x, y) = tokio::io::duplex(4096);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime starts");
    runtime.block_on(async {
        let (a, b) = (identity("a"), identity("b"));
        let t = Duration::from_secs(5);
        let (dialer, acceptor) =
            tokio::join!(handshake::dial(x, &a, b"pair", t), handshake::accept(y, &b, b"pair", t, t, None));
        let (_, dialer, _) = dialer.expect("a handshake over a pipe succeeds");
        let (_, acceptor, _) = acceptor.expect("a handshake over a pipe succeeds");
        (Session::new(dialer, &[]).raw(), Session::new(acceptor, &[]).raw())
    })
}

/// Runs the dialing side of the handshake as node `name` with `secret`, as
/// a node would (announcing a credit window of 1,024); on success returns
/// the stream and the session's channel, which holds what was read past
/// the handshake.
///
/// # Errors
///
/// Whatever the handshake fails with.
pub async fn dial_handshake<S>(stream: S, name: &str, secret: &[u8]) -> Result<(S, Session), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (stream, info, early) = handshake::dial(stream, &identity(name), secret, Duration::from_secs(5)).await?;
    Ok((stream, Session::new(info, &early)))
}

/// Runs the accepting side of the handshake as node `name` with `secret`
/// (for a test peer that a node dials).
///
/// # Errors
///
/// Whatever the handshake fails with.
pub async fn accept_handshake<S>(stream: S, name: &str, secret: &[u8]) -> Result<(S, Session), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let t = Duration::from_secs(5);
    let (stream, info, early) = handshake::accept(stream, &identity(name), secret, t, t, None).await?;
    Ok((stream, Session::new(info, &early)))
}

/// Feeds `input` to the accepting side of a handshake, as if a peer had
/// sent it and then closed its side, and returns how the handshake ended.
/// Never panics; returns within a few hundred milliseconds.
pub async fn accept_handshake_from(input: &[u8]) -> Result<(), HandshakeError> {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let me = identity("fuzzed");
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
    let node = handshake::accept(
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

/// A well-formed first handshake frame (length-prefixed) of a dialer
/// named `name`: a starting point for mutations.
pub fn hello_frame(name: &str) -> Vec<u8> {
    handshake::hello_bytes(name, VERSION)
}

/// The first handshake frame (length-prefixed) of a dialer named `name`
/// that speaks protocol `version`.
pub fn hello_frame_of_version(name: &str, version: u16) -> Vec<u8> {
    handshake::hello_bytes(name, version)
}

/// The first handshake frame (length-prefixed) a node of protocol
/// version 2 sends, named `name`: the layout of that version's hello.
pub fn version_2_hello(name: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct HelloV2 {
        magic: [u8; 4],
        version: u16,
        node: String,
        incarnation: u64,
        address: String,
        nonce: [u8; 32],
    }
    let hello = HelloV2 {
        magic: *b"ACTR",
        version: 2,
        node: name.to_owned(),
        incarnation: 7,
        address: "tcp://127.0.0.1:9".to_owned(),
        nonce: [9; 32],
    };
    length_prefixed(&postcard::to_allocvec(&hello).expect("a hello encodes"))
}

/// If `frame` (a handshake frame body) is a refusal, its reason.
pub fn refusal_of(frame: &[u8]) -> Option<String> {
    match frame.split_first() {
        Some((&handshake::REFUSAL, reason)) => Some(String::from_utf8_lossy(reason).into_owned()),
        _ => None,
    }
}

/// Feeds `input` to a reader as the sealed stream of an authenticated
/// connection (keys it does not know were used, if any), and returns how
/// many frames came out before the end or the first error. Never panics.
pub fn open_records(input: &[u8]) -> (usize, Option<String>) {
    thread_local! {
        static KEYS: std::cell::RefCell<Option<channel::Opener>> = const { std::cell::RefCell::new(None) };
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let template = keys.get_or_insert_with(|| {
            let (_, acceptor) = session_pair();
            acceptor.records.into_opener()
        });
        // A fresh reader over the same keys for each input.
        let mut records = Records::new(template.again(), 8 * 1024 * 1024);
        let mut src = BytesMut::from(input);
        let mut frames = 0;
        loop {
            match records.decode_eof(&mut src) {
                Ok(Some(_)) => frames += 1,
                Ok(None) => return (frames, None),
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    })
}
