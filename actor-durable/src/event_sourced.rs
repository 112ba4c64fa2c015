//! Event-sourced actors: commands produce events, events are journaled, and
//! the state is whatever the journal replays to.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use actor_core::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CommandError, StoreError};
use crate::mailbox::decode;
use crate::store::{Claim, Op, Store};

/// A `snapshot_every` for [`spawn_event_sourced`] that suits most states:
/// recovery replays at most 100 events, and a snapshot costs one extra
/// commit per 100 events.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;

/// State that changes only by applying events.
///
/// [`handle`](EventSourced::handle) decides: it looks at the state and a
/// command and returns the events that the command causes (or refuses it).
/// [`apply`](EventSourced::apply) changes the state by one event, and must
/// be deterministic, since it runs again on every recovery. The state is
/// serialized for snapshots, so recovery starts from the last snapshot and
/// replays only the events after it.
///
/// # Examples
///
/// ```
/// use actor_durable::EventSourced;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Account {
///     balance: u64,
/// }
///
/// enum Command {
///     Deposit(u64),
///     Withdraw(u64),
/// }
///
/// #[derive(Serialize, Deserialize)]
/// enum Event {
///     Deposited(u64),
///     Withdrew(u64),
/// }
///
/// impl EventSourced for Account {
///     type Command = Command;
///     type Event = Event;
///     type Error = String;
///
///     fn handle(&self, command: Command) -> Result<Vec<Event>, String> {
///         match command {
///             Command::Deposit(n) => Ok(vec![Event::Deposited(n)]),
///             Command::Withdraw(n) if n <= self.balance => Ok(vec![Event::Withdrew(n)]),
///             Command::Withdraw(n) => Err(format!("cannot withdraw {n} from {}", self.balance)),
///         }
///     }
///
///     fn apply(&mut self, event: &Event) {
///         match event {
///             Event::Deposited(n) => self.balance += n,
///             Event::Withdrew(n) => self.balance -= n,
///         }
///     }
/// }
///
/// let mut account = Account::default();
/// for event in account.handle(Command::Deposit(10)).unwrap() {
///     account.apply(&event);
/// }
/// assert_eq!(account.balance, 10);
/// assert!(account.handle(Command::Withdraw(11)).is_err());
/// ```
pub trait EventSourced: Default + Serialize + DeserializeOwned + Send + 'static {
    /// What callers ask for.
    type Command: Send + 'static;
    /// What happened; journaled with serde (postcard).
    type Event: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Why a command was refused.
    type Error: Send + 'static;

    /// The events `command` causes, or why it is refused. Nothing is
    /// journaled for a refusal.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Changes the state by one event.
    fn apply(&mut self, event: &Self::Event);
}

/// How an event-sourced actor's state was rebuilt at spawn; see
/// [`EventSourcedRef::recovery`] and the example of [`spawn_event_sourced`].
///
/// # Examples
///
/// A restart with a snapshot every 2 events starts from the snapshot after
/// event 2 and replays event 3:
///
/// ```
/// use actor_durable::Recovery;
///
/// # use actor_core::prelude::*;
/// # use actor_durable::{EventSourced, Store, spawn_event_sourced};
/// # #[derive(Default, serde::Serialize, serde::Deserialize)]
/// # struct Counter(u64);
/// # impl EventSourced for Counter {
/// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
/// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
/// #     fn apply(&mut self, by: &u64) { self.0 += by; }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("c.redb");
/// # let system = ActorSystem::new();
/// # {
/// # let store = Store::open(&path).unwrap();
/// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 2).await.unwrap();
/// for by in [1, 2, 3] {
///     counter.execute(by).await.unwrap();
/// }
/// counter.actor_ref().stop();
/// counter.actor_ref().wait_for_stop().await;
/// # }
///
/// # let store = Store::open(&path).unwrap();
/// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 2).await.unwrap();
/// let Recovery { snapshot, replayed, last_seq, .. } = counter.recovery();
/// assert_eq!((snapshot, replayed, last_seq), (Some(2), 1, 3));
/// assert_eq!(counter.inspect(|c| c.0).await.unwrap(), 6);
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Recovery {
    /// The sequence number of the last event included in the snapshot the
    /// state started from, if there was a snapshot.
    pub snapshot: Option<u64>,
    /// How many journaled events were applied on top of it.
    pub replayed: u64,
    /// The sequence number of the last journaled event (0 if none).
    pub last_seq: u64,
}

/// The actor that owns an [`EventSourced`] state; reach it through an
/// [`EventSourcedRef`] (its [`actor_ref`](EventSourcedRef::actor_ref) is an
/// `ActorRef<EventSourcedActor<S>>`, to stop or monitor it). Started by
/// [`spawn_event_sourced`], whose example shows it at work.
///
/// # Examples
///
/// The actor owns its journal stream: while it runs, no other actor of
/// the process can take the stream.
///
/// ```
/// use actor_durable::{EventSourcedActor, StoreError};
///
/// # use actor_core::prelude::*;
/// # use actor_durable::{EventSourced, Store, spawn_event_sourced};
/// # #[derive(Default, serde::Serialize, serde::Deserialize)]
/// # struct Counter(u64);
/// # impl EventSourced for Counter {
/// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
/// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
/// #     fn apply(&mut self, by: &u64) { self.0 += by; }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("c.redb")).unwrap();
/// # let system = ActorSystem::new();
/// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await.unwrap();
/// let actor: &ActorRef<EventSourcedActor<Counter>> = counter.actor_ref();
/// let second = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await;
/// assert!(matches!(second, Err(StoreError::InUse(_))));
///
/// actor.stop();
/// actor.wait_for_stop().await;
/// let second = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await;
/// assert!(second.is_ok(), "the stream was released when the actor stopped");
/// # system.shutdown().await;
/// # }
/// ```
pub struct EventSourcedActor<S: EventSourced> {
    state: S,
    store: Store,
    stream: Arc<str>,
    dedup_table: String,
    last: u64,
    since_snapshot: u64,
    snapshot_every: u64,
    _claim: Claim,
}

impl<S: EventSourced> Actor for EventSourcedActor<S> {
    type Error = std::convert::Infallible;
}

impl<S: EventSourced> fmt::Debug for EventSourcedActor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSourcedActor")
            .field("stream", &self.stream)
            .field("last_seq", &self.last)
            .finish_non_exhaustive()
    }
}

/// Starts the event-sourced actor of journal stream `stream`, after
/// rebuilding its state: the last snapshot (or `S::default()`), then every
/// event journaled after it, in order.
///
/// Every `snapshot_every` events the actor stores a snapshot of its state
/// (0: never), so that recovery replays at most that many events.
///
/// # Errors
///
/// [`StoreError::InUse`] if the stream already has an actor in this
/// process; [`StoreError::Codec`] if the snapshot or an event no longer
/// deserializes (recovery cannot skip an event without getting the state
/// wrong); an I/O error reading the journal.
///
/// # Cancel safety
///
/// Cancel safe: nothing is written before the actor starts.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_durable::{EventSourced, Store, spawn_event_sourced};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Counter(u64);
///
/// impl EventSourced for Counter {
///     type Command = u64;
///     type Event = u64;
///     type Error = std::convert::Infallible;
///     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> {
///         Ok(vec![by])
///     }
///     fn apply(&mut self, by: &u64) {
///         self.0 += by;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("counter.redb");
/// let system = ActorSystem::new();
/// {
///     let store = Store::open(&path).unwrap();
///     let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 2).await.unwrap();
///     for by in 1..=5 {
///         counter.execute(by).await.unwrap(); // journaled, then applied
///     }
///     counter.actor_ref().stop();
///     counter.actor_ref().wait_for_stop().await;
/// }
/// let store = Store::open(&path).unwrap();
/// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 2).await.unwrap();
/// assert_eq!(counter.inspect(|c| c.0).await.unwrap(), 15);
/// // Snapshots were taken after events 2 and 4: only event 5 was replayed.
/// assert_eq!(counter.recovery().snapshot, Some(4));
/// assert_eq!(counter.recovery().replayed, 1);
/// # system.shutdown().await;
/// # }
/// ```
pub async fn spawn_event_sourced<S: EventSourced>(
    system: &ActorSystem,
    store: &Store,
    stream: &str,
    snapshot_every: u64,
) -> Result<EventSourcedRef<S>, StoreError> {
    if stream.is_empty() {
        return Err(StoreError::Codec("a journal stream name must not be empty".into()));
    }
    let claim = store.claim(format!("journal/{stream}"))?;
    let reader = store.clone();
    let name = stream.to_string();
    let read = tokio::task::spawn_blocking(move || reader.read_journal(&name))
        .await
        .map_err(|e| StoreError::Storage(format!("reader task failed: {e}")))??;

    let mut state = match &read.snapshot {
        Some((seq, bytes)) => {
            decode::<S>(bytes).map_err(|e| StoreError::Codec(format!("snapshot at {seq} of {stream}: {e}")))?
        }
        None => S::default(),
    };
    for (seq, bytes) in &read.events {
        let event =
            decode::<S::Event>(bytes).map_err(|e| StoreError::Codec(format!("event {seq} of {stream}: {e}")))?;
        state.apply(&event);
    }
    let recovery = Recovery {
        snapshot: read.snapshot.as_ref().map(|(seq, _)| *seq),
        replayed: read.events.len() as u64,
        last_seq: read.last,
    };
    let actor = EventSourcedActor {
        state,
        store: store.clone(),
        stream: stream.into(),
        dedup_table: format!("dedup/journal/{stream}"),
        last: read.last,
        since_snapshot: recovery.replayed,
        snapshot_every,
        _claim: claim,
    };
    Ok(EventSourcedRef { actor: system.spawn(actor), recovery })
}

/// A reference to an event-sourced actor; see [`spawn_event_sourced`].
///
/// Cheap to clone. Commands go through [`execute`](EventSourcedRef::execute)
/// (or [`execute_once`](EventSourcedRef::execute_once) with an idempotency
/// key), reads through [`inspect`](EventSourcedRef::inspect).
///
/// # Examples
///
/// ```
/// use actor_durable::EventSourcedRef;
///
/// # use actor_core::prelude::*;
/// # use actor_durable::{EventSourced, Store, spawn_event_sourced};
/// # #[derive(Default, serde::Serialize, serde::Deserialize)]
/// # struct Counter(u64);
/// # impl EventSourced for Counter {
/// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
/// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
/// #     fn apply(&mut self, by: &u64) { self.0 += by; }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("c.redb")).unwrap();
/// # let system = ActorSystem::new();
/// let counter: EventSourcedRef<Counter> = spawn_event_sourced(&system, &store, "c", 100).await.unwrap();
/// let clone = counter.clone();
/// assert_eq!(clone.execute(5).await.unwrap(), 1); // the sequence number of event 1
/// assert_eq!(counter.inspect(|c| c.0).await.unwrap(), 5); // the same actor
/// # system.shutdown().await;
/// # }
/// ```
pub struct EventSourcedRef<S: EventSourced> {
    actor: ActorRef<EventSourcedActor<S>>,
    recovery: Recovery,
}

impl<S: EventSourced> EventSourcedRef<S> {
    /// Runs `command`: its events are journaled (committed and synced, in a
    /// group commit), then applied to the state. Returns the sequence number
    /// of the last journaled event.
    ///
    /// # Errors
    ///
    /// [`CommandError::Rejected`] if `handle` refused it,
    /// [`CommandError::Store`] if the journal write failed (the state is then
    /// unchanged), [`CommandError::Actor`] if the actor has stopped.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the command may be applied after the future is
    /// dropped.
    ///
    /// # Examples
    ///
    /// A command may cause several events, or be refused:
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_durable::{CommandError, EventSourced, Store, spawn_event_sourced};
    ///
    /// #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// struct Total(u64);
    ///
    /// impl EventSourced for Total {
    ///     type Command = Vec<u64>; // amounts to add, one event each
    ///     type Event = u64;
    ///     type Error = &'static str;
    ///     fn handle(&self, amounts: Vec<u64>) -> Result<Vec<u64>, &'static str> {
    ///         if amounts.is_empty() { Err("nothing to add") } else { Ok(amounts) }
    ///     }
    ///     fn apply(&mut self, amount: &u64) {
    ///         self.0 += amount;
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("t.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let total = spawn_event_sourced::<Total>(&system, &store, "total", 100).await.unwrap();
    /// assert_eq!(total.execute(vec![1, 2]).await.unwrap(), 2); // events 1 and 2
    /// assert_eq!(total.execute(vec![10]).await.unwrap(), 3);
    ///
    /// let refused = total.execute(vec![]).await;
    /// assert!(matches!(refused, Err(CommandError::Rejected("nothing to add"))));
    /// assert_eq!(total.inspect(|t| t.0).await.unwrap(), 13); // the refusal changed nothing
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn execute(&self, command: S::Command) -> Result<u64, CommandError<S::Error>> {
        self.send(Execute { command, key: None }).await
    }

    /// Runs `command` at most once per `key`: the key is recorded in the same
    /// transaction as the command's events, so a retried command (a
    /// redelivered durable message, a client retry) is refused with
    /// [`CommandError::Duplicate`] instead of applied twice. This is the
    /// effectively-once path: journal and key commit together or not at all.
    ///
    /// # Errors
    ///
    /// As [`execute`](EventSourcedRef::execute), plus
    /// [`CommandError::Duplicate`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as `execute`; retrying with the same key is safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{CommandError, EventSourced, Store, spawn_event_sourced};
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// # struct Counter(u64);
    /// # impl EventSourced for Counter {
    /// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
    /// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
    /// #     fn apply(&mut self, by: &u64) { self.0 += by; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("c.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await.unwrap();
    /// counter.execute_once(b"payment-17".to_vec(), 5).await.unwrap();
    /// let again = counter.execute_once(b"payment-17".to_vec(), 5).await;
    /// assert!(matches!(again, Err(CommandError::Duplicate)));
    /// assert_eq!(counter.inspect(|c| c.0).await.unwrap(), 5);
    /// # }
    /// ```
    pub async fn execute_once(&self, key: Vec<u8>, command: S::Command) -> Result<u64, CommandError<S::Error>> {
        self.send(Execute { command, key: Some(key) }).await
    }

    async fn send(&self, msg: Execute<S>) -> Result<u64, CommandError<S::Error>> {
        match self.actor.ask(msg).await {
            Ok(result) => result,
            Err(err) => Err(CommandError::Actor(err.into())),
        }
    }

    /// Reads the state: runs `f` on it in the actor and returns the result.
    ///
    /// # Errors
    ///
    /// If the actor has stopped, or `f` panicked.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{EventSourced, Store, spawn_event_sourced};
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// # struct Counter(u64);
    /// # impl EventSourced for Counter {
    /// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
    /// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
    /// #     fn apply(&mut self, by: &u64) { self.0 += by; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("c.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await.unwrap();
    /// counter.execute(4).await.unwrap();
    /// assert_eq!(counter.inspect(|c| c.0 * 10).await.unwrap(), 40);
    ///
    /// counter.actor_ref().stop();
    /// counter.actor_ref().wait_for_stop().await;
    /// assert!(counter.inspect(|c| c.0).await.is_err()); // no actor to read from
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn inspect<R, F>(&self, f: F) -> Result<R, actor_core::Error>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        Ok(self.actor.ask(Inspect { f, _types: PhantomData }).await?)
    }

    /// How the state was rebuilt when the actor was spawned (the example
    /// of [`spawn_event_sourced`] reads it).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_durable::Recovery;
    ///
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{EventSourced, Store, spawn_event_sourced};
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// # struct Counter(u64);
    /// # impl EventSourced for Counter {
    /// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
    /// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
    /// #     fn apply(&mut self, by: &u64) { self.0 += by; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("c.redb")).unwrap();
    /// # let path = store.path().to_path_buf();
    /// # let system = ActorSystem::new();
    /// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 0).await.unwrap();
    /// assert_eq!(counter.recovery(), Recovery::default()); // a new stream
    /// for by in [1, 2, 3] {
    ///     counter.execute(by).await.unwrap();
    /// }
    /// counter.actor_ref().stop();
    /// counter.actor_ref().wait_for_stop().await;
    /// # drop((counter, store));
    ///
    /// // Started again (here on a reopened store): no snapshots were taken
    /// // (`snapshot_every` 0), so all three events were replayed.
    /// let store = Store::open(&path).unwrap();
    /// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 0).await.unwrap();
    /// let recovery = counter.recovery();
    /// assert_eq!((recovery.snapshot, recovery.replayed, recovery.last_seq), (None, 3, 3));
    /// assert_eq!(counter.inspect(|c| c.0).await.unwrap(), 6);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// The actor itself (to stop it, monitor it, or wait for its stop).
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_durable::{CommandError, EventSourced, Store, spawn_event_sourced};
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// # struct Counter(u64);
    /// # impl EventSourced for Counter {
    /// #     type Command = u64; type Event = u64; type Error = std::convert::Infallible;
    /// #     fn handle(&self, by: u64) -> Result<Vec<u64>, Self::Error> { Ok(vec![by]) }
    /// #     fn apply(&mut self, by: &u64) { self.0 += by; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("c.redb")).unwrap();
    /// # let system = ActorSystem::new();
    /// let counter = spawn_event_sourced::<Counter>(&system, &store, "c", 100).await.unwrap();
    /// assert!(counter.actor_ref().is_alive());
    ///
    /// counter.actor_ref().stop();
    /// assert!(counter.actor_ref().wait_for_stop().await.is_normal());
    /// assert!(matches!(counter.execute(1).await, Err(CommandError::Actor(_))));
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn actor_ref(&self) -> &ActorRef<EventSourcedActor<S>> {
        &self.actor
    }
}

impl<S: EventSourced> Clone for EventSourcedRef<S> {
    fn clone(&self) -> Self {
        EventSourcedRef { actor: self.actor.clone(), recovery: self.recovery }
    }
}

impl<S: EventSourced> fmt::Debug for EventSourcedRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSourcedRef").field("actor", &self.actor).field("recovery", &self.recovery).finish()
    }
}

/// A command, with an optional idempotency key.
struct Execute<S: EventSourced> {
    command: S::Command,
    key: Option<Vec<u8>>,
}

impl<S: EventSourced> Message for Execute<S> {
    type Reply = Result<u64, CommandError<S::Error>>;
}

impl<S: EventSourced> Handler<Execute<S>> for EventSourcedActor<S> {
    async fn handle(&mut self, msg: Execute<S>, _: &mut Context<Self>) -> Result<u64, CommandError<S::Error>> {
        let events = self.state.handle(msg.command).map_err(CommandError::Rejected)?;
        if events.is_empty() && msg.key.is_none() {
            return Ok(self.last);
        }
        let mut encoded = Vec::with_capacity(events.len());
        for event in &events {
            let bytes = postcard::to_allocvec(event)
                .map_err(|e| CommandError::Store(StoreError::codec("event does not serialize", e)))?;
            encoded.push(bytes);
        }
        let (stream, first) = (self.stream.clone(), self.last + 1);
        let dedup = msg.key.map(|key| (self.dedup_table.clone(), key));
        let new = self
            .store
            .submit(|reply| Op::Journal { stream, first, events: encoded, dedup, reply })
            .await
            .map_err(CommandError::Store)?;
        if !new {
            return Err(CommandError::Duplicate);
        }
        for event in &events {
            self.state.apply(event);
        }
        self.last += events.len() as u64;
        self.since_snapshot += events.len() as u64;
        if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
            self.snapshot().await;
        }
        Ok(self.last)
    }
}

impl<S: EventSourced> EventSourcedActor<S> {
    /// Stores the state as of the last event. A failure only costs replay
    /// time at the next recovery, so it is logged, not returned.
    async fn snapshot(&mut self) {
        let state = match postcard::to_allocvec(&self.state) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(stream = %self.stream, error = %e, "state does not serialize; no snapshot");
                return;
            }
        };
        let (stream, seq) = (self.stream.clone(), self.last);
        match self.store.submit(|reply| Op::Snapshot { stream, seq, state, reply }).await {
            Ok(()) => self.since_snapshot = 0,
            Err(e) => tracing::warn!(stream = %self.stream, error = %e, "snapshot not stored"),
        }
    }
}

/// Runs a closure on the state.
struct Inspect<S, F, R> {
    f: F,
    _types: PhantomData<fn(&S) -> R>,
}

impl<S, F, R> Message for Inspect<S, F, R>
where
    S: 'static,
    F: FnOnce(&S) -> R + Send + 'static,
    R: Send + 'static,
{
    type Reply = R;
}

impl<S, F, R> Handler<Inspect<S, F, R>> for EventSourcedActor<S>
where
    S: EventSourced,
    F: FnOnce(&S) -> R + Send + 'static,
    R: Send + 'static,
{
    async fn handle(&mut self, msg: Inspect<S, F, R>, _: &mut Context<Self>) -> R {
        (msg.f)(&self.state)
    }
}
