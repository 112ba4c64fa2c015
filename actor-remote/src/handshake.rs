//! The handshake: protocol version, node identity, and a shared-secret
//! challenge-response, before any other frame.
//!
//! Both sides send a [`Hello`] at once (magic, protocol version, node name,
//! incarnation, listen address, a fresh 32-byte nonce). Each then proves it
//! knows the secret with `HMAC-SHA256(secret, label | verifier's nonce |
//! prover's nonce | prover's name)`, and checks the other's proof with a
//! constant-time comparison. The secret never crosses the wire; a proof is
//! bound to the verifier's fresh nonce (no replay) and to the prover's own
//! name (no reflection: a node refuses a peer that claims its name). Last,
//! each side sends its [`Verdict`], so that a refused peer learns why.
//!
//! Handshake frames are bounded by [`MAX_HANDSHAKE_FRAME`], far below the
//! node's frame limit: an unauthenticated peer cannot make the node allocate
//! more than that.
//!
//! A successful handshake also yields two session keys, one per direction,
//! `HMAC-SHA256(secret, session label | sender's nonce | receiver's
//! nonce)`: fresh per connection, known only to the two nodes. Transports
//! that cannot vouch for the integrity of what follows (NATS subjects that
//! other clients of the server might publish to) sign every later message
//! with them.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::error::HandshakeError;

/// The first bytes of every hello.
const MAGIC: [u8; 4] = *b"ACTR";

/// Domain separation for the proof.
const LABEL: &[u8] = b"actor-remote handshake proof v1";

/// Domain separation for the session keys.
const SESSION_LABEL: &[u8] = b"actor-remote session key v1";

/// The largest handshake frame accepted.
pub(crate) const MAX_HANDSHAKE_FRAME: usize = 1024;

/// The first frame each side sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hello {
    magic: [u8; 4],
    version: u16,
    node: String,
    incarnation: u64,
    address: String,
    nonce: [u8; 32],
}

/// The second frame: the proof of the secret.
#[derive(Debug, Serialize, Deserialize)]
struct Proof {
    mac: Vec<u8>,
}

/// The third frame: accepted, or refused and why.
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
}

/// Who the peer turned out to be.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    pub(crate) node: String,
    pub(crate) incarnation: u64,
    pub(crate) address: String,
    /// The keys of this connection, for transports that sign messages.
    pub(crate) keys: SessionKeys,
}

/// The per-direction keys of one connection.
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

fn session_key(secret: &[u8], sender_nonce: &[u8; 32], receiver_nonce: &[u8; 32]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(SESSION_LABEL);
    mac.update(sender_nonce);
    mac.update(receiver_nonce);
    mac.finalize().into_bytes().into()
}

/// A length-prefixed hello of a peer named `name`, with a zero nonce (for
/// the fuzzing entry points).
pub(crate) fn hello_bytes(name: &str, version: u16) -> Vec<u8> {
    let hello = Hello {
        magic: MAGIC,
        version,
        node: name.to_owned(),
        incarnation: 1,
        address: "tcp://127.0.0.1:9".to_owned(),
        nonce: [0; 32],
    };
    let body = postcard::to_allocvec(&hello).expect("a hello always encodes");
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

fn proof(secret: &[u8], verifier_nonce: &[u8; 32], prover_nonce: &[u8; 32], prover: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(LABEL);
    mac.update(verifier_nonce);
    mac.update(prover_nonce);
    mac.update(prover.as_bytes());
    mac
}

async fn send<S, T>(framed: &mut Framed<S, LengthDelimitedCodec>, msg: &T) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Serialize,
{
    let bytes = postcard::to_allocvec(msg).map_err(|e| HandshakeError::Protocol(e.to_string()))?;
    framed.send(Bytes::from(bytes)).await.map_err(HandshakeError::Io)
}

async fn recv<S, T>(framed: &mut Framed<S, LengthDelimitedCodec>) -> Result<T, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: for<'de> Deserialize<'de>,
{
    match framed.next().await {
        Some(Ok(bytes)) => postcard::from_bytes(&bytes)
            .map_err(|e| HandshakeError::Protocol(format!("undecodable handshake frame: {e}"))),
        Some(Err(e)) => Err(HandshakeError::Io(e)),
        None => Err(HandshakeError::Closed),
    }
}

/// Decides, from the peer's claimed name, whether an accepted connection
/// may go on to the proof (`Err` refuses it as throttled).
pub(crate) type Admit<'a> = &'a (dyn Fn(&str) -> Result<(), HandshakeError> + Send + Sync);

/// Runs the handshake on a fresh connection, within `timeout`. On success
/// the stream is handed back, with what was read past the handshake.
pub(crate) async fn run<S>(
    stream: S,
    me: &Identity,
    secret: &[u8],
    timeout: Duration,
) -> Result<(S, PeerInfo, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run_with(stream, me, secret, timeout, timeout, None).await
}

/// [`run`], on an accepted connection: the peer's hello must arrive within
/// `hello_timeout`, and `admit` may refuse the peer (without computing any
/// proof) once its hello is read.
pub(crate) async fn run_with<S>(
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
    let codec = LengthDelimitedCodec::builder().max_frame_length(MAX_HANDSHAKE_FRAME).new_codec();
    let mut framed = Framed::new(stream, codec);
    let peer = tokio::time::timeout(timeout, exchange(&mut framed, me, secret, hello_timeout, admit))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    // The peer may already have sent frames after its verdict: they were
    // read along with it and belong to the connection.
    let parts = framed.into_parts();
    Ok((parts.io, peer, parts.read_buf))
}

async fn exchange<S>(
    framed: &mut Framed<S, LengthDelimitedCodec>,
    me: &Identity,
    secret: &[u8],
    hello_timeout: Duration,
    admit: Option<Admit<'_>>,
) -> Result<PeerInfo, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| HandshakeError::Protocol(format!("no randomness: {e}")))?;
    let hello = Hello {
        magic: MAGIC,
        version: me.version,
        node: me.node.clone(),
        incarnation: me.incarnation,
        address: me.address.clone(),
        nonce,
    };
    send(framed, &hello).await?;
    let theirs: Hello =
        tokio::time::timeout(hello_timeout, recv(framed)).await.map_err(|_| HandshakeError::Timeout)??;

    let refusal = if theirs.magic != MAGIC {
        Some(HandshakeError::Protocol("not an actor-remote peer".into()))
    } else if theirs.version != me.version {
        Some(HandshakeError::Version { ours: me.version, theirs: theirs.version })
    } else if theirs.node == me.node {
        Some(HandshakeError::Protocol(format!("peer claims this node's own name {:?}", me.node)))
    } else {
        admit.and_then(|admit| admit(&theirs.node).err())
    };
    if let Some(refusal) = refusal {
        // Best effort: tell the peer why before closing.
        let _ = send(framed, &Proof { mac: Vec::new() }).await;
        let _ = send(framed, &Verdict::Refused(refusal.to_string())).await;
        return Err(refusal);
    }

    let mine = proof(secret, &theirs.nonce, &nonce, &me.node).finalize().into_bytes();
    send(framed, &Proof { mac: mine.to_vec() }).await?;
    let their_proof: Proof = recv(framed).await?;
    if their_proof.mac.is_empty() {
        // The peer refused us before proving anything: its verdict says why.
        let _ = send(framed, &Verdict::Refused("no proof was offered".into())).await;
        return match recv::<_, Verdict>(framed).await? {
            Verdict::Refused(reason) => Err(HandshakeError::RefusedByPeer(reason)),
            Verdict::Accepted => Err(HandshakeError::Authentication),
        };
    }
    // `verify_slice` compares in constant time.
    let verified = proof(secret, &nonce, &theirs.nonce, &theirs.node).verify_slice(&their_proof.mac).is_ok();

    let verdict = if verified { Verdict::Accepted } else { Verdict::Refused("authentication failed".into()) };
    send(framed, &verdict).await?;
    let their_verdict: Verdict = recv(framed).await?;
    if !verified {
        return Err(HandshakeError::Authentication);
    }
    match their_verdict {
        Verdict::Accepted => {
            let keys = SessionKeys {
                send: session_key(secret, &nonce, &theirs.nonce),
                receive: session_key(secret, &theirs.nonce, &nonce),
            };
            Ok(PeerInfo { node: theirs.node, incarnation: theirs.incarnation, address: theirs.address, keys })
        }
        Verdict::Refused(reason) => Err(HandshakeError::RefusedByPeer(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(node: &str, version: u16) -> Identity {
        Identity { node: node.into(), incarnation: 1, address: format!("tcp://{node}"), version }
    }

    async fn pair(
        a: (Identity, &'static [u8]),
        b: (Identity, &'static [u8]),
    ) -> (Result<PeerInfo, HandshakeError>, Result<PeerInfo, HandshakeError>) {
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ra, rb) = tokio::join!(run(x, &a.0, a.1, t), run(y, &b.0, b.1, t));
        (ra.map(|(_, p, _)| p), rb.map(|(_, p, _)| p))
    }

    #[tokio::test]
    async fn the_same_secret_is_accepted_both_ways() {
        let (a, b) = pair((identity("a", 1), b"s3cret"), (identity("b", 1), b"s3cret")).await;
        assert_eq!(a.unwrap().node, "b");
        assert_eq!(b.unwrap().node, "a");
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_on_both_sides() {
        let (a, b) = pair((identity("a", 1), b"s3cret"), (identity("b", 1), b"guess")).await;
        assert!(matches!(a, Err(HandshakeError::Authentication)), "{a:?}");
        assert!(matches!(b, Err(HandshakeError::Authentication)), "{b:?}");
    }

    #[tokio::test]
    async fn a_wrong_version_is_refused() {
        let (a, b) = pair((identity("a", 1), b"s"), (identity("b", 2), b"s")).await;
        assert!(matches!(a, Err(HandshakeError::Version { ours: 1, theirs: 2 })), "{a:?}");
        assert!(matches!(b, Err(HandshakeError::Version { ours: 2, theirs: 1 })), "{b:?}");
    }

    #[tokio::test]
    async fn a_peer_claiming_our_name_is_refused() {
        let (a, _) = pair((identity("a", 1), b"s"), (identity("a", 1), b"s")).await;
        assert!(matches!(a, Err(HandshakeError::Protocol(_))), "{a:?}");
    }

    /// A side that finishes first may send at once; what it sends is not
    /// lost in the other side's handshake buffer.
    #[tokio::test]
    async fn frames_sent_right_after_the_handshake_are_kept() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let a = async {
            let (mut stream, _, _) = run(x, &identity("a", 1), b"s", t).await.unwrap();
            stream.write_all(b"first frame").await.unwrap();
            stream
        };
        let b = async {
            // Slow to finish: a's bytes arrive before b reads them.
            let (mut stream, _, early) = run(y, &identity("b", 1), b"s", t).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut got = early.to_vec();
            while got.len() < b"first frame".len() {
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got
        };
        let (_keep, got) = tokio::join!(a, b);
        assert_eq!(got, b"first frame");
    }

    #[tokio::test]
    async fn both_sides_derive_matching_session_keys() {
        let (x, y) = tokio::io::duplex(4096);
        let t = Duration::from_secs(5);
        let (ia, ib) = (identity("a", 1), identity("b", 1));
        let (a, b) = tokio::join!(run(x, &ia, b"s", t), run(y, &ib, b"s", t));
        let (a, b) = (a.unwrap().1.keys, b.unwrap().1.keys);
        assert_eq!(a.send, b.receive);
        assert_eq!(a.receive, b.send);
        assert_ne!(a.send, a.receive, "one key per direction");
    }

    #[test]
    fn a_proof_is_bound_to_both_nonces_and_the_prover() {
        let n1 = [1u8; 32];
        let n2 = [2u8; 32];
        let p = proof(b"k", &n1, &n2, "a").finalize().into_bytes();
        assert!(proof(b"k", &n1, &n2, "a").verify_slice(&p).is_ok());
        assert!(proof(b"k", &n2, &n2, "a").verify_slice(&p).is_err(), "another verifier nonce");
        assert!(proof(b"k", &n1, &n1, "a").verify_slice(&p).is_err(), "another prover nonce");
        assert!(proof(b"k", &n1, &n2, "b").verify_slice(&p).is_err(), "another prover");
        assert!(proof(b"j", &n1, &n2, "a").verify_slice(&p).is_err(), "another secret");
    }
}
