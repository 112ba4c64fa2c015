//! The system lane's messages: what reaches an actor past its mailbox's
//! bound, ahead of its queued messages.

use crate::base::id::ActorId;
use crate::base::reason::{ChildExit, StopReason};

/// A message on the system lane.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Stop after the message in hand; queued messages become dead letters.
    Kill,
    /// End at once, dropping the handler's future in progress (which the
    /// queue's abort flag reaches); queued messages become dead letters.
    /// Acted on only if the flag is still up: the run loop clears it when
    /// it acts, so a signal that arrives after that does nothing.
    Abort,
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
