//! The system's table of named actors: the storage behind
//! `ActorSystem::register` and `lookup` (in `registry.rs`), kept here
//! because every actor's end frees its names (`Shared::forget_names`).
//!
//! Two maps: names to entries (what look-ups read), and actor ids to the
//! names they hold (so that an actor's end frees its names without a scan).
//! Only `register` holds a lock of one map while taking one of the other
//! (a name, then an id), so the maps cannot deadlock each other.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::base::error::RegistryError;
use crate::base::id::{ActorId, IdHasher};
use crate::base::sync::plain::{DashMap, Entry as MapEntry};

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
    /// reference, so a registered actor stays alive. (Boxed by the caller,
    /// `ActorSystem::register`, which knows its type.)
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

    /// Gives `name` to actor `id` of type `actor_type`, unless another
    /// holds it; `actor` makes the reference to keep, only if the name is
    /// free. The caller marks the actor as named first (see
    /// `Shared::forget_names`).
    pub(crate) fn insert(
        &self,
        name: Arc<str>,
        id: ActorId,
        actor_type: &'static str,
        actor: impl FnOnce() -> Box<dyn Any + Send + Sync>,
    ) -> Result<(), RegistryError> {
        match self.names.entry(name.clone()) {
            MapEntry::Occupied(held) => Err(RegistryError::NameTaken { name, holder: held.get().id }),
            MapEntry::Vacant(vacant) => {
                let entry = Entry { id, actor_type, actor: actor() };
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
    pub(crate) fn remove(&self, name: &str, id: Option<ActorId>) -> bool {
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

    /// The reference registered under `name`, if it is an `R` (whose type
    /// name is `expected`) for which `live` holds; `ActorSystem::lookup`
    /// passes the `ActorRef<A>` it wants and whether its actor is still
    /// running.
    pub(crate) fn find<R: Any + Clone>(
        &self,
        name: &str,
        expected: &'static str,
        live: impl FnOnce(&R) -> bool,
    ) -> Result<R, RegistryError> {
        let not_found = || RegistryError::NotFound { name: name.into() };
        let entry = self.names.get(name).ok_or_else(not_found)?;
        let Some(actor) = entry.actor.downcast_ref::<R>() else {
            return Err(RegistryError::WrongType { name: entry.key().clone(), expected, actual: entry.actor_type });
        };
        // A `register` racing the actor's end may leave its entry in place
        // for a moment after the actor has terminated; it is about to go.
        if !live(actor) {
            return Err(not_found());
        }
        Ok(actor.clone())
    }

    pub(crate) fn names_of(&self, id: ActorId) -> Vec<Arc<str>> {
        self.by_id.get(&id).map(|names| names.clone()).unwrap_or_default()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("names", &self.names.len()).finish()
    }
}
