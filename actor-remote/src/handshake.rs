//! The handshake: who each side is, which protocol it speaks, and proof
//! that both know the cluster secret, bound together, before any frame;
//! it ends with the keys of the connection's secure channel
//! (`channel.rs`).
//!
//! 1. Both sides send a [`Hello`] at once, in clear: magic, protocol
//!    version, node name, incarnation, listen address, a fresh random
//!    nonce, the side's role (dialer or acceptor) and the credit window it
//!    grants. A version other than ours is refused with an error naming
//!    both; a peer claiming this node's name, or the role this side has,
//!    is refused; an accepting node may refuse a throttled name here,
//!    before any cryptography runs.
//! 2. A Noise handshake, `Noise_NNpsk0_25519_AESGCM_BLAKE2s`, with a
//!    pre-shared key derived from the cluster secret, and as its prologue
//!    both hellos, byte for byte, the dialer's first. The dialer (Noise
//!    initiator) sends `psk, e`; the acceptor answers `e, ee` only if that
//!    message authenticated under the key and the prologue; the dialer
//!    checks the answer the same way. Every key depends on the secret, on
//!    both fresh ephemeral keys and on the whole transcript (both hellos:
//!    names, incarnations, nonces, versions, roles, windows), so a message
//!    of this handshake is worth nothing on any other connection, and a
//!    changed hello fails it.
//! 3. Each side sends a [`Verdict`] as the first record of the channel,
//!    the dialer first. The acceptor counts the dialer as authenticated
//!    only once this record opens: the NNpsk0 first message alone could
//!    be a replay, the record cannot (it needs the dialer's ephemeral
//!    key). The dialer attaches once the acceptor's verdict opens.
//!
//! The acceptor computes no Diffie-Hellman and sends nothing derived from
//! the secret until the dialer's first message has authenticated, so a
//! peer that proved nothing learns nothing it could relay. A refusal
//! before the keys exist travels in clear (a [`REFUSAL`] frame): it says
//! why, and it is all an attacker could forge.
//!
//! Handshake frames are length-prefixed (4 bytes) and bounded by
//! [`MAX_HANDSHAKE_FRAME`], far below the node's frame limit: a peer that
//! has proved nothing cannot make the node allocate more than that.
//!
//! The handshake also yields two keys (one per direction) for transports
//! that sign their own framing: NATS chunks carry a tag under them
//! (`nats/stream.rs`). They are derived from the Noise session's keys, so
//! only the two ends know them.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::channel::{self, Opener, Sealer};
use crate::connection::SessionKeys;
use crate::error::HandshakeError;

/// The first bytes of every hello.
const MAGIC: [u8; 4] = *b"ACTR";

/// The Noise protocol of the handshake and the channel.
const NOISE: &str = "Noise_NNpsk0_25519_AESGCM_BLAKE2s";

/// Domain separation for the prologue.
const PROLOGUE_LABEL: &[u8] = b"actor-remote handshake v3";

/// Domain separation for the pre-shared key derived from the secret.
const PSK_LABEL: &[u8] = b"actor-remote cluster psk v3";

/// Domain separation for the keys of transports that sign their framing.
const TRANSPORT_LABEL: &[u8] = b"actor-remote transport framing key v3";

/// The largest handshake frame accepted.
pub(crate) const MAX_HANDSHAKE_FRAME: usize = 1024;

/// The longest node name, in bytes.
pub(crate) const MAX_NODE_NAME: usize = 255;

/// The longest listen address a hello carries, in bytes.
pub(crate) const MAX_ADDRESS: usize = 512;

/// The longest reason a refusal carries, in bytes.
const MAX_REASON: usize = 512;

/// After the hellos, a handshake frame starts with one of these bytes: a
/// Noise handshake message follows, or the sender refuses, saying why.
const NOISE_MESSAGE: u8 = 0;
pub(crate) const REFUSAL: u8 = 1;

/// Which end of the connection a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Role {
    /// It dialed the connection (the Noise initiator).
    Dialer,
    /// It accepted the connection.
    Acceptor,
}

/// The first frame each side sends, in clear; authenticated afterwards as
/// part of the Noise prologue.
///
/// Its first six fields keep the layout of the hello of protocol version
/// 2, so that a node of that version reads this one's version and refuses
/// it with an error naming both, as this one does with its hello.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hello {
    magic: [u8; 4],
    version: u16,
    node: String,
    incarnation: u64,
    address: String,
    nonce: [u8; 32],
    role: Role,
    credit_window: u32,
}

/// What every version's hello starts with.
#[derive(Debug, Deserialize)]
struct Prefix {
    magic: [u8; 4],
    version: u16,
}

/// The first record each side seals: accepted, or refused and why.
#[derive(Debug, Serialize, Deserialize)]
enum Verdict {
    Accepted,
    Refused(String),
}

/// What this side says about itself.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) node: String,
    pub(crate) incarnation: u64,
    pub(crate) address: String,
    pub(crate) version: u16,
    /// The credit window this node grants each sender per target actor.
    pub(crate) credit_window: u32,
}

/// Who the peer turned out to be, and the connection's channel.
#[derive(Debug)]
pub(crate) struct PeerInfo {
    pub(crate) node: String,
    pub(crate) incarnation: u64,
    pub(crate) address: String,
    /// The credit window both sides use on this connection, per target
    /// actor and direction: the smaller of the two announced.
    pub(crate) credit_window: u32,
    /// Seals what this side sends.
    pub(crate) sealer: Sealer,
    /// Opens what the peer sends.
    pub(crate) opener: Opener,
    /// Keys for transports that sign their own framing.
    pub(crate) keys: SessionKeys,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The Noise pre-shared key: HKDF-Extract (HMAC-SHA256) of the secret,
/// salted with a label, so that a secret of any length makes a 32-byte
/// key.
fn psk(secret: &[u8]) -> [u8; 32] {
    hmac(PSK_LABEL, &[secret])
}

/// The prologue both sides feed Noise: both hellos, the dialer's first.
fn prologue(dialer: &[u8], acceptor: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PROLOGUE_LABEL.len() + 8 + dialer.len() + acceptor.len());
    out.extend_from_slice(PROLOGUE_LABEL);
    for hello in [dialer, acceptor] {
        out.extend_from_slice(&(hello.len() as u32).to_be_bytes());
        out.extend_from_slice(hello);
    }
    out
}

fn noise_builder<'a>(psk: &'a [u8; 32], prologue: &'a [u8]) -> Result<snow::Builder<'a>, HandshakeError> {
    let params = NOISE.parse().map_err(|e| HandshakeError::Protocol(format!("noise parameters: {e}")))?;
    snow::Builder::new(params)
        .psk(0, psk)
        .and_then(|b| b.prologue(prologue))
        .map_err(|e| HandshakeError::Protocol(format!("noise setup: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, HandshakeError> {
    postcard::to_allocvec(value).map_err(|e| HandshakeError::Protocol(e.to_string()))
}

/// A length-prefixed hello of a dialer named `name`, as a node of
/// `version` would send it (for the fuzzing entry points).
pub(crate) fn hello_bytes(name: &str, version: u16) -> Vec<u8> {
    let hello = Hello {
        magic: MAGIC,
        version,
        node: name.to_owned(),
        incarnation: 1,
        address: "tcp://127.0.0.1:9".to_owned(),
        nonce: [0; 32],
        role: Role::Dialer,
        credit_window: 1024,
    };
    length_prefixed(&encode(&hello).expect("a hello always encodes"))
}

fn length_prefixed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

type Wire<S> = Framed<S, LengthDelimitedCodec>;

async fn send<S>(framed: &mut Wire<S>, frame: impl Into<Bytes>) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    framed.send(frame.into()).await.map_err(HandshakeError::Io)
}

async fn recv<S>(framed: &mut Wire<S>) -> Result<BytesMut, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match framed.next().await {
        Some(Ok(frame)) => Ok(frame),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(HandshakeError::Protocol(format!("a handshake frame over {MAX_HANDSHAKE_FRAME} bytes")))
        }
        Some(Err(e)) => Err(HandshakeError::Io(e)),
        None => Err(HandshakeError::Closed),
    }
}

/// Tells the peer why this side refuses, in clear, as far as it listens.
async fn refuse<S>(framed: &mut Wire<S>, refusal: HandshakeError) -> HandshakeError
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reason = refusal.to_string();
    if reason.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    let mut frame = Vec::with_capacity(1 + reason.len());
    frame.push(REFUSAL);
    frame.extend_from_slice(reason.as_bytes());
    let _ = tokio::time::timeout(Duration::from_millis(100), send(framed, frame)).await;
    refusal
}

/// The Noise message in a handshake frame, or the peer's refusal.
fn noise_message(frame: &[u8]) -> Result<&[u8], HandshakeError> {
    match frame.split_first() {
        Some((&NOISE_MESSAGE, message)) => Ok(message),
        Some((&REFUSAL, reason)) => Err(HandshakeError::RefusedByPeer(String::from_utf8_lossy(reason).into_owned())),
        Some((kind, _)) => Err(HandshakeError::Protocol(format!("unknown handshake frame kind {kind}"))),
        None => Err(HandshakeError::Protocol("an empty handshake frame".into())),
    }
}

/// Reads the peer's hello: its version first, so that any version's hello
/// is refused with a version error, then the rest.
fn read_hello(bytes: &[u8], me: &Identity) -> Result<Hello, HandshakeError> {
    let prefix: Prefix =
        postcard::from_bytes(bytes).map_err(|_| HandshakeError::Protocol("not an actor-remote peer".into()))?;
    if prefix.magic != MAGIC {
        return Err(HandshakeError::Protocol("not an actor-remote peer".into()));
    }
    if prefix.version != me.version {
        return Err(HandshakeError::Version { ours: me.version, theirs: prefix.version });
    }
    postcard::from_bytes(bytes).map_err(|e| HandshakeError::Protocol(format!("undecodable hello: {e}")))
}

/// Whether the peer's hello is acceptable to a side in `role`.
fn check_hello(theirs: &Hello, me: &Identity, role: Role) -> Result<(), HandshakeError> {
    let expected = match role {
        Role::Dialer => Role::Acceptor,
        Role::Acceptor => Role::Dialer,
    };
    if theirs.role != expected {
        return Err(HandshakeError::Protocol(format!("the peer says it is the {:?} too", theirs.role)));
    }
    if theirs.node.is_empty() || theirs.node.len() > MAX_NODE_NAME {
        return Err(HandshakeError::Protocol(format!(
            "a node name of {} bytes (1 to {MAX_NODE_NAME})",
            theirs.node.len()
        )));
    }
    if theirs.address.len() > MAX_ADDRESS {
        return Err(HandshakeError::Protocol(format!("an address of {} bytes", theirs.address.len())));
    }
    if theirs.node == me.node {
        return Err(HandshakeError::Protocol(format!("peer claims this node's own name {:?}", me.node)));
    }
    if theirs.credit_window == 0 {
        return Err(HandshakeError::Protocol("a credit window of 0".into()));
    }
    Ok(())
}

/// Decides, from the peer's claimed name, whether an accepted connection
/// may go on to the proof (`Err` refuses it, as throttled for instance).
pub(crate) type Admit<'a> = &'a (dyn Fn(&str) -> Result<(), HandshakeError> + Send + Sync);

/// Runs the dialing side of the handshake on a fresh connection, within
/// `timeout`. On success the stream is handed back, with what was read
/// past the handshake (sealed records of the peer).
pub(crate) async fn dial<S>(
    stream: S,
    me: &Identity,
    secret: &[u8],
    timeout: Duration,
) -> Result<(S, PeerInfo, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run(stream, me, secret, Role::Dialer, timeout, timeout, None).await
}

/// Runs the accepting side: the peer's hello must arrive within
/// `hello_timeout`, and `admit` may refuse the peer (before any
/// cryptography) once its hello is read.
pub(crate) async fn accept<S>(
    stream: S,
    me: &Identity,
    secret: &[u8],
    timeout: Duration,
    hello_timeout: Duration,
    admit: Option<Admit<'_>>,
) -> Result<(S, PeerInfo, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run(stream, me, secret, Role::Acceptor, timeout, hello_timeout, admit).await
}

async fn run<S>(
    stream: S,
    me: &Identity,
    secret: &[u8],
    role: Role,
    timeout: Duration,
    hello_timeout: Duration,
    admit: Option<Admit<'_>>,
) -> Result<(S, PeerInfo, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let codec = LengthDelimitedCodec::builder().max_frame_length(MAX_HANDSHAKE_FRAME).new_codec();
    let mut framed = Framed::new(stream, codec);
    let peer = tokio::time::timeout(timeout, exchange(&mut framed, me, secret, role, hello_timeout, admit))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    // The peer may already have sent records after its verdict: they were
    // read along with it and belong to the connection.
    let parts = framed.into_parts();
    Ok((parts.io, peer, parts.read_buf))
}

async fn exchange<S>(
    framed: &mut Wire<S>,
    me: &Identity,
    secret: &[u8],
    role: Role,
    hello_timeout: Duration,
    admit: Option<Admit<'_>>,
) -> Result<PeerInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // 1. The hellos.
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| HandshakeError::Protocol(format!("no randomness: {e}")))?;
    let mine = Hello {
        magic: MAGIC,
        version: me.version,
        node: me.node.clone(),
        incarnation: me.incarnation,
        address: me.address.clone(),
        nonce,
        role,
        credit_window: me.credit_window.max(1),
    };
    let my_bytes = encode(&mine)?;
    send(framed, my_bytes.clone()).await?;
    let their_bytes =
        tokio::time::timeout(hello_timeout, recv(framed)).await.map_err(|_| HandshakeError::Timeout)??;
    let theirs = match read_hello(&their_bytes, me).and_then(|hello| check_hello(&hello, me, role).map(|()| hello)) {
        Ok(hello) => hello,
        Err(refusal) => return Err(refuse(framed, refusal).await),
    };
    if let Some(admit) = admit
        && let Err(refusal) = admit(&theirs.node)
    {
        return Err(refuse(framed, refusal).await);
    }

    // 2. Noise, bound to both hellos.
    let psk = psk(secret);
    let prologue = match role {
        Role::Dialer => prologue(&my_bytes, &their_bytes),
        Role::Acceptor => prologue(&their_bytes, &my_bytes),
    };
    let builder = noise_builder(&psk, &prologue)?;
    let mut buf = [0u8; 256];
    let mut payload = [0u8; MAX_HANDSHAKE_FRAME];
    let mut noise = match role {
        Role::Dialer => {
            let mut noise =
                builder.build_initiator().map_err(|e| HandshakeError::Protocol(format!("noise setup: {e}")))?;
            buf[0] = NOISE_MESSAGE;
            let n = noise.write_message(&[], &mut buf[1..]).map_err(|e| HandshakeError::Protocol(e.to_string()))?;
            send(framed, Bytes::copy_from_slice(&buf[..1 + n])).await?;
            let frame = recv(framed).await?;
            let message = noise_message(&frame)?;
            if noise.read_message(message, &mut payload).is_err() {
                // Another secret, a changed hello, or not the answer to
                // our message: nothing to tell a peer that proved nothing.
                return Err(HandshakeError::Authentication);
            }
            noise
        }
        Role::Acceptor => {
            let mut noise =
                builder.build_responder().map_err(|e| HandshakeError::Protocol(format!("noise setup: {e}")))?;
            let frame = recv(framed).await?;
            let message = noise_message(&frame)?;
            if noise.read_message(message, &mut payload).is_err() {
                return Err(refuse(framed, HandshakeError::Authentication).await);
            }
            buf[0] = NOISE_MESSAGE;
            let n = noise.write_message(&[], &mut buf[1..]).map_err(|e| HandshakeError::Protocol(e.to_string()))?;
            send(framed, Bytes::copy_from_slice(&buf[..1 + n])).await?;
            noise
        }
    };
    if !noise.is_handshake_finished() {
        return Err(HandshakeError::Protocol("noise: the handshake did not finish".into()));
    }
    let (to_acceptor, to_dialer) = noise.dangerously_get_raw_split();
    let keys = match role {
        Role::Dialer => {
            SessionKeys { send: hmac(&to_acceptor, &[TRANSPORT_LABEL]), receive: hmac(&to_dialer, &[TRANSPORT_LABEL]) }
        }
        Role::Acceptor => {
            SessionKeys { send: hmac(&to_dialer, &[TRANSPORT_LABEL]), receive: hmac(&to_acceptor, &[TRANSPORT_LABEL]) }
        }
    };
    let (mut sealer, mut opener) = match role {
        Role::Dialer => channel::split(&to_acceptor, &to_dialer),
        Role::Acceptor => channel::split(&to_dialer, &to_acceptor),
    };

    // 3. The verdicts, sealed: the dialer's proves it holds its ephemeral
    // key (a replayed first message cannot get this far).
    let accepted = encode(&Verdict::Accepted)?;
    if role == Role::Dialer {
        send(framed, sealer.seal_message(&accepted)).await?;
    }
    let frame = recv(framed).await?;
    let mut opened = BytesMut::new();
    if opener.open(&frame, &mut opened).is_err() {
        return Err(HandshakeError::Authentication);
    }
    let verdict: Verdict =
        postcard::from_bytes(&opened).map_err(|e| HandshakeError::Protocol(format!("undecodable verdict: {e}")))?;
    if role == Role::Acceptor {
        send(framed, sealer.seal_message(&accepted)).await?;
    }
    match verdict {
        Verdict::Accepted => Ok(PeerInfo {
            node: theirs.node,
            incarnation: theirs.incarnation,
            address: theirs.address,
            credit_window: theirs.credit_window.min(me.credit_window.max(1)),
            sealer,
            opener,
            keys,
        }),
        Verdict::Refused(reason) => Err(HandshakeError::RefusedByPeer(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(node: &str, version: u16) -> Identity {
        Identity { node: node.into(), incarnation: 1, address: format!("tcp://{node}"), version, credit_window: 64 }
    }

    async fn pair(
        a: (Identity, &'static [u8]),
        b: (Identity, &'static [u8]),
    ) -> (Result<PeerInfo, HandshakeError>, Result<PeerInfo, HandshakeError>) {
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ra, rb) = tokio::join!(dial(x, &a.0, a.1, t), accept(y, &b.0, b.1, t, t, None));
        (ra.map(|(_, p, _)| p), rb.map(|(_, p, _)| p))
    }

    #[tokio::test]
    async fn the_same_secret_is_accepted_both_ways() {
        let (a, b) = pair((identity("a", 3), b"s3cret"), (identity("b", 3), b"s3cret")).await;
        assert_eq!(a.unwrap().node, "b");
        assert_eq!(b.unwrap().node, "a");
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_on_both_sides() {
        let (a, b) = pair((identity("a", 3), b"s3cret"), (identity("b", 3), b"guess")).await;
        // The acceptor cannot open the dialer's message; it says so in
        // clear, which is all the dialer learns.
        assert!(matches!(b, Err(HandshakeError::Authentication)), "{b:?}");
        assert!(matches!(a, Err(HandshakeError::RefusedByPeer(ref why)) if why.contains("authentication")), "{a:?}");
    }

    #[tokio::test]
    async fn a_wrong_version_is_refused_naming_both() {
        let (a, b) = pair((identity("a", 3), b"s"), (identity("b", 4), b"s")).await;
        assert!(matches!(a, Err(HandshakeError::Version { ours: 3, theirs: 4 })), "{a:?}");
        assert!(matches!(b, Err(HandshakeError::Version { ours: 4, theirs: 3 })), "{b:?}");
    }

    #[tokio::test]
    async fn a_peer_claiming_our_name_is_refused() {
        let (a, b) = pair((identity("a", 3), b"s"), (identity("a", 3), b"s")).await;
        assert!(matches!(a, Err(HandshakeError::Protocol(_))), "{a:?}");
        assert!(matches!(b, Err(HandshakeError::Protocol(_))), "{b:?}");
    }

    /// Two dialers (or two acceptors) facing each other, as a reflected
    /// connection would make them, refuse at the hellos.
    #[tokio::test]
    async fn two_sides_in_the_same_role_refuse_each_other() {
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ia, ib) = (identity("a", 3), identity("b", 3));
        let (ra, rb) = tokio::join!(dial(x, &ia, b"s", t), dial(y, &ib, b"s", t));
        assert!(matches!(ra, Err(HandshakeError::Protocol(ref why)) if why.contains("Dialer")), "{ra:?}");
        assert!(rb.is_err());
    }

    #[tokio::test]
    async fn both_sides_agree_on_the_smaller_credit_window() {
        let (mut ia, mut ib) = (identity("a", 3), identity("b", 3));
        ia.credit_window = 100;
        ib.credit_window = 40;
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (a, b) = tokio::join!(dial(x, &ia, b"s", t), accept(y, &ib, b"s", t, t, None));
        assert_eq!(a.unwrap().1.credit_window, 40);
        assert_eq!(b.unwrap().1.credit_window, 40);
    }

    /// The channel's keys match across the two ends, one per direction,
    /// and so do the framing keys.
    #[tokio::test]
    async fn both_sides_derive_matching_keys() {
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ia, ib) = (identity("a", 3), identity("b", 3));
        let (a, b) = tokio::join!(dial(x, &ia, b"s", t), accept(y, &ib, b"s", t, t, None));
        let (mut a, mut b) = (a.unwrap().1, b.unwrap().1);
        assert_eq!(a.keys.send, b.keys.receive);
        assert_eq!(a.keys.receive, b.keys.send);
        assert_ne!(a.keys.send, a.keys.receive, "one key per direction");
        fn crosses(from: &mut PeerInfo, to: &mut PeerInfo) {
            let mut sealed = BytesMut::new();
            from.sealer.seal(b"\0\0\0\x01x", &mut sealed);
            let mut opened = BytesMut::new();
            to.opener.open(&sealed[4..], &mut opened).unwrap();
            assert_eq!(&opened[..], b"\0\0\0\x01x");
        }
        crosses(&mut a, &mut b);
        crosses(&mut b, &mut a);
    }

    /// A side that finishes first may send at once; what it sends is not
    /// lost in the other side's handshake buffer.
    #[tokio::test]
    async fn records_sent_right_after_the_handshake_are_kept() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ia, ib) = (identity("a", 3), identity("b", 3));
        let b = async {
            let (mut stream, mut info, _) = accept(y, &ib, b"s", t, t, None).await.unwrap();
            let mut sealed = BytesMut::new();
            info.sealer.seal(b"first frame", &mut sealed);
            stream.write_all(&sealed).await.unwrap();
            stream
        };
        let a = async {
            // Slow to finish: b's bytes arrive before a reads them.
            let (mut stream, mut info, early) = dial(x, &ia, b"s", t).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut got = early.to_vec();
            while got.len() < 4 + b"first frame".len() + channel::TAG {
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            let mut opened = BytesMut::new();
            info.opener.open(&got[4..], &mut opened).unwrap();
            opened
        };
        let (got, _keep) = tokio::join!(a, b);
        assert_eq!(&got[..], b"first frame");
    }

    #[test]
    fn a_version_2_peer_reads_our_version_from_our_hello() {
        /// The hello of protocol version 2, as its nodes decode it.
        #[derive(Deserialize)]
        struct HelloV2 {
            magic: [u8; 4],
            version: u16,
            node: String,
            _incarnation: u64,
            _address: String,
            _nonce: [u8; 32],
        }
        let ours = hello_bytes("a", 3);
        let old: HelloV2 = postcard::from_bytes(&ours[4..]).unwrap();
        assert_eq!((old.magic, old.version, old.node.as_str()), (MAGIC, 3, "a"));
    }
}
