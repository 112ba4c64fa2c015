//! How a reference reaches an actor on another node: the seam between
//! actor-core and a transport such as `actor-remote`.
//!
//! An [`ActorRef`](crate::ActorRef) is local or remote, and both are used the same way. A
//! remote one holds a [`RemoteEndpoint`], implemented by the transport, and
//! the actor's table of remote messages (from [`RemoteActor`]), which turns
//! each message into bytes before the transport sees it: the transport moves
//! bytes, credits and replies, and never needs the message types. On the
//! node where the actor lives, [`export`] wraps it in an [`Exported`] that
//! decodes bytes back into messages and queues them.
//!
//! Application code does not implement anything here: `actor-remote`'s
//! `Node` does. What an application writes is `#[message(remote)]` (which
//! implements [`RemoteActor`] for the actor) or, by hand, an
//! `impl RemoteActor`.
//!
//! The wire encoding of messages is [postcard](https://docs.rs/postcard):
//! compact, stable, documented; ARCHITECTURE.md ("Decisions") says why.

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;

use crate::base::dead_letter::{DeadLetter, DeadLetterReason};
use crate::base::error::{PanicError, RemoteError, RemoteErrorKind};
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::base::reply::{ReplyFailure, ReplyTx};
use crate::system::ActorSystem;

/// Run when a watched actor terminates, with its id and reason.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::transport::{TerminationNotice, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let counter = system.spawn(Counter(0));
/// let exported = export(&counter).unwrap(); // as a transport holds it
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let notice: TerminationNotice = Box::new(move |id, reason| {
///     let _ = tx.send((id, reason.is_normal()));
/// });
/// exported.on_terminated(notice);
/// counter.stop();
/// let heard = tokio::time::timeout(Duration::from_secs(10), rx).await.unwrap().unwrap();
/// assert_eq!(heard, (counter.id(), true));
/// # }
/// ```
pub type TerminationNotice = Box<dyn FnOnce(ActorId, &StopReason) + Send>;

/// Names a [`TerminationNotice`] left with [`Terminable::watch`], to take
/// it back with `unwatch`.
///
/// The one who gives keys out picks them: any number unique among the
/// notices it holds for one actor.
///
/// # Examples
///
/// ```
/// use actor_core::transport::WatchKey;
///
/// assert_eq!(WatchKey::new(7).get(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchKey(u64);

impl WatchKey {
    /// A key with this number.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::transport::WatchKey;
    ///
    /// assert_eq!(WatchKey::new(3), WatchKey::new(3));
    /// assert_ne!(WatchKey::new(3), WatchKey::new(4));
    /// ```
    pub fn new(n: u64) -> Self {
        WatchKey(n)
    }

    /// Its number.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::transport::WatchKey;
    ///
    /// assert_eq!(WatchKey::new(u64::MAX).get(), u64::MAX);
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Stopping an actor and hearing of its end: what a transport's handle on
/// a remote actor ([`RemoteEndpoint`]) and a local actor's export
/// ([`Exported`]) both offer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::transport::{Terminable, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
///
/// /// How `actor` ends: its id, and whether it stopped normally.
/// fn watch(actor: &dyn Terminable) -> tokio::sync::oneshot::Receiver<(ActorId, bool)> {
///     let (tx, rx) = tokio::sync::oneshot::channel();
///     actor.on_terminated(Box::new(move |id, reason| {
///         let _ = tx.send((id, reason.is_normal()));
///     }));
///     rx
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter(0));
/// let exported = export(&counter).unwrap();
/// let ended = watch(&*exported);
/// exported.stop();
/// let (id, normal) = tokio::time::timeout(Duration::from_secs(10), ended).await.unwrap().unwrap();
/// assert_eq!((id, normal), (counter.id(), true));
/// # }
/// ```
pub trait Terminable: Send + Sync + 'static {
    /// Asks the actor to stop gracefully.
    fn stop(&self);

    /// Kills the actor.
    fn kill(&self);

    /// Runs `notice` when the actor terminates (at once if it has); for a
    /// remote actor, also when its node is lost
    /// ([`StopReason::NodeDown`]).
    fn on_terminated(&self, notice: TerminationNotice);

    /// As [`on_terminated`](Terminable::on_terminated), and returns a key
    /// that takes the notice back ([`unwatch`](Terminable::unwatch)), or
    /// `None` if it has already run. `wait_for_stop`, monitors and links on
    /// a remote actor use it, and a transport for the watches other nodes
    /// set; each takes its notice back when it is given up (or its
    /// connection lost), so that nothing is kept for it afterwards.
    ///
    /// The default calls `on_terminated` and returns `None`: the notice
    /// cannot be taken back, and stays until it runs.
    fn watch(&self, notice: TerminationNotice) -> Option<WatchKey> {
        self.on_terminated(notice);
        None
    }

    /// Takes back (drops, without running it) the notice `key` names, if
    /// it has not run. The default does nothing.
    fn unwatch(&self, key: WatchKey) {
        let _ = key;
    }
}

/// A transport's handle on one actor of another node.
///
/// Sending is two steps, so that a message is only encoded once there is
/// room for it: take a unit of credit toward the actor
/// ([`try_reserve`](RemoteEndpoint::try_reserve) or
/// [`reserve`](RemoteEndpoint::reserve)), then [`send`](RemoteEndpoint::send)
/// the encoded message with it. Credit is per target actor, which is how a
/// full remote mailbox slows its senders without stalling the other actors
/// that share the connection.
///
/// # Examples
///
/// The smallest endpoint: unlimited credit, and each message handed to a
/// channel where a real transport would write it to its connection.
///
/// ```
/// # use std::sync::Arc;
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// use actor_core::transport::{Outgoing, RefCodec, Refused, RemoteEndpoint, Terminable, TerminationNotice, WireRef};
/// use futures::future::BoxFuture;
/// use tokio::sync::mpsc::UnboundedSender;
/// # use actor_core::transport::{Exported, Resolved, remote_ref};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
///
/// struct Wire {
///     codec: Arc<dyn RefCodec>,
///     sent: UnboundedSender<Outgoing>,
/// }
/// impl Terminable for Wire {
///     fn stop(&self) {}
///     fn kill(&self) {}
///     fn on_terminated(&self, _: TerminationNotice) {}
/// }
/// impl RemoteEndpoint for Wire {
///     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
///     fn node(&self) -> &str { "far" }
///     fn is_alive(&self) -> bool { true }
///     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
///     fn reserve(&self) -> BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
///     fn unreserve(&self) {}
///     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
///     fn wire_ref(&self) -> WireRef {
///         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
///     }
///     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
/// let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec, sent }));
/// counter.tell(Add(1)).await.unwrap();
/// assert_eq!(wire.recv().await.unwrap().wire_name, "counter.add");
/// # }
/// ```
pub trait RemoteEndpoint: Terminable {
    /// The remote actor's id.
    fn id(&self) -> ActorId;

    /// The name of the node the actor lives on.
    fn node(&self) -> &str;

    /// Whether the actor is believed alive: its node is connected (or
    /// reconnecting) and it has not been reported stopped.
    fn is_alive(&self) -> bool;

    /// Takes one unit of credit toward the actor, if there is one now.
    ///
    /// # Errors
    ///
    /// [`Refused::Full`] when the window toward the actor is used up,
    /// [`Refused::Closed`] when the actor is known to have stopped,
    /// [`Refused::NodeDown`] when its node is down and the outbox is full.
    fn try_reserve(&self) -> Result<(), Refused>;

    /// Waits for one unit of credit toward the actor.
    ///
    /// # Errors
    ///
    /// As [`try_reserve`](RemoteEndpoint::try_reserve), except `Full`.
    fn reserve(&self) -> BoxFuture<'_, Result<(), Refused>>;

    /// As [`reserve`](RemoteEndpoint::reserve), for an ask: a transport
    /// that lets tells wait for credit while it reconnects to a node should
    /// fail an ask at once instead ([`Refused::NodeDown`]), since the ask
    /// would fail when sent, and wake an ask waiting for credit as soon as
    /// the connection is lost. The default is `reserve`.
    ///
    /// # Errors
    ///
    /// As [`reserve`](RemoteEndpoint::reserve).
    fn reserve_ask(&self) -> BoxFuture<'_, Result<(), Refused>> {
        self.reserve()
    }

    /// Gives back a unit of credit that will not be used (the message failed
    /// to encode).
    fn unreserve(&self);

    /// Sends a message with a unit of credit taken before. Never fails: what
    /// cannot be delivered any more is reported by the transport (dead
    /// letters, and `NodeDown` to a pending reply).
    fn send(&self, outgoing: Outgoing);

    /// As [`send`](RemoteEndpoint::send) for a tell, lending its encoded
    /// bytes: a transport that copies a tell into its own buffers saves the
    /// sender an allocation per message. The default copies them into an
    /// [`Outgoing`].
    fn send_tell(&self, wire_name: &'static str, message_type: &'static str, payload: &[u8]) {
        self.send(Outgoing { wire_name, message_type, payload: payload.to_vec(), reply: None });
    }

    /// How this reference is written inside a message.
    fn wire_ref(&self) -> WireRef;

    /// How references inside messages to and from this actor are written
    /// and read.
    fn ref_codec(&self) -> &Arc<dyn RefCodec>;
}

/// Why a [`RemoteEndpoint`] refused credit.
///
/// # Examples
///
/// A sender sees the refusal as the matching [`SendError`](crate::error::SendError),
/// with its message handed back. Here `remote(refuse)` is a remote reference
/// whose endpoint's `try_reserve` refuses with `refuse`:
///
/// ```
/// use actor_core::error::SendError;
/// # use std::sync::Arc;
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # /// A transport that hands each message to a channel instead of a socket.
/// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing>, refuse: Option<Refused> }
/// # impl Terminable for Wire {
/// #     fn stop(&self) {}
/// #     fn kill(&self) {}
/// #     fn on_terminated(&self, _: TerminationNotice) {}
/// # }
/// # impl RemoteEndpoint for Wire {
/// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
/// #     fn node(&self) -> &str { "far" }
/// #     fn is_alive(&self) -> bool { true }
/// #     fn try_reserve(&self) -> Result<(), Refused> { self.refuse.map_or(Ok(()), Err) }
/// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
/// #     fn unreserve(&self) {}
/// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
/// #     fn wire_ref(&self) -> WireRef {
/// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
/// #     }
/// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let system = ActorSystem::new();
/// # let remote = |refuse: Option<Refused>| -> ActorRef<Counter> {
/// #     let (sent, _) = tokio::sync::mpsc::unbounded_channel();
/// #     remote_ref(&system, Arc::new(Wire { codec: Arc::new(NoRefs(system.clone())), sent, refuse }))
/// # };
/// assert!(matches!(remote(Some(Refused::Full)).try_tell(Add(1)), Err(SendError::Full(Add(1)))));
/// assert!(matches!(remote(Some(Refused::Closed)).try_tell(Add(1)), Err(SendError::Closed(_))));
/// assert!(matches!(remote(Some(Refused::NodeDown)).try_tell(Add(1)), Err(SendError::NodeDown(_))));
/// assert!(remote(None).try_tell(Add(1)).is_ok());
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refused {
    /// The window toward the actor is used up: its mailbox is full or the
    /// messages in flight have not been queued yet.
    Full,
    /// The actor is known to have stopped.
    Closed,
    /// The actor's node is down and the outbox toward it is full.
    NodeDown,
}

/// An encoded message on its way to a remote actor.
///
/// # Examples
///
/// `counter` is a remote reference whose transport hands each message
/// to the channel `wire`, so the example plays the transport's part.
///
/// ```
/// use std::time::Duration;
///
/// # use std::sync::Arc;
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # /// A transport that hands each message to a channel instead of a socket.
/// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
/// # impl Terminable for Wire {
/// #     fn stop(&self) {}
/// #     fn kill(&self) {}
/// #     fn on_terminated(&self, _: TerminationNotice) {}
/// # }
/// # impl RemoteEndpoint for Wire {
/// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
/// #     fn node(&self) -> &str { "far" }
/// #     fn is_alive(&self) -> bool { true }
/// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
/// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
/// #     fn unreserve(&self) {}
/// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
/// #     fn wire_ref(&self) -> WireRef {
/// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
/// #     }
/// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
/// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
/// counter.tell(Add(3)).await.unwrap();
/// let outgoing: Outgoing = tokio::time::timeout(wait, wire.recv()).await.unwrap().unwrap();
/// assert_eq!(outgoing.wire_name, "counter.add");
/// assert!(outgoing.message_type.ends_with("Add"));
/// assert_eq!(postcard::from_bytes::<Add>(&outgoing.payload).unwrap(), Add(3));
/// assert!(outgoing.reply.is_none()); // a tell: no reply expected
/// # }
/// ```
#[derive(Debug)]
pub struct Outgoing {
    /// The message's wire name ([`RemoteMessage::WIRE_NAME`](crate::RemoteMessage::WIRE_NAME)).
    pub wire_name: &'static str,
    /// The message's Rust type name, for dead letters.
    pub message_type: &'static str,
    /// The encoded message.
    pub payload: Vec<u8>,
    /// Where the reply goes, for an ask.
    pub reply: Option<PendingReply>,
}

/// What a remote ask carries besides its message: the chain of waits
/// that leads to it (for ask-cycle detection across nodes) and when its
/// asker gives up.
///
/// On the asking node, [`PendingReply::take_context`] gives it to the transport,
/// which writes the deadline as the time left (clocks differ between
/// nodes); on the receiving node, the transport rebuilds a deadline on its
/// own clock from the time left when the ask arrives and hands the context
/// to [`Exported::deliver_ask`]. An ask from outside any handler and without
/// a timeout has an empty context, which costs nothing to carry.
///
/// # Examples
///
/// ```
/// use actor_core::transport::AskContext;
///
/// assert!(AskContext::default().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AskContext {
    /// The waits that lead to this ask, as `(waiter, awaited)` pairs: the
    /// waits the asking node knows of on paths that end at the asker, then
    /// the asker's own wait on the target. Empty for an ask made outside a
    /// handler, or to a [reentrant](crate::Handler::REENTRANT) handler.
    pub chain: Vec<(ActorId, ActorId)>,
    /// When the asker gives up (its timeout), on this node's clock.
    pub deadline: Option<tokio::time::Instant>,
}

impl AskContext {
    /// Whether there is neither a chain nor a deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use actor_core::transport::AskContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut context = AskContext::default();
    /// assert!(context.is_empty());
    /// context.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(5));
    /// assert!(!context.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty() && self.deadline.is_none()
    }
}

/// Why a remote ask ends without a reply.
///
/// # Examples
///
/// `counter` is a remote reference whose transport hands each message
/// to the channel `wire`, so the example plays the transport's part.
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::error::{AskError, RemoteError, RemoteErrorKind};
/// use actor_core::transport::RemoteFailure;
/// # use std::sync::Arc;
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # /// A transport that hands each message to a channel instead of a socket.
/// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
/// # impl Terminable for Wire {
/// #     fn stop(&self) {}
/// #     fn kill(&self) {}
/// #     fn on_terminated(&self, _: TerminationNotice) {}
/// # }
/// # impl RemoteEndpoint for Wire {
/// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
/// #     fn node(&self) -> &str { "far" }
/// #     fn is_alive(&self) -> bool { true }
/// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
/// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
/// #     fn unreserve(&self) {}
/// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
/// #     fn wire_ref(&self) -> WireRef {
/// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
/// #     }
/// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
/// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
/// let mut fail_next = async |failure: RemoteFailure| {
///     let outgoing = tokio::time::timeout(wait, wire.recv()).await.unwrap().unwrap();
///     outgoing.reply.expect("an ask").fail(failure);
/// };
///
/// let ((), reply) = tokio::join!(fail_next(RemoteFailure::NoReply), counter.ask(Add(1)).timeout(wait));
/// assert!(matches!(reply, Err(AskError::NoReply)));
///
/// let unknown = RemoteError::new(RemoteErrorKind::UnknownActor, "no such actor");
/// let ((), reply) = tokio::join!(fail_next(RemoteFailure::Remote(unknown)), counter.ask(Add(1)).timeout(wait));
/// assert!(matches!(reply, Err(AskError::Remote(e)) if e.kind() == RemoteErrorKind::UnknownActor));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteFailure {
    /// The connection to the node was lost.
    NodeDown,
    /// The ask was still queued when its asker's deadline passed, so it was
    /// skipped; the asker sees a timeout (as it already has, unless the
    /// clocks raced).
    Expired,
    /// The actor stopped before replying.
    NoReply,
    /// The handler panicked, saying this.
    Panicked(String),
    /// The far node could not deliver the message.
    Remote(RemoteError),
}

/// The waiting end of a remote ask: the transport completes it with the
/// reply's bytes, or fails it.
///
/// # Examples
///
/// `counter` is a remote reference whose transport hands each message
/// to the channel `wire`, so the example plays the transport's part.
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::transport::PendingReply;
/// # use std::sync::Arc;
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # /// A transport that hands each message to a channel instead of a socket.
/// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
/// # impl Terminable for Wire {
/// #     fn stop(&self) {}
/// #     fn kill(&self) {}
/// #     fn on_terminated(&self, _: TerminationNotice) {}
/// # }
/// # impl RemoteEndpoint for Wire {
/// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
/// #     fn node(&self) -> &str { "far" }
/// #     fn is_alive(&self) -> bool { true }
/// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
/// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
/// #     fn unreserve(&self) {}
/// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
/// #     fn wire_ref(&self) -> WireRef {
/// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
/// #     }
/// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
/// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
/// let ((), reply) = tokio::join!(
///     async {
///         let outgoing = tokio::time::timeout(wait, wire.recv()).await.unwrap().unwrap();
///         let pending: PendingReply = outgoing.reply.expect("an ask carries one");
///         assert!(!pending.is_closed()); // the asker still waits
///         // The far node replied 10: hand its bytes to the asker.
///         pending.complete(&postcard::to_allocvec(&10u64).unwrap(), &codec);
///     },
///     counter.ask(Add(10)).timeout(wait),
/// );
/// assert_eq!(reply.unwrap(), 10);
/// # }
/// ```
pub struct PendingReply {
    inner: Box<dyn ErasedReply>,
    context: AskContext,
}

trait ErasedReply: Send + Sync {
    fn complete(self: Box<Self>, payload: &[u8], codec: &Arc<dyn RefCodec>);
    fn fail(self: Box<Self>, failure: RemoteFailure);
    fn is_closed(&self) -> bool;
}

/// Decodes a reply into the `Option<M::Reply>` it is given (no box per
/// reply); `Err` if it does not decode or the slot is of another type.
type DecodeReply = fn(&[u8], &mut dyn Any) -> Result<(), String>;

struct TypedReply<R: Send + 'static> {
    tx: ReplyTx<R>,
    decode: DecodeReply,
    actor: ActorId,
    actor_type: &'static str,
    message_type: &'static str,
}

impl<R: Send + 'static> ErasedReply for TypedReply<R> {
    fn complete(self: Box<Self>, payload: &[u8], codec: &Arc<dyn RefCodec>) {
        if self.tx.0.is_closed() {
            // A late reply: the asker gave up. Dropped quietly, undecoded.
            return;
        }
        let mut slot: Option<R> = None;
        let result = match with_ref_codec(codec, || (self.decode)(payload, &mut slot)).map(|()| slot) {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(Box::new(ReplyFailure::Remote(RemoteError::new(
                RemoteErrorKind::Undecodable,
                "reply decoded to the wrong type",
            )))),
            Err(e) => Err(Box::new(ReplyFailure::Remote(RemoteError::new(
                RemoteErrorKind::Undecodable,
                format!("reply to {} did not decode: {e}", self.message_type),
            )))),
        };
        let _ = self.tx.0.send(result);
    }

    fn fail(self: Box<Self>, failure: RemoteFailure) {
        let failure = match failure {
            RemoteFailure::NodeDown => ReplyFailure::NodeDown,
            RemoteFailure::Expired => ReplyFailure::Expired,
            // Dropping the sender reads as "no reply".
            RemoteFailure::NoReply => return,
            RemoteFailure::Panicked(text) => {
                ReplyFailure::Panicked(PanicError::remote(text, self.actor, self.actor_type, Some(self.message_type)))
            }
            RemoteFailure::Remote(e) => ReplyFailure::Remote(e),
        };
        let _ = self.tx.0.send(Err(Box::new(failure)));
    }

    fn is_closed(&self) -> bool {
        self.tx.0.is_closed()
    }
}

impl PendingReply {
    pub(crate) fn new<R: Send + 'static>(
        tx: ReplyTx<R>,
        decode: DecodeReply,
        actor: ActorId,
        actor_type: &'static str,
        message_type: &'static str,
        context: AskContext,
    ) -> Self {
        PendingReply { inner: Box::new(TypedReply { tx, decode, actor, actor_type, message_type }), context }
    }

    /// Takes what the ask carries besides its message (its chain of waits
    /// and its asker's deadline), for the transport to write with it;
    /// leaves an empty context behind.
    ///
    /// # Examples
    ///
    /// `counter` is a remote reference whose transport hands each message
    /// to the channel `wire`, so the example plays the transport's part.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # use std::sync::Arc;
    /// # use actor_core::prelude::*;
    /// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    /// # struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # impl RemoteActor for Counter {
    /// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
    /// # }
    /// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
    /// # /// A node's reference codec, for messages without references in them.
    /// # struct NoRefs(ActorSystem);
    /// # impl RefCodec for NoRefs {
    /// #     fn system(&self) -> &ActorSystem { &self.0 }
    /// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
    /// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
    /// # }
    /// # /// A transport that hands each message to a channel instead of a socket.
    /// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
    /// # impl Terminable for Wire {
    /// #     fn stop(&self) {}
    /// #     fn kill(&self) {}
    /// #     fn on_terminated(&self, _: TerminationNotice) {}
    /// # }
    /// # impl RemoteEndpoint for Wire {
    /// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
    /// #     fn node(&self) -> &str { "far" }
    /// #     fn is_alive(&self) -> bool { true }
    /// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
    /// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
    /// #     fn unreserve(&self) {}
    /// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
    /// #     fn wire_ref(&self) -> WireRef {
    /// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
    /// #     }
    /// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let system = ActorSystem::new();
    /// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    /// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
    /// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
    /// let ask = counter.ask(Add(1)).timeout(Duration::from_secs(5));
    /// let ((), reply) = tokio::join!(
    ///     async {
    ///         let mut pending = wire.recv().await.unwrap().reply.unwrap();
    ///         let context = pending.take_context();
    ///         assert!(context.deadline.is_some()); // the asker's timeout, to send along
    ///         assert!(pending.take_context().is_empty()); // taken
    ///         pending.complete(&postcard::to_allocvec(&1u64).unwrap(), &codec);
    ///     },
    ///     ask,
    /// );
    /// assert_eq!(reply.unwrap(), 1);
    /// # }
    /// ```
    pub fn take_context(&mut self) -> AskContext {
        std::mem::take(&mut self.context)
    }

    /// Completes the ask with the reply's bytes; a reply that does not
    /// decode fails the ask with [`RemoteErrorKind::Undecodable`]. A reply
    /// that comes after the asker gave up is dropped quietly.
    ///
    /// # Examples
    ///
    /// `counter` is a remote reference whose transport hands each message
    /// to the channel `wire`, so the example plays the transport's part.
    ///
    /// ```
    /// use actor_core::error::{AskError, RemoteErrorKind};
    ///
    /// # use std::sync::Arc;
    /// # use actor_core::prelude::*;
    /// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    /// # struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # impl RemoteActor for Counter {
    /// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
    /// # }
    /// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
    /// # /// A node's reference codec, for messages without references in them.
    /// # struct NoRefs(ActorSystem);
    /// # impl RefCodec for NoRefs {
    /// #     fn system(&self) -> &ActorSystem { &self.0 }
    /// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
    /// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
    /// # }
    /// # /// A transport that hands each message to a channel instead of a socket.
    /// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
    /// # impl Terminable for Wire {
    /// #     fn stop(&self) {}
    /// #     fn kill(&self) {}
    /// #     fn on_terminated(&self, _: TerminationNotice) {}
    /// # }
    /// # impl RemoteEndpoint for Wire {
    /// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
    /// #     fn node(&self) -> &str { "far" }
    /// #     fn is_alive(&self) -> bool { true }
    /// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
    /// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
    /// #     fn unreserve(&self) {}
    /// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
    /// #     fn wire_ref(&self) -> WireRef {
    /// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
    /// #     }
    /// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let system = ActorSystem::new();
    /// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    /// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
    /// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
    /// let ((), reply) = tokio::join!(
    ///     async {
    ///         let out = wire.recv().await.unwrap();
    ///         // The far node replied 7: hand its bytes to the asker.
    ///         out.reply.unwrap().complete(&postcard::to_allocvec(&7u64).unwrap(), &codec);
    ///     },
    ///     counter.ask(Add(7)),
    /// );
    /// assert_eq!(reply.unwrap(), 7);
    ///
    /// let ((), reply) = tokio::join!(
    ///     async { wire.recv().await.unwrap().reply.unwrap().complete(&[], &codec) }, // not a u64
    ///     counter.ask(Add(1)),
    /// );
    /// assert!(matches!(reply, Err(AskError::Remote(e)) if e.kind() == RemoteErrorKind::Undecodable));
    /// # }
    /// ```
    pub fn complete(self, payload: &[u8], codec: &Arc<dyn RefCodec>) {
        self.inner.complete(payload, codec);
    }

    /// Fails the ask.
    ///
    /// # Examples
    ///
    /// `counter` is a remote reference whose transport hands each message
    /// to the channel `wire`, so the example plays the transport's part.
    ///
    /// ```
    /// use actor_core::error::AskError;
    /// use actor_core::transport::RemoteFailure;
    ///
    /// # use std::sync::Arc;
    /// # use actor_core::prelude::*;
    /// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    /// # struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # impl RemoteActor for Counter {
    /// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
    /// # }
    /// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
    /// # /// A node's reference codec, for messages without references in them.
    /// # struct NoRefs(ActorSystem);
    /// # impl RefCodec for NoRefs {
    /// #     fn system(&self) -> &ActorSystem { &self.0 }
    /// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
    /// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
    /// # }
    /// # /// A transport that hands each message to a channel instead of a socket.
    /// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
    /// # impl Terminable for Wire {
    /// #     fn stop(&self) {}
    /// #     fn kill(&self) {}
    /// #     fn on_terminated(&self, _: TerminationNotice) {}
    /// # }
    /// # impl RemoteEndpoint for Wire {
    /// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
    /// #     fn node(&self) -> &str { "far" }
    /// #     fn is_alive(&self) -> bool { true }
    /// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
    /// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
    /// #     fn unreserve(&self) {}
    /// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
    /// #     fn wire_ref(&self) -> WireRef {
    /// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
    /// #     }
    /// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let system = ActorSystem::new();
    /// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    /// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
    /// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
    /// let ((), reply) = tokio::join!(
    ///     async {
    ///         // The connection was lost before the reply came.
    ///         wire.recv().await.unwrap().reply.unwrap().fail(RemoteFailure::NodeDown);
    ///     },
    ///     counter.ask(Add(1)),
    /// );
    /// assert!(matches!(reply, Err(AskError::NodeDown(_))));
    ///
    /// let ((), reply) = tokio::join!(
    ///     async { wire.recv().await.unwrap().reply.unwrap().fail(RemoteFailure::Panicked("overflow".into())) },
    ///     counter.ask(Add(u64::MAX)),
    /// );
    /// assert!(matches!(reply, Err(AskError::Panicked(p)) if p.message() == "overflow"));
    /// # }
    /// ```
    pub fn fail(self, failure: RemoteFailure) {
        self.inner.fail(failure);
    }

    /// Whether the asker has stopped waiting (timed out, or dropped its
    /// future).
    ///
    /// # Examples
    ///
    /// `counter` is a remote reference whose transport hands each message
    /// to the channel `wire`, so the example plays the transport's part.
    ///
    /// ```
    /// use futures::FutureExt;
    ///
    /// # use std::sync::Arc;
    /// # use actor_core::prelude::*;
    /// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    /// # struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # impl RemoteActor for Counter {
    /// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
    /// # }
    /// # use actor_core::transport::{Exported, Outgoing, RefCodec, Refused, RemoteEndpoint, Resolved, Terminable, TerminationNotice, WireRef, remote_ref};
    /// # /// A node's reference codec, for messages without references in them.
    /// # struct NoRefs(ActorSystem);
    /// # impl RefCodec for NoRefs {
    /// #     fn system(&self) -> &ActorSystem { &self.0 }
    /// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
    /// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
    /// # }
    /// # /// A transport that hands each message to a channel instead of a socket.
    /// # struct Wire { codec: Arc<dyn RefCodec>, sent: tokio::sync::mpsc::UnboundedSender<Outgoing> }
    /// # impl Terminable for Wire {
    /// #     fn stop(&self) {}
    /// #     fn kill(&self) {}
    /// #     fn on_terminated(&self, _: TerminationNotice) {}
    /// # }
    /// # impl RemoteEndpoint for Wire {
    /// #     fn id(&self) -> ActorId { ActorId::from_uuid(uuid::Uuid::from_u128(1)) }
    /// #     fn node(&self) -> &str { "far" }
    /// #     fn is_alive(&self) -> bool { true }
    /// #     fn try_reserve(&self) -> Result<(), Refused> { Ok(()) }
    /// #     fn reserve(&self) -> futures::future::BoxFuture<'_, Result<(), Refused>> { Box::pin(async { Ok(()) }) }
    /// #     fn unreserve(&self) {}
    /// #     fn send(&self, outgoing: Outgoing) { let _ = self.sent.send(outgoing); }
    /// #     fn wire_ref(&self) -> WireRef {
    /// #         WireRef { node: "far".into(), address: "tcp://127.0.0.1:1".into(), id: self.id() }
    /// #     }
    /// #     fn ref_codec(&self) -> &Arc<dyn RefCodec> { &self.codec }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let system = ActorSystem::new();
    /// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    /// # let (sent, mut wire) = tokio::sync::mpsc::unbounded_channel();
    /// # let counter: ActorRef<Counter> = remote_ref(&system, Arc::new(Wire { codec: codec.clone(), sent }));
    /// let mut ask = Box::pin(counter.ask(Add(1)));
    /// assert!((&mut ask).now_or_never().is_none()); // sent; waiting for the reply
    /// let pending = wire.recv().await.unwrap().reply.unwrap();
    /// assert!(!pending.is_closed());
    ///
    /// drop(ask); // the asker gives up
    /// assert!(pending.is_closed()); // a transport may skip the reply's work
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl fmt::Debug for PendingReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingReply").field("closed", &self.is_closed()).field("context", &self.context).finish()
    }
}

/// How an actor reference is written inside a message: the node it lives
/// on, where that node listens, and the actor's id.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use actor_core::prelude::*;
/// use actor_core::transport::{Exported, RefCodec, Resolved, WireRef, with_ref_codec};
/// # use actor_core::{RemoteActor, RemoteMessages};
/// # struct Worker;
/// # impl Actor for Worker { type Error = std::convert::Infallible; }
/// # impl RemoteActor for Worker { fn remote_messages(_: &mut RemoteMessages<Self>) {} }
///
/// /// Names every exported actor as one of node "here".
/// struct Here(ActorSystem);
/// impl RefCodec for Here {
///     fn system(&self) -> &ActorSystem {
///         &self.0
///     }
///     fn export(&self, actor: Arc<dyn Exported>) -> WireRef {
///         WireRef { node: "here".into(), address: "tcp://127.0.0.1:4000".into(), id: actor.id() }
///     }
///     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> {
///         Err("not needed here".into())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let worker = system.spawn(Worker);
/// let codec: Arc<dyn RefCodec> = Arc::new(Here(system.clone()));
/// // A reference inside a message is written as its `WireRef`.
/// let bytes = with_ref_codec(&codec, || postcard::to_allocvec(&worker)).unwrap();
/// let wire: WireRef = postcard::from_bytes(&bytes).unwrap();
/// assert_eq!(wire, WireRef { node: "here".into(), address: "tcp://127.0.0.1:4000".into(), id: worker.id() });
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WireRef {
    /// The name of the node the actor lives on.
    pub node: String,
    /// Where that node listens (`tcp://host:port` or `unix:/path`), so that
    /// a third node can connect to it.
    pub address: String,
    /// The actor's id.
    pub id: ActorId,
}

/// What a [`WireRef`] resolves to on the node that reads it.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
///
/// use actor_core::transport::{Exported, RefCodec, Resolved, WireRef, with_ref_codec};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
///
/// /// Keeps what it exports, and resolves its own node's references to it.
/// struct Here {
///     system: ActorSystem,
///     exported: Mutex<HashMap<ActorId, Arc<dyn Exported>>>,
/// }
/// impl RefCodec for Here {
///     fn system(&self) -> &ActorSystem {
///         &self.system
///     }
///     fn export(&self, actor: Arc<dyn Exported>) -> WireRef {
///         let id = actor.id();
///         self.exported.lock().unwrap().insert(id, actor);
///         WireRef { node: "here".into(), address: "tcp://127.0.0.1:4000".into(), id }
///     }
///     fn resolve(&self, wire: &WireRef) -> Result<Resolved, String> {
///         match self.exported.lock().unwrap().get(&wire.id) {
///             Some(actor) if wire.node == "here" => Ok(Resolved::Local(actor.clone())),
///             _ => Err(format!("no actor {:?} here", wire.id)), // a real node also resolves others' refs
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let codec: Arc<dyn RefCodec> = Arc::new(Here { system: system.clone(), exported: Mutex::default() });
/// let counter = system.spawn(Counter(0));
/// let bytes = with_ref_codec(&codec, || postcard::to_allocvec(&counter)).unwrap();
/// // Read back on this node: `Resolved::Local`, the very actor.
/// let read: ActorRef<Counter> = with_ref_codec(&codec, || postcard::from_bytes(&bytes)).unwrap();
/// assert_eq!(read.id(), counter.id());
/// assert_eq!(read.ask(Add(2)).await.unwrap(), 2);
/// # }
/// ```
#[non_exhaustive]
pub enum Resolved {
    /// An actor of this node.
    Local(Arc<dyn Exported>),
    /// An actor of another node.
    Remote(Arc<dyn RemoteEndpoint>),
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Local(e) => write!(f, "Local({})", e.id()),
            Resolved::Remote(e) => write!(f, "Remote({}@{})", e.id(), e.node()),
        }
    }
}

/// Writes and reads actor references inside messages; implemented by the
/// transport's node.
///
/// # Examples
///
/// A node that only knows its own actors, by id:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use actor_core::transport::{Exported, RefCodec, Resolved, WireRef, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
///
/// struct Here {
///     system: ActorSystem,
///     exported: Mutex<HashMap<ActorId, Arc<dyn Exported>>>,
/// }
///
/// impl RefCodec for Here {
///     fn system(&self) -> &ActorSystem {
///         &self.system
///     }
///     fn export(&self, actor: Arc<dyn Exported>) -> WireRef {
///         let id = actor.id();
///         self.exported.lock().unwrap().insert(id, actor);
///         WireRef { node: "here".into(), address: "tcp://127.0.0.1:1".into(), id }
///     }
///     fn resolve(&self, wire: &WireRef) -> Result<Resolved, String> {
///         let found = self.exported.lock().unwrap().get(&wire.id).cloned();
///         found.map(Resolved::Local).ok_or_else(|| format!("no actor {} here", wire.id))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let node = Here { system: system.clone(), exported: Mutex::default() };
/// let counter = system.spawn(Counter(0));
/// let wire = node.export(export(&counter).unwrap());
/// assert!(matches!(node.resolve(&wire), Ok(Resolved::Local(e)) if e.id() == counter.id()));
/// let never_exported = WireRef { id: system.spawn(Counter(0)).id(), ..wire };
/// assert!(node.resolve(&never_exported).is_err());
/// # }
/// ```
pub trait RefCodec: Send + Sync + 'static {
    /// The system refs are resolved into.
    fn system(&self) -> &ActorSystem;

    /// Makes a local actor reachable by id from other nodes, and says how to
    /// name it on the wire.
    fn export(&self, actor: Arc<dyn Exported>) -> WireRef;

    /// Turns a wire reference back into something this node can send to.
    ///
    /// # Errors
    ///
    /// A description of why the reference cannot be used here (an unknown
    /// local actor, an unreachable node).
    fn resolve(&self, wire: &WireRef) -> Result<Resolved, String>;
}

// Scoped, not owned: setting it lends the caller's `Arc` for the length of
// the call, so an encode or decode costs no reference count (two atomic
// read-modify-writes each, on a count every connection of the node shares).
// A reference that is written or read clones it then.
scoped_tls::scoped_thread_local!(static REF_CODEC: Arc<dyn RefCodec>);

/// Runs `f` (an encode or decode) with `codec` as the one that references
/// inside messages use.
///
/// # Examples
///
/// An [`ActorRef`](crate::ActorRef) inside a message can only be written
/// while a node's codec is set: the codec makes the actor reachable and
/// names it on the wire.
///
/// ```
/// use std::sync::Arc;
///
/// use actor_core::prelude::*;
/// use actor_core::transport::{Exported, RefCodec, Resolved, WireRef, with_ref_codec};
/// use actor_core::{RemoteActor, RemoteMessages};
///
/// # struct Worker;
/// # impl Actor for Worker { type Error = std::convert::Infallible; }
/// # impl RemoteActor for Worker { fn remote_messages(_: &mut RemoteMessages<Self>) {} }
/// /// Names every exported actor as one of node "here".
/// struct Here(ActorSystem);
/// impl RefCodec for Here {
///     fn system(&self) -> &ActorSystem {
///         &self.0
///     }
///     fn export(&self, actor: Arc<dyn Exported>) -> WireRef {
///         WireRef { node: "here".into(), address: "tcp://127.0.0.1:4000".into(), id: actor.id() }
///     }
///     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> {
///         Err("not needed here".into())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let worker = system.spawn(Worker);
/// assert!(postcard::to_allocvec(&worker).is_err()); // no codec set
///
/// let codec: Arc<dyn RefCodec> = Arc::new(Here(system.clone()));
/// let bytes = with_ref_codec(&codec, || postcard::to_allocvec(&worker)).unwrap();
/// let wire: WireRef = postcard::from_bytes(&bytes).unwrap();
/// assert_eq!((wire.node.as_str(), wire.id), ("here", worker.id()));
/// # }
/// ```
pub fn with_ref_codec<T>(codec: &Arc<dyn RefCodec>, f: impl FnOnce() -> T) -> T {
    REF_CODEC.set(codec, f)
}

/// The codec set by [`with_ref_codec`] on this thread, if any.
pub(crate) fn current_ref_codec() -> Option<Arc<dyn RefCodec>> {
    REF_CODEC.is_set().then(|| REF_CODEC.with(Arc::clone))
}

/// Where the reply to an ask that came from another node goes: the
/// transport encodes nothing, it gets the reply's bytes.
///
/// # Examples
///
/// `codec` is the node's reference codec (here, one for messages without
/// references in them).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use actor_core::transport::{ReplySink, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, RefCodec, Resolved, WireRef};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn(Counter(0));
/// let exported = export(&counter).unwrap();
/// // An ask came in from another node: its reply goes back through the sink.
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sink: ReplySink = Box::new(move |result| drop(tx.send(result)));
/// let add = postcard::to_allocvec(&Add(4)).unwrap();
/// exported.deliver("counter.add", &add, Some(sink), &codec).unwrap();
/// let bytes = tokio::time::timeout(wait, rx).await.unwrap().unwrap().unwrap();
/// assert_eq!(postcard::from_bytes::<u64>(&bytes).unwrap(), 4);
/// # }
/// ```
pub type ReplySink = Box<dyn FnOnce(Result<Vec<u8>, RemoteFailure>) + Send>;

/// A local actor as other nodes reach it: bytes in, messages queued.
///
/// # Examples
///
/// `codec` is the node's reference codec (here, one for messages without
/// references in them).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use actor_core::transport::{Exported, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{RefCodec, Resolved, WireRef};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn(Counter(0));
/// let exported: Arc<dyn Exported> = export(&counter).unwrap();
/// assert_eq!(exported.id(), counter.id());
/// assert!(exported.actor_type().ends_with("Counter"));
/// // A tell that came in from another node, as bytes.
/// exported.deliver("counter.add", &postcard::to_allocvec(&Add(2)).unwrap(), None, &codec).unwrap();
/// assert_eq!(counter.ask(Add(0)).timeout(wait).await.unwrap(), 2);
/// # }
/// ```
pub trait Exported: Terminable {
    /// The actor's id.
    fn id(&self) -> ActorId;

    /// The actor's type name.
    fn actor_type(&self) -> &'static str;

    /// Whether the actor still accepts messages.
    fn is_alive(&self) -> bool;

    /// Decodes a message by its wire name and queues it without waiting.
    /// For an ask, `reply` receives the encoded reply (or the failure) once
    /// the handler has run.
    ///
    /// # Errors
    ///
    /// See [`Undelivered`]. A full mailbox hands back a [`Parked`] delivery
    /// to finish when there is room.
    fn deliver(
        &self,
        wire_name: &str,
        payload: &[u8],
        reply: Option<ReplySink>,
        codec: &Arc<dyn RefCodec>,
    ) -> Result<(), Undelivered>;

    /// As [`deliver`](Exported::deliver) for an ask, with what the ask
    /// carried: its chain of waits, assumed on this node while the ask is
    /// queued or handled (so the handler's own asks are checked against
    /// it and carry it on), and its deadline, past which the ask is skipped
    /// if still queued: reported as a dead letter
    /// ([`Expired`](crate::DeadLetterReason::Expired)) and answered with
    /// [`RemoteFailure::Expired`].
    ///
    /// The default ignores the context.
    ///
    /// # Errors
    ///
    /// As [`deliver`](Exported::deliver).
    fn deliver_ask(
        &self,
        wire_name: &str,
        payload: &[u8],
        reply: ReplySink,
        context: AskContext,
        codec: &Arc<dyn RefCodec>,
    ) -> Result<(), Undelivered> {
        let _ = context;
        self.deliver(wire_name, payload, Some(reply), codec)
    }

    /// A handle on the same actor that holds it for as long as it is kept,
    /// for a run of deliveries: each then skips what finding the actor
    /// again costs (for an actor of this node, upgrading a weak reference:
    /// two atomic operations on a cache line that the actor's own run loop
    /// reads, which with the two on separate workers measured a sixth of a
    /// remote tell's time, 2026-12-05). Holding it keeps the actor's shared
    /// block allocated, not the actor running. `None` (the default) if the
    /// export has no such handle, or the actor is gone.
    fn pinned(&self) -> Option<Arc<dyn Exported>> {
        None
    }

    /// For downcasting to the typed export.
    fn as_any(&self) -> &dyn Any;
}

/// Why [`Exported::deliver`] did not queue a message.
///
/// # Examples
///
/// `codec` is the node's reference codec (here, one for messages without
/// references in them).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use actor_core::transport::{Undelivered, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, RefCodec, Resolved, WireRef};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn(Counter(0));
/// let exported = export(&counter).unwrap();
/// let unknown = exported.deliver("counter.reset", &[], None, &codec);
/// assert!(matches!(unknown, Err(Undelivered::UnknownMessage(None))));
/// let garbled = exported.deliver("counter.add", &[], None, &codec); // not an `Add`
/// assert!(matches!(garbled, Err(Undelivered::Undecodable(..))));
///
/// counter.stop();
/// tokio::time::timeout(wait, counter.wait_for_stop()).await.unwrap();
/// let closed = exported.deliver("counter.add", &postcard::to_allocvec(&Add(1)).unwrap(), None, &codec);
/// assert!(matches!(closed, Err(Undelivered::Closed(None))));
/// # }
/// ```
#[non_exhaustive]
pub enum Undelivered {
    /// The actor does not handle a message of that wire name remotely.
    UnknownMessage(ReplyBack),
    /// The bytes did not decode as that message.
    Undecodable(String, ReplyBack),
    /// The actor has stopped.
    Closed(ReplyBack),
    /// The mailbox is full: the decoded message waits in the returned
    /// delivery, which queues it when polled to completion. Deliveries to
    /// one actor must be finished in order.
    Full(Parked),
}

/// The reply sink of a message that was not delivered, handed back so the
/// transport can answer the asker with the reason.
///
/// # Examples
///
/// `codec` is the node's reference codec (here, one for messages without
/// references in them).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use actor_core::error::{RemoteError, RemoteErrorKind};
/// use actor_core::transport::{RemoteFailure, ReplySink, Undelivered, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, RefCodec, Resolved, WireRef};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn(Counter(0));
/// let exported = export(&counter).unwrap();
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sink: ReplySink = Box::new(move |result| drop(tx.send(result)));
/// let Err(Undelivered::UnknownMessage(back)) = exported.deliver("counter.reset", &[], Some(sink), &codec) else {
///     panic!("not a message of the counter");
/// };
/// // The transport answers the asker with the reason.
/// let sink = back.expect("the ask's sink, handed back");
/// sink(Err(RemoteFailure::Remote(RemoteError::new(RemoteErrorKind::UnknownMessage, "counter.reset"))));
/// let answer = tokio::time::timeout(wait, rx).await.unwrap().unwrap();
/// assert!(matches!(answer, Err(RemoteFailure::Remote(e)) if e.kind() == RemoteErrorKind::UnknownMessage));
/// # }
/// ```
pub type ReplyBack = Option<ReplySink>;

impl fmt::Debug for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undelivered::UnknownMessage(_) => f.write_str("UnknownMessage"),
            Undelivered::Undecodable(e, _) => f.debug_tuple("Undecodable").field(e).finish(),
            Undelivered::Closed(_) => f.write_str("Closed"),
            Undelivered::Full(_) => f.write_str("Full(..)"),
        }
    }
}

/// A delivery that waits for mailbox room; see [`Undelivered::Full`].
/// Resolves to `Err` with the reply sink if the actor stops meanwhile.
///
/// # Examples
///
/// `codec` is the node's reference codec (here, one for messages without
/// references in them).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use actor_core::mailbox::Mailbox;
/// use actor_core::transport::{Undelivered, export};
/// # use actor_core::prelude::*;
/// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
/// # struct Counter(u64);
/// # impl Actor for Counter { type Error = std::convert::Infallible; }
/// # #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Add(u64);
/// # impl Message for Add { type Reply = u64; }
/// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
/// # impl Handler<Add> for Counter {
/// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
/// # }
/// # impl RemoteActor for Counter {
/// #     fn remote_messages(messages: &mut RemoteMessages<Self>) { messages.add::<Add>(); }
/// # }
/// # use actor_core::transport::{Exported, RefCodec, Resolved, WireRef};
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let system = ActorSystem::new();
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn_with(Counter(0), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
/// let exported = export(&counter).unwrap();
/// let add = |n| postcard::to_allocvec(&Add(n)).unwrap();
/// exported.deliver("counter.add", &add(1), None, &codec).unwrap();
/// // The actor has not run yet (one thread): its one slot is taken.
/// let Err(Undelivered::Full(parked)) = exported.deliver("counter.add", &add(2), None, &codec) else {
///     panic!("a full mailbox parks the delivery")
/// };
/// // Polled to completion, it queues the message once there is room.
/// assert!(tokio::time::timeout(Duration::from_secs(10), parked).await.unwrap().is_ok());
/// assert_eq!(counter.ask(Add(0)).await.unwrap(), 3);
/// # }
/// ```
#[must_use = "a parked delivery does nothing unless polled"]
pub struct Parked(BoxFuture<'static, Result<(), ReplyBack>>);

impl Parked {
    pub(crate) fn new(fut: impl Future<Output = Result<(), ReplyBack>> + Send + 'static) -> Self {
        Parked(Box::pin(fut))
    }
}

impl Future for Parked {
    type Output = Result<(), ReplyBack>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Parked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Parked(..)")
    }
}

/// Reports a message that a transport could not deliver as a dead letter of
/// `system`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::prelude::*;
/// use actor_core::DeadLetterReason;
/// use actor_core::transport::dead_letter;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let mut letters = system.dead_letters();
///
/// dead_letter(&system, None, "app::Order", DeadLetterReason::NodeDown, "node b is down");
/// let letter = tokio::time::timeout(Duration::from_secs(10), letters.recv()).await.unwrap().unwrap();
/// assert_eq!(letter.message_type, "app::Order");
/// assert_eq!(letter.reason, DeadLetterReason::NodeDown);
/// assert_eq!(letter.detail.as_deref(), Some("node b is down"));
/// # }
/// ```
pub fn dead_letter(
    system: &ActorSystem,
    recipient: Option<ActorId>,
    message_type: &'static str,
    reason: DeadLetterReason,
    detail: impl Into<Arc<str>>,
) {
    system.publish_dead_letter(DeadLetter {
        recipient,
        name: None,
        actor_type: "<remote>",
        message_type,
        reason,
        detail: Some(detail.into()),
    });
}

/// A remote actor as an [`ActorRef`](crate::ActorRef) holds it: the
/// transport's endpoint, and how to encode the actor's messages.
pub(crate) struct RemoteTarget {
    pub(crate) endpoint: Arc<dyn RemoteEndpoint>,
    pub(crate) system: ActorSystem,
    pub(crate) actor_type: &'static str,
    pub(crate) codecs: Arc<[MessageCodec]>,
}

/// Encodes a message, appending it to the buffer it is given.
pub(crate) type EncodeMessage = fn(&(dyn Any + Send), Vec<u8>) -> Result<Vec<u8>, String>;

/// How one message type is written, and its reply read.
#[derive(Clone, Copy)]
pub(crate) struct MessageCodec {
    pub(crate) type_id: TypeId,
    pub(crate) wire_name: &'static str,
    pub(crate) encode: EncodeMessage,
    pub(crate) decode_reply: DecodeReply,
}

impl RemoteTarget {
    pub(crate) fn codec(&self, type_id: TypeId) -> Option<&MessageCodec> {
        self.codecs.iter().find(|c| c.type_id == type_id)
    }

    /// Encodes `msg` for the wire into `buf`, with this endpoint's
    /// reference codec.
    pub(crate) fn encode<M: 'static + Send>(&self, msg: &M, buf: Vec<u8>) -> Option<(&MessageCodec, Vec<u8>)> {
        let codec = self.codec(TypeId::of::<M>())?;
        let ref_codec = self.endpoint.ref_codec();
        match with_ref_codec(ref_codec, || (codec.encode)(msg, buf)) {
            Ok(bytes) => Some((codec, bytes)),
            Err(e) => {
                tracing::warn!(message = codec.wire_name, error = %e, "a remote message failed to encode");
                None
            }
        }
    }

    /// Reports a message refused because the node is down.
    pub(crate) fn node_down(&self, message_type: &'static str) {
        dead_letter(
            &self.system,
            Some(self.endpoint.id()),
            message_type,
            DeadLetterReason::NodeDown,
            format!(
                "node {} is down (its outbox is full, or it went away while the sender waited): not sent",
                self.endpoint.node()
            ),
        );
    }
}

impl fmt::Debug for RemoteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.endpoint.id(), self.endpoint.node())
    }
}
