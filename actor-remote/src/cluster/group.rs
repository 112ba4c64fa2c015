//! Process groups across nodes, in the style of Erlang's `pg`.

use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use actor_core::RemoteActor;
use actor_core::{ActorRef, Handler, Message};

use super::Cluster;

/// A named group of actors spread over the cluster's nodes, typed as `A`.
///
/// Any node can add its local actors with [`Cluster::join_group`]; every
/// node sees every member. Members leave when they stop, when their node
/// goes down or leaves, or with [`Cluster::leave_group`]. A `Group` handle
/// reads the current membership on each call.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_remote::{Cluster, ClusterConfig, Node};
///
/// #[derive(Default)]
/// struct Worker(u64);
///
/// #[actor]
/// impl Worker {
///     #[message(remote)]
///     fn work(&mut self, n: u64) -> u64 {
///         self.0 += n;
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
/// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
/// for _ in 0..3 {
///     cluster.join_group("workers", &node.system().spawn(Worker::default()))?;
/// }
/// let workers = cluster.group::<Worker>("workers");
/// assert_eq!(workers.len(), 3);
/// assert_eq!(workers.tell_all(|| Work { n: 1 }).await, 3);
/// // Round-robin: three asks land on three different workers.
/// for _ in 0..3 {
///     assert_eq!(workers.round_robin().unwrap().work(1).await?, 2);
/// }
/// # Ok(()) }
/// ```
pub struct Group<A> {
    cluster: Cluster,
    name: String,
    next: AtomicUsize,
    _actor: PhantomData<fn() -> A>,
}

impl<A> fmt::Debug for Group<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("name", &self.name).finish()
    }
}

impl<A: RemoteActor> Group<A> {
    pub(super) fn new(cluster: Cluster, name: &str) -> Self {
        Group { cluster, name: name.to_owned(), next: AtomicUsize::new(0), _actor: PhantomData }
    }

    /// The group's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// assert_eq!(cluster.group::<Worker>("resizers").name(), "resizers");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The live members now, on every node, in a fixed order (by node name,
    /// then actor id).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message(remote)]
    ///     fn work(&mut self) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Node::builder(ActorSystem::new()).name("a").secret("cookie").start().await?;
    /// let b = Node::builder(ActorSystem::new()).name("b").secret("cookie").start().await?;
    /// let on_a = Cluster::start(&a, ClusterConfig::default()).await?;
    /// let on_b = Cluster::start(&b, ClusterConfig::default()).await?;
    /// on_b.join(&[&a.address().to_string()]).await?;
    /// on_a.join_group("workers", &a.system().spawn(Worker))?;
    /// on_b.join_group("workers", &b.system().spawn(Worker))?;
    ///
    /// // Once replicated, both nodes list both members, `a`'s first.
    /// let workers = on_b.group::<Worker>("workers");
    /// tokio::time::timeout(Duration::from_secs(10), async {
    ///     while workers.len() < 2 {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///     }
    /// })
    /// .await?;
    /// let members = workers.members();
    /// assert_eq!(members.iter().map(|m| m.is_local()).collect::<Vec<_>>(), [false, true]);
    /// for member in &members {
    ///     member.work().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn members(&self) -> Vec<ActorRef<A>> {
        self.cluster.group_refs(&self.name)
    }

    /// How many live members the group has now.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let workers = cluster.group::<Worker>("workers");
    /// assert_eq!(workers.len(), 0);
    /// cluster.join_group("workers", &node.system().spawn(Worker))?;
    /// cluster.join_group("workers", &node.system().spawn(Worker))?;
    /// assert_eq!(workers.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// Whether the group has no live member now.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let workers = cluster.group::<Worker>("workers");
    /// assert!(workers.is_empty());
    /// let worker = node.system().spawn(Worker);
    /// cluster.join_group("workers", &worker)?;
    /// assert!(!workers.is_empty());
    /// cluster.leave_group("workers", &worker);
    /// assert!(workers.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// The next member in turn (round-robin over [`members`](Group::members)),
    /// or `None` if the group is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let workers = cluster.group::<Worker>("workers");
    /// assert!(workers.round_robin().is_none());
    /// for _ in 0..3 {
    ///     cluster.join_group("workers", &node.system().spawn(Worker))?;
    /// }
    /// // Six picks go twice around the members, in their order.
    /// let order: Vec<ActorId> = workers.members().iter().map(|m| m.id()).collect();
    /// let picks: Vec<ActorId> = (0..6).map(|_| workers.round_robin().unwrap().id()).collect();
    /// assert_eq!(picks, [order.clone(), order].concat());
    /// # Ok(()) }
    /// ```
    pub fn round_robin(&self) -> Option<ActorRef<A>> {
        let mut members = self.members();
        if members.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % members.len();
        Some(members.swap_remove(i))
    }

    /// A member picked at random, or `None` if the group is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// # struct Worker;
    /// # #[actor] impl Worker { #[message(remote)] fn work(&mut self) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// let workers = cluster.group::<Worker>("workers");
    /// assert!(workers.random().is_none());
    /// for _ in 0..3 {
    ///     cluster.join_group("workers", &node.system().spawn(Worker))?;
    /// }
    /// let ids: Vec<ActorId> = workers.members().iter().map(|m| m.id()).collect();
    /// for _ in 0..10 {
    ///     let pick = workers.random().unwrap();
    ///     assert!(ids.contains(&pick.id()));
    ///     pick.work().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn random(&self) -> Option<ActorRef<A>> {
        let mut members = self.members();
        if members.is_empty() {
            return None;
        }
        let salt = self.next.fetch_add(1, Ordering::Relaxed);
        let i = (std::collections::hash_map::RandomState::new().hash_one(salt) as usize) % members.len();
        Some(members.swap_remove(i))
    }

    /// Tells every member once a message built by `make` (called once per
    /// member: `|| msg.clone()` for a `Clone` message); returns how many
    /// accepted it. Members that stopped or whose node is unreachable are
    /// skipped (their copies go to dead letters).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Cluster, ClusterConfig, Node};
    ///
    /// #[derive(Default)]
    /// struct Cache(u64);
    ///
    /// #[actor]
    /// impl Cache {
    ///     #[message(remote)]
    ///     fn flush(&mut self, generation: u64) {
    ///         self.0 = generation;
    ///     }
    ///
    ///     #[message(remote)]
    ///     fn generation(&self) -> u64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let cluster = Cluster::start(&node, ClusterConfig::default()).await?;
    /// for _ in 0..3 {
    ///     cluster.join_group("caches", &node.system().spawn(Cache::default()))?;
    /// }
    /// let caches = cluster.group::<Cache>("caches");
    /// assert_eq!(caches.tell_all(|| Flush { generation: 7 }).await, 3);
    /// for cache in caches.members() {
    ///     assert_eq!(cache.generation().await?, 7);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tell_all<M>(&self, mut make: impl FnMut() -> M) -> usize
    where
        A: Handler<M>,
        M: Message,
    {
        let mut delivered = 0;
        for member in self.members() {
            if member.tell(make()).await.is_ok() {
                delivered += 1;
            }
        }
        delivered
    }
}
