//! Named actors: register, look up by name and type, forget on stop. The
//! table itself is the system's (`system/names.rs`); this is its typed face.

use std::any::type_name;
use std::sync::Arc;

use crate::actor::context::Actor;
use crate::actor::message::{Handler, Message};
use crate::base::dead_letter::{DeadLetter, DeadLetterReason};
use crate::base::error::{RegistryError, SendError};
use crate::base::id::ActorId;
use crate::base::sync::{Ordering, fence};
use crate::reference::actor_ref::ActorRef;
use crate::system::ActorSystem;

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
    /// use actor_core::error::RegistryError;
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
        // Marked before the name is added: see `Shared::forget_names`.
        if let Some(shared) = actor.shared() {
            shared.cell.mark_named();
        }
        let held = || Box::new(actor.clone()) as Box<dyn std::any::Any + Send + Sync>;
        self.registry().insert(name.clone(), actor.id(), type_name::<A>(), held)?;
        // The actor may have begun to stop since the check above, and its
        // names may already have been freed, before this one was added:
        // take it out again rather than keep a stopped actor registered.
        // (The fence pairs with the one in `Shared::forget_names`; loom model:
        // `models::a_registration_racing_the_actors_end_never_outlives_it`.)
        fence(Ordering::SeqCst);
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
        self.try_lookup(name).ok()
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
    /// use actor_core::error::RegistryError;
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
        let live = |actor: &ActorRef<A>| !actor.shared().is_some_and(|shared| shared.cell.is_terminated());
        self.registry().find(name, type_name::<A>(), live)
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
