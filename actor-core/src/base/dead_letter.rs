//! Dead letters: messages that could not be delivered, and why.

use std::sync::Arc;

use crate::base::id::ActorId;

/// A message that could not be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The actor it was for; `None` when it was sent to a name that no
    /// actor holds.
    pub recipient: Option<ActorId>,
    /// The name it was sent to, if it was sent by name.
    pub name: Option<Arc<str>>,
    /// That actor's type name.
    pub actor_type: &'static str,
    /// The message's type name.
    pub message_type: &'static str,
    /// Why it was not delivered.
    pub reason: DeadLetterReason,
    /// More about it, where there is more: for a message from another node,
    /// its wire name and what went wrong.
    pub detail: Option<Arc<str>>,
}

/// Why a message became a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The actor had stopped when the message was sent; the sender got the
    /// message back in its error.
    Stopped,
    /// The message was queued, but the actor stopped (killed, panicked,
    /// failed or shut down) before handling it. An ask for it failed with
    /// [`AskError::NoReply`](crate::error::AskError::NoReply).
    DroppedOnStop,
    /// It was sent to a name that no actor holds
    /// ([`ActorSystem::tell_named`](crate::ActorSystem::tell_named)).
    UnknownName,
    /// It was for an actor on another node that could not be reached: the
    /// connection dropped while it was in flight, or the bounded outbox for
    /// the node was full.
    NodeDown,
    /// It came from another node but could not be delivered here: the
    /// target actor is unknown, or the message type is unknown or did not
    /// decode.
    Undeliverable,
    /// An ask whose caller had already given up (its timeout passed, or its
    /// future was dropped) by the time the actor reached it: skipped, not
    /// handled.
    Expired,
}
