#![doc = include_str!("guide.md")]
//!
//! # The public surface
//!
//! Every item has one path. The [`prelude`] holds the names of the first
//! hour (marked • below); the rest are at the crate root or in one of the
//! modules named here.
//!
//! | item | what for |
//! | --- | --- |
//! | [`ActorSystem`] •, [`SystemBuilder`] | a running set of actors: spawn, names, dead letters, stats, shutdown |
//! | [`Actor`] •, [`PanicAction`] •, [`Context`] • | an actor's lifecycle hooks, and what its handlers can reach |
//! | [`Message`] •, [`Handler`] • | a message type, and an actor's behaviour for it |
//! | `#[actor]` •, `#[message]` •, `#[derive(Actor)]` • (feature `macros`, on by default) | messages, handlers and a typed client from an impl block |
//! | [`ActorRef`] •, [`WeakActorRef`] •, [`Recipient`] • | handles: by actor type, without keeping the actor alive, by message type |
//! | [`AskRequest`], [`PendingAsk`], [`AskWith`], [`ReplyTo`] • | an ask (a future, with its timeout; or sent now, its reply awaited later), answering later |
//! | [`SpawnOptions`] •, [`mailbox`]: [`Mailbox`](mailbox::Mailbox) • | the mailbox, name, shutdown timeout and flight recorder of a spawn |
//! | [`StopReason`] •, [`LinkedExit`], [`RestartIntensity`], [`Terminated`] •, [`MonitorRef`] | why an actor stopped; being told when another one does |
//! | [`supervision`]: [`Supervisor`](supervision::Supervisor) •, [`ChildSpec`](supervision::ChildSpec) •, [`Restart`](supervision::Restart) •, [`Strategy`](supervision::Strategy) | restarting failed actors, as Erlang/OTP does |
//! | [`Pool`], [`PoolBuilder`], [`Routing`] | several workers of one type behind one handle |
//! | [`Topic`], [`PublishReport`] | publish/subscribe |
//! | [`TimerHandle`], [`TaskHandle`] | messages an actor gets later or from a stream; tasks a handler awaits |
//! | [`DeadLetters`], [`DeadLetter`], [`DeadLetterReason`], [`Lagged`] | messages that could not be delivered, and why |
//! | [`SystemStats`], [`ActorStats`], [`ActorState`], [`PanicRecord`], [`FlightRecord`], [`Recorded`] | what an observer reads: counters, the actor tree, panics and what led to them |
//! | [`ActorId`] | an actor's identity, unique across processes and nodes |
//! | [`Error`] | the catch-all error, for `?` in code that talks to many actors |
//! | [`error`]: [`SendError`](error::SendError) •, [`AskError`](error::AskError) • and the others | each way a send, an ask, a name or a remote delivery can fail; errors about one message hand it back |
//! | `RemoteMessage`, `RemoteActor`, `RemoteMessages`, `serde` (feature `serde`) | messages that cross the wire, and the serde their types derive through |
//! | `transport` (feature `serde`) | the interface a transport such as actor-remote implements; not application API |
//! | `testkit` (feature `test-util`) | probes that record what an actor sends, for tests |
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

#[allow(unused_extern_crates)]
extern crate self as actor_core;

// The crate's layers, from the ground up. A file imports only files of its
// own layer or of those below it: ARCHITECTURE.md ("actor-core") has the
// map, and tests/layers.rs checks it.

// 1. What knows no actor: ids, errors, stop reasons, dead letters, stats and
//    flight records, reply channels, the graph of waits.
mod base;

// 2. The mailbox: the queue, its bound, the system lane.
pub mod mailbox;

// 3. A message of any type in a mailbox, and an actor of any type
//    (identity, termination, links, `Lane`).
mod cell;
mod envelope;

// 4. What the actors of one system share: census, names, dead letters,
//    stats, shutdown.
mod system;

// 5. The interface to a transport (feature `serde`).
#[cfg(feature = "serde")]
mod endpoint;

// 6. One actor from the inside: its shared block, `Actor` and `Context`,
//    messages and handlers, the run loop.
mod actor;

// 7. References: `ActorRef`, `WeakActorRef`, `Recipient`, asks.
mod reference;

// 8. How an actor comes to life.
mod spawn;

// 9. What is built on actors.
mod monitor;
mod pool;
mod registry;
mod remote_message;
pub mod supervision;
mod task;
#[cfg(feature = "test-util")]
pub mod testkit;
mod timer;
mod topic;

pub use crate::actor::context::{Actor, Context, PanicAction};
pub use crate::actor::message::{Handler, Message};
pub use crate::base::dead_letter::{DeadLetter, DeadLetterReason};
pub use crate::base::error::Error;
pub use crate::base::flight::{FlightRecord, Recorded};
pub use crate::base::id::ActorId;
pub use crate::base::reason::{LinkedExit, RestartIntensity, StopReason};
pub use crate::base::reply::ReplyTo;
pub use crate::base::stats::{ActorState, ActorStats, PanicRecord, RECENT_RESTARTS, SystemStats};
pub use crate::monitor::{MonitorRef, Terminated};
pub use crate::pool::{Pool, PoolBuilder, Routing};
pub use crate::reference::actor_ref::{ActorRef, WeakActorRef};
pub use crate::reference::ask::{AskRequest, AskWith, PendingAsk, SendAsk};
pub use crate::reference::recipient::Recipient;
pub use crate::spawn::SpawnOptions;
pub use crate::system::{
    ActorSystem, DEFAULT_DEAD_LETTER_CAPACITY, DEFAULT_SHUTDOWN_TIMEOUT, DeadLetters, Lagged, SystemBuilder,
};
pub use crate::task::TaskHandle;
pub use crate::timer::TimerHandle;
pub use crate::topic::{PublishReport, Topic};

#[cfg(feature = "serde")]
pub use crate::remote_message::RemoteMessage;
#[cfg(feature = "serde")]
pub use crate::remote_message::codec::{RemoteActor, RemoteMessages};

pub mod error {
    //! The specific errors: each way a send, an ask, a name or a delivery
    //! to another node can fail. Those about one message hand it back
    //! (`into_inner`); [`SendError`] and [`AskError`] convert into the
    //! crate's catch-all [`Error`](crate::Error), for `?`.

    pub use crate::base::error::{
        ActorError, AskError, Cycle, ErrorKind, PanicError, RegistryError, RemoteError, RemoteErrorKind, SendError,
        TaskError,
    };
}

#[cfg(feature = "serde")]
pub mod transport {
    //! The interface between actor-core and a transport: for transport
    //! implementers such as actor-remote, **not application API**.
    //!
    //! A reference to an actor of another node holds a [`RemoteEndpoint`]
    //! (implemented by the transport) and turns every message into bytes before
    //! the transport sees it; on the node where the actor lives, [`export`]
    //! wraps it in an [`Exported`] that decodes bytes back into messages and
    //! queues them. Applications write `#[message(remote)]` (or implement
    //! [`RemoteActor`](crate::RemoteActor)) and use a transport's API
    //! (actor-remote's `Node`); they never name anything here.
    //!
    //! Only with the `serde` feature: without it, every actor is local and
    //! none of this is compiled.

    pub use crate::base::id::IdHasher;
    pub use crate::endpoint::{
        AskContext, Exported, Outgoing, Parked, PendingReply, RefCodec, Refused, RemoteEndpoint, RemoteFailure,
        ReplyBack, ReplySink, Resolved, Terminable, TerminationNotice, Undelivered, WatchKey, WireRef, dead_letter,
        with_ref_codec,
    };
    pub use crate::remote_message::codec::{export, remote_ref};
}

/// serde, re-exported (feature `serde`), so that the types a remote
/// message carries can derive its traits without a serde dependency of
/// their own. Name the re-export in `#[serde(crate = ..)]`, since serde's
/// derives otherwise look for a crate named `serde`:
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// #[serde(crate = "actor_core::serde")]
/// struct Order {
///     item: String,
///     quantity: u32,
/// }
///
/// struct Shop;
///
/// #[actor]
/// impl Shop {
///     #[message(remote)] // `Place { order: Order }` crosses the wire
///     fn place(&mut self, order: Order) -> u32 {
///         order.quantity
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let shop = ActorSystem::new().spawn(Shop);
/// let order = Order { item: "tea".into(), quantity: 2 };
/// assert_eq!(shop.place(order).await.unwrap(), 2);
/// # }
/// ```
///
/// Without the derives, the message does not compile, with one error that
/// names the argument: "argument `order`: `Order` is not serializable".
#[cfg(feature = "serde")]
pub use serde;

/// Turns the methods of an impl block into messages, handlers and a typed
/// client.
///
/// On `#[actor] impl MyActor { .. }`, every method marked
/// [`#[message]`](macro@message) gets:
///
/// - a message struct named after the method in UpperCamelCase
///   (`fn add_item(&mut self, item: String)` gives
///   `struct AddItem { item: String }`, and a method without arguments gives
///   a unit struct), with the method's visibility (also on the fields;
///   see `vis` below) and doc comments;
/// - `impl Message` with the method's return type as `Reply` (`()` if none);
/// - `impl Handler<AddItem> for MyActor`, which calls the method;
/// - two methods on the typed client, a trait named `MyActorClient` that is
///   implemented for `ActorRef<MyActor>`: `add_item(item)` asks (`.await` it
///   for `Result<Reply, AskError<AddItem>>`, optionally after
///   `.timeout(..)`), and `tell_add_item(item)` tells. Import the trait
///   where you call them.
///
/// The impl block itself is kept as written (minus the markers), so the
/// methods stay callable directly. `#[actor]` also emits
/// `impl Actor for MyActor { type Error = Infallible; }` with the default
/// hooks; see `no_actor_impl` below to write your own.
///
/// # Message methods
///
/// - `fn` or `async fn`, taking `&self` or `&mut self`. (The future of an
///   `async fn(&self)` holds `&Self` and must be `Send`, so the actor must be
///   `Sync`; take `&mut self` otherwise.)
/// - Any number of arguments, each with a plain name and an owned, `'static`
///   type (no borrows, no `impl Trait`, no generics): they become fields.
/// - Optionally a last parameter `ctx: &mut Context<Self>` (recognized by a
///   type path ending in `Context`), which is not a field.
/// - Any owned return type. A `Result<T, E>` is the reply as a whole, so the
///   asker gets `Result<Result<T, E>, AskError<_>>` and sees the handler's
///   error typed.
///
/// # Options
///
/// On `#[actor(..)]`, comma-separated:
///
/// - `error = Type`: the `Actor::Error` of the generated `impl Actor`.
/// - `no_actor_impl`: emit no `impl Actor`; write your own (for lifecycle
///   hooks) or use [`#[derive(Actor)]`](derive@Actor).
/// - `remote`: make every message of the block remote (see
///   [`#[message]`](macro@message)).
/// - `client = "Name"`: the client trait's name instead of `MyActorClient`
///   (needed for a second `#[actor]` block of the same actor).
/// - `vis = pub` (or any visibility, such as `pub(crate)`): the visibility
///   of the client trait and of every message struct and its fields,
///   whatever the methods' own. An actor in a library whose message
///   methods are private needs it, so that other crates can use its client.
///
/// # Visibility
///
/// Without `vis`, each message struct has its method's visibility and the
/// client trait the widest of them. The client must be usable wherever the
/// actor type is, so an actor type more visible than its client is a
/// compile error at the impl block ("private trait `MyActorClient` in
/// public interface", pointing at the method that set the visibility):
/// make the methods `pub`, or write `#[actor(vis = pub)]`. With `vis`, a
/// message is as visible as it says, so its reply type must be at least as
/// visible ("private type in public interface" at the return type
/// otherwise).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// #[derive(Debug, PartialEq)]
/// struct Overflow;
///
/// #[actor]
/// impl Counter {
///     /// Adds `by` and returns the new count.
///     #[message]
///     fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
///
///     /// The current count.
///     #[message]
///     async fn get(&self) -> u64 {
///         self.count
///     }
///
///     /// Adds `by`, or fails without changing the count.
///     #[message(name = "CheckedAddition")]
///     fn checked_add(&mut self, by: u64) -> Result<u64, Overflow> {
///         self.count = self.count.checked_add(by).ok_or(Overflow)?;
///         Ok(self.count)
///     }
///
///     /// Stops the actor once the count reaches `limit`.
///     #[message]
///     fn stop_at(&mut self, limit: u64, ctx: &mut Context<Self>) {
///         if self.count >= limit {
///             ctx.stop();
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter::default());
///
/// // The typed client: an ask, then a tell.
/// assert_eq!(counter.add(2).await.unwrap(), 2);
/// counter.tell_add(3).await.unwrap();
/// assert_eq!(counter.get().await.unwrap(), 5);
///
/// // The handler's own error reaches the asker typed.
/// assert_eq!(counter.checked_add(u64::MAX).await.unwrap(), Err(Overflow));
///
/// // The generated messages work with the plain API too.
/// assert_eq!(counter.ask(Add { by: 1 }).await.unwrap(), 6);
/// assert_eq!(counter.ask(CheckedAddition { by: 1 }).await.unwrap(), Ok(7));
///
/// counter.tell(StopAt { limit: 7 }).await.unwrap();
/// assert!(counter.wait_for_stop().await.is_normal());
///
/// // And the methods are still plain methods.
/// assert_eq!(Counter::default().add(4), 4);
/// # }
/// ```
///
/// A message argument is moved to the actor's task, so it cannot borrow:
///
/// ```compile_fail
/// use actor_core::prelude::*;
///
/// struct Logger;
///
/// #[actor]
/// impl Logger {
///     #[message]
///     fn log(&mut self, line: &str) {} // error: take an owned `String`
/// }
/// ```
#[cfg(feature = "macros")]
pub use actor_macros::actor;

/// Marks a method of an [`#[actor]`](macro@actor) impl block as a message
/// handler.
///
/// `#[actor]` consumes the marker; anywhere else it is an error. See
/// [`#[actor]`](macro@actor) for what a message method may look like and what
/// is generated for it.
///
/// # Options
///
/// Comma-separated, all optional:
///
/// - `name = "Name"`: the message struct's name instead of the method name
///   in UpperCamelCase.
/// - `derive(Trait, ..)`: derives for the message struct, such as
///   `derive(Debug, Clone)`.
/// - `remote`: the message struct derives serde's `Serialize` and
///   `Deserialize` (no direct serde dependency needed) and implements
///   `RemoteMessage` with the wire name `"{Actor}::{Message}"`, such as
///   `"Counter::Add"`. Needs the `serde` feature. Every argument must be
///   serializable: derive serde's traits on your own types through
///   `actor_core::serde` (feature `serde`; one error names an argument that
///   is not).
/// - `vis = pub` (or any visibility): the message struct's visibility
///   instead of the method's (or the block's `vis`).
/// - `wire_name = "..."`: with `remote`, the wire name to use instead; keep it
///   stable once peers depend on it.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Inbox {
///     mail: Vec<String>,
/// }
///
/// #[actor]
/// impl Inbox {
///     /// Files a letter.
///     #[message(name = "Letter", derive(Debug, Clone))]
///     fn receive(&mut self, from: String, body: String) {
///         self.mail.push(format!("{from}: {body}"));
///     }
///
///     #[message]
///     fn count(&self) -> usize {
///         self.mail.len()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let inbox = ActorSystem::new().spawn(Inbox { mail: Vec::new() });
/// let letter = Letter { from: "ann".into(), body: "hi".into() };
/// inbox.tell(letter.clone()).await.unwrap();
/// inbox.tell_receive("bob".into(), "yo".into()).await.unwrap();
/// assert_eq!(inbox.count().await.unwrap(), 2);
/// # }
/// ```
///
/// Outside an `#[actor]` block the marker is an error:
///
/// ```compile_fail
/// use actor_core::prelude::*;
///
/// struct Inbox;
///
/// impl Inbox {
///     #[message] // error: add `#[actor]` to the impl block
///     fn count(&self) -> usize {
///         0
///     }
/// }
/// ```
#[cfg(feature = "macros")]
pub use actor_macros::message;

/// Implements [`Actor`](trait@Actor) with the default lifecycle hooks.
///
/// The generated impl has `type Error = Infallible`; set another with
/// `#[actor(error = MyError)]`. Type parameters get a `Send + 'static`
/// bound. Pair it with [`#[actor(no_actor_impl)]`](macro@actor) on the
/// message block, which otherwise emits an `impl Actor` of its own. (A
/// mailbox size option is not offered: the mailbox is chosen at spawn, with
/// [`SpawnOptions::mailbox`].)
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// #[derive(Debug)]
/// struct Jammed;
///
/// impl std::fmt::Display for Jammed {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("printer jammed")
///     }
/// }
///
/// impl std::error::Error for Jammed {}
///
/// #[derive(Actor)]
/// #[actor(error = Jammed)]
/// struct Printer {
///     pages: u32,
/// }
///
/// #[actor(no_actor_impl)]
/// impl Printer {
///     #[message]
///     fn print(&mut self, ctx: &mut Context<Self>) -> u32 {
///         self.pages += 1;
///         if self.pages == 2 {
///             ctx.fail(Jammed);
///         }
///         self.pages
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let printer = ActorSystem::new().spawn(Printer { pages: 0 });
/// assert_eq!(printer.print().await.unwrap(), 1);
/// assert_eq!(printer.print().await.unwrap(), 2);
/// assert!(printer.wait_for_stop().await.is_abnormal());
/// # }
/// ```
///
/// The only option is `error`:
///
/// ```compile_fail
/// use actor_core::prelude::*;
///
/// #[derive(Actor)]
/// #[actor(mailbox = 16)] // error: unknown `#[actor]` option `mailbox`
/// struct Worker;
/// ```
#[cfg(feature = "macros")]
pub use actor_macros::Actor;

/// Paths the macros' expansions use; not a public interface.
#[doc(hidden)]
pub mod __private {
    pub use crate::__remote_actor as remote_actor;
    pub use crate::__remote_message as remote_message;
    #[cfg(feature = "serde")]
    pub use crate::remote_message::wire;
    #[cfg(feature = "serde")]
    pub use serde;

    /// Implemented by `#[actor]` for the actor type, with its client trait
    /// as `Client` (unless `vis = ..` was given): an actor type more visible
    /// than its client is then an error at the impl block ("private trait in
    /// public interface"), so the client is usable wherever the actor is.
    /// `KEY` tells apart the clients of two `#[actor]` blocks of one actor.
    pub trait ClientVisibility<const KEY: u64> {
        /// `dyn` the client trait.
        type Client: ?Sized;
    }

    /// A message no actor ever receives (it cannot be built). `#[actor]`
    /// implements `Handler` for it, so that an actor always has at least
    /// two handlers: with a single one, rustc takes the message type of
    /// `ask`/`tell` from that impl before it looks at the argument, and
    /// says "expected `Inc`, found `Greet`" instead of "`Counter` does not
    /// handle `Greet`". `KEY` is the client's, as in [`ClientVisibility`].
    #[derive(Debug)]
    pub struct Unhandled<A, const KEY: u64> {
        never: std::convert::Infallible,
        actor: std::marker::PhantomData<fn() -> A>,
    }

    impl<A, const KEY: u64> Unhandled<A, KEY> {
        /// A value that cannot exist, for the handler's body.
        pub fn never(&self) -> std::convert::Infallible {
            let _ = &self.actor;
            self.never
        }
    }

    impl<A: 'static, const KEY: u64> crate::actor::message::Message for Unhandled<A, KEY> {
        type Reply = ();
    }
}

/// The names of the first hour: `use actor_core::prelude::*;`.
///
/// [`Strategy`](crate::supervision::Strategy) is not here, although the
/// rest of a supervisor's vocabulary is: proptest's prelude, which tests
/// often glob-import beside this one, has a `Strategy` too, and the two
/// would clash. Import it from [`supervision`](crate::supervision::Strategy).
pub mod prelude {
    pub use crate::error::{AskError, SendError};
    pub use crate::mailbox::Mailbox;
    pub use crate::supervision::{ChildSpec, Restart, Supervisor};
    pub use crate::{
        Actor, ActorId, ActorRef, ActorSystem, Context, Handler, Message, PanicAction, Recipient, ReplyTo,
        SpawnOptions, StopReason, Terminated, WeakActorRef,
    };
    #[cfg(feature = "macros")]
    pub use crate::{actor, message};
}

// The README's Rust blocks, compiled and run as doctests (only then: the
// README is outside the crate, so a packaged crate does not have it).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
