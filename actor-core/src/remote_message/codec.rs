//! The typed half of remote messaging (feature `serde`): which messages an
//! actor accepts from other nodes, how they and their replies are encoded,
//! and how references travel inside messages.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::actor::message::Handler;
use crate::actor::message::Tell;
use crate::actor::shared::Shared;
use crate::base::dead_letter::DeadLetterReason;
use crate::base::deadlock::{self, Assumed};
use crate::base::error::{ActorError, PanicError, RemoteError, RemoteErrorKind, SendError};
use crate::base::id::ActorId;
use crate::base::reason::{LinkedExit, StopReason};
use crate::base::reply;
use crate::base::sync::plain::DashMap;
use crate::endpoint::{
    AskContext, Exported, MessageCodec, Parked, RefCodec, RemoteEndpoint, RemoteFailure, RemoteTarget, ReplySink,
    Resolved, Terminable, TerminationNotice, Undelivered, WatchKey, WireRef, current_ref_codec, with_ref_codec,
};
use crate::envelope::Payload;
use crate::reference::actor_ref::{ActorRef, WeakActorRef};
use crate::remote_message::RemoteMessage;
use crate::system::ActorSystem;

/// An actor that other nodes can send messages to: it lists the message
/// types it accepts from the wire.
///
/// `#[actor]` implements it for an actor with any `#[message(remote)]`
/// method. By hand, list each message with [`RemoteMessages::add`].
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::RemoteMessage;
/// use actor_core::{RemoteActor, RemoteMessages};
/// use serde::{Deserialize, Serialize};
///
/// struct Counter(u64);
/// impl Actor for Counter {
///     type Error = std::convert::Infallible;
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct Add(u64);
/// impl Message for Add {
///     type Reply = u64;
/// }
/// impl RemoteMessage for Add {
///     const WIRE_NAME: &'static str = "counter.add";
/// }
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
///
/// impl RemoteActor for Counter {
///     fn remote_messages(messages: &mut RemoteMessages<Self>) {
///         messages.add::<Add>();
///     }
/// }
/// ```
pub trait RemoteActor: Actor {
    /// Lists the messages this actor accepts from other nodes.
    fn remote_messages(messages: &mut RemoteMessages<Self>);
}

/// The list a [`RemoteActor`] fills in; see there.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
///
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
/// static LISTED: AtomicBool = AtomicBool::new(false);
///
/// impl RemoteActor for Counter {
///     fn remote_messages(messages: &mut RemoteMessages<Self>) {
///         messages.add::<Add>();
///         assert_eq!(messages.wire_names().collect::<Vec<_>>(), ["counter.add"]);
///         LISTED.store(true, Ordering::Relaxed);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter(0));
/// assert!(!LISTED.load(Ordering::Relaxed));
/// // The list is filled in when the actor is first exported.
/// assert!(actor_core::transport::export(&counter).is_some());
/// assert!(LISTED.load(Ordering::Relaxed));
/// # }
/// ```
pub struct RemoteMessages<A: Actor> {
    codecs: Vec<MessageCodec>,
    handlers: HashMap<&'static str, DeliverFn<A>>,
}

type DeliverFn<A> =
    fn(&Arc<Shared<A>>, &[u8], Option<ReplySink>, AskContext, &Arc<dyn RefCodec>) -> Result<(), Undelivered>;

impl<A: Actor> RemoteMessages<A> {
    /// Accepts `M` from other nodes, under its
    /// [`WIRE_NAME`](RemoteMessage::WIRE_NAME).
    ///
    /// # Panics
    ///
    /// If another message of this actor already has the same wire name:
    /// the far side could not tell them apart.
    ///
    /// # Examples
    ///
    /// A message added is accepted from the wire by its name; one that is not
    /// is refused:
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use actor_core::prelude::*;
    /// # use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    /// # use actor_core::transport::{Exported, RefCodec, Resolved, WireRef, export};
    /// # /// A node's reference codec, for messages without references in them.
    /// # struct NoRefs(ActorSystem);
    /// # impl RefCodec for NoRefs {
    /// #     fn system(&self) -> &ActorSystem { &self.0 }
    /// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
    /// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
    /// # }
    /// # use actor_core::transport::Undelivered;
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Reset;
    /// # impl Message for Reset { type Reply = (); }
    /// # impl RemoteMessage for Reset { const WIRE_NAME: &'static str = "counter.reset"; }
    /// # impl Handler<Reset> for Counter {
    /// #     async fn handle(&mut self, _: Reset, _: &mut Context<Self>) { self.0 = 0; }
    /// # }
    /// struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// impl RemoteMessage for Add {
    ///     const WIRE_NAME: &'static str = "counter.add";
    /// }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    ///
    /// impl RemoteActor for Counter {
    ///     fn remote_messages(messages: &mut RemoteMessages<Self>) {
    ///         messages.add::<Add>(); // `Reset` is handled, but only locally
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let system = ActorSystem::new();
    /// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    /// let counter = system.spawn(Counter(0));
    /// let exported = export(&counter).unwrap(); // as a transport sees it
    /// let add = postcard::to_allocvec(&Add(5)).unwrap();
    /// assert!(exported.deliver("counter.add", &add, None, &codec).is_ok());
    /// let reset = postcard::to_allocvec(&Reset).unwrap();
    /// let refused = exported.deliver("counter.reset", &reset, None, &codec);
    /// assert!(matches!(refused, Err(Undelivered::UnknownMessage(_))));
    /// assert_eq!(counter.ask(Add(0)).await.unwrap(), 5);
    /// # }
    /// ```
    pub fn add<M: RemoteMessage>(&mut self) -> &mut Self
    where
        A: Handler<M>,
    {
        if self.handlers.insert(M::WIRE_NAME, deliver::<A, M>).is_some() {
            panic!("two remote messages of {} have the wire name {:?}", type_name::<A>(), M::WIRE_NAME);
        }
        self.codecs.push(MessageCodec {
            type_id: TypeId::of::<M>(),
            wire_name: M::WIRE_NAME,
            encode: encode::<M>,
            decode_reply: decode_reply::<M>,
        });
        self
    }

    /// The wire names listed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};
    ///
    /// # struct Counter(u64);
    /// # impl Actor for Counter { type Error = std::convert::Infallible; }
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Add(u64);
    /// # impl Message for Add { type Reply = u64; }
    /// # impl RemoteMessage for Add { const WIRE_NAME: &'static str = "counter.add"; }
    /// # impl Handler<Add> for Counter {
    /// #     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 { self.0 += n; self.0 }
    /// # }
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Get;
    /// # impl Message for Get { type Reply = u64; }
    /// # impl RemoteMessage for Get { const WIRE_NAME: &'static str = "counter.get"; }
    /// # impl Handler<Get> for Counter {
    /// #     async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 { self.0 }
    /// # }
    /// impl RemoteActor for Counter {
    ///     fn remote_messages(messages: &mut RemoteMessages<Self>) {
    ///         assert_eq!(messages.wire_names().count(), 0);
    ///         messages.add::<Add>().add::<Get>();
    ///         let names: Vec<&str> = messages.wire_names().collect();
    ///         assert_eq!(names, ["counter.add", "counter.get"]);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let counter = system.spawn(Counter(0));
    /// // The list is built (and the assertions above run) when the actor is
    /// // first exported.
    /// assert!(actor_core::transport::export(&counter).is_some());
    /// # }
    /// ```
    pub fn wire_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.codecs.iter().map(|c| c.wire_name)
    }
}

impl<A: Actor> fmt::Debug for RemoteMessages<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.wire_names()).finish()
    }
}

/// One actor type's table, built once per process.
struct Table<A: Actor> {
    codecs: Arc<[MessageCodec]>,
    /// Sorted by wire name: a binary search over a handful of names costs
    /// a few comparisons, less than hashing the name for every message.
    handlers: Box<[(&'static str, DeliverFn<A>)]>,
}

impl<A: Actor> Table<A> {
    /// The handler for `wire_name`. `last` remembers where the previous
    /// search ended: a run of one message type, the usual case, costs one
    /// comparison of names per message, not a search.
    fn handler(&self, wire_name: &str, last: &AtomicUsize) -> Option<DeliverFn<A>> {
        if let Some((name, deliver)) = self.handlers.get(last.load(Ordering::Relaxed))
            && *name == wire_name
        {
            return Some(*deliver);
        }
        let at = self.handlers.binary_search_by(|(name, _)| (*name).cmp(wire_name)).ok()?;
        last.store(at, Ordering::Relaxed);
        Some(self.handlers[at].1)
    }
}

fn table<A: RemoteActor>() -> Arc<Table<A>> {
    static TABLES: OnceLock<DashMap<TypeId, Arc<dyn Any + Send + Sync>>> = OnceLock::new();
    let tables = TABLES.get_or_init(DashMap::new);
    let erased = tables
        .entry(TypeId::of::<A>())
        .or_insert_with(|| {
            let mut messages = RemoteMessages { codecs: Vec::new(), handlers: HashMap::new() };
            A::remote_messages(&mut messages);
            let mut handlers: Vec<_> = messages.handlers.into_iter().collect();
            handlers.sort_unstable_by_key(|(name, _)| *name);
            Arc::new(Table::<A> { codecs: messages.codecs.into(), handlers: handlers.into() })
        })
        .clone();
    erased.downcast::<Table<A>>().unwrap_or_else(|_| unreachable!("tables are keyed by their actor type"))
}

fn encode<M: RemoteMessage>(msg: &(dyn Any + Send), buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let msg = msg.downcast_ref::<M>().ok_or("a message of another type")?;
    postcard::to_extend(msg, buf).map_err(|e| e.to_string())
}

fn decode_reply<M: RemoteMessage>(bytes: &[u8], slot: &mut dyn Any) -> Result<(), String> {
    let slot = slot.downcast_mut::<Option<M::Reply>>().ok_or("a reply slot of another type")?;
    match postcard::from_bytes::<M::Reply>(bytes) {
        Ok(reply) => {
            *slot = Some(reply);
            Ok(())
        }
        Err(e) => Err(match take_ref_error() {
            Some(why) => format!("{e}: {why}"),
            None => e.to_string(),
        }),
    }
}

/// Decodes an `M` and queues it for `actor`; for an ask, forwards the
/// encoded reply to `reply` once the handler has run, and holds the ask's
/// context (assumed waits, deadline) with it.
fn deliver<A: Handler<M>, M: RemoteMessage>(
    shared: &Arc<Shared<A>>,
    payload: &[u8],
    reply: Option<ReplySink>,
    context: AskContext,
    codec: &Arc<dyn RefCodec>,
) -> Result<(), Undelivered> {
    let msg: M = match with_ref_codec(codec, || postcard::from_bytes(payload)) {
        Ok(msg) => msg,
        Err(e) => {
            let detail = match take_ref_error() {
                Some(why) => format!("{}: {e}: {why}", M::WIRE_NAME),
                None => format!("{}: {e}", M::WIRE_NAME),
            };
            return Err(Undelivered::Undecodable(detail, reply));
        }
    };
    let Some(sink) = reply else {
        return match shared.try_send_unreported(Tell(msg)) {
            Ok(()) => Ok(()),
            Err(SendError::Full(tell)) => {
                let shared = shared.clone();
                Err(Undelivered::Full(Parked::new(async move { shared.send(tell).await.map_err(|_| None) })))
            }
            Err(_) => Err(Undelivered::Closed(None)),
        };
    };
    // The handler's future encodes and sends the reply itself, in the
    // actor's task: no task in between.
    let AskContext { chain, deadline } = context;
    let assumed = (!chain.is_empty()).then(|| Box::new(deadlock::assume(shared.system.id(), chain, deadline)));
    let ask = RemoteAsk { msg, reply: RemoteReply(Some(sink)), codec: codec.clone(), deadline, assumed };
    match shared.try_send_unreported(ask) {
        Ok(()) => Ok(()),
        Err(SendError::Full(ask)) => {
            let shared = shared.clone();
            Err(Undelivered::Full(Parked::new(async move {
                shared.send_ask(ask).await.map_err(|e| e.into_inner().reply.take())
            })))
        }
        Err(e) => Err(Undelivered::Closed(e.into_inner().reply.take())),
    }
}

/// An ask that came from another node: its reply goes back as bytes.
struct RemoteAsk<M> {
    msg: M,
    reply: RemoteReply,
    codec: Arc<dyn RefCodec>,
    /// When the asker gives up, on this node's clock.
    deadline: Option<tokio::time::Instant>,
    /// The asker's chain of waits, assumed here until the ask is handled
    /// or dropped. Boxed, as only an ask made from a handler has one:
    /// inline, it took the handler's future past the run loop's slot, a
    /// box per remote ask (2026-12-05).
    assumed: Option<Box<Assumed>>,
}

/// The reply sink of a remote ask while its handler runs. Dropped
/// unanswered by a panicking handler, it reports the panic (through the
/// run loop's orphaned replies); dropped otherwise, "no reply".
struct RemoteReply(Option<ReplySink>);

impl RemoteReply {
    fn send(mut self, result: Result<Vec<u8>, RemoteFailure>) {
        if let Some(sink) = self.0.take() {
            sink(result);
        }
    }

    fn take(mut self) -> Option<ReplySink> {
        self.0.take()
    }
}

impl Drop for RemoteReply {
    fn drop(&mut self) {
        let Some(sink) = self.0.take() else { return };
        if reply::in_a_handler() {
            reply::park_orphan(Box::new(move |panic: &PanicError| {
                sink(Err(RemoteFailure::Panicked(panic.message().to_owned())));
            }));
        } else {
            sink(Err(RemoteFailure::NoReply));
        }
    }
}

impl<A: Handler<M>, M: RemoteMessage> Payload<A> for RemoteAsk<M> {
    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn describe(&self) -> Option<String> {
        self.msg.describe()
    }

    // As `Ask`'s (`actor/message.rs`).
    #[inline(always)]
    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>) -> impl Future<Output = ()> + Send + 'a {
        let RemoteAsk { msg, reply, codec, deadline, assumed } = self;
        // The asker gave up while this waited in the mailbox: skipped, as a
        // local ask whose reply channel closed is. The answer frees the
        // asker's pending entry and reads there as a timeout.
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            ctx.shared().dead_letter(type_name::<M>(), DeadLetterReason::Expired);
            reply.send(Err(RemoteFailure::Expired));
            drop(assumed);
            return futures::future::Either::Left(std::future::ready(()));
        }
        // Armed before the handler is called, like a local ask's guard.
        let fut = actor.handle(msg, ctx);
        futures::future::Either::Right(async move {
            let _assumed = assumed;
            let answer = fut.await;
            let encoded = with_ref_codec(&codec, || postcard::to_extend(&answer, Vec::with_capacity(64)));
            reply.send(encoded.map_err(|e| {
                RemoteFailure::Remote(RemoteError::new(
                    RemoteErrorKind::Undecodable,
                    format!("the reply to {} failed to encode: {e}", M::WIRE_NAME),
                ))
            }));
        })
    }
}

/// A local actor as other nodes reach it. Holds it weakly: being reachable
/// from other nodes does not keep an actor alive.
struct ExportedActor<A: Actor> {
    actor: WeakActorRef<A>,
    table: Arc<Table<A>>,
    /// Where the last handler was found in `table` (a hint only).
    last: AtomicUsize,
    /// The actor's block, held by a pinned handle ([`Exported::pinned`]):
    /// deliveries skip the upgrade of `actor`. It keeps the memory, not
    /// the actor running (that is `ActorRef`s' count, kept apart).
    held: Option<Arc<Shared<A>>>,
}

impl<A: RemoteActor> Exported for ExportedActor<A> {
    fn id(&self) -> ActorId {
        self.actor.id()
    }

    fn actor_type(&self) -> &'static str {
        type_name::<A>()
    }

    fn is_alive(&self) -> bool {
        self.actor.upgrade().is_some_and(|a| a.is_alive())
    }

    fn deliver(
        &self,
        wire_name: &str,
        payload: &[u8],
        reply: Option<ReplySink>,
        codec: &Arc<dyn RefCodec>,
    ) -> Result<(), Undelivered> {
        self.deliver_to(wire_name, payload, reply, AskContext::default(), codec)
    }

    fn deliver_ask(
        &self,
        wire_name: &str,
        payload: &[u8],
        reply: ReplySink,
        context: AskContext,
        codec: &Arc<dyn RefCodec>,
    ) -> Result<(), Undelivered> {
        self.deliver_to(wire_name, payload, Some(reply), context, codec)
    }

    fn pinned(&self) -> Option<Arc<dyn Exported>> {
        let held = match &self.held {
            Some(held) => held.clone(),
            None => self.actor.shared()?,
        };
        Some(Arc::new(ExportedActor {
            actor: self.actor.clone(),
            table: self.table.clone(),
            last: AtomicUsize::new(self.last.load(Ordering::Relaxed)),
            held: Some(held),
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<A: RemoteActor> ExportedActor<A> {
    /// Decodes a message by its wire name and queues it to the actor, if
    /// its block is still there.
    fn deliver_to(
        &self,
        wire_name: &str,
        payload: &[u8],
        reply: Option<ReplySink>,
        context: AskContext,
        codec: &Arc<dyn RefCodec>,
    ) -> Result<(), Undelivered> {
        let Some(deliver) = self.table.handler(wire_name, &self.last) else {
            return Err(Undelivered::UnknownMessage(reply));
        };
        let upgraded;
        let shared = match &self.held {
            Some(held) => Some(held),
            None => {
                upgraded = self.actor.shared();
                upgraded.as_ref()
            }
        };
        match shared {
            Some(shared) => deliver(shared, payload, reply, context, codec),
            None => Err(Undelivered::Closed(reply)),
        }
    }
}

impl<A: RemoteActor> Terminable for ExportedActor<A> {
    fn stop(&self) {
        if let Some(actor) = self.actor.upgrade() {
            actor.stop();
        }
    }

    fn kill(&self) {
        if let Some(actor) = self.actor.upgrade() {
            actor.kill();
        }
    }

    fn on_terminated(&self, notice: TerminationNotice) {
        let _ = self.watch(notice);
    }

    fn watch(&self, notice: TerminationNotice) -> Option<WatchKey> {
        match self.actor.shared() {
            Some(shared) => shared.cell.on_terminated(notice).map(WatchKey::new),
            None => {
                notice(self.actor.id(), &StopReason::NotFound);
                None
            }
        }
    }

    fn unwatch(&self, key: WatchKey) {
        if let Some(shared) = self.actor.shared() {
            shared.cell.forget_notice(key.get());
        }
    }
}

/// Wraps a local actor so that other nodes can send it messages; `None`
/// for a reference that is itself remote.
///
/// # Examples
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
/// # use actor_core::transport::{Exported, RefCodec, ReplySink, Resolved, WireRef, export};
/// # /// A node's reference codec, for messages without references in them.
/// # struct NoRefs(ActorSystem);
/// # impl RefCodec for NoRefs {
/// #     fn system(&self) -> &ActorSystem { &self.0 }
/// #     fn export(&self, _: Arc<dyn Exported>) -> WireRef { unreachable!("no references here") }
/// #     fn resolve(&self, _: &WireRef) -> Result<Resolved, String> { Err("no references here".into()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let system = ActorSystem::new();
/// // `codec` is the node's `RefCodec` (here, one for messages without references).
/// # let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
/// let counter = system.spawn(Counter(0));
/// let exported = export(&counter).unwrap();
/// assert_eq!(exported.id(), counter.id());
/// assert!(exported.is_alive());
///
/// // What a transport does with a message that came in for it: an ask.
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let reply: ReplySink = Box::new(move |bytes| drop(tx.send(bytes)));
/// let add = postcard::to_allocvec(&Add(4)).unwrap();
/// exported.deliver("counter.add", &add, Some(reply), &codec).unwrap();
/// let bytes = rx.await.unwrap().unwrap(); // the encoded reply
/// assert_eq!(postcard::from_bytes::<u64>(&bytes).unwrap(), 4);
///
/// counter.stop();
/// counter.wait_for_stop().await;
/// assert!(!exported.is_alive()); // it does not keep the actor alive
/// # }
/// ```
pub fn export<A: RemoteActor>(actor: &ActorRef<A>) -> Option<Arc<dyn Exported>> {
    actor.shared()?;
    Some(Arc::new(ExportedActor {
        actor: actor.downgrade(),
        table: table::<A>(),
        last: AtomicUsize::new(0),
        held: None,
    }))
}

/// A reference to an actor of another node, reached through `endpoint`;
/// used exactly like a local one.
///
/// # Examples
///
/// Here the transport, `Wire`, hands each message to the channel `wire`
/// instead of writing it to a socket:
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
/// let endpoint = Arc::new(Wire { codec, sent });
/// let counter: ActorRef<Counter> = remote_ref(&system, endpoint);
/// assert!(!counter.is_local());
/// assert_eq!(counter.node(), Some("far"));
///
/// counter.tell(Add(2)).await.unwrap();
/// let out = wire.recv().await.unwrap(); // encoded once, for the transport
/// assert_eq!(out.wire_name, "counter.add");
/// assert_eq!(postcard::from_bytes::<Add>(&out.payload).unwrap(), Add(2));
/// assert!(out.reply.is_none()); // a tell
/// # }
/// ```
pub fn remote_ref<A: RemoteActor>(system: &ActorSystem, endpoint: Arc<dyn RemoteEndpoint>) -> ActorRef<A> {
    ActorRef::remote(Arc::new(RemoteTarget {
        endpoint,
        system: system.clone(),
        actor_type: type_name::<A>(),
        codecs: table::<A>().codecs.clone(),
    }))
}

/// A reference inside a message is written as a [`WireRef`]: the node
/// sending it makes the actor reachable by id. Only possible while a node
/// encodes the message (a reference cannot be written to a file).
impl<A: RemoteActor> Serialize for ActorRef<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match self.remote_target() {
            Some(target) => target.endpoint.wire_ref(),
            None => {
                let codec = current_ref_codec()
                    .ok_or_else(|| S::Error::custom("an ActorRef can only be serialized by a node sending it"))?;
                let exported = export(self).expect("a local reference");
                codec.export(exported)
            }
        };
        wire.serialize(serializer)
    }
}

/// Reading a [`WireRef`] gives a local reference if the actor lives on the
/// reading node, and a remote one otherwise.
impl<'de, A: RemoteActor> Deserialize<'de> for ActorRef<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireRef::deserialize(deserializer)?;
        resolve::<A>(&wire).map_err(|e| {
            // Some formats (postcard) drop a custom error's text: keep it
            // for the report of the failed decode.
            REF_ERROR.set(Some(e.clone()));
            D::Error::custom(e)
        })
    }
}

thread_local! {
    static REF_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Why the last reference read on this thread could not be resolved.
fn take_ref_error() -> Option<String> {
    REF_ERROR.take()
}

fn resolve<A: RemoteActor>(wire: &WireRef) -> Result<ActorRef<A>, String> {
    let codec = current_ref_codec().ok_or("an ActorRef can only be deserialized by a node receiving it")?;
    match codec.resolve(wire)? {
        Resolved::Local(exported) => {
            let typed = exported.as_any().downcast_ref::<ExportedActor<A>>().ok_or_else(|| {
                format!("actor {} is a {}, not a {}", wire.id, exported.actor_type(), type_name::<A>())
            })?;
            typed.actor.upgrade().ok_or_else(|| format!("actor {} has stopped", wire.id))
        }
        Resolved::Remote(endpoint) => Ok(remote_ref(codec.system(), endpoint)),
    }
}

impl Serialize for ActorId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_uuid().as_u128().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ActorId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ActorId::from_uuid(uuid::Uuid::from_u128(u128::deserialize(deserializer)?)))
    }
}

/// `StopReason` on the wire: what another node can know of it.
#[derive(Serialize, Deserialize)]
enum WireReason {
    Normal,
    Killed,
    Panicked { actor: ActorId, message: String },
    Failed(String),
    Linked { id: ActorId, reason: Box<WireReason> },
    Restart,
    NodeDown,
    NotFound,
    // Added last: the variants before it keep their numbers on the wire.
    TooManyRestarts { max: u32, within_ms: u64 },
    // Likewise.
    Aborted,
}

impl From<&StopReason> for WireReason {
    fn from(reason: &StopReason) -> Self {
        match reason {
            StopReason::Normal => WireReason::Normal,
            StopReason::Killed => WireReason::Killed,
            StopReason::Panicked(p) => WireReason::Panicked { actor: p.actor_id(), message: p.message().to_owned() },
            StopReason::Failed(e) => WireReason::Failed(e.to_string()),
            StopReason::Linked(exit) => {
                WireReason::Linked { id: exit.id, reason: Box::new(WireReason::from(&exit.reason)) }
            }
            StopReason::Restart => WireReason::Restart,
            StopReason::NodeDown => WireReason::NodeDown,
            StopReason::NotFound => WireReason::NotFound,
            StopReason::Aborted => WireReason::Aborted,
            StopReason::TooManyRestarts(limit) => WireReason::TooManyRestarts {
                max: limit.max,
                within_ms: u64::try_from(limit.within.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }
}

impl From<WireReason> for StopReason {
    fn from(reason: WireReason) -> Self {
        match reason {
            WireReason::Normal => StopReason::Normal,
            WireReason::Killed => StopReason::Killed,
            WireReason::Panicked { actor, message } => {
                StopReason::Panicked(PanicError::remote(message, actor, "<remote actor>", None))
            }
            WireReason::Failed(text) => StopReason::Failed(ActorError::new(RemoteFailed(text))),
            WireReason::Linked { id, reason } => {
                StopReason::Linked(Box::new(LinkedExit { id, reason: StopReason::from(*reason) }))
            }
            WireReason::Restart => StopReason::Restart,
            WireReason::NodeDown => StopReason::NodeDown,
            WireReason::NotFound => StopReason::NotFound,
            WireReason::Aborted => StopReason::Aborted,
            WireReason::TooManyRestarts { max, within_ms } => StopReason::TooManyRestarts(Box::new(
                crate::base::reason::RestartIntensity::new(max, std::time::Duration::from_millis(within_ms)),
            )),
        }
    }
}

/// The error of an actor that failed on another node, as text.
#[derive(Debug)]
struct RemoteFailed(String);

impl fmt::Display for RemoteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for RemoteFailed {}

/// A stop reason is written with what another node can know of it: a panic
/// keeps its text and actor, a failure its error's text.
impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireReason::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WireReason::deserialize(deserializer).map(StopReason::from)
    }
}

#[cfg(test)]
mod wire_reason {
    use super::*;

    /// Variants are numbered by position on the wire: new ones go last, so
    /// a node that knows fewer still reads the ones it knows.
    #[test]
    fn stop_reasons_keep_their_wire_numbers() {
        let numbered = [(StopReason::Normal, 0u8), (StopReason::Killed, 1), (StopReason::Aborted, 9)];
        for (reason, number) in numbered {
            let bytes = postcard::to_allocvec(&reason).unwrap();
            assert_eq!(bytes, [number], "{reason}");
            let back: StopReason = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.to_string(), reason.to_string());
        }
    }
}
