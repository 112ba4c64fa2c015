//! Dead letters: messages that could not be delivered, and why.

use std::sync::Arc;

use crate::base::id::ActorId;

/// A message that could not be delivered.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::DeadLetterReason;
/// use actor_core::prelude::*;
///
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[message]
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let mut letters = system.dead_letters();
/// let echo = system.spawn(Echo);
/// echo.stop();
/// tokio::time::timeout(Duration::from_secs(10), echo.wait_for_stop()).await.unwrap();
///
/// assert!(echo.try_tell(Ping).is_err());
/// let letter = tokio::time::timeout(Duration::from_secs(10), letters.recv()).await.unwrap().unwrap();
/// assert_eq!(letter.recipient, Some(echo.id()));
/// assert_eq!(letter.reason, DeadLetterReason::Stopped);
/// assert!(letter.message_type.ends_with("Ping"));
/// assert!(letter.actor_type.ends_with("Echo"));
/// # }
/// ```
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
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::DeadLetterReason;
/// use actor_core::prelude::*;
///
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[message]
///     fn ping(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let wait = Duration::from_secs(10);
/// let system = ActorSystem::new();
/// let mut letters = system.dead_letters();
/// let echo = system.spawn(Echo);
/// echo.tell(Ping).await.unwrap(); // queued
/// echo.kill(); // before the actor has run (one thread)
/// tokio::time::timeout(wait, echo.wait_for_stop()).await.unwrap();
/// let letter = tokio::time::timeout(wait, letters.recv()).await.unwrap().unwrap();
/// assert_eq!(letter.reason, DeadLetterReason::DroppedOnStop); // queued, never handled
///
/// assert!(echo.try_tell(Ping).is_err());
/// let letter = tokio::time::timeout(wait, letters.recv()).await.unwrap().unwrap();
/// assert_eq!(letter.reason, DeadLetterReason::Stopped); // sent after the stop
/// # }
/// ```
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
