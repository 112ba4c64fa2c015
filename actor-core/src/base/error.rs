//! Every public error type of the crate.
//!
//! Errors that concern one message hand that message back (`into_inner`), so
//! nothing a caller sends is lost by an error. For `?` into one type, every
//! error converts into the opaque [`Error`], which keeps only the [`ErrorKind`].

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::base::flight::FlightRecord;
use crate::base::id::ActorId;

/// Why a message could not be queued in an actor's mailbox.
///
/// The message is handed back in every case.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[message]
///     fn ping(&mut self, n: u32) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let echo = system.spawn_with(Echo, SpawnOptions::new().mailbox(Mailbox::bounded(1)));
/// echo.try_tell(Ping { n: 1 }).unwrap(); // the actor has not run yet (one thread)
/// assert!(matches!(echo.try_tell(Ping { n: 2 }), Err(SendError::Full(Ping { n: 2 }))));
///
/// echo.stop();
/// tokio::time::timeout(Duration::from_secs(10), echo.wait_for_stop()).await.unwrap();
/// match echo.tell(Ping { n: 3 }).await {
///     Err(SendError::Closed(msg)) => assert_eq!(msg.n, 3), // handed back
///     _ => panic!("the actor has stopped"),
/// }
/// # }
/// ```
#[non_exhaustive]
pub enum SendError<M> {
    /// The actor has stopped (or is stopping and no longer accepts messages).
    Closed(M),
    /// The bounded mailbox is full; only `try_*` methods return this.
    Full(M),
    /// A `blocking_*` method was called from inside an async runtime, where
    /// blocking the thread could deadlock it.
    BlockingInRuntime(M),
    /// The message was sent to a name that no actor holds
    /// ([`ActorSystem::tell_named`](crate::ActorSystem::tell_named)).
    UnknownName(M),
    /// The actor is on another node and this message type is not registered
    /// for remote use there (see `RemoteActor`, feature `serde`),
    /// or it failed to serialize. Nothing was sent.
    NotRemote(M),
    /// The actor is on another node that cannot be reached, and the bounded
    /// outbox for it is full. The message is also reported as a dead letter.
    NodeDown(M),
    /// The mailbox is full, and waiting for room would never end: the
    /// sender is the actor's own handler (or a task it awaits, started with
    /// [`Context::spawn_task`](crate::Context::spawn_task)), or a handler
    /// the actor is waiting on through asks. Only the actor makes room, by
    /// handling a message, and it cannot while its sender waits. Returned
    /// at once, with the message and the cycle of waits (the sender first
    /// and last); nothing was sent.
    ///
    /// What a handler can do with it: handle the work inline, keep it in
    /// its state for later, hand it to a plain task that waits for room
    /// (`tokio::spawn(async move { me.tell(msg).await })`, while the actor
    /// goes on), or give the actor a larger or unbounded
    /// [`Mailbox`](crate::mailbox::Mailbox).
    Deadlock(M, Cycle),
}

impl<M> SendError<M> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err = counter.tell(Add { n: 7 }).await.unwrap_err();
    /// let Add { n } = err.into_inner(); // the message comes back
    /// assert_eq!(n, 7);
    /// # }
    /// ```
    pub fn into_inner(self) -> M {
        match self {
            SendError::Closed(m)
            | SendError::Full(m)
            | SendError::BlockingInRuntime(m)
            | SendError::UnknownName(m)
            | SendError::NotRemote(m)
            | SendError::NodeDown(m)
            | SendError::Deadlock(m, _) => m,
        }
    }

    /// Whether the actor has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// assert_eq!(counter.add(1).await.unwrap(), 1);
    /// counter.stop();
    /// assert!(counter.tell(Add { n: 1 }).await.unwrap_err().is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendError::Closed(_))
    }

    /// The same error, with the message mapped by `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err = counter.tell(Add { n: 7 }).await.unwrap_err();
    /// // Same variant, another message: here only the number.
    /// let err: SendError<u64> = err.map(|add| add.n);
    /// assert!(matches!(err, SendError::Closed(7)));
    /// # }
    /// ```
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> SendError<N> {
        match self {
            SendError::Closed(m) => SendError::Closed(f(m)),
            SendError::Full(m) => SendError::Full(f(m)),
            SendError::BlockingInRuntime(m) => SendError::BlockingInRuntime(f(m)),
            SendError::UnknownName(m) => SendError::UnknownName(f(m)),
            SendError::NotRemote(m) => SendError::NotRemote(f(m)),
            SendError::NodeDown(m) => SendError::NodeDown(f(m)),
            SendError::Deadlock(m, cycle) => SendError::Deadlock(f(m), cycle),
        }
    }

    /// Whether the mailbox was full.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let counter = system.spawn_with(Counter(0), SpawnOptions::new().mailbox(Mailbox::bounded(1)));
    /// counter.try_tell(Add { n: 1 }).unwrap();
    /// // The actor has not run yet (one thread), so its one slot is taken.
    /// let err = counter.try_tell(Add { n: 2 }).unwrap_err();
    /// assert!(err.is_full());
    /// assert!(!err.is_closed());
    /// # }
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }

    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            SendError::Closed(_) => ErrorKind::Closed,
            SendError::Full(_) => ErrorKind::Full,
            SendError::BlockingInRuntime(_) => ErrorKind::BlockingInRuntime,
            SendError::UnknownName(_) => ErrorKind::UnknownName,
            SendError::NotRemote(_) => ErrorKind::NotRemote,
            SendError::NodeDown(_) => ErrorKind::NodeDown,
            SendError::Deadlock(..) => ErrorKind::Deadlock,
        }
    }

    /// Turns a send error into the matching ask error.
    pub(crate) fn into_ask(self) -> AskError<M> {
        match self {
            SendError::Closed(m) => AskError::Closed(m),
            SendError::Full(m) => AskError::Full(m),
            SendError::BlockingInRuntime(m) => AskError::BlockingInRuntime(m),
            SendError::UnknownName(m) => AskError::Closed(m),
            SendError::NotRemote(m) => AskError::NotRemote(m),
            SendError::NodeDown(m) => AskError::NodeDown(Some(m)),
            SendError::Deadlock(m, cycle) => AskError::Deadlock(m, cycle),
        }
    }
}

// Hand-written so that `SendError<M>: Debug + Error` without `M: Debug`.
impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed(_) => "Closed(..)",
            SendError::Full(_) => "Full(..)",
            SendError::BlockingInRuntime(_) => "BlockingInRuntime(..)",
            SendError::UnknownName(_) => "UnknownName(..)",
            SendError::NotRemote(_) => "NotRemote(..)",
            SendError::NodeDown(_) => "NodeDown(..)",
            SendError::Deadlock(_, cycle) => return write!(f, "Deadlock(.., {cycle})"),
        })
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Deadlock(_, cycle) => {
                write!(f, "mailbox is full and the sender is what it waits on, would never get room: {cycle}")
            }
            other => fmt::Display::fmt(&other.kind(), f),
        }
    }
}

impl<M> StdError for SendError<M> {}

/// Why an `ask` produced no reply.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     async fn stall(&mut self) {
///         std::future::pending::<()>().await
///     }
///     #[message]
///     fn crash(&mut self) {
///         panic!("crashed");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let stalled = system.spawn(Worker);
/// let err = stalled.stall().timeout(Duration::from_millis(50)).await.unwrap_err();
/// assert!(matches!(err, AskError::Timeout));
///
/// let crashing = system.spawn(Worker);
/// match crashing.crash().timeout(Duration::from_secs(5)).await {
///     Err(AskError::Panicked(panic)) => assert_eq!(panic.message(), "crashed"),
///     _ => panic!("the handler panicked"),
/// }
/// // The panic stopped it (the default `on_panic`): the next ask is refused.
/// tokio::time::timeout(Duration::from_secs(10), crashing.wait_for_stop()).await.unwrap();
/// assert!(matches!(crashing.crash().await, Err(AskError::Closed(Crash))));
/// # }
/// ```
#[non_exhaustive]
pub enum AskError<M> {
    /// The actor had stopped; the message was never queued.
    Closed(M),
    /// The bounded mailbox is full; only `try_*` methods return this.
    Full(M),
    /// No reply came within the ask's timeout. The message may or may not
    /// have been handled.
    Timeout,
    /// The actor accepted the message but stopped before replying, or the
    /// holder of a [`ReplyTo`](crate::ReplyTo) dropped it unanswered.
    NoReply,
    /// The handler panicked while handling the message.
    Panicked(PanicError),
    /// A `blocking_*` method was called from inside an async runtime.
    BlockingInRuntime(M),
    /// The actor is on another node and this message type cannot be sent
    /// there (see [`SendError::NotRemote`]). Nothing was sent.
    NotRemote(M),
    /// The actor's node cannot be reached, or its connection dropped while
    /// the ask waited for the reply. Carries the message if it was never
    /// sent. Fails at once: an ask never waits for a dead node's timeout.
    NodeDown(Option<M>),
    /// The far node received the ask but could not deliver it: see
    /// [`RemoteError`].
    Remote(RemoteError),
    /// The ask would never be answered: the target waits (directly or
    /// through other actors' asks, and tasks started with
    /// [`Context::spawn_task`](crate::Context::spawn_task) that handlers
    /// await) on the asking actor or task, which would be waiting on it. Nothing was sent; the message is handed back with the
    /// cycle.
    Deadlock(M, Cycle),
}

impl<M> AskError<M> {
    /// The message, if it was never queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err = counter.ask(Add { n: 7 }).await.unwrap_err();
    /// assert!(matches!(err, AskError::Closed(_)));
    /// assert_eq!(err.into_inner().map(|add| add.n), Some(7)); // never queued: handed back
    /// assert!(AskError::<Add>::Timeout.into_inner().is_none()); // queued, so not handed back
    /// # }
    /// ```
    pub fn into_inner(self) -> Option<M> {
        match self {
            AskError::Closed(m)
            | AskError::Full(m)
            | AskError::BlockingInRuntime(m)
            | AskError::NotRemote(m)
            | AskError::Deadlock(m, _) => Some(m),
            AskError::NodeDown(m) => m,
            AskError::Timeout | AskError::NoReply | AskError::Panicked(_) | AskError::Remote(_) => None,
        }
    }

    /// The kind of failure, without the message.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::ErrorKind;
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err = counter.ask(Add { n: 7 }).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Closed);
    /// assert_eq!(err.kind().to_string(), "actor has stopped");
    /// # }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            AskError::Closed(_) => ErrorKind::Closed,
            AskError::Full(_) => ErrorKind::Full,
            AskError::Timeout => ErrorKind::Timeout,
            AskError::NoReply => ErrorKind::NoReply,
            AskError::Panicked(_) => ErrorKind::Panicked,
            AskError::BlockingInRuntime(_) => ErrorKind::BlockingInRuntime,
            AskError::NotRemote(_) => ErrorKind::NotRemote,
            AskError::NodeDown(_) => ErrorKind::NodeDown,
            AskError::Remote(_) => ErrorKind::Remote,
            AskError::Deadlock(..) => ErrorKind::Deadlock,
        }
    }

    /// The same error, with the message (where it has one) mapped by `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err = counter.ask(Add { n: 7 }).await.unwrap_err();
    /// // Same variant, another message: here only the number.
    /// let err: AskError<u64> = err.map(|add| add.n);
    /// assert!(matches!(err, AskError::Closed(7)));
    /// # }
    /// ```
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> AskError<N> {
        match self {
            AskError::Closed(m) => AskError::Closed(f(m)),
            AskError::Full(m) => AskError::Full(f(m)),
            AskError::BlockingInRuntime(m) => AskError::BlockingInRuntime(f(m)),
            AskError::NotRemote(m) => AskError::NotRemote(f(m)),
            AskError::NodeDown(m) => AskError::NodeDown(m.map(f)),
            AskError::Timeout => AskError::Timeout,
            AskError::NoReply => AskError::NoReply,
            AskError::Panicked(p) => AskError::Panicked(p),
            AskError::Remote(e) => AskError::Remote(e),
            AskError::Deadlock(m, cycle) => AskError::Deadlock(f(m), cycle),
        }
    }

    /// Whether the actor's node could not be reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// // A local actor that stopped is closed, not down.
    /// assert!(!counter.ask(Add { n: 1 }).await.unwrap_err().is_node_down());
    /// // What an ask gives when the actor's node cannot be reached (with a transport).
    /// assert!(AskError::NodeDown(Some(Add { n: 1 })).is_node_down());
    /// # }
    /// ```
    pub fn is_node_down(&self) -> bool {
        matches!(self, AskError::NodeDown(_))
    }

    /// Whether the ask timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Slow;
    ///
    /// #[actor]
    /// impl Slow {
    ///     #[message]
    ///     async fn think(&mut self) -> u32 {
    ///         tokio::time::sleep(Duration::from_secs(60)).await;
    ///         42
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let slow = ActorSystem::new().spawn(Slow);
    /// let err = slow.think().timeout(Duration::from_secs(1)).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, AskError::Timeout)
    }

    /// Whether the handler panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile;
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         panic!("poked too hard");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn(Fragile);
    /// let err = fragile.poke().timeout(Duration::from_secs(5)).await.unwrap_err();
    /// assert!(err.is_panic());
    /// assert!(!err.is_timeout());
    /// # }
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, AskError::Panicked(_))
    }
}

impl<M> fmt::Debug for AskError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Closed(_) => f.write_str("Closed(..)"),
            AskError::Full(_) => f.write_str("Full(..)"),
            AskError::Timeout => f.write_str("Timeout"),
            AskError::NoReply => f.write_str("NoReply"),
            AskError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            AskError::BlockingInRuntime(_) => f.write_str("BlockingInRuntime(..)"),
            AskError::NotRemote(_) => f.write_str("NotRemote(..)"),
            AskError::NodeDown(_) => f.write_str("NodeDown(..)"),
            AskError::Remote(e) => f.debug_tuple("Remote").field(e).finish(),
            AskError::Deadlock(_, cycle) => write!(f, "Deadlock(.., {cycle})"),
        }
    }
}

impl<M> fmt::Display for AskError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Panicked(p) => write!(f, "handler panicked: {p}"),
            AskError::Remote(e) => write!(f, "remote node refused the message: {e}"),
            AskError::Deadlock(_, cycle) => write!(f, "ask cycle, would never be answered: {cycle}"),
            other => fmt::Display::fmt(&other.kind(), f),
        }
    }
}

impl<M> StdError for AskError<M> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            AskError::Panicked(p) => Some(p),
            AskError::Remote(e) => Some(e),
            _ => None,
        }
    }
}

/// What went wrong, without the message; see [`Error::kind`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::error::ErrorKind;
/// use actor_core::prelude::*;
///
/// struct Counter(u64);
///
/// #[actor]
/// impl Counter {
///     #[message]
///     fn get(&mut self) -> u64 {
///         self.0
///     }
/// }
///
/// /// Any send or ask error converts into the crate's `Error`, for `?`.
/// async fn read(counter: &ActorRef<Counter>) -> Result<u64, actor_core::Error> {
///     Ok(counter.get().await?)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let counter = ActorSystem::new().spawn(Counter(7));
/// assert_eq!(read(&counter).await.unwrap(), 7);
/// counter.stop();
/// tokio::time::timeout(Duration::from_secs(10), counter.wait_for_stop()).await.unwrap();
/// assert_eq!(read(&counter).await.unwrap_err().kind(), ErrorKind::Closed);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The actor has stopped.
    Closed,
    /// The mailbox was full.
    Full,
    /// The ask timed out.
    Timeout,
    /// The actor stopped before replying.
    NoReply,
    /// The handler panicked.
    Panicked,
    /// A blocking call was made from inside an async runtime.
    BlockingInRuntime,
    /// No actor holds the name a message was sent to.
    UnknownName,
    /// The message type cannot be sent to a remote actor.
    NotRemote,
    /// The actor's node cannot be reached.
    NodeDown,
    /// The far node could not deliver the message.
    Remote,
    /// The ask, or a tell waiting for room, would wait in a cycle of waits.
    Deadlock,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Closed => "actor has stopped",
            ErrorKind::Full => "mailbox is full",
            ErrorKind::Timeout => "ask timed out",
            ErrorKind::NoReply => "actor stopped before replying",
            ErrorKind::Panicked => "handler panicked",
            ErrorKind::BlockingInRuntime => "blocking call from inside an async runtime (use the async method)",
            ErrorKind::UnknownName => "no actor holds that name",
            ErrorKind::NotRemote => "message type is not registered for remote use",
            ErrorKind::NodeDown => "the actor's node is down",
            ErrorKind::Remote => "the remote node could not deliver the message",
            ErrorKind::Deadlock => "cycle of waits: the target waits on the sender",
        })
    }
}

/// The crate's catch-all error, for `?` in functions that talk to many actors.
///
/// It keeps what went wrong ([`Error::kind`]) and drops the message.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// # struct Echo;
/// # impl Actor for Echo { type Error = std::convert::Infallible; }
/// # struct Ping;
/// # impl Message for Ping { type Reply = (); }
/// # impl Handler<Ping> for Echo { async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {} }
///
/// async fn ping(echo: &ActorRef<Echo>) -> Result<(), actor_core::Error> {
///     echo.tell(Ping).await?;
///     echo.ask(Ping).await?;
///     Ok(())
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let echo = ActorSystem::new().spawn(Echo);
/// # ping(&echo).await.unwrap();
/// # echo.stop(); echo.wait_for_stop().await;
/// # assert_eq!(ping(&echo).await.unwrap_err().kind(), actor_core::error::ErrorKind::Closed);
/// # }
/// ```
pub struct Error {
    kind: ErrorKind,
    panic: Option<PanicError>,
}

impl Error {
    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::ErrorKind;
    /// use actor_core::prelude::*;
    ///
    /// struct Counter(u64);
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[message]
    ///     fn add(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = ActorSystem::new().spawn(Counter(0));
    /// counter.stop();
    /// let err: actor_core::Error = counter.tell(Add { n: 1 }).await.unwrap_err().into();
    /// assert_eq!(err.kind(), ErrorKind::Closed);
    /// # }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error").field("kind", &self.kind).field("panic", &self.panic).finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.panic {
            Some(p) => write!(f, "handler panicked: {p}"),
            None => fmt::Display::fmt(&self.kind, f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.panic.as_ref().map(|p| p as &(dyn StdError + 'static))
    }
}

impl<M> From<SendError<M>> for Error {
    fn from(e: SendError<M>) -> Self {
        Error { kind: e.kind(), panic: None }
    }
}

impl<M> From<AskError<M>> for Error {
    fn from(e: AskError<M>) -> Self {
        let kind = e.kind();
        let panic = match e {
            AskError::Panicked(p) => Some(p),
            _ => None,
        };
        Error { kind, panic }
    }
}

/// Why a task started with [`Context::spawn_task`](crate::Context::spawn_task)
/// gave no output to the one awaiting its [`TaskHandle`](crate::TaskHandle).
///
/// # Examples
///
/// ```
/// use actor_core::error::TaskError;
/// use actor_core::prelude::*;
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     async fn run(&mut self, fail: bool, ctx: &mut Context<Self>) -> Result<u32, TaskError> {
///         ctx.spawn_task(async move {
///             assert!(!fail, "out of paper");
///             42
///         })
///         .await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let worker = ActorSystem::new().spawn(Worker);
/// assert_eq!(worker.run(false).await.unwrap(), Ok(42));
/// assert_eq!(worker.run(true).await.unwrap(), Err(TaskError::Panicked("out of paper".into())));
/// assert_eq!(worker.run(false).await.unwrap(), Ok(42)); // the actor went on
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked, saying this. The panic went no further: the
    /// actor that awaited the task goes on.
    Panicked(String),
    /// The task was aborted: the actor that started it stopped or
    /// restarted, or [`TaskHandle::abort`](crate::TaskHandle::abort) was
    /// called.
    Aborted,
    /// Awaiting the task would never end: the task already waits (through
    /// asks, or for room in a full mailbox) on the one that awaits it. The
    /// task runs on; the handle gives this at once instead of hanging.
    Deadlock(Cycle),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
            TaskError::Aborted => f.write_str("task was aborted"),
            TaskError::Deadlock(cycle) => {
                write!(f, "awaiting the task would never end, it waits on its awaiter: {cycle}")
            }
        }
    }
}

impl StdError for TaskError {}

/// A panic caught in an actor: which actor, which message, and what it said.
///
/// Cheap to clone, so that one panic can be reported to the asker, the
/// supervisor and every monitor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Fragile;
///
/// #[actor]
/// impl Fragile {
///     #[message]
///     fn poke(&mut self) {
///         panic!("poked too hard");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fragile = ActorSystem::new().spawn(Fragile);
/// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else {
///     panic!("the handler panicked");
/// };
/// assert_eq!(err.message(), "poked too hard");
/// assert_eq!(err.actor_id(), fragile.id());
/// assert!(err.message_type().unwrap().ends_with("Poke"));
/// // The actor stopped with the same panic.
/// let reason = tokio::time::timeout(Duration::from_secs(10), fragile.wait_for_stop()).await.unwrap();
/// assert!(matches!(reason, StopReason::Panicked(p) if p.message() == "poked too hard"));
/// # }
/// ```
#[derive(Clone)]
pub struct PanicError(Arc<PanicRepr>);

struct PanicRepr {
    message: String,
    actor_id: ActorId,
    actor_type: &'static str,
    message_type: Option<&'static str>,
    record: Option<FlightRecord>,
}

impl PanicError {
    pub(crate) fn new(
        payload: &(dyn Any + Send),
        actor_id: ActorId,
        actor_type: &'static str,
        message_type: Option<&'static str>,
    ) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_owned()
        };
        PanicError(Arc::new(PanicRepr { message, actor_id, actor_type, message_type, record: None }))
    }

    /// The same panic, with the actor's flight record attached.
    pub(crate) fn with_record(self, record: FlightRecord) -> Self {
        let repr = &*self.0;
        PanicError(Arc::new(PanicRepr {
            message: repr.message.clone(),
            actor_id: repr.actor_id,
            actor_type: repr.actor_type,
            message_type: repr.message_type,
            record: Some(record),
        }))
    }

    /// The last messages the actor handled before the panic, if it was
    /// spawned with a [flight recorder](crate::SpawnOptions::flight_recorder).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile(u32);
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         self.0 += 1;
    ///         assert!(self.0 < 2, "poked twice");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn_with(Fragile(0), SpawnOptions::new().flight_recorder(8));
    /// fragile.poke().await.unwrap();
    /// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// assert_eq!(err.flight_record().unwrap().entries().len(), 2); // both pokes
    /// let plain = ActorSystem::new().spawn(Fragile(1)); // no flight recorder
    /// let Err(AskError::Panicked(err)) = plain.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// assert!(err.flight_record().is_none());
    /// # }
    /// ```
    pub fn flight_record(&self) -> Option<&FlightRecord> {
        self.0.record.as_ref()
    }

    /// A panic reported by another node: the text it said, and the types as
    /// this node knows them.
    #[cfg(feature = "serde")]
    pub(crate) fn remote(
        message: String,
        actor_id: ActorId,
        actor_type: &'static str,
        message_type: Option<&'static str>,
    ) -> Self {
        PanicError(Arc::new(PanicRepr { message, actor_id, actor_type, message_type, record: None }))
    }

    /// What the panic said (its `&str` or `String` payload).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile;
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         panic!("poked too hard");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn(Fragile);
    /// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// assert_eq!(err.message(), "poked too hard");
    /// # }
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The actor that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile;
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         panic!("poked too hard");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn(Fragile);
    /// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// assert_eq!(err.actor_id(), fragile.id());
    /// # }
    /// ```
    pub fn actor_id(&self) -> ActorId {
        self.0.actor_id
    }

    /// The type name of the actor that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile;
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         panic!("poked too hard");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn(Fragile);
    /// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// assert_eq!(err.actor_type(), std::any::type_name::<Fragile>());
    /// # }
    /// ```
    pub fn actor_type(&self) -> &'static str {
        self.0.actor_type
    }

    /// The type name of the message being handled, or `None` for a panic in a
    /// lifecycle hook.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Fragile;
    ///
    /// #[actor]
    /// impl Fragile {
    ///     #[message]
    ///     fn poke(&mut self) {
    ///         panic!("poked too hard");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fragile = ActorSystem::new().spawn(Fragile);
    /// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// // `Poke` is the message struct `#[actor]` made from `fn poke`.
    /// assert_eq!(err.message_type(), Some(std::any::type_name::<Poke>()));
    /// # }
    /// ```
    pub fn message_type(&self) -> Option<&'static str> {
        self.0.message_type
    }
}

impl fmt::Debug for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicError")
            .field("message", &self.0.message)
            .field("actor_id", &self.0.actor_id)
            .field("actor_type", &self.0.actor_type)
            .field("message_type", &self.0.message_type)
            .finish()
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.message_type {
            Some(m) => write!(f, "{} {} panicked handling {m}: {}", self.0.actor_type, self.0.actor_id, self.0.message),
            None => write!(f, "{} {} panicked: {}", self.0.actor_type, self.0.actor_id, self.0.message),
        }
    }
}

impl StdError for PanicError {}

/// An error an actor failed with: returned from [`Actor::on_start`] or passed
/// to [`Context::fail`](crate::Context::fail).
///
/// [`Actor::on_start`]: crate::Actor::on_start
///
/// One word (an `Arc` of a box, two allocations when an actor fails), so
/// that a [`StopReason`](crate::StopReason) is two words: every actor's
/// context holds one, inside the actor's task.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Loader;
///
/// impl Actor for Loader {
///     type Error = std::io::Error;
///     async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), std::io::Error> {
///         Err(std::io::Error::other("no configuration"))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let loader = ActorSystem::new().spawn(Loader);
/// let reason = tokio::time::timeout(Duration::from_secs(10), loader.wait_for_stop()).await.unwrap();
/// let StopReason::Failed(error) = reason else { panic!("on_start failed") };
/// assert_eq!(error.get().to_string(), "no configuration");
/// assert!(error.get().downcast_ref::<std::io::Error>().is_some());
/// # }
/// ```
#[derive(Clone)]
pub struct ActorError(Arc<Box<dyn StdError + Send + Sync>>);

impl ActorError {
    /// Wraps an error (a transport uses it to rebuild a remote actor's
    /// failure).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::ActorError;
    ///
    /// let err = ActorError::new(std::io::Error::other("disk full"));
    /// assert_eq!(err.to_string(), "disk full");
    /// assert!(err.get().is::<std::io::Error>());
    /// ```
    pub fn new<E: StdError + Send + Sync + 'static>(err: E) -> Self {
        ActorError(Arc::new(Box::new(err)))
    }

    /// The error, to inspect or downcast.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{io, time::Duration};
    /// use actor_core::prelude::*;
    ///
    /// struct Loader;
    ///
    /// impl Actor for Loader {
    ///     type Error = io::Error;
    ///
    ///     async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         Err(io::Error::new(io::ErrorKind::NotFound, "no stock file"))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let loader = ActorSystem::new().spawn(Loader);
    /// let reason = tokio::time::timeout(Duration::from_secs(5), loader.wait_for_stop()).await.unwrap();
    /// let StopReason::Failed(err) = reason else { unreachable!() };
    /// let io_err = err.get().downcast_ref::<io::Error>().unwrap();
    /// assert_eq!(io_err.kind(), io::ErrorKind::NotFound);
    /// # }
    /// ```
    pub fn get(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &**self.0
    }
}

impl fmt::Debug for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self.0, f)
    }
}

impl StdError for ActorError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&**self.0)
    }
}

/// Why another node could not deliver a message: it arrived, but the target
/// actor is unknown there, the message type is not registered there, or its
/// bytes did not decode. Carried by [`AskError::Remote`].
///
/// # Examples
///
/// A transport builds it from what the far node said, and the asker gets
/// it in [`AskError::Remote`]:
///
/// ```
/// use actor_core::error::{AskError, RemoteError, RemoteErrorKind};
///
/// // The far node did not know the actor the ask was for.
/// let error = RemoteError::new(RemoteErrorKind::UnknownActor, "no actor with that id");
/// let failed: AskError<()> = AskError::Remote(error);
/// let AskError::Remote(error) = failed else { unreachable!() };
/// assert_eq!(error.kind(), RemoteErrorKind::UnknownActor);
/// assert_eq!(error.detail(), "no actor with that id");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    kind: RemoteErrorKind,
    detail: String,
}

/// What kind of [`RemoteError`] happened.
///
/// # Examples
///
/// ```
/// use actor_core::error::{RemoteError, RemoteErrorKind};
///
/// // What a transport reports when the far node does not know the message.
/// let error = RemoteError::new(RemoteErrorKind::UnknownMessage, "counter.reset");
/// let retry = match error.kind() {
///     RemoteErrorKind::Undecodable | RemoteErrorKind::UnknownMessage => false, // a version mismatch
///     _ => true,
/// };
/// assert!(!retry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// No actor with the target id (or name) lives on the far node.
    UnknownActor,
    /// The far node does not know the message's wire name for that actor.
    UnknownMessage,
    /// The message (or the reply) did not decode.
    Undecodable,
    /// The far node refused the frame for another reason (a limit, a
    /// protocol violation).
    Refused,
}

impl RemoteError {
    /// A remote error of `kind`, with a human-readable `detail`.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::{RemoteError, RemoteErrorKind};
    ///
    /// let err = RemoteError::new(RemoteErrorKind::UnknownActor, "no actor is named `cache`");
    /// assert_eq!(err.kind(), RemoteErrorKind::UnknownActor);
    /// assert_eq!(err.to_string(), "unknown actor: no actor is named `cache`");
    /// ```
    pub fn new(kind: RemoteErrorKind, detail: impl Into<String>) -> Self {
        RemoteError { kind, detail: detail.into() }
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::{RemoteError, RemoteErrorKind};
    ///
    /// let undecodable = RemoteError::new(RemoteErrorKind::Undecodable, "unexpected end of input");
    /// let refused = RemoteError::new(RemoteErrorKind::Refused, "frame over the size limit");
    /// assert_eq!(undecodable.kind(), RemoteErrorKind::Undecodable);
    /// assert_eq!(refused.kind(), RemoteErrorKind::Refused);
    /// ```
    pub fn kind(&self) -> RemoteErrorKind {
        self.kind
    }

    /// The far node's explanation.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::{RemoteError, RemoteErrorKind};
    ///
    /// let err = RemoteError::new(RemoteErrorKind::Refused, "frame over the size limit");
    /// assert_eq!(err.detail(), "frame over the size limit");
    /// assert_eq!(err.to_string(), "refused: frame over the size limit"); // the kind, then the detail
    /// ```
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RemoteErrorKind::UnknownActor => "unknown actor",
            RemoteErrorKind::UnknownMessage => "unknown message type",
            RemoteErrorKind::Undecodable => "undecodable message",
            RemoteErrorKind::Refused => "refused",
        };
        write!(f, "{kind}: {}", self.detail)
    }
}

impl StdError for RemoteError {}

/// The actors of an ask cycle, in wait order: the first waits for the
/// second, and so on; the last is the first again. Carried by
/// [`AskError::Deadlock`](crate::error::AskError::Deadlock).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Loner;
///
/// #[actor]
/// impl Loner {
///     /// Asks itself: a wait that could never end.
///     #[message]
///     async fn ponder(&mut self, ctx: &mut Context<Self>) -> usize {
///         match ctx.actor_ref().ask(Ponder).timeout(Duration::from_secs(5)).await {
///             Err(AskError::Deadlock(Ponder, cycle)) => cycle.actors().len(),
///             _ => panic!("a cycle"),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let loner = ActorSystem::new().spawn(Loner);
/// // The asker, then the asker again.
/// assert_eq!(loner.ponder().timeout(Duration::from_secs(5)).await.unwrap(), 2);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(pub(crate) Vec<ActorId>);

impl Cycle {
    /// The actors, the asker first and last.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Loner;
    ///
    /// #[actor]
    /// impl Loner {
    ///     /// Asks itself, which could never be answered.
    ///     #[message]
    ///     async fn ponder(&mut self, ctx: &mut Context<Self>) -> Vec<ActorId> {
    ///         match ctx.actor_ref().ask(Ponder).timeout(Duration::from_secs(5)).await {
    ///             Err(AskError::Deadlock(Ponder, cycle)) => cycle.actors().to_vec(),
    ///             other => panic!("{other:?}"),
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let loner = ActorSystem::new().spawn(Loner);
    /// let cycle = loner.ponder().timeout(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(cycle, [loner.id(), loner.id()]); // the asker first and last
    /// # }
    /// ```
    pub fn actors(&self) -> &[ActorId] {
        &self.0
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

/// Why a name could not be registered or looked up.
///
/// # Examples
///
/// ```
/// use actor_core::error::RegistryError;
/// use actor_core::prelude::*;
/// # struct Cache;
/// # impl Actor for Cache { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let cache = system.spawn(Cache);
/// cache.stop();
/// cache.wait_for_stop().await;
///
/// let err = system.register("cache", &cache).unwrap_err();
/// assert!(matches!(err, RegistryError::ActorStopped { .. }));
/// assert_eq!(err.to_string(), format!("actor {} has stopped and cannot be registered as `cache`", cache.id()));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another actor (or the same one) already holds the name.
    NameTaken {
        /// The name asked for.
        name: Arc<str>,
        /// The actor that holds it.
        holder: ActorId,
    },
    /// The actor has stopped, or is stopping, so it cannot be registered.
    ActorStopped {
        /// The name asked for.
        name: Arc<str>,
        /// The actor.
        id: ActorId,
    },
    /// No live actor is registered under the name.
    NotFound {
        /// The name looked up.
        name: Arc<str>,
    },
    /// The actor registered under the name is of another type than the one
    /// asked for.
    WrongType {
        /// The name looked up.
        name: Arc<str>,
        /// The type asked for.
        expected: &'static str,
        /// The type of the registered actor.
        actual: &'static str,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::NameTaken { name, holder } => {
                write!(f, "name `{name}` is already registered to actor {holder}")
            }
            RegistryError::ActorStopped { name, id } => {
                write!(f, "actor {id} has stopped and cannot be registered as `{name}`")
            }
            RegistryError::NotFound { name } => write!(f, "no actor is registered as `{name}`"),
            RegistryError::WrongType { name, expected, actual } => {
                write!(f, "`{name}` is registered to a {actual}, not a {expected}")
            }
        }
    }
}

impl StdError for RegistryError {}
