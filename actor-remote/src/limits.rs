//! A node's limits and timings: what every layer of a connection (the
//! frames, the handshake, the peer, the node) is bounded by.

use std::time::Duration;

/// Limits and timings of a node; every field has a default. Set some with
/// `Limits { field: value, ..Limits::default() }`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_remote::Limits;
///
/// let limits = Limits { heartbeat_timeout: Duration::from_secs(1), ..Limits::default() };
/// assert_eq!(limits.max_frame, 8 * 1024 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest frame accepted or sent, in bytes. A peer announcing a
    /// larger one is disconnected before anything is allocated for it.
    pub max_frame: usize,
    /// Messages in flight toward one remote actor before senders wait for
    /// credit (or `try_tell` returns `Full`). Each node announces its own
    /// in the handshake and both use the smaller one on that connection;
    /// a receiver closes a connection that carries more than that toward
    /// one of its actors without credit granted back, so what waits for a
    /// full mailbox is bounded by it.
    pub credit_window: usize,
    /// Tells kept for a peer that is down (reconnecting) before further
    /// ones go to dead letters with `NodeDown`.
    pub outbox: usize,
    /// Bytes of frames written to a peer and not acknowledged yet that
    /// this node keeps, per peer, to write them again if the connection is
    /// lost (the *resend buffer*). When it is full, the writer waits for
    /// the peer's acknowledgements before writing more, and senders wait
    /// for credit: nothing is dropped. A frame larger than the whole buffer
    /// still goes, alone. Each entry counts its payload plus about 100
    /// bytes of bookkeeping; consecutive tells of one message type are one
    /// entry, of at most a quarter of this.
    pub resend_buffer: usize,
    /// How often an idle connection sends a heartbeat.
    pub heartbeat_interval: Duration,
    /// How long without any frame before the peer is presumed dead.
    pub heartbeat_timeout: Duration,
    /// How long a handshake may take.
    pub handshake_timeout: Duration,
    /// How long an accepted connection may take to send its first
    /// handshake frame (and, with TLS, to finish the TLS handshake). Short,
    /// so that sockets that connect and stall are closed soon.
    pub hello_timeout: Duration,
    /// How long a lookup waits for the peer's answer.
    pub lookup_timeout: Duration,
    /// The first delay before reconnecting; it doubles up to
    /// `reconnect_max`.
    pub reconnect_min: Duration,
    /// The longest delay between reconnection attempts.
    pub reconnect_max: Duration,
    /// How long this node keeps redialing a lost peer (or, for a peer that
    /// dialed it, waits for it to come back) before it gives up. Then the
    /// peer counts as gone: tells waiting for credit toward it fail with
    /// `NodeDown`, every tell it has not acknowledged becomes a dead letter
    /// (`NodeLost`, saying whether it was sent), and references to its
    /// actors report `NodeDown`. If the peer connects again later, look its
    /// actors up anew.
    pub reconnect_give_up: Duration,
    /// Handshakes of accepted connections that may run at once. A
    /// connection past the limit does not wait: it evicts (closes) the
    /// oldest running handshake whose peer has not sent a valid hello yet
    /// (else the oldest of all), so that stalled or slow connections cannot
    /// starve a peer that completes its handshake promptly.
    pub concurrent_handshakes: usize,
    /// Failed handshakes tolerated from one address claiming one node name
    /// before further attempts are throttled: refused right after their
    /// first frame, without any proof being computed.
    pub handshake_failure_burst: u32,
    /// How fast a throttled (address, name) earns back one attempt. A
    /// successful handshake forgives its failures at once.
    pub handshake_failure_refill: Duration,
    /// Asks from one connection that may wait for their replies on this
    /// node at once; an ask past the limit is answered at once with a
    /// remote error of kind `Refused`, never dropped.
    pub max_inflight_asks: usize,
    /// Peer nodes this node keeps track of (connected, or remembered to
    /// reconnect to). Past it, peers that are down for good (nobody
    /// redials them, no tell waits for them) are forgotten first; if none
    /// is, a new peer is refused ([`HandshakeError::TooManyPeers`](crate::error::HandshakeError::TooManyPeers)).
    pub max_peers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 8 * 1024 * 1024,
            credit_window: 1024,
            outbox: 10_000,
            resend_buffer: 4 * 1024 * 1024,
            heartbeat_interval: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            hello_timeout: Duration::from_secs(1),
            lookup_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(5),
            reconnect_give_up: Duration::from_secs(60),
            concurrent_handshakes: 64,
            handshake_failure_burst: 8,
            handshake_failure_refill: Duration::from_millis(500),
            max_inflight_asks: 4096,
            max_peers: 1024,
        }
    }
}
