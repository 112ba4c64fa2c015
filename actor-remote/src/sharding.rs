//! Cluster sharding: entities addressed by type and id from any node,
//! started on their first message, passivated when idle, and moved, in
//! order and without loss, when nodes join and leave.
//!
//! See [`Sharding`] for the API and an example; below, the design:
//! placement, the hand-off protocol, the guarantees and their limits.
//!
//! # The design
//!
//! `Sharding::start::<A>(&cluster, options)` on every node that hosts an
//! entity type, `Sharding::proxy::<A>` on nodes that only address it. Each
//! node runs one *region* per type: a lock-protected state (`Core`), a driver
//! task, and a `RegionActor` that other regions tell `Batch`es to over the
//! ordinary node connections (so batches get the transport's authentication,
//! credit, FIFO and `NodeDown`). `region.entity(id)` is an ordinary
//! `ActorRef<A>` whose remote arm is an `EntityEndpoint`: actor-core encodes
//! the message as for any remote actor, and the endpoint hands the bytes to
//! the region, which routes them by shard. So `tell`, `ask`, `.timeout(..)`,
//! `try_tell` and the generated client work unchanged; only
//! `#[message(remote)]` messages can be sent, and an entity reference is not
//! meant to travel inside messages (send the id).
//!
//! **Placement.** An id hashes to one of a fixed number of shards (256 by
//! default; FNV-1a then splitmix64, written out so that it never changes
//! across versions or platforms). Shards go to the hosts of the type (members
//! up that joined the type's group, minus those leaving) by rendezvous
//! hashing with a cap: (shard, node) pairs are taken by score, highest first,
//! and a shard goes to its best node that still has room, at most
//! `max(⌈S/N⌉, ⌊1.2·S/N⌋)` shards a node. Plain rendezvous is 1.29x the mean
//! at 10 nodes and 2.7x at 50 (256 shards); the cap holds every node count
//! from 1 to 100 within 1.2x the mean where whole shards allow it, and a join
//! or leave moves on average under twice the ideal 1/N
//! (`placement::tests`). Every node computes the same owners from the same
//! hosts, without a coordinator.
//!
//! **Hand-off.** A shard is, on each node, `Remote(owner)`, `Acquiring`,
//! `Active`, `Releasing` or `NoHost`. A node that becomes the owner in its
//! view claims the shard from every other region (`Acquire`, with a round)
//! and holds its messages until each one has answered `Released`. A region
//! answers only once it holds no activation of the shard: if the shard was
//! active there, its entities are stopped (each finishes its mailbox and runs
//! `on_stop`), the messages it held meanwhile go on to the new owner, and only
//! then does `Released` leave, behind them on the same link. A region that
//! appears (a node joined, or came back) makes every shard active here wait
//! for its answer too, since it may have activated them in a view of its own.
//! A sender whose route for a shard moves away from a live node sends a
//! *marker* down the old route and holds its new messages until the marker
//! comes back acknowledged from wherever the old route ended (the marker
//! names its origin's region, which that end may never have heard from: a
//! client's region is in no group), so nothing sent
//! later overtakes what was sent earlier; what other regions route through
//! it waits too, markers and what comes back from the old route apart.
//! While two regions' views of a shard's owner differ, each routes its
//! messages to the other: the one with the lower name keeps what comes
//! from the other (sent back, it could cross later messages of its senders
//! that reach either node), switching to it as above, until that region
//! claims the shard (they go back ahead of the answer) or the owner in its
//! own view changes (they go first on the new route). Claims still unanswered are sent
//! again every few ticks; a switch whose marker is not back within
//! `handoff_timeout` ends with a warning. An item for a region this node
//! does not know yet (a marker's origin, to a region that has just joined
//! and has not yet heard of the origin's group entry) waits for that region
//! to appear, up to `handoff_timeout`, rather than being dropped.
//!
//! Invariants (tests in `actor-remote/tests/sharding.rs`):
//!
//! - **Per-sender order and exactly-once across a join and a graceful leave.**
//!   Senders on every node tell 64 entities in numbered rounds while a node
//!   joins, or leaves with `ShardRegion::leave`; every entity has seen every
//!   sender's numbers once each, in order, with no dead letter
//!   (`a_join_moves_about_a_third...`, `a_graceful_leave_hands...`); the
//!   simulation of 10 to 50 nodes (`tests/sharding_sim.rs`) checks once
//!   each (or a dead letter) and per-sender order through a join and a leave.
//! - **At most one activation of an entity at a time within a view**: the
//!   test entities count themselves in `on_start` and `on_stop`, and never
//!   two run at once through those moves.
//! - **Bounded custody, never a silent loss.** Each sender node may hold up
//!   to `buffer` messages per shard in the region's custody (held in a
//!   hand-off, waiting for mailbox room, or sent and not yet acknowledged by
//!   the next region); past it `tell` waits and `try_tell` returns `Full`
//!   (`with_no_host_messages_wait_bounded...`). What cannot be delivered is a
//!   dead letter with its reason; a message sent to a node that is lost
//!   before acknowledging it is a dead letter saying it may or may not have
//!   been handled, and the asks waiting on that node fail with `NodeDown`.
//! - **Passivation**: an entity idle for `passivate_after` is stopped
//!   (`on_stop` runs) and the next message starts it again; `stats()` counts
//!   active, started, passivated and handed-off entities per node.
//!
//! Limits, stated rather than hidden:
//!
//! - *Per-sender order where views differ is shown by runs, not proven.*
//!   The simulation holds it in every run since the rules above; a message
//!   through three or more regions whose views of the owner all differ is
//!   not known to be covered.
//! - *Plain entities are at most once across a crash.* A message the crashed
//!   node had already queued in an entity's mailbox is lost with it (it was
//!   acknowledged when queued). Entities that must not lose state are
//!   durable: their state lives in a store, and the next activation recovers
//!   it.
//! - *A partition is two views.* Each side places the shards on the members
//!   it sees, so an entity can run on both sides until the views merge;
//!   sharding itself cannot prevent this (no quorum, no leases). Two writers
//!   must be kept out by the state's store. The `sharded_bank` example keeps
//!   each shard's journal (actor-durable) in its own redb file, which only
//!   the shard's owner holds open: redb's file lock lets one process write it
//!   at a time, and a step's idempotency key makes retries apply once. That
//!   holds for processes sharing a file system; across machines the store
//!   must fence writers itself (conditional writes or a fencing token per
//!   activation), which this crate does not provide.
//! - A node that starts sharding before it joins owns every shard until it
//!   sees the others; it activates entities only if sent messages meanwhile,
//!   and reconfirms its active shards with every region that appears.
//! - Shard counts must match on every node; a region refuses batches from a
//!   region with another count or name.
//!
//! Figures (balance, moved share, settle and recovery times, rates, the cost
//! of a cold entity) are in RELIABILITY.md, "Cluster sharding".

mod core;
mod endpoint;
mod entity;
mod link;
mod placement;
#[cfg(all(test, feature = "test-util"))]
mod tests;
mod wire;

use std::any::type_name;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use actor_core::RemoteActor;
use actor_core::transport;
use actor_core::{ActorId, ActorRef};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use self::core::{Core, Event, Mode, Spawned, Spawner, State};
use self::endpoint::EntityEndpoint;
use self::wire::RegionActor;
use crate::cluster::Cluster;

/// The longest entity id, in bytes.
pub const MAX_ENTITY_ID: usize = 1024;

/// An entity type that builds itself from its id: what
/// [`Sharding::start`] needs. For a factory that captures something (a
/// store, a configuration), use [`Sharding::start_with`].
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::Entity;
///
/// struct Counter {
///     id: String,
///     total: u64,
/// }
///
/// #[actor]
/// impl Counter {
///     #[message(remote)]
///     fn add(&mut self, n: u64) -> u64 {
///         self.total += n;
///         self.total
///     }
/// }
///
/// impl Entity for Counter {
///     fn from_id(id: &str) -> Self {
///         Counter { id: id.to_owned(), total: 0 }
///     }
/// }
/// assert_eq!(Counter::from_id("c-1").id, "c-1");
/// ```
pub trait Entity: RemoteActor {
    /// The entity of this id, as it starts on its first message (or again
    /// after a passivation or a move).
    fn from_id(id: &str) -> Self;
}

/// Settings of a sharded entity type; every one has a default. Every node
/// of the type must use the same shard count and name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_remote::ShardingOptions;
///
/// let options = ShardingOptions::default().shards(512).passivate_after(Some(Duration::from_secs(30)));
/// assert_eq!(options.shard_count(), 512);
/// ```
#[derive(Clone, Debug)]
pub struct ShardingOptions {
    shards: u32,
    passivate_after: Option<Duration>,
    buffer: usize,
    handoff_timeout: Duration,
    name: Option<String>,
}

impl Default for ShardingOptions {
    fn default() -> Self {
        ShardingOptions {
            shards: 256,
            passivate_after: Some(Duration::from_secs(120)),
            buffer: 1_000,
            handoff_timeout: Duration::from_secs(10),
            name: None,
        }
    }
}

impl ShardingOptions {
    /// How many shards entity ids hash to (256 by default, 1 to 65,536).
    /// Shards are what moves between nodes: use at least ten per node, so
    /// that the load can be balanced (see ARCHITECTURE.md).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::ShardingOptions;
    ///
    /// assert_eq!(ShardingOptions::default().shard_count(), 256);
    /// let options = ShardingOptions::default().shards(16);
    /// assert_eq!(options.shard_count(), 16);
    /// assert!(["a", "b", "c", "d"].iter().all(|id| options.shard_of(id) < 16));
    /// ```
    pub fn shards(mut self, shards: u32) -> Self {
        self.shards = shards;
        self
    }

    /// The shard count.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::ShardingOptions;
    ///
    /// assert_eq!(ShardingOptions::default().shard_count(), 256);
    /// assert_eq!(ShardingOptions::default().shards(1_024).shard_count(), 1_024);
    /// ```
    pub fn shard_count(&self) -> u32 {
        self.shards
    }

    /// The shard of entity `id` under these options: the same on every
    /// node and in every version. For keeping what belongs to a shard
    /// together (a journal file per shard, for example), before any region
    /// is started.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::ShardingOptions;
    ///
    /// let options = ShardingOptions::default().shards(16);
    /// assert!(options.shard_of("acct-42") < 16);
    /// assert_eq!(options.shard_of("acct-42"), options.shard_of("acct-42"));
    /// ```
    pub fn shard_of(&self, id: &str) -> u32 {
        placement::shard_of(id, self.shards)
    }

    /// How long an entity may go without a message before it is stopped
    /// (`on_stop` runs); its next message starts it again. `None` keeps
    /// entities until they move. Two minutes by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # #[derive(Default)] struct Account(u64);
    /// # #[actor] impl Account { #[message(remote)] fn deposit(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// # let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let options = ShardingOptions::default().passivate_after(Some(Duration::from_millis(50)));
    /// let accounts = Sharding::start_with(&cluster, options, |_: &str| Account::default()).await?;
    /// assert_eq!(accounts.entity("a-1").deposit(10).await?, 10);
    ///
    /// // Left idle, the entity is stopped; the next message starts a new one.
    /// tokio::time::timeout(Duration::from_secs(10), async {
    ///     while accounts.stats().entities_passivated == 0 {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///     }
    /// })
    /// .await?;
    /// assert_eq!(accounts.stats().entities_active, 0);
    /// assert_eq!(accounts.entity("a-1").deposit(1).await?, 1);
    /// assert_eq!(accounts.stats().entities_started, 2);
    /// # Ok(()) }
    /// ```
    pub fn passivate_after(mut self, idle: Option<Duration>) -> Self {
        self.passivate_after = idle;
        self
    }

    /// Messages from one node to one shard that may be in the region's
    /// custody at once (held during a hand-off, waiting for mailbox room,
    /// on their way and not yet acknowledged): past it, `tell` and `ask`
    /// wait and `try_tell` returns `Full`. 1,000 by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// struct Account;
    ///
    /// #[actor]
    /// impl Account {
    ///     #[message(remote)]
    ///     fn deposit(&mut self, amount: u64) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// # let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// // No node hosts accounts yet, so messages are held, two at most.
    /// let accounts = Sharding::proxy::<Account>(&cluster, ShardingOptions::default().buffer(2)).await?;
    /// let acct = accounts.entity("a-1");
    /// acct.try_tell(Deposit { amount: 1 })?;
    /// acct.try_tell(Deposit { amount: 2 })?;
    /// assert!(matches!(acct.try_tell(Deposit { amount: 3 }), Err(SendError::Full(_))));
    /// assert_eq!(accounts.stats().held, 2);
    /// # Ok(()) }
    /// ```
    pub fn buffer(mut self, messages: usize) -> Self {
        self.buffer = messages;
        self
    }

    /// How long a node waits for the marker that closes a route before it
    /// sends on the new route anyway, and for a region it was told of but
    /// does not see. Ten seconds by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_remote::ShardingOptions;
    ///
    /// let options = ShardingOptions::default().handoff_timeout(Duration::from_secs(2));
    /// assert!(format!("{options:?}").contains("handoff_timeout: 2s"));
    /// ```
    pub fn handoff_timeout(mut self, timeout: Duration) -> Self {
        self.handoff_timeout = timeout;
        self
    }

    /// The name the type's regions share across the cluster. Defaults to
    /// the type's name without its path (`Account` for `bank::Account`), so
    /// that two programs that define the same entity agree.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let plain = Sharding::proxy::<Account>(&cluster, ShardingOptions::default()).await?;
    /// assert_eq!(plain.name(), "Account");
    /// let named = Sharding::proxy::<Account>(&cluster, ShardingOptions::default().name("accounts-v2")).await?;
    /// assert_eq!(named.name(), "accounts-v2");
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn validate(&self) -> Result<(), ShardingError> {
        if self.shards == 0 || self.shards > 65_536 {
            return Err(ShardingError::InvalidOptions(format!("{} shards: use 1 to 65,536", self.shards)));
        }
        if self.buffer == 0 {
            return Err(ShardingError::InvalidOptions("a buffer of 0 messages could send nothing".into()));
        }
        if self.name.as_deref().is_some_and(str::is_empty) {
            return Err(ShardingError::InvalidOptions("an empty region name".into()));
        }
        Ok(())
    }

    /// How often the driver looks at timers.
    pub(crate) fn tick(&self) -> Duration {
        let tick = self.handoff_timeout / 20;
        match self.passivate_after {
            Some(idle) => tick.min(idle / 4),
            None => tick,
        }
        .clamp(Duration::from_millis(10), Duration::from_millis(500))
    }
}

/// Why a sharding operation failed.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingError, ShardingOptions, MAX_ENTITY_ID};
///
/// # struct Account;
/// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let none = Sharding::proxy::<Account>(&cluster, ShardingOptions::default().shards(0)).await;
/// assert!(matches!(none, Err(ShardingError::InvalidOptions(_))));
///
/// let accounts = Sharding::proxy::<Account>(&cluster, ShardingOptions::default()).await?;
/// let too_long = "x".repeat(MAX_ENTITY_ID + 1);
/// assert!(matches!(accounts.try_entity(&too_long), Err(ShardingError::InvalidEntityId(_))));
/// let again = Sharding::proxy::<Account>(&cluster, ShardingOptions::default()).await;
/// assert_eq!(again.unwrap_err(), ShardingError::AlreadyStarted("Account".into()));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardingError {
    /// A region of this name already runs on this node.
    AlreadyStarted(String),
    /// The options cannot work; the text says why.
    InvalidOptions(String),
    /// An entity id must be 1 to [`MAX_ENTITY_ID`] bytes.
    InvalidEntityId(String),
    /// The node or its cluster has stopped.
    Stopped,
    /// [`ShardRegion::leave`] did not finish handing off in time; the
    /// text says what was left.
    LeaveTimeout(String),
}

impl fmt::Display for ShardingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardingError::AlreadyStarted(name) => write!(f, "the sharded type {name:?} already runs on this node"),
            ShardingError::InvalidOptions(why) => write!(f, "invalid sharding options: {why}"),
            ShardingError::InvalidEntityId(why) => write!(f, "invalid entity id: {why}"),
            ShardingError::Stopped => f.write_str("the node or its cluster has stopped"),
            ShardingError::LeaveTimeout(what) => write!(f, "the hand-off did not finish in time: {what}"),
        }
    }
}

impl std::error::Error for ShardingError {}

/// What one node's region of a sharded type is doing; see
/// [`ShardRegion::stats`].
///
/// # Examples
///
/// On the only host, every shard is owned here and every message is
/// delivered here:
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions, ShardingStats};
///
/// # #[derive(Default)] struct Account(u64);
/// # #[actor] impl Account { #[message(remote)] fn deposit(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::builder(ActorSystem::new()).name("solo").secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let options = ShardingOptions::default().shards(8);
/// let accounts = Sharding::start_with(&cluster, options, |_: &str| Account::default()).await?;
/// assert_eq!(accounts.entity("a-1").deposit(5).await?, 5);
///
/// let stats: ShardingStats = accounts.stats();
/// assert_eq!((stats.shards_owned, stats.shards_in_hand_off), (8, 0));
/// assert_eq!((stats.entities_active, stats.delivered, stats.forwarded), (1, 1, 0));
/// assert_eq!(stats.held, 0);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardingStats {
    /// This node.
    pub node: String,
    /// The nodes that host the type in this node's view, sorted.
    pub hosts: Vec<String>,
    /// Shards this node owns in its view.
    pub shards_owned: usize,
    /// Shards served here, their hand-off to this node complete: their
    /// entities, whether any are running yet or not, run on this node.
    pub shards_active: usize,
    /// Shards moving to or from this node (acquiring or releasing).
    pub shards_in_hand_off: usize,
    /// Shards whose route from this node just changed: their messages wait
    /// until the old route confirms it has delivered what it was sent.
    pub shards_switching: usize,
    /// Entities running here.
    pub entities_active: usize,
    /// Activations started here, ever.
    pub entities_started: u64,
    /// Activations stopped here for being idle, ever.
    pub entities_passivated: u64,
    /// Activations stopped here because their shard moved away, ever.
    pub entities_handed_off: u64,
    /// Messages held here now (hand-offs, switches, full mailboxes).
    pub held: usize,
    /// Messages sent to other nodes and not yet acknowledged, or queued to
    /// be sent.
    pub in_flight: usize,
    /// Messages put in entities' mailboxes here, ever.
    pub delivered: u64,
    /// Messages sent on to another node, ever.
    pub forwarded: u64,
    /// Messages this region reported as dead letters, ever.
    pub dead_letters: u64,
    /// Asks from this node waiting for an entity's reply.
    pub asks_pending: usize,
}

impl ShardingStats {
    pub(crate) fn empty(node: String) -> Self {
        ShardingStats {
            node,
            hosts: Vec::new(),
            shards_owned: 0,
            shards_active: 0,
            shards_in_hand_off: 0,
            shards_switching: 0,
            entities_active: 0,
            entities_started: 0,
            entities_passivated: 0,
            entities_handed_off: 0,
            held: 0,
            in_flight: 0,
            delivered: 0,
            forwarded: 0,
            dead_letters: 0,
            asks_pending: 0,
        }
    }

    /// Whether nothing is moving here: no shard acquiring, releasing or
    /// switching, and nothing held.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn deposit(&mut self, amount: u64) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::proxy::<Account>(&cluster, ShardingOptions::default()).await?;
    /// assert!(accounts.stats().is_settled());
    /// // No node hosts accounts: the message is held here.
    /// accounts.entity("a-1").tell(Deposit { amount: 5 }).await?;
    /// let stats = accounts.stats();
    /// assert_eq!(stats.held, 1);
    /// assert!(!stats.is_settled());
    /// # Ok(()) }
    /// ```
    pub fn is_settled(&self) -> bool {
        self.shards_in_hand_off == 0 && self.shards_switching == 0 && self.held == 0
    }
}

/// Starts sharded entity types on a node of a [`Cluster`].
///
/// Call [`start`](Sharding::start) (or [`start_with`](Sharding::start_with))
/// on every node that hosts the type, and [`proxy`](Sharding::proxy) on
/// nodes that only address it. The [`ShardRegion`] returned gives an
/// `ActorRef` for any entity id; the entity lives on one node of the
/// cluster, is started on its first message, stopped when idle, and moved
/// when hosts come and go.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Entity, Node, Sharding, ShardingOptions};
///
/// #[derive(Default)]
/// struct Account {
///     balance: u64,
/// }
///
/// #[actor]
/// impl Account {
///     #[message(remote)]
///     fn deposit(&mut self, amount: u64) -> u64 {
///         self.balance += amount;
///         self.balance
///     }
/// }
///
/// impl Entity for Account {
///     fn from_id(_id: &str) -> Self {
///         Account::default()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let accounts = Sharding::start::<Account>(&cluster, ShardingOptions::default()).await?;
///
/// // Any node of the cluster reaches the same entity by its id.
/// let acct = accounts.entity("acct-42");
/// assert_eq!(acct.deposit(10).await?, 10);
/// assert_eq!(accounts.entity("acct-42").deposit(5).await?, 15);
/// assert_eq!(accounts.stats().entities_active, 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Sharding {
    _private: (),
}

impl Sharding {
    /// Hosts the entity type `A` on this node, building each entity with
    /// [`Entity::from_id`].
    ///
    /// # Errors
    ///
    /// As [`start_with`](Sharding::start_with).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the region is started before the future first yields.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Entity, Node, Sharding, ShardingOptions};
    ///
    /// struct Room {
    ///     id: String,
    /// }
    ///
    /// #[actor]
    /// impl Room {
    ///     #[message(remote)]
    ///     fn room_id(&self) -> String {
    ///         self.id.clone()
    ///     }
    /// }
    ///
    /// impl Entity for Room {
    ///     fn from_id(id: &str) -> Self {
    ///         Room { id: id.to_owned() }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let rooms = Sharding::start::<Room>(&cluster, ShardingOptions::default()).await?;
    /// assert!(rooms.is_hosting());
    /// assert_eq!(rooms.entity("lobby").room_id().await?, "lobby");
    /// # Ok(()) }
    /// ```
    pub async fn start<A: Entity>(
        cluster: &Cluster,
        options: ShardingOptions,
    ) -> Result<ShardRegion<A>, ShardingError> {
        Self::start_with(cluster, options, A::from_id).await
    }

    /// Hosts the entity type `A` on this node: `factory` builds the entity
    /// of an id on its first message here (and again after it was
    /// passivated or moved). It should be quick (it runs while the region
    /// routes); do slow work, such as opening a journal, in `on_start`.
    ///
    /// # Errors
    ///
    /// [`ShardingError::InvalidOptions`], [`ShardingError::AlreadyStarted`]
    /// if the type's region already runs on this node,
    /// [`ShardingError::Stopped`] if the node is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the region is started before the future first yields.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// struct Greeter {
    ///     greeting: String,
    /// }
    ///
    /// #[actor]
    /// impl Greeter {
    ///     #[message(remote)]
    ///     fn greet(&mut self, who: String) -> String {
    ///         format!("{}, {who}", self.greeting)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let greeters = Sharding::start_with(&cluster, ShardingOptions::default(), |id: &str| Greeter {
    ///     greeting: format!("hello from {id}"),
    /// })
    /// .await?;
    /// assert_eq!(greeters.entity("fr").greet("Ann".into()).await?, "hello from fr, Ann");
    /// # Ok(()) }
    /// ```
    pub async fn start_with<A, F>(
        cluster: &Cluster,
        options: ShardingOptions,
        factory: F,
    ) -> Result<ShardRegion<A>, ShardingError>
    where
        A: RemoteActor,
        F: Fn(&str) -> A + Send + Sync + 'static,
    {
        let node = cluster.node_inner().map_err(|_| ShardingError::Stopped)?;
        let system = node.system.clone();
        let spawner: Spawner = Box::new(move |id| {
            let actor = system.spawn(factory(id));
            let exported = transport::export(&actor).expect("a freshly spawned actor is local");
            Spawned { exported, keep: Box::new(actor) }
        });
        launch(cluster, options, Some(spawner), type_name::<A>()).map(ShardRegion::new)
    }

    /// Addresses the entity type `A` from this node without hosting it:
    /// its entities live on the nodes that started it.
    ///
    /// # Errors
    ///
    /// As [`start_with`](Sharding::start_with).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the proxy is started before the future first yields.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # #[derive(Default)] struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::proxy::<Account>(&cluster, ShardingOptions::default()).await?;
    /// assert!(!accounts.is_hosting());
    /// // With no host in the cluster, messages wait (bounded by the buffer).
    /// assert!(accounts.entity("a").balance().timeout(std::time::Duration::from_millis(50)).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn proxy<A: RemoteActor>(
        cluster: &Cluster,
        options: ShardingOptions,
    ) -> Result<ShardRegion<A>, ShardingError> {
        launch(cluster, options, None, type_name::<A>()).map(ShardRegion::new)
    }
}

/// A region's key in [`REGIONS`]: its node (by address in memory) and name.
type RegionKey = (usize, String);

/// The regions running in this process: one per node and name.
static REGIONS: LazyLock<Mutex<HashMap<RegionKey, Weak<Core>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn launch(
    cluster: &Cluster,
    options: ShardingOptions,
    spawner: Option<Spawner>,
    type_name: &str,
) -> Result<Arc<Core>, ShardingError> {
    options.validate()?;
    let node = cluster.node_inner().map_err(|_| ShardingError::Stopped)?;
    if node.is_shut_down() {
        return Err(ShardingError::Stopped);
    }
    let name = options.name.clone().unwrap_or_else(|| short_name(type_name));
    let key = (Arc::as_ptr(&node) as usize, name.clone());
    let mut regions = REGIONS.lock().unwrap_or_else(PoisonError::into_inner);
    regions.retain(|_, core| core.strong_count() > 0);
    if regions.get(&key).and_then(Weak::upgrade).is_some_and(|core| !core.is_stopped()) {
        return Err(ShardingError::AlreadyStarted(name));
    }
    let hosting = spawner.is_some();
    let (events, rx) = mpsc::unbounded_channel();
    let core = Arc::new_cyclic(|me| Core {
        me: me.clone(),
        node: Arc::from(node.identity.node.as_str()),
        group: format!("sharding/{name}"),
        name: name.clone(),
        system: node.system.clone(),
        codec: node.clone(),
        cluster: cluster.clone(),
        spawner,
        state: Mutex::new(State::new(options.shards, hosting)),
        options,
        room: tokio::sync::Notify::new(),
        events,
        region: OnceLock::new(),
        stopped: AtomicBool::new(false),
        drain: |core, node| Box::pin(link::sender(core, node)),
    });
    let region = node.system.spawn(RegionActor { core: core.clone() });
    let _ = core.region.set(region.clone());
    if hosting {
        cluster.join_group(&core.group, &region).map_err(|_| ShardingError::Stopped)?;
    } else {
        // Reachable by id (replies and acknowledgements come back to it).
        let _ = <crate::node::NodeInner as transport::RefCodec>::export(
            &node,
            transport::export(&region).expect("a freshly spawned actor is local"),
        );
    }
    regions.insert(key, Arc::downgrade(&core));
    drop(regions);
    tokio::spawn(drive(core.clone(), cluster.changes(), rx, node));
    tracing::info!(region = %name, node = %core.node, hosting, "sharding started");
    Ok(core)
}

/// `bank::Account` → `Account`; `x::Wrapper<y::Z>` → `Wrapper`.
fn short_name(type_name: &str) -> String {
    let base = type_name.split('<').next().unwrap_or(type_name);
    base.rsplit("::").next().unwrap_or(base).to_owned()
}

/// The region's own task: membership changes, entity terminations,
/// timers. Ends when the node shuts down.
async fn drive(
    core: Arc<Core>,
    mut changes: watch::Receiver<u64>,
    mut events: mpsc::UnboundedReceiver<Event>,
    node: Arc<crate::node::NodeInner>,
) {
    core.refresh();
    let mut timer = tokio::time::interval(core.options.tick());
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let scan = core.options.passivate_after.map(|idle| (idle, (idle / 4).max(Duration::from_millis(10))));
    let mut last_scan = Instant::now();
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                core.refresh();
            }
            Some(event) = events.recv() => core.on_event(event),
            _ = timer.tick() => {
                if node.is_shut_down() {
                    break;
                }
                core.on_tick();
                if let Some((idle, every)) = scan
                    && last_scan.elapsed() >= every
                {
                    last_scan = Instant::now();
                    core.passivate_idle(idle);
                }
            }
        }
    }
    core.shut();
    if let Some(region) = core.region.get() {
        region.stop();
    }
}

/// The id every node gives entity `id` of region `region`, for dead
/// letters and `ActorRef::id`.
pub(crate) fn entity_actor_id(region: &str, id: &str) -> ActorId {
    let hash = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for b in region.bytes().chain([0]).chain(id.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    ActorId::from_uuid(uuid::Uuid::from_u64_pair(hash(1), hash(2)))
}

/// One node's handle on a sharded entity type: references to its entities
/// by id, and what the node's region is doing. Cheap to clone.
///
/// Returned by [`Sharding::start`], [`Sharding::start_with`] and
/// [`Sharding::proxy`]; the region keeps running when handles are
/// dropped, until its node shuts down.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
///
/// # #[derive(Default)] struct Account(u64);
/// # #[actor] impl Account { #[message(remote)] fn deposit(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account::default()).await?;
/// // A clone is another handle on the same region.
/// let handle = accounts.clone();
/// tokio::spawn(async move { handle.entity("a-1").deposit(10).await }).await??;
/// assert_eq!(accounts.entity("a-1").deposit(5).await?, 15);
/// # Ok(()) }
/// ```
pub struct ShardRegion<A> {
    core: Arc<Core>,
    _actor: PhantomData<fn() -> A>,
}

impl<A> Clone for ShardRegion<A> {
    fn clone(&self) -> Self {
        ShardRegion { core: self.core.clone(), _actor: PhantomData }
    }
}

impl<A> fmt::Debug for ShardRegion<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardRegion").field("name", &self.core.name).field("node", &self.core.node).finish()
    }
}

impl<A: RemoteActor> ShardRegion<A> {
    fn new(core: Arc<Core>) -> Self {
        ShardRegion { core, _actor: PhantomData }
    }

    /// A reference to the entity `id`, wherever in the cluster it lives:
    /// `tell`, `ask`, `.timeout(..)`, `try_tell` and the typed client work
    /// on it as on any `ActorRef<A>` (only `#[message(remote)]` messages
    /// can be sent, as to any remote actor). The entity is started on its
    /// first message.
    ///
    /// Its [`id`](ActorRef::id) is the same on every node, derived from
    /// the type and the entity id. Send the entity id, not the reference,
    /// inside messages: another node cannot resolve the reference.
    /// `stop()` passivates the entity now (after what was sent before),
    /// `kill()` kills it; its next message starts it again.
    /// `wait_for_stop()` returns when this node's region stops.
    ///
    /// # Panics
    ///
    /// If `id` is empty or longer than [`MAX_ENTITY_ID`] bytes; see
    /// [`try_entity`](ShardRegion::try_entity) for a checked version.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// #[derive(Default)]
    /// struct Account(u64);
    ///
    /// #[actor]
    /// impl Account {
    ///     #[message(remote)]
    ///     fn deposit(&mut self, amount: u64) -> u64 {
    ///         self.0 += amount;
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account::default()).await?;
    /// let acct = accounts.entity("a-1");
    /// assert_eq!(acct.id(), accounts.entity("a-1").id());
    /// assert_ne!(acct.id(), accounts.entity("a-2").id());
    /// // Started by its first message, then kept.
    /// assert_eq!(accounts.stats().entities_active, 0);
    /// assert_eq!(acct.deposit(10).await?, 10);
    /// assert_eq!(accounts.entity("a-1").deposit(5).await?, 15);
    /// assert_eq!(accounts.stats().entities_started, 1);
    /// # Ok(()) }
    /// ```
    pub fn entity(&self, id: &str) -> ActorRef<A> {
        self.try_entity(id).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`entity`](ShardRegion::entity), with the id checked.
    ///
    /// # Errors
    ///
    /// [`ShardingError::InvalidEntityId`] if `id` is empty or longer than
    /// [`MAX_ENTITY_ID`] bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingError, ShardingOptions};
    /// # #[derive(Default)] struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// # let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account).await?;
    /// assert!(matches!(accounts.try_entity(""), Err(ShardingError::InvalidEntityId(_))));
    /// assert_eq!(accounts.try_entity("a-1")?.balance().await?, 0);
    /// # Ok(()) }
    /// ```
    pub fn try_entity(&self, id: &str) -> Result<ActorRef<A>, ShardingError> {
        if id.is_empty() {
            return Err(ShardingError::InvalidEntityId("an empty id".into()));
        }
        if id.len() > MAX_ENTITY_ID {
            return Err(ShardingError::InvalidEntityId(format!(
                "{} bytes, more than the {MAX_ENTITY_ID} allowed",
                id.len()
            )));
        }
        let shard = placement::shard_of(id, self.core.options.shards);
        let endpoint = EntityEndpoint {
            core: self.core.clone(),
            entity: Arc::from(id),
            shard,
            id: entity_actor_id(&self.core.name, id),
            label: format!("sharded:{}", self.core.name),
        };
        Ok(transport::remote_ref::<A>(&self.core.system, Arc::new(endpoint)))
    }
}

impl<A> ShardRegion<A> {
    /// The type's region name (the same on every node).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// mod bank {
    /// #   use actor_core::prelude::*;
    ///     pub struct Account;
    /// #   #[actor] impl Account { #[message(remote)] pub fn balance(&self) -> u64 { 0 } }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| bank::Account).await?;
    /// // The type's name without its path.
    /// assert_eq!(accounts.name(), "Account");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// This node's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("bank-1").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account).await?;
    /// assert_eq!(accounts.node(), "bank-1");
    /// # Ok(()) }
    /// ```
    pub fn node(&self) -> &str {
        &self.core.node
    }

    /// The shard of entity `id` (the same on every node).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let options = ShardingOptions::default().shards(32);
    /// let accounts = Sharding::proxy::<Account>(&cluster, options.clone()).await?;
    /// // The same shards as the options compute before any region runs.
    /// for id in ["acct-1", "acct-2", "acct-42", "acct-99"] {
    ///     assert_eq!(accounts.shard_of(id), options.shard_of(id));
    ///     assert!(accounts.shard_of(id) < 32);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn shard_of(&self, id: &str) -> u32 {
        placement::shard_of(id, self.core.options.shards)
    }

    /// The number of shards.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::proxy::<Account>(&cluster, ShardingOptions::default().shards(64)).await?;
    /// assert_eq!(accounts.shards(), 64);
    /// # Ok(()) }
    /// ```
    pub fn shards(&self) -> u32 {
        self.core.options.shards
    }

    /// Whether this node hosts entities of the type (it started the type
    /// and has not left).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account).await?;
    /// assert!(accounts.is_hosting());
    /// let reports = Sharding::proxy::<Account>(&cluster, ShardingOptions::default().name("reports")).await?;
    /// assert!(!reports.is_hosting());
    /// # Ok(()) }
    /// ```
    pub fn is_hosting(&self) -> bool {
        self.core.lock().hosting
    }

    /// The owner of every shard, as this node sees the hosts now (`None`
    /// while no node hosts the type).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("solo").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let options = ShardingOptions::default().shards(8);
    /// let accounts = Sharding::start_with(&cluster, options, |_: &str| Account).await?;
    /// accounts.entity("a-1").balance().await?;
    /// // The only host owns every shard.
    /// assert_eq!(accounts.placement(), vec![Some("solo".to_string()); 8]);
    /// # Ok(()) }
    /// ```
    pub fn placement(&self) -> Vec<Option<String>> {
        self.core.lock().owners.iter().map(|o| o.as_deref().map(str::to_owned)).collect()
    }

    /// Counters and gauges of this node's region.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    ///
    /// # #[derive(Default)] struct Account(u64);
    /// # #[actor] impl Account { #[message(remote)] fn deposit(&mut self, n: u64) -> u64 { self.0 += n; self.0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let node = Node::builder(ActorSystem::new()).name("solo").secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account::default()).await?;
    /// for id in ["a-1", "a-2", "a-1"] {
    ///     accounts.entity(id).deposit(1).await?;
    /// }
    /// let stats = accounts.stats();
    /// assert_eq!(stats.node, "solo");
    /// assert_eq!(stats.hosts, ["solo"]);
    /// assert_eq!((stats.entities_active, stats.entities_started, stats.delivered), (2, 2, 3));
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> ShardingStats {
        self.core.stats()
    }

    /// Stops hosting on this node: every shard here is handed off (its
    /// entities stop after handling what they hold, their messages follow
    /// them to the new owners), then the node leaves the type's group. The
    /// handle keeps working, as a proxy. Call it before shutting a node down
    /// gracefully: a node that just disappears hands nothing off, and its
    /// entities start again elsewhere only after it is declared down.
    ///
    /// # Errors
    ///
    /// [`ShardingError::LeaveTimeout`] if shards were still moving after
    /// `timeout` (the node no longer takes shards either way).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the hand-off goes on if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use actor_core::prelude::*;
    /// # use actor_remote::{Cluster, ClusterConfig, Node, Sharding, ShardingOptions};
    /// # #[derive(Default)] struct Account;
    /// # #[actor] impl Account { #[message(remote)] fn balance(&self) -> u64 { 0 } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// # let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let accounts = Sharding::start_with(&cluster, ShardingOptions::default(), |_: &str| Account).await?;
    /// accounts.entity("a-1").balance().await?;
    /// accounts.leave(std::time::Duration::from_secs(5)).await?;
    /// assert!(!accounts.is_hosting());
    /// assert_eq!(accounts.stats().entities_active, 0);
    /// # Ok(()) }
    /// ```
    pub async fn leave(&self, timeout: Duration) -> Result<(), ShardingError> {
        let deadline = Instant::now() + timeout;
        self.core.update(|core, st, fx| {
            if !st.hosting {
                return;
            }
            st.hosting = false;
            let peers: Vec<String> = st.peers.keys().cloned().collect();
            for peer in peers {
                core.send_item(st, &peer, wire::Item::Leaving, fx);
            }
            core.replace_hosts(st, fx);
        });
        loop {
            let left = {
                let st = self.core.lock();
                let moving = st
                    .shards
                    .iter()
                    .filter(|s| matches!(s.mode, Mode::Active | Mode::Acquiring { .. } | Mode::Releasing { .. }))
                    .count();
                (moving, st.entities.len())
            };
            if left == (0, 0) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ShardingError::LeaveTimeout(format!(
                    "{} shards still here, {} entities running",
                    left.0, left.1
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(region) = self.core.region.get() {
            self.core.cluster.leave_group(&self.core.group, region);
        }
        Ok(())
    }
}
