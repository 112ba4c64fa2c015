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
    /// node was down and the bounded outbox for it was full, or the sender
    /// waited for credit toward it and the node went away. It never left
    /// this node.
    NodeDown,
    /// It was for an actor on another node, and the link to that node ended
    /// before the node acknowledged it: the node came back as a new
    /// incarnation (its process restarted), or this node gave up on it.
    /// Within one incarnation a lost connection is not a reason: what it
    /// carried is sent again on the next one.
    ///
    /// `maybe_delivered` is `true` when the message had been written to a
    /// connection: the node may have queued and handled it before it went
    /// away, or not, and nobody can tell. `false` when it never left this
    /// node: it was not handled.
    NodeLost {
        /// Whether the message had left this node.
        maybe_delivered: bool,
    },
    /// It came from another node but could not be delivered here: the
    /// target actor is unknown, or the message type is unknown or did not
    /// decode.
    Undeliverable,
    /// An ask whose caller had already given up (its timeout passed, or its
    /// future was dropped) by the time the actor reached it: skipped, not
    /// handled.
    Expired,
}
