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
