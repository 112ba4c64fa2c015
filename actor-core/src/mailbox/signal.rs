//! The system lane's messages: what reaches an actor past its mailbox's
//! bound, ahead of its queued messages.

use crate::base::id::ActorId;
use crate::base::reason::{ChildExit, StopReason};

/// A message on the system lane.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Stop after the message in hand; queued messages become dead letters.
    Kill,
    /// Like `Kill`, but the stop counts as normal (system shutdown).
    Shutdown,
    /// A child of this actor has exited: terminated, or (a supervised
    /// child) failed and waiting for its supervisor's decision.
    ChildExit(ChildExit),
    /// A linked actor has terminated.
    LinkExit(ActorId, StopReason),
    /// Stop the current incarnation and start a fresh one from the factory
    /// (supervised actors only), keeping the mailbox.
    Restart,
}
