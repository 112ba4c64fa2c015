//! References: how everyone else talks to an actor, wherever it lives.
//! `sink.rs` is how a message is queued (locally, or through a transport
//! for the actors of other nodes: `remote.rs`, feature `serde`), `ask.rs`
//! the request/reply on top of it, and `recipient.rs` and `actor_ref.rs`
//! the handles users hold.

pub(crate) mod actor_ref;
pub(crate) mod ask;
pub(crate) mod recipient;
#[cfg(feature = "serde")]
pub(crate) mod remote;
pub(crate) mod sink;

/// Equality and hashing of a reference type by the id of the actor it
/// reaches: two references are equal when they name the same actor,
/// whatever they were made from.
macro_rules! identity_by_actor_id {
    ($ty:ident<$param:ident: $bound:ident>) => {
        impl<$param: $bound> PartialEq for $ty<$param> {
            fn eq(&self, other: &Self) -> bool {
                self.id() == other.id()
            }
        }

        impl<$param: $bound> Eq for $ty<$param> {}

        impl<$param: $bound> std::hash::Hash for $ty<$param> {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                std::hash::Hash::hash(&self.id(), state)
            }
        }
    };
}
pub(crate) use identity_by_actor_id;
