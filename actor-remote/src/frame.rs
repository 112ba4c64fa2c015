//! The frames of a connection, after the handshake.
//!
//! Each frame travels inside a length-delimited envelope (a 4-byte
//! big-endian length, bounded by the node's maximum frame size before
//! anything is allocated: `channel::Records` reads it), and the stream of
//! envelopes inside the connection's sealed records (`channel.rs`): what
//! this module reads has been authenticated as the peer's, in order.
//! Inside an envelope:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | protocol version ([`VERSION`]) |
//! | 1 | kind: tell, ask, reply, failure, system, credit, ping, resume, stream, ack |
//! | .. | the kind's header, then its payload |
//!
//! Tell: target id (16), wire name (1-byte length + UTF-8, so at most
//! [`MAX_WIRE_NAME`] bytes), payload. Ask:
//! correlation id (8), target id, wire name, then the ask's context: a
//! flags byte, the time its asker still waits when the frame is written
//! (4 bytes, milliseconds rounded up) if flag [`HAS_DEADLINE`], and the
//! chain of waits that leads to the ask (1-byte count, then per wait the
//! waiter's and the awaited actor's ids) if flag [`HAS_CHAIN`]; then the
//! payload. An ask from a plain task without a timeout pays one byte for
//! all this. Reply: correlation id, payload.
//! Failure: correlation id, postcard [`WireFailure`]. System: postcard
//! [`System`]. Credit: the stream the credit is for (8), target id, count
//! (4). Ping: nothing. Resume: the peer's stream this side tracks (8,
//! 0 for none), the last of its frames this side received (8), and after
//! how many bytes of this side's stream the peer should acknowledge (4).
//! Stream: the stream's id (8) and the number of the next frame (8).
//! Ack: the stream (8) and the last of its frames received (8).
//!
//! Tell, ask, reply, failure, system and credit frames are the link's
//! *stream*: they are numbered, implicitly, one after the other from the
//! number the last `Stream` frame gave, kept until acknowledged and sent
//! again on the next connection (`peer/stream.rs`). Ping, resume, stream and ack
//! frames belong to one connection and are never numbered.
//!
//! The hot kinds (tell, ask, reply) have a fixed binary header so that the
//! payload, already encoded by actor-core, is sliced out without a copy;
//! the rare kinds are postcard.

use actor_core::error::RemoteError;
use actor_core::transport::RemoteFailure;
use actor_core::{ActorId, StopReason};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks, in the handshake and in every
/// frame. Version 2 added the ask's context (deadline and chain of waits);
/// version 3 the Noise handshake, the sealed channel under the frames and
/// the credit window announced in the hello; version 4 the numbered stream
/// of frames that survives a lost connection (resume, stream and ack
/// frames, credit for a stream). Peers of different versions refuse each
/// other at the handshake, naming both versions.
pub(crate) const VERSION: u8 = 4;

/// The longest message wire name a frame carries, in bytes (its length is
/// one byte). A longer one is refused at the sender.
pub(crate) const MAX_WIRE_NAME: usize = u8::MAX as usize;

/// Ask flag: a deadline (time left) follows.
pub(crate) const HAS_DEADLINE: u8 = 1;
/// Ask flag: a chain of waits follows.
pub(crate) const HAS_CHAIN: u8 = 2;

/// The most waits an ask's chain may carry on the wire.
pub(crate) const MAX_CHAIN: usize = 64;

const TELL: u8 = 1;
const ASK: u8 = 2;
const REPLY: u8 = 3;
const FAILURE: u8 = 4;
const SYSTEM: u8 = 5;
const CREDIT: u8 = 6;
const PING: u8 = 7;
const RESUME: u8 = 8;
const STREAM: u8 = 9;
const ACK: u8 = 10;

/// A decoded frame. Payloads are slices of the received buffer.
///
/// The reader handles tells, asks, replies and acknowledgements in place
/// ([`in_place`]) and decodes only the other kinds; `decode` still builds
/// all of them, for the fuzz entry points and the tests, which alone read
/// the fields of the kinds read in place.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum Frame {
    Tell {
        target: ActorId,
        wire_name: WireName,
        payload: Bytes,
    },
    Ask {
        corr: u64,
        target: ActorId,
        wire_name: WireName,
        context: WireContext,
        payload: Bytes,
    },
    Reply {
        corr: u64,
        payload: Bytes,
    },
    Failure {
        corr: u64,
        failure: WireFailure,
    },
    System(System),
    Credit {
        stream: u64,
        target: ActorId,
        count: u32,
    },
    Ping,
    /// The first frame on a connection: where this side stands with the
    /// peer's stream.
    Resume {
        tracking: u64,
        received: u64,
        ack_every: u32,
    },
    /// The numbered frames that follow belong to stream `id`, the first of
    /// them numbered `first`.
    Stream {
        id: u64,
        first: u64,
    },
    /// The peer received frames of stream `stream` up to `received`.
    Ack {
        stream: u64,
        received: u64,
    },
}

/// What an ask carries besides its message, as written on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireContext {
    /// How long the asker still waited when the frame was written.
    pub(crate) time_left: Option<std::time::Duration>,
    /// The waits that lead to the ask, `(waiter, awaited)`.
    pub(crate) chain: Vec<(ActorId, ActorId)>,
}

/// A message's wire name as received, not checked to be UTF-8 (the reader
/// checks the names it reads in place).
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct WireName(Bytes);

#[cfg(test)]
impl WireName {
    /// The name, or [`FrameError::WireName`] if it is not UTF-8.
    pub(crate) fn as_str(&self) -> Result<&str, FrameError> {
        std::str::from_utf8(&self.0).map_err(|_| FrameError::WireName)
    }
}

/// The control messages: rare, so encoded with postcard.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum System {
    /// Which actor holds this name?
    Lookup { corr: u64, name: String },
    /// The answer to a lookup: the actor's id and type name, or why not.
    Found { corr: u64, result: Result<(ActorId, String), String> },
    /// Tell me when this actor stops.
    Watch { id: ActorId },
    /// This actor has stopped (or was not found when watched).
    Down { id: ActorId, reason: StopReason },
    /// Stop this actor gracefully.
    Stop { id: ActorId },
    /// Kill this actor.
    Kill { id: ActorId },
    /// A tell could not be delivered here; for the sender's logs.
    Undelivered { target: ActorId, wire_name: String, reason: String },
    /// This node is leaving: not a crash.
    Bye,
    /// A message of the cluster layer (membership, registry, groups),
    /// opaque here; see `cluster.rs`.
    Cluster(Vec<u8>),
}

/// Why an ask failed, on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireFailure {
    NodeDown,
    NoReply,
    Panicked(String),
    UnknownActor(String),
    UnknownMessage(String),
    Undecodable(String),
    Refused(String),
    /// Skipped at its deadline: the asker had given up.
    Expired,
}

impl From<RemoteFailure> for WireFailure {
    fn from(failure: RemoteFailure) -> Self {
        use actor_core::error::RemoteErrorKind as K;
        match failure {
            RemoteFailure::NodeDown => WireFailure::NodeDown,
            RemoteFailure::NoReply => WireFailure::NoReply,
            RemoteFailure::Expired => WireFailure::Expired,
            RemoteFailure::Panicked(text) => WireFailure::Panicked(text),
            RemoteFailure::Remote(e) => {
                let detail = e.detail().to_owned();
                match e.kind() {
                    K::UnknownActor => WireFailure::UnknownActor(detail),
                    K::UnknownMessage => WireFailure::UnknownMessage(detail),
                    K::Undecodable => WireFailure::Undecodable(detail),
                    _ => WireFailure::Refused(detail),
                }
            }
            _ => WireFailure::Refused("unknown failure".into()),
        }
    }
}

impl From<WireFailure> for RemoteFailure {
    fn from(failure: WireFailure) -> Self {
        use actor_core::error::RemoteErrorKind as K;
        match failure {
            WireFailure::NodeDown => RemoteFailure::NodeDown,
            WireFailure::NoReply => RemoteFailure::NoReply,
            WireFailure::Expired => RemoteFailure::Expired,
            WireFailure::Panicked(text) => RemoteFailure::Panicked(text),
            WireFailure::UnknownActor(d) => RemoteFailure::Remote(RemoteError::new(K::UnknownActor, d)),
            WireFailure::UnknownMessage(d) => RemoteFailure::Remote(RemoteError::new(K::UnknownMessage, d)),
            WireFailure::Undecodable(d) => RemoteFailure::Remote(RemoteError::new(K::Undecodable, d)),
            WireFailure::Refused(d) => RemoteFailure::Remote(RemoteError::new(K::Refused, d)),
        }
    }
}

/// Why a frame did not decode. The connection that sent it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    Version(u8),
    Kind(u8),
    Truncated,
    WireName,
    Flags(u8),
    Chain(usize),
    System(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Version(v) => write!(f, "frame of protocol version {v}, expected {VERSION}"),
            FrameError::Kind(k) => write!(f, "unknown frame kind {k}"),
            FrameError::Truncated => f.write_str("truncated frame"),
            FrameError::WireName => f.write_str("message name is not UTF-8"),
            FrameError::Flags(flags) => write!(f, "unknown ask flags {flags:#04x}"),
            FrameError::Chain(n) => write!(f, "a chain of {n} waits, more than {MAX_CHAIN}"),
            FrameError::System(e) => write!(f, "undecodable control frame: {e}"),
        }
    }
}

fn header(buf: &mut BytesMut, kind: u8) {
    buf.put_u8(VERSION);
    buf.put_u8(kind);
}

fn put_id(buf: &mut BytesMut, id: ActorId) {
    buf.put_u128(id.as_uuid().as_u128());
}

fn put_name(buf: &mut BytesMut, name: &str) {
    // Checked when the message is sent (`Endpoint::send` refuses a longer
    // one, and the writer never encodes one): never cut here.
    debug_assert!(name.len() <= MAX_WIRE_NAME, "a wire name over {MAX_WIRE_NAME} bytes reached the encoder");
    buf.put_u8(name.len() as u8);
    buf.put_slice(name.as_bytes());
}

/// The bytes of a tell frame (without its length prefix).
pub(crate) fn tell_len(wire_name: &str, payload: &[u8]) -> usize {
    2 + 16 + 1 + wire_name.len() + payload.len()
}

pub(crate) fn tell(buf: &mut BytesMut, target: ActorId, wire_name: &str, payload: &[u8]) {
    buf.reserve(tell_len(wire_name, payload));
    header(buf, TELL);
    put_id(buf, target);
    put_name(buf, wire_name);
    buf.put_slice(payload);
}

/// Appends a tell frame with its length prefix, as the writer frames
/// every frame: the same bytes as [`tell`] after the length, with the
/// fixed part put in one piece.
pub(crate) fn put_tell(buf: &mut BytesMut, target: ActorId, wire_name: &str, payload: &[u8]) {
    debug_assert!(wire_name.len() <= MAX_WIRE_NAME, "a wire name over {MAX_WIRE_NAME} bytes reached the encoder");
    let len = tell_len(wire_name, payload);
    let mut head = [0u8; 4 + 2 + 16 + 1];
    head[..4].copy_from_slice(&(len as u32).to_be_bytes());
    head[4] = VERSION;
    head[5] = TELL;
    head[6..22].copy_from_slice(&target.as_uuid().as_u128().to_be_bytes());
    head[22] = wire_name.len() as u8;
    buf.reserve(4 + len);
    buf.extend_from_slice(&head);
    buf.extend_from_slice(wire_name.as_bytes());
    buf.extend_from_slice(payload);
}

/// The target of a tell frame [`tell`] encoded (without its length
/// prefix); the nil id if `frame` is too short to be one.
pub(crate) fn tell_target(frame: &[u8]) -> ActorId {
    let id = frame.get(2..2 + 16).and_then(|id| <[u8; 16]>::try_from(id).ok()).unwrap_or_default();
    ActorId::from_uuid(uuid::Uuid::from_bytes(id))
}

/// The wire name of a tell frame [`tell`] encoded (without its length
/// prefix); empty if `frame` is not one.
pub(crate) fn tell_wire_name(frame: &[u8]) -> &str {
    let at = 2 + 16;
    let name = frame.get(at).and_then(|&len| frame.get(at + 1..at + 1 + len as usize));
    name.and_then(|name| std::str::from_utf8(name).ok()).unwrap_or_default()
}

pub(crate) fn ask(buf: &mut BytesMut, corr: u64, target: ActorId, wire_name: &str, payload: &[u8]) {
    ask_with(buf, corr, target, wire_name, None, &[], payload);
}

/// An ask with its context: the time its asker still waits, and the chain
/// of waits that leads to it (cut to its last [`MAX_CHAIN`] waits, those
/// nearest the asker).
pub(crate) fn ask_with(
    buf: &mut BytesMut,
    corr: u64,
    target: ActorId,
    wire_name: &str,
    time_left: Option<std::time::Duration>,
    chain: &[(ActorId, ActorId)],
    payload: &[u8],
) {
    let chain = &chain[chain.len().saturating_sub(MAX_CHAIN)..];
    buf.reserve(2 + 8 + 16 + 1 + wire_name.len() + 1 + 4 + 1 + 32 * chain.len() + payload.len());
    header(buf, ASK);
    buf.put_u64(corr);
    put_id(buf, target);
    put_name(buf, wire_name);
    let mut flags = 0;
    if time_left.is_some() {
        flags |= HAS_DEADLINE;
    }
    if !chain.is_empty() {
        flags |= HAS_CHAIN;
    }
    buf.put_u8(flags);
    if let Some(left) = time_left {
        // Rounded up, so the far side never gives up before the asker.
        let millis = left.as_nanos().div_ceil(1_000_000);
        buf.put_u32(u32::try_from(millis).unwrap_or(u32::MAX));
    }
    if !chain.is_empty() {
        buf.put_u8(chain.len() as u8);
        for (waiter, awaited) in chain {
            put_id(buf, *waiter);
            put_id(buf, *awaited);
        }
    }
    buf.put_slice(payload);
}

pub(crate) fn reply(buf: &mut BytesMut, corr: u64, payload: &[u8]) {
    buf.reserve(2 + 8 + payload.len());
    header(buf, REPLY);
    buf.put_u64(corr);
    buf.put_slice(payload);
}

pub(crate) fn failure(buf: &mut BytesMut, corr: u64, failure: &WireFailure) {
    header(buf, FAILURE);
    buf.put_u64(corr);
    let bytes = postcard::to_allocvec(failure).expect("a failure always encodes");
    buf.put_slice(&bytes);
}

pub(crate) fn system(buf: &mut BytesMut, msg: &System) {
    header(buf, SYSTEM);
    let bytes = postcard::to_allocvec(msg).expect("a control message always encodes");
    buf.put_slice(&bytes);
}

pub(crate) fn credit(buf: &mut BytesMut, stream: u64, target: ActorId, count: u32) {
    header(buf, CREDIT);
    buf.put_u64(stream);
    put_id(buf, target);
    buf.put_u32(count);
}

pub(crate) fn ping(buf: &mut BytesMut) {
    header(buf, PING);
}

pub(crate) fn resume(buf: &mut BytesMut, tracking: u64, received: u64, ack_every: u32) {
    header(buf, RESUME);
    buf.put_u64(tracking);
    buf.put_u64(received);
    buf.put_u32(ack_every);
}

pub(crate) fn stream(buf: &mut BytesMut, id: u64, first: u64) {
    header(buf, STREAM);
    buf.put_u64(id);
    buf.put_u64(first);
}

pub(crate) fn ack(buf: &mut BytesMut, stream: u64, received: u64) {
    header(buf, ACK);
    buf.put_u64(stream);
    buf.put_u64(received);
}

fn need(buf: &Bytes, n: usize) -> Result<(), FrameError> {
    if buf.remaining() < n { Err(FrameError::Truncated) } else { Ok(()) }
}

fn get_id(buf: &mut Bytes) -> Result<ActorId, FrameError> {
    need(buf, 16)?;
    Ok(ActorId::from_uuid(uuid_from(buf.get_u128())))
}

fn uuid_from(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

/// A tell frame's header, read in place: what the reader needs to hand
/// the tell on without taking the frame apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TellParts {
    pub(crate) target: ActorId,
    /// Where the wire name lies in the frame (not checked to be UTF-8).
    pub(crate) wire_name: std::ops::Range<usize>,
    /// Where the payload starts; it runs to the end of the frame.
    pub(crate) payload_at: usize,
}

/// Reads the header of a tell frame in place: `Ok(None)` if `frame` is not
/// a tell of this version, an error if it is one cut short. [`decode`]
/// reads tells with it too.
pub(crate) fn tell_parts(frame: &[u8]) -> Result<Option<TellParts>, FrameError> {
    let [VERSION, TELL, rest @ ..] = frame else { return Ok(None) };
    let (Some(id), Some(&len)) = (rest.first_chunk::<16>(), rest.get(16)) else {
        return Err(FrameError::Truncated);
    };
    let wire_name = 2 + 16 + 1..2 + 16 + 1 + len as usize;
    if wire_name.end > frame.len() {
        return Err(FrameError::Truncated);
    }
    let target = ActorId::from_uuid(uuid_from(u128::from_be_bytes(*id)));
    Ok(Some(TellParts { target, payload_at: wire_name.end, wire_name }))
}

/// An ask frame's header, read in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AskParts {
    pub(crate) corr: u64,
    pub(crate) target: ActorId,
    /// Where the wire name lies in the frame (not checked to be UTF-8).
    pub(crate) wire_name: std::ops::Range<usize>,
    pub(crate) context: WireContext,
    /// Where the payload starts; it runs to the end of the frame.
    pub(crate) payload_at: usize,
}

/// A frame of the kinds every tell and ask brings, read in place: what the
/// reader needs to handle it without taking the frame apart (no `Bytes`
/// split off the read buffer, no `Frame` built and moved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InPlace {
    Tell(TellParts),
    Ask(AskParts),
    /// A reply; its payload runs from `payload_at` to the end.
    Reply {
        corr: u64,
        payload_at: usize,
    },
    Ack {
        stream: u64,
        received: u64,
    },
}

/// Reads `frame` in place if it is a tell, an ask, a reply or an
/// acknowledgement of this version: `Ok(None)` for any other frame, an
/// error for one of these cut short. [`decode`] reads these kinds with
/// it too, so both agree by construction.
pub(crate) fn in_place(frame: &[u8]) -> Result<Option<InPlace>, FrameError> {
    let &[VERSION, kind, ..] = frame else { return Ok(None) };
    let mut at = Cursor { frame, at: 2 };
    let parts = match kind {
        TELL => return Ok(tell_parts(frame)?.map(InPlace::Tell)),
        ASK => {
            let corr = at.u64()?;
            let target = at.id()?;
            let wire_name = at.name()?;
            let context = at.context()?;
            InPlace::Ask(AskParts { corr, target, wire_name, context, payload_at: at.at })
        }
        REPLY => {
            let corr = at.u64()?;
            InPlace::Reply { corr, payload_at: at.at }
        }
        ACK => {
            let stream = at.u64()?;
            let received = at.u64()?;
            InPlace::Ack { stream, received }
        }
        _ => return Ok(None),
    };
    Ok(Some(parts))
}

/// Reads a frame front to back, in place.
struct Cursor<'a> {
    frame: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// The next `n` bytes' place in the frame.
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, FrameError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.frame.len()).ok_or(FrameError::Truncated)?;
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let range = self.take(N)?;
        let mut bytes = [0; N];
        bytes.copy_from_slice(&self.frame[range]);
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn id(&mut self) -> Result<ActorId, FrameError> {
        Ok(ActorId::from_uuid(uuid_from(u128::from_be_bytes(self.array()?))))
    }

    /// A wire name: its length, then its bytes.
    fn name(&mut self) -> Result<std::ops::Range<usize>, FrameError> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// An ask's context: flags, then the deadline and the chain of waits
    /// if the flags say so.
    fn context(&mut self) -> Result<WireContext, FrameError> {
        let flags = self.u8()?;
        if flags & !(HAS_DEADLINE | HAS_CHAIN) != 0 {
            return Err(FrameError::Flags(flags));
        }
        let mut context = WireContext::default();
        if flags & HAS_DEADLINE != 0 {
            // u32::MAX is what a longer wait was cut to: treated as no deadline.
            let millis = self.u32()?;
            context.time_left = (millis != u32::MAX).then(|| std::time::Duration::from_millis(u64::from(millis)));
        }
        if flags & HAS_CHAIN != 0 {
            let n = usize::from(self.u8()?);
            if n > MAX_CHAIN {
                return Err(FrameError::Chain(n));
            }
            // Checked whole before anything is reserved.
            let links = self.take(32 * n)?;
            self.at = links.start;
            context.chain.reserve_exact(n);
            for _ in 0..n {
                let waiter = self.id()?;
                let awaited = self.id()?;
                context.chain.push((waiter, awaited));
            }
        }
        Ok(context)
    }
}

/// Decodes one frame. Never panics, whatever the bytes.
pub(crate) fn decode(mut buf: Bytes) -> Result<Frame, FrameError> {
    match in_place(&buf)? {
        Some(InPlace::Tell(TellParts { target, wire_name, payload_at })) => {
            let wire_name = WireName(buf.slice(wire_name));
            return Ok(Frame::Tell { target, wire_name, payload: buf.split_off(payload_at) });
        }
        Some(InPlace::Ask(AskParts { corr, target, wire_name, context, payload_at })) => {
            let wire_name = WireName(buf.slice(wire_name));
            return Ok(Frame::Ask { corr, target, wire_name, context, payload: buf.split_off(payload_at) });
        }
        Some(InPlace::Reply { corr, payload_at }) => {
            return Ok(Frame::Reply { corr, payload: buf.split_off(payload_at) });
        }
        Some(InPlace::Ack { stream, received }) => return Ok(Frame::Ack { stream, received }),
        None => {}
    }
    need(&buf, 2)?;
    let version = buf.get_u8();
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    match buf.get_u8() {
        FAILURE => {
            need(&buf, 8)?;
            let corr = buf.get_u64();
            let failure = postcard::from_bytes(&buf).map_err(|e| FrameError::System(e.to_string()))?;
            Ok(Frame::Failure { corr, failure })
        }
        SYSTEM => postcard::from_bytes(&buf).map(Frame::System).map_err(|e| FrameError::System(e.to_string())),
        CREDIT => {
            need(&buf, 8)?;
            let stream = buf.get_u64();
            let target = get_id(&mut buf)?;
            need(&buf, 4)?;
            Ok(Frame::Credit { stream, target, count: buf.get_u32() })
        }
        PING => Ok(Frame::Ping),
        RESUME => {
            need(&buf, 20)?;
            Ok(Frame::Resume { tracking: buf.get_u64(), received: buf.get_u64(), ack_every: buf.get_u32() })
        }
        STREAM => {
            need(&buf, 16)?;
            Ok(Frame::Stream { id: buf.get_u64(), first: buf.get_u64() })
        }
        // Tells, asks, replies and acknowledgements of this version were
        // read in place above: another kind byte, or another version.
        other => Err(FrameError::Kind(other)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(n: u128) -> ActorId {
        ActorId::from_uuid(uuid_from(n))
    }

    #[test]
    fn every_kind_round_trips() {
        let mut buf = BytesMut::new();
        tell(&mut buf, id(7), "Counter::Inc", b"\x05");
        match decode(buf.split().freeze()).unwrap() {
            Frame::Tell { target, wire_name, payload } => {
                assert_eq!(target, id(7));
                assert_eq!(wire_name.as_str().unwrap(), "Counter::Inc");
                assert_eq!(&payload[..], b"\x05");
            }
            other => panic!("{other:?}"),
        }
        ask(&mut buf, 42, id(9), "a", b"xyz");
        assert!(matches!(decode(buf.split().freeze()).unwrap(),
            Frame::Ask { corr: 42, target, payload, context, .. }
                if target == id(9) && &payload[..] == b"xyz" && context == WireContext::default()));
        let context = WireContext {
            time_left: Some(std::time::Duration::from_micros(1500)),
            chain: vec![(id(1), id(2)), (id(2), id(9))],
        };
        ask_with(&mut buf, 43, id(9), "a", context.time_left, &context.chain, b"xyz");
        match decode(buf.split().freeze()).unwrap() {
            Frame::Ask { corr: 43, context: got, payload, .. } => {
                // Rounded up to whole milliseconds.
                assert_eq!(got.time_left, Some(std::time::Duration::from_millis(2)));
                assert_eq!(got.chain, context.chain);
                assert_eq!(&payload[..], b"xyz");
            }
            other => panic!("{other:?}"),
        }
        failure(&mut buf, 5, &WireFailure::Expired);
        assert!(matches!(
            decode(buf.split().freeze()).unwrap(),
            Frame::Failure { corr: 5, failure: WireFailure::Expired }
        ));
        reply(&mut buf, 3, b"r");
        assert!(
            matches!(decode(buf.split().freeze()).unwrap(), Frame::Reply { corr: 3, payload } if &payload[..] == b"r")
        );
        failure(&mut buf, 4, &WireFailure::Panicked("boom".into()));
        assert!(matches!(decode(buf.split().freeze()).unwrap(),
            Frame::Failure { corr: 4, failure: WireFailure::Panicked(t) } if t == "boom"));
        system(&mut buf, &System::Watch { id: id(1) });
        assert!(matches!(decode(buf.split().freeze()).unwrap(), Frame::System(System::Watch { id: i }) if i == id(1)));
        credit(&mut buf, 11, id(2), 64);
        assert!(matches!(decode(buf.split().freeze()).unwrap(), Frame::Credit { stream: 11, count: 64, .. }));
        ping(&mut buf);
        assert!(matches!(decode(buf.split().freeze()).unwrap(), Frame::Ping));
        resume(&mut buf, 7, 99, 1 << 20);
        assert!(matches!(
            decode(buf.split().freeze()).unwrap(),
            Frame::Resume { tracking: 7, received: 99, ack_every: 0x10_0000 }
        ));
        stream(&mut buf, 7, 100);
        assert!(matches!(decode(buf.split().freeze()).unwrap(), Frame::Stream { id: 7, first: 100 }));
        ack(&mut buf, 7, 120);
        assert!(matches!(decode(buf.split().freeze()).unwrap(), Frame::Ack { stream: 7, received: 120 }));
        assert_eq!(decode(Bytes::from_static(&[VERSION, ACK, 0, 0])).unwrap_err(), FrameError::Truncated);
    }

    #[test]
    fn a_tell_put_with_its_length_is_the_tell_after_its_length() {
        for (name, payload) in [("", &b""[..]), ("Counter::Inc", b"\x05"), ("T::tell", &[7u8; 300][..])] {
            let mut body = BytesMut::new();
            tell(&mut body, id(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10), name, payload);
            let mut framed = BytesMut::from(&b"xy"[..]);
            put_tell(&mut framed, id(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10), name, payload);
            assert_eq!(&framed[..2], b"xy", "appended");
            assert_eq!(&framed[2..6], &(body.len() as u32).to_be_bytes());
            assert_eq!(&framed[6..], &body[..]);
            assert_eq!(tell_wire_name(&body), name);
        }
    }

    #[test]
    fn a_wrong_version_or_kind_is_an_error() {
        assert_eq!(decode(Bytes::from_static(&[9, TELL])).unwrap_err(), FrameError::Version(9));
        assert_eq!(decode(Bytes::from_static(&[VERSION, 200])).unwrap_err(), FrameError::Kind(200));
        assert_eq!(decode(Bytes::from_static(&[VERSION])).unwrap_err(), FrameError::Truncated);
        assert_eq!(decode(Bytes::from_static(&[VERSION, TELL, 0, 1])).unwrap_err(), FrameError::Truncated);
        let mut buf = BytesMut::new();
        ask(&mut buf, 1, id(1), "a", b"");
        let mut bytes = buf.split().to_vec();
        *bytes.last_mut().unwrap() = 0x80;
        assert_eq!(decode(Bytes::from(bytes)).unwrap_err(), FrameError::Flags(0x80));
        let mut bytes = BytesMut::new();
        ask(&mut bytes, 1, id(1), "a", b"");
        let mut bytes = bytes.to_vec();
        *bytes.last_mut().unwrap() = HAS_CHAIN;
        bytes.push(200);
        assert_eq!(decode(Bytes::from(bytes)).unwrap_err(), FrameError::Chain(200));
    }

    proptest! {
        /// Random bytes, and every truncation of valid frames, decode to a
        /// frame or an error: never a panic.
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(Bytes::from(bytes));
        }

        /// The reader takes tells apart in place with `tell_parts`: for any
        /// bytes, it agrees with `decode` (the same parts, or the same error),
        /// and says `None` for anything `decode` does not read as a tell.
        #[test]
        fn tells_read_in_place_agree_with_decode(
            name in "[a-z:]{0,12}",
            payload in proptest::collection::vec(any::<u8>(), 0..8),
            cut in 0usize..48,
            noise in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut buf = BytesMut::new();
            tell(&mut buf, id(5), &name, &payload);
            let full = buf.split().freeze();
            for bytes in [full.clone(), full.slice(..cut.min(full.len())), Bytes::from(noise)] {
                match (tell_parts(&bytes), decode(bytes.clone())) {
                    (Ok(Some(parts)), Ok(Frame::Tell { target, wire_name, payload })) => {
                        prop_assert_eq!(parts.target, target);
                        prop_assert_eq!(&bytes[parts.wire_name], &wire_name.0[..]);
                        prop_assert_eq!(&bytes[parts.payload_at..], &payload[..]);
                    }
                    (Ok(Some(_)), other) => prop_assert!(false, "decode read {other:?}"),
                    (Ok(None), Ok(Frame::Tell { .. })) => prop_assert!(false, "decode read a tell"),
                    (Ok(None), _) => {}
                    (Err(e), decoded) => prop_assert_eq!(Err(e), decoded.map(|_| ())),
                }
            }
            let parts = tell_parts(&full).unwrap().unwrap();
            prop_assert_eq!(parts.target, id(5));
            prop_assert_eq!(&full[parts.wire_name], name.as_bytes());
        }

        /// Asks, with any context, are read in place as written; cut
        /// anywhere before their payload, they are errors, never a shorter
        /// ask. Replies and acknowledgements likewise.
        #[test]
        fn asks_replies_and_acks_read_in_place_as_written(
            corr in any::<u64>(),
            name in "[a-z:]{0,12}",
            millis in proptest::option::of(0u64..10_000),
            links in 0u128..4,
            payload in proptest::collection::vec(any::<u8>(), 0..8),
            cut in 0usize..200,
        ) {
            let time_left = millis.map(std::time::Duration::from_millis);
            let chain: Vec<_> = (0..links).map(|n| (id(n), id(n + 1))).collect();
            let mut buf = BytesMut::new();
            ask_with(&mut buf, corr, id(9), &name, time_left, &chain, &payload);
            let full = buf.split().freeze();
            let Ok(Some(InPlace::Ask(parts))) = in_place(&full) else { panic!("not read as an ask") };
            prop_assert_eq!(parts.corr, corr);
            prop_assert_eq!(parts.target, id(9));
            prop_assert_eq!(&full[parts.wire_name.clone()], name.as_bytes());
            prop_assert_eq!(&parts.context, &WireContext { time_left, chain });
            prop_assert_eq!(&full[parts.payload_at..], &payload[..]);
            if cut < parts.payload_at {
                prop_assert!(in_place(&full[..cut]).is_err() || cut < 2);
            }

            reply(&mut buf, corr, &payload);
            let full = buf.split().freeze();
            prop_assert_eq!(in_place(&full), Ok(Some(InPlace::Reply { corr, payload_at: 10 })));
            prop_assert_eq!(&full[10..], &payload[..]);
            prop_assert!(in_place(&full[..cut.clamp(2, 9)]).is_err());

            ack(&mut buf, corr, corr / 2);
            let full = buf.split().freeze();
            prop_assert_eq!(in_place(&full), Ok(Some(InPlace::Ack { stream: corr, received: corr / 2 })));
            prop_assert!(in_place(&full[..cut.clamp(2, 17)]).is_err());
        }

        #[test]
        fn truncated_frames_are_errors(cut in 0usize..41, payload in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut buf = BytesMut::new();
            ask(&mut buf, 1, id(5), "Name::Msg", &payload);
            let full = buf.split().freeze();
            // Cuts inside the fixed header are errors; the payload has no
            // length of its own, so a cut there is a shorter payload.
            let header = 2 + 8 + 16 + 1 + "Name::Msg".len() + 1;
            if cut < header {
                prop_assert!(decode(full.slice(..cut)).is_err());
            }
        }
    }
}
