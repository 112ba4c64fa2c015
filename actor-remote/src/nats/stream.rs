//! A virtual connection over NATS: a byte stream made of NATS messages on
//! two subjects, one per direction, with the properties the node's
//! connection code expects of a socket: ordered, and failing loudly.
//!
//! Every message (a *chunk*) starts with a fixed header:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | kind: data, ack, close |
//! | 8 | sequence number of the chunk on its subject (1, 2, ...) |
//! | 8 | data bytes the sender has read from the other subject so far |
//! | 8 | data chunks the sender has read from the other subject so far |
//!
//! then, once the handshake has run on the stream, a 16-byte tag
//! (HMAC-SHA256 of the header and the body with the session key of the
//! sending direction, see `handshake.rs`; the kind's high bit says it is
//! there), then, for data, the bytes; for close, the reason (UTF-8, empty
//! for a normal close).
//!
//! - **Loss is an error, never a silent gap.** Core NATS drops messages
//!   (a slow consumer, a reconnect to the server); a chunk whose sequence
//!   number is not the next one fails the stream with a reason that says
//!   how many were lost and what the NATS client reported, and the reader
//!   tells the peer with a close chunk. A lost server connection fails
//!   every stream of that client at once (see `Server`'s event handler).
//! - **Flow control.** The two counters in each header confirm what the
//!   sender has read of the other direction. A writer keeps at most a
//!   window of unconfirmed bytes (each chunk counting [`CHUNK_COST`] more,
//!   so that small chunks are bounded in number too) and waits when it is
//!   spent. Confirmations ride on every chunk going the other way; a
//!   reader that has nothing to send confirms with an ack chunk every
//!   quarter window. So nothing a peer sends can overrun the NATS
//!   server's or client's slow-consumer limits.
//! - **Confirmations are flow control only.** What the peer confirmed
//!   bounds what is in flight; it says nothing of what the node above
//!   handled. Loss and resending are the node's business: its numbered
//!   stream of frames is acknowledged end to end and written again on the
//!   next connection, over NATS as over TCP (`peer/stream.rs`).
//! - **Signed after the handshake.** The subjects are known to the server
//!   and visible to clients allowed to subscribe to them; the tags make a
//!   chunk another client published (or replayed: the sequence number is
//!   signed) fail the connection instead of reaching an actor.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use async_nats::{Client, Subject, Subscriber};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::Stream as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::connection::{Abort, Seal, SessionKeys};

const DATA: u8 = 1;
const ACK: u8 = 2;
const CLOSE: u8 = 3;
/// In the kind byte: the chunk carries a tag.
const SIGNED: u8 = 0x80;

/// Bytes of a chunk's header.
pub(crate) const HEADER: usize = 25;

/// Bytes of a chunk's tag.
const TAG: usize = 16;

/// The most data bytes one chunk carries; larger writes are split.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// What a chunk costs against the window on top of its bytes.
pub(crate) const CHUNK_COST: u64 = 256;

/// The smallest window accepted: room for a few full chunks, so that a
/// reader confirming every quarter window never leaves a writer stuck.
pub(crate) const MIN_WINDOW: u64 = 4 * (MAX_CHUNK as u64 + CHUNK_COST) + 1;

/// The state both directions of one virtual connection share.
pub(crate) struct Shared {
    state: Mutex<State>,
    window: u64,
    /// Describes the stream in reasons: which subjects.
    name: String,
    /// What the NATS client reported lately, for the reasons of losses.
    events: Arc<super::Events>,
}

#[derive(Default)]
struct State {
    // Sending.
    next_seq: u64,
    sent_bytes: u64,
    sent_chunks: u64,
    /// What the peer says it has read of ours.
    confirmed_bytes: u64,
    confirmed_chunks: u64,
    writer: Option<Waker>,
    close_sent: bool,
    // Receiving.
    expected_seq: u64,
    read_bytes: u64,
    read_chunks: u64,
    /// `read_units` when we last confirmed (on any chunk we sent).
    confirmed_units: u64,
    reader: Option<Waker>,
    // How it ended.
    failed: Option<String>,
    peer_closed: bool,
    /// Chunks to publish, in sequence order.
    out: Option<mpsc::UnboundedSender<Bytes>>,
    /// Signs what we send, once sealed.
    sign: Option<Hmac<Sha256>>,
    /// Checks what we receive, once sealed.
    check: Option<Hmac<Sha256>>,
}

impl State {
    fn read_units(&self) -> u64 {
        self.read_bytes + CHUNK_COST * self.read_chunks
    }

    fn in_flight(&self) -> u64 {
        (self.sent_bytes - self.confirmed_bytes) + CHUNK_COST * (self.sent_chunks - self.confirmed_chunks)
    }

    /// Queues a chunk for publishing, with the next sequence number and our
    /// confirmations. Called under the lock, so sequence order is queue
    /// order.
    fn send(&mut self, kind: u8, body: &[u8]) {
        self.next_seq += 1;
        let mut chunk = BytesMut::with_capacity(HEADER + TAG + body.len());
        chunk.put_u8(if self.sign.is_some() { kind | SIGNED } else { kind });
        chunk.put_u64(self.next_seq);
        chunk.put_u64(self.read_bytes);
        chunk.put_u64(self.read_chunks);
        if let Some(sign) = &self.sign {
            let mut mac = sign.clone();
            mac.update(&chunk[..HEADER]);
            mac.update(body);
            chunk.put_slice(&mac.finalize().into_bytes()[..TAG]);
        }
        chunk.put_slice(body);
        self.confirmed_units = self.read_units();
        if kind == CLOSE {
            self.close_sent = true;
        }
        if let Some(out) = &self.out {
            // The publisher is gone only when the stream failed to publish.
            let _ = out.send(chunk.freeze());
        }
        if kind == CLOSE {
            // Nothing follows a close: the publisher ends after it.
            self.out = None;
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails the stream (the NATS connection was lost, publishing failed):
    /// both directions return `why` from now on.
    pub(crate) fn fail(&self, why: &str) {
        let mut state = self.lock();
        if state.failed.is_none() && !state.peer_closed {
            state.failed = Some(why.to_owned());
        }
        state.wake();
    }

    /// Whether the stream has ended (so the client can stop tracking it).
    pub(crate) fn is_done(&self) -> bool {
        let state = self.lock();
        state.failed.is_some() || state.peer_closed || state.close_sent
    }
}

impl Seal for Shared {
    fn seal(&self, keys: &SessionKeys) {
        let key = |k: &[u8; 32]| Hmac::<Sha256>::new_from_slice(k).expect("HMAC takes a key of any length");
        let mut state = self.lock();
        state.sign = Some(key(&keys.send));
        state.check = Some(key(&keys.receive));
    }
}

impl Abort for Shared {
    fn fail(&self, why: &str) {
        Shared::fail(self, why);
    }
}

/// One end of a virtual connection.
pub(crate) struct NatsStream {
    shared: Arc<Shared>,
    incoming: Subscriber,
    /// What is left of the data chunk being read.
    current: Bytes,
}

impl std::fmt::Debug for NatsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStream").field("subjects", &self.shared.name).finish()
    }
}

impl NatsStream {
    /// A stream that reads `incoming` and publishes to `outgoing`, keeping
    /// at most `window` unconfirmed units in flight.
    pub(crate) fn new(
        client: Client,
        events: &Arc<super::Events>,
        incoming: Subscriber,
        read_from: &str,
        outgoing: Subject,
        window: u64,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State { out: Some(tx), ..State::default() }),
            window: window.max(MIN_WINDOW),
            name: format!("reading {read_from}, writing {outgoing}"),
            events: events.clone(),
        });
        events.track(&shared);
        tokio::spawn(publish(client, outgoing, rx, Arc::downgrade(&shared)));
        NatsStream { shared, incoming, current: Bytes::new() }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Takes in one chunk from the subscription.
    fn incoming(&mut self, mut chunk: Bytes) {
        let mut state = self.shared.lock();
        if chunk.len() < HEADER {
            let why = format!("a malformed chunk of {} bytes on {}", chunk.len(), self.shared.name);
            failed_here(&mut state, why);
            return;
        }
        let raw = chunk.clone();
        let kind = chunk.get_u8();
        let seq = chunk.get_u64();
        let read_bytes = chunk.get_u64();
        let read_chunks = chunk.get_u64();
        let signed = kind & SIGNED != 0;
        let kind = kind & !SIGNED;
        match (&state.check, signed) {
            (Some(check), true) if chunk.len() >= TAG => {
                let mut mac = check.clone();
                mac.update(&raw[..HEADER]);
                mac.update(&raw[HEADER + TAG..]);
                // `verify_truncated_left` compares in constant time.
                if mac.verify_truncated_left(&chunk[..TAG]).is_err() {
                    let why = format!("a chunk on {} failed its signature: not from the peer", self.shared.name);
                    failed_here(&mut state, why);
                    return;
                }
                chunk.advance(TAG);
            }
            (None, false) => {}
            (Some(_), _) => {
                let why = format!("an unsigned chunk on {} after the handshake: not from the peer", self.shared.name);
                failed_here(&mut state, why);
                return;
            }
            (None, true) => {
                let why = format!("a signed chunk on {} before the handshake ended", self.shared.name);
                failed_here(&mut state, why);
                return;
            }
        }
        let expected = state.expected_seq + 1;
        if seq != expected {
            let why = if seq > expected {
                format!(
                    "NATS lost {} message(s) of this connection (chunk {seq} arrived, {expected} expected){}",
                    seq - expected,
                    self.shared.events.note()
                )
            } else {
                format!("NATS delivered chunk {seq} again or out of order ({expected} expected)")
            };
            failed_here(&mut state, why);
            return;
        }
        state.expected_seq = seq;
        if read_bytes > state.confirmed_bytes || read_chunks > state.confirmed_chunks {
            state.confirmed_bytes = read_bytes.min(state.sent_bytes);
            state.confirmed_chunks = read_chunks.min(state.sent_chunks);
            if let Some(w) = state.writer.take() {
                w.wake();
            }
        }
        match kind {
            DATA => self.current = chunk,
            ACK => {}
            CLOSE => {
                let reason = String::from_utf8_lossy(&chunk).into_owned();
                if reason.is_empty() {
                    state.peer_closed = true;
                } else if state.failed.is_none() {
                    state.failed = Some(format!("the peer gave up the connection: {reason}"));
                }
                // The peer reads nothing more: no close goes back.
                state.close_sent = true;
                state.out = None;
                state.wake();
            }
            other => failed_here(&mut state, format!("a chunk of unknown kind {other} on {}", self.shared.name)),
        }
    }
}

/// Fails the stream because of what this side read, and tells the peer
/// why (with what we read, so it knows exactly what we never will).
fn failed_here(state: &mut State, why: String) {
    tracing::warn!(reason = %why, "a NATS virtual connection failed");
    if state.failed.is_none() {
        state.failed = Some(why.clone());
    }
    if !state.close_sent {
        state.send(CLOSE, why.as_bytes());
    }
    state.wake();
}

fn broken(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, why.to_owned())
}

impl AsyncRead for NatsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current[..n]);
                this.current.advance(n);
                let mut state = this.shared.lock();
                state.read_bytes += n as u64;
                if this.current.is_empty() {
                    state.read_chunks += 1;
                }
                if state.read_units() - state.confirmed_units >= this.shared.window / 4 && !state.close_sent {
                    state.send(ACK, &[]);
                }
                return Poll::Ready(Ok(()));
            }
            {
                let state = this.shared.lock();
                if let Some(why) = &state.failed {
                    return Poll::Ready(Err(broken(why)));
                }
                if state.peer_closed {
                    return Poll::Ready(Ok(()));
                }
            }
            match Pin::new(&mut this.incoming).poll_next(cx) {
                Poll::Ready(Some(message)) => this.incoming(message.payload),
                Poll::Ready(None) => this.shared.fail("the NATS subscription of the connection ended"),
                Poll::Pending => {
                    let mut state = this.shared.lock();
                    if state.failed.is_some() {
                        // Failed by the client's event handler meanwhile.
                        continue;
                    }
                    if !state.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        state.reader = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for NatsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut state = self.shared.lock();
        if let Some(why) = &state.failed {
            return Poll::Ready(Err(broken(why)));
        }
        if state.peer_closed || state.close_sent {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the connection is closed")));
        }
        let n = buf.len().min(MAX_CHUNK);
        let in_flight = state.in_flight();
        if in_flight > 0 && in_flight + n as u64 + CHUNK_COST > self.shared.window {
            // The window is spent: wait for the peer to confirm.
            if !state.writer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                state.writer = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        state.sent_bytes += n as u64;
        state.sent_chunks += 1;
        state.send(DATA, &buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every write is published as it comes: there is nothing to flush.
        match &self.shared.lock().failed {
            Some(why) => Poll::Ready(Err(broken(why))),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        close(&mut self.shared.lock());
        Poll::Ready(Ok(()))
    }
}

/// Sends the close chunk, once: empty for a normal close, else why this
/// side gave the connection up.
fn close(state: &mut State) {
    if !state.close_sent {
        let why = state.failed.clone().unwrap_or_default();
        state.send(CLOSE, why.as_bytes());
    }
}

impl Drop for NatsStream {
    fn drop(&mut self) {
        close(&mut self.shared.lock());
    }
}

/// Publishes a stream's chunks in order until the stream is gone and its
/// last chunk is out.
async fn publish(client: Client, subject: Subject, mut chunks: mpsc::UnboundedReceiver<Bytes>, shared: Weak<Shared>) {
    let mut batch = Vec::with_capacity(64);
    while chunks.recv_many(&mut batch, 64).await > 0 {
        for chunk in batch.drain(..) {
            if let Err(e) = client.publish(subject.clone(), chunk).await {
                if let Some(shared) = shared.upgrade() {
                    shared.fail(&format!("publishing to NATS failed: {e}"));
                }
                return;
            }
        }
    }
}
