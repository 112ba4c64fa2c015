//! Named actors: register, look up by name and type, forget on stop.
//!
//! Two maps: names to entries (what look-ups read), and actor ids to the
//! names they hold (so that an actor's end frees its names without a scan).
//! Only `register` holds a lock of one map while taking one of the other
//! (a name, then an id), so the maps cannot deadlock each other.

use std::any::{Any, type_name};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::base::dead_letter::{DeadLetter, DeadLetterReason};
use crate::base::error::SendError;
use crate::base::id::{ActorId, IdHasher};
use crate::message::{Handler, Message};
use crate::system::ActorSystem;

/// The system's table of named actors.
pub(crate) struct Registry {
    names: DashMap<Arc<str>, Entry>,
    by_id: DashMap<ActorId, Vec<Arc<str>>, IdHasher>,
}

/// One registered name.
struct Entry {
    id: ActorId,
    actor_type: &'static str,
    /// An `ActorRef<A>` for the `A` named by `actor_type`: a strong
    /// reference, so a registered actor stays alive.
    actor: Box<dyn Any + Send + Sync>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry { names: DashMap::new(), by_id: DashMap::with_hasher(IdHasher::default()) }
    }

    /// Called once an actor has terminated: frees its names.
    ///
    /// The removed references are dropped here, after every map lock has
    /// been let go.
    pub(crate) fn forget(&self, id: ActorId) {
        let Some((_, names)) = self.by_id.remove(&id) else { return };
        for name in names {
            drop(self.names.remove_if(&name, |_, entry| entry.id == id));
        }
    }

    fn insert<A: Actor>(&self, name: Arc<str>, actor: &ActorRef<A>) -> Result<(), RegistryError> {
        let id = actor.id();
        if let Some(shared) = actor.shared() {
            shared.cell.mark_named();
        }
        match self.names.entry(name.clone()) {
            MapEntry::Occupied(held) => Err(RegistryError::NameTaken { name, holder: held.get().id }),
            MapEntry::Vacant(vacant) => {
                let entry = Entry { id, actor_type: type_name::<A>(), actor: Box::new(actor.clone()) };
                // The name stays locked until the id knows it, so that an
                // `unregister` of this name cannot slip in between.
                let _locked = vacant.insert(entry);
                self.by_id.entry(id).or_default().push(name);
                Ok(())
            }
        }
    }

    /// Removes `name` if `id` holds it (any holder if `id` is `None`);
    /// returns whether it did.
    fn remove(&self, name: &str, id: Option<ActorId>) -> bool {
        let Some((name, entry)) = self.names.remove_if(name, |_, entry| id.is_none_or(|id| entry.id == id)) else {
            return false;
        };
        if let Some(mut names) = self.by_id.get_mut(&entry.id) {
            names.retain(|n| *n != name);
        }
        self.by_id.remove_if(&entry.id, |_, names| names.is_empty());
        // `entry` (and its reference) is dropped here, with no lock held.
        true
    }

    fn find<A: Actor>(&self, name: &str) -> Result<ActorRef<A>, RegistryError> {
        let not_found = || RegistryError::NotFound { name: name.into() };
        let entry = self.names.get(name).ok_or_else(not_found)?;
        let Some(actor) = entry.actor.downcast_ref::<ActorRef<A>>() else {
            return Err(RegistryError::WrongType {
                name: entry.key().clone(),
                expected: type_name::<A>(),
                actual: entry.actor_type,
            });
        };
        // A `register` racing the actor's end may leave its entry in place
        // for a moment after the actor has terminated; it is about to go.
        if actor.shared().is_some_and(|shared| shared.cell.is_terminated()) {
            return Err(not_found());
        }
        Ok(actor.clone())
    }

    fn names_of(&self, id: ActorId) -> Vec<Arc<str>> {
        self.by_id.get(&id).map(|names| names.clone()).unwrap_or_default()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("names", &self.names.len()).finish()
    }
}

/// Named actors.
///
/// A name is held by one actor at a time; an actor may hold several names.
/// The registry keeps a strong reference to each registered actor, so a
/// registered actor stays alive (as in Erlang) until it is stopped or its
/// last name is [unregistered](ActorSystem::unregister). Its names are freed
/// when it terminates: once [`wait_for_stop`](ActorRef::wait_for_stop)
/// returns, [`lookup`](ActorSystem::lookup) no longer finds it and the names
/// can be registered again.
///
/// Names belong to an actor's id: a supervised actor restarted in place keeps
/// them, while one started again as a new actor must register again.
/// Look-ups read a concurrent map and never wait for a registration of
/// another name.
impl ActorSystem {
    /// Registers `actor` under `name`.
    ///
    /// The registry keeps a reference to the actor, which therefore stays
    /// alive after the caller drops its own references.
    ///
    /// # Errors
    ///
    /// - [`RegistryError::NameTaken`] if an actor (this one included) already
    ///   holds `name`; names are freed only when their actor has terminated.
    /// - [`RegistryError::ActorStopped`] if the actor no longer accepts
    ///   messages: it has stopped, or its stop is under way. (A stop that was
    ///   asked for but not yet taken up does not count: the registration
    ///   succeeds and lasts until the actor terminates.)
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::RegistryError;
    /// use actor_core::prelude::*;
    /// # struct Cache;
    /// # impl Actor for Cache { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let first = system.spawn(Cache);
    /// system.register("cache", &first).unwrap();
    ///
    /// let second = system.spawn(Cache);
    /// let err = system.register("cache", &second).unwrap_err();
    /// assert!(matches!(err, RegistryError::NameTaken { holder, .. } if holder == first.id()));
    /// # }
    /// ```
    pub fn register<A: Actor>(&self, name: impl Into<Arc<str>>, actor: &ActorRef<A>) -> Result<(), RegistryError> {
        let name = name.into();
        let stopped = |name| RegistryError::ActorStopped { name, id: actor.id() };
        if !actor.is_alive() {
            return Err(stopped(name));
        }
        self.registry().insert(name.clone(), actor)?;
        // The actor may have begun to stop since the check above, and its
        // names may already have been freed, before this one was added:
        // take it out again rather than keep a stopped actor registered.
        // (The fence pairs with the one in `Cell::forget_names`; loom model:
        // `models::a_registration_racing_the_actors_end_never_outlives_it`.)
        crate::base::sync::fence(crate::base::sync::Ordering::SeqCst);
        if !actor.is_alive() {
            self.registry().remove(&name, Some(actor.id()));
            return Err(stopped(name));
        }
        Ok(())
    }

    /// The actor registered as `name`, if there is one and it is an `A`.
    ///
    /// See [`try_lookup`](ActorSystem::try_lookup) to tell an unknown name
    /// from a wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Cache;
    /// # impl Actor for Cache { type Error = std::convert::Infallible; }
    /// # struct Other;
    /// # impl Actor for Other { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let cache = system.spawn(Cache);
    /// system.register("cache", &cache).unwrap();
    ///
    /// assert_eq!(system.lookup::<Cache>("cache"), Some(cache.clone()));
    /// assert!(system.lookup::<Other>("cache").is_none());
    /// assert!(system.lookup::<Cache>("nobody").is_none());
    ///
    /// cache.stop();
    /// cache.wait_for_stop().await;
    /// assert!(system.lookup::<Cache>("cache").is_none());
    /// # }
    /// ```
    pub fn lookup<A: Actor>(&self, name: &str) -> Option<ActorRef<A>> {
        self.registry().find(name).ok()
    }

    /// Tells `msg` to the actor of type `A` registered as `name`: the
    /// text's "indirect messaging" through a named mailbox.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownName`] with `msg` if no live actor of type `A`
    /// holds `name`; the message is also reported as a dead letter
    /// ([`DeadLetterReason::UnknownName`](crate::DeadLetterReason::UnknownName),
    /// with the name). Otherwise as [`ActorRef::tell`].
    ///
    /// # Cancel safety
    ///
    /// As [`ActorRef::tell`].
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_core::DeadLetterReason;
    /// # struct Log;
    /// # impl Actor for Log { type Error = std::convert::Infallible; }
    /// # struct Line(&'static str);
    /// # impl Message for Line { type Reply = (); }
    /// # impl Handler<Line> for Log { async fn handle(&mut self, _: Line, _: &mut Context<Self>) {} }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut dead = system.dead_letters();
    /// system.register("log", &system.spawn(Log)).unwrap();
    /// system.tell_named::<Log, _>("log", Line("hello")).await.unwrap();
    ///
    /// let err = system.tell_named::<Log, _>("audit", Line("lost?")).await.unwrap_err();
    /// assert_eq!(err.into_inner().0, "lost?");
    /// let letter = dead.recv().await.unwrap();
    /// assert_eq!(letter.reason, DeadLetterReason::UnknownName);
    /// assert_eq!(letter.name.as_deref(), Some("audit"));
    /// assert_eq!(letter.recipient, None);
    /// # }
    /// ```
    pub async fn tell_named<A, M>(&self, name: &str, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        match self.lookup::<A>(name) {
            Some(actor) => actor.tell(msg).await,
            None => {
                self.publish_dead_letter(DeadLetter {
                    recipient: None,
                    name: Some(name.into()),
                    actor_type: type_name::<A>(),
                    message_type: type_name::<M>(),
                    reason: DeadLetterReason::UnknownName,
                    detail: None,
                });
                Err(SendError::UnknownName(msg))
            }
        }
    }

    /// The actor registered as `name`, or why there is none of type `A`.
    ///
    /// # Errors
    ///
    /// - [`RegistryError::NotFound`] if no live actor holds `name`.
    /// - [`RegistryError::WrongType`] if the actor holding `name` is not an
    ///   `A`; the error names both types.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::RegistryError;
    /// use actor_core::prelude::*;
    /// # struct Cache;
    /// # impl Actor for Cache { type Error = std::convert::Infallible; }
    /// # struct Other;
    /// # impl Actor for Other { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let cache = system.spawn(Cache);
    /// system.register("cache", &cache).unwrap();
    ///
    /// assert_eq!(system.try_lookup::<Cache>("cache").unwrap(), cache);
    /// match system.try_lookup::<Other>("cache") {
    ///     Err(RegistryError::WrongType { expected, actual, .. }) => {
    ///         assert!(expected.ends_with("Other"));
    ///         assert!(actual.ends_with("Cache"));
    ///     }
    ///     other => panic!("unexpected: {other:?}"),
    /// }
    /// assert!(matches!(system.try_lookup::<Cache>("nobody"), Err(RegistryError::NotFound { .. })));
    /// # }
    /// ```
    pub fn try_lookup<A: Actor>(&self, name: &str) -> Result<ActorRef<A>, RegistryError> {
        self.registry().find(name)
    }

    /// Frees `name`; returns whether it was registered.
    ///
    /// The registry drops its reference to the actor: if that was the last
    /// strong reference, the actor stops, as when any other reference is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// # struct Cache;
    /// # impl Actor for Cache { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let cache = system.spawn(Cache);
    /// system.register("cache", &cache).unwrap();
    ///
    /// assert!(system.unregister("cache"));
    /// assert!(!system.unregister("cache"));
    /// assert!(system.lookup::<Cache>("cache").is_none());
    /// assert!(cache.is_alive()); // `cache` itself still holds it
    /// # }
    /// ```
    pub fn unregister(&self, name: &str) -> bool {
        self.registry().remove(name, None)
    }

    /// The names the actor `id` is registered under, oldest first; empty if
    /// none (or once it has terminated).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actor_core::prelude::*;
    /// # struct Cache;
    /// # impl Actor for Cache { type Error = std::convert::Infallible; }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let cache = system.spawn(Cache);
    /// system.register("cache", &cache).unwrap();
    /// system.register("store", &cache).unwrap();
    ///
    /// let names: Vec<Arc<str>> = system.registered_names(cache.id());
    /// assert_eq!(names, [Arc::from("cache"), Arc::from("store")]);
    /// # }
    /// ```
    pub fn registered_names(&self, id: ActorId) -> Vec<Arc<str>> {
        self.registry().names_of(id)
    }
}

/// Why a name could not be registered or looked up.
///
/// # Examples
///
/// ```
/// use actor_core::RegistryError;
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
