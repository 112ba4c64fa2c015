//! Location-transparent messaging between `actor-core` nodes, over TCP,
//! Unix domain sockets, or (feature `nats`) a NATS server.
//!
//! A [`Node`] serves one [`ActorSystem`](actor_core::ActorSystem). Actors
//! are made reachable by name with [`Node::register`]; another node finds
//! them with [`Node::lookup`], which returns an ordinary
//! [`ActorRef`](actor_core::ActorRef): `tell`, `ask`, `.timeout(..)`,
//! monitors and the macro-generated typed client all work on it unchanged.
//! References can travel inside messages, so reply-to patterns work across
//! nodes.
//!
//! What crosses the wire:
//!
//! - a handshake first: both nodes' hellos (protocol version, name,
//!   incarnation, role, credit window), then a Noise handshake
//!   (`Noise_NNpsk0_25519_AESGCM_BLAKE2s`, through the `snow` crate)
//!   keyed with the cluster secret and bound to both hellos. The secret
//!   never crosses, an accepting node proves nothing to a peer that has
//!   not proved itself first, and nothing of one handshake is any use on
//!   another connection. A peer that fails it never reaches an actor; a node of
//!   another protocol version is refused with an error naming both. With
//!   the `tls` feature (on by default), [`NodeBuilder::tls`] adds mutual
//!   TLS under it.
//! - then every byte, on every transport, in records sealed with the
//!   connection's own keys (AES-256-GCM, up to 64 KiB of frames
//!   each): encrypted and authenticated, and a record changed, dropped,
//!   replayed or reordered on the way closes the connection before
//!   anything in it reaches an actor.
//! - inside, length-delimited frames with a versioned header (kind, target
//!   actor, message wire name of at most 255 bytes, correlation id),
//!   bounded by [`Limits::max_frame`] before anything is allocated;
//!   payloads are postcard.
//! - one writer task per connection that coalesces queued frames into large
//!   writes (sealed as a whole), and one reader task.
//!
//! A lost connection loses no tell: frames are numbered per link, kept
//! until the peer acknowledges them (a bounded resend buffer,
//! [`Limits::resend_buffer`]) and written again on the next connection,
//! and the peer drops what it already had. Only when the peer comes back
//! as a new process, or is given up, do the tells it had not acknowledged
//! become dead letters (`NodeLost`, saying whether each may have been
//! handled).
//!
//! Failure is loud: heartbeats detect a dead peer; asks pending on a lost
//! connection fail at once with `NodeDown`, as does an ask to a peer that
//! is down; monitors fire with
//! [`StopReason::NodeDown`](actor_core::StopReason::NodeDown); the node
//! that dialed reconnects with backoff, and tells sent meanwhile wait in a
//! bounded outbox. Backpressure
//! crosses the wire per actor: each remote actor has a credit window, so a
//! full remote mailbox slows its senders (and `try_tell` says `Full`)
//! without stalling the other actors sharing the connection; a receiver
//! closes a connection whose peer sends past the window it was granted.
//! A reference inside a message never makes a node dial the address it
//! names (only cluster members are dialed), and the peers a node keeps are
//! bounded by [`Limits::max_peers`].
//!
//! Asks carry what they need across the wire: the time their asker still
//! waits (an ask still queued past it is skipped on the far node, as a
//! local one is) and, when a handler asks, its chain of waits, so that an
//! ask cycle across nodes fails at once with `AskError::Deadlock`.
//!
//! With the `test-util` feature, `testkit::SimNet` runs nodes on a
//! simulated network that drops, delays and partitions frames
//! deterministically from a seed.
//!
//! With the `nats` feature, a node can listen on `nats://host:port/name`
//! and reach other nodes through the server: the same connections, as
//! virtual connections over NATS subjects, with loss detection and flow
//! control of their own; see `NatsOptions` (credentials, TLS),
//! `Node::discover`, and the queue groups of `Node::serve_group` and
//! `Node::group`.
//!
//! Only messages marked `#[message(remote)]` (or listed in a hand-written
//! [`RemoteActor`](actor_core::RemoteActor)) can be sent to a
//! remote actor; another type is refused at the sender with `NotRemote`.

#![forbid(unsafe_code)]

mod address;
mod channel;
mod cluster;
mod connection;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod limits;
mod listener;
#[cfg(feature = "nats")]
mod nats;
mod node;
mod peer;
mod sharding;
#[cfg(feature = "test-util")]
mod sim;
#[cfg(feature = "test-util")]
pub mod testkit;
#[cfg(feature = "tls")]
mod tls;

pub use crate::address::Address;
pub use crate::cluster::{Cluster, ClusterConfig, ClusterError, ClusterEvent, Group, Member, NameOwner};
pub use crate::error::{HandshakeError, NodeError};
pub use crate::limits::Limits;
#[cfg(feature = "nats")]
pub use crate::nats::{NatsOptions, NatsPeer};
pub use crate::node::{Node, NodeBuilder};
#[doc(hidden)]
pub use crate::peer::LinkStats;
pub use crate::sharding::{
    Entity, MAX_ENTITY_ID, ShardRegion, Sharding, ShardingError, ShardingOptions, ShardingStats,
};
#[cfg(feature = "tls")]
pub use crate::tls::{TlsConfig, TlsError};
/// The NATS client this crate uses (feature `nats`), for
/// [`NatsOptions::connect_options`] and whatever else needs its types.
#[cfg(feature = "nats")]
pub use async_nats;
