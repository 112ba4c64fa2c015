//! One actor from the inside: its typed shared block (`shared.rs`), the
//! `Actor` trait and its `Context` (`context.rs`), messages and handlers
//! (`message.rs`), and the run loop that drives them (`run.rs`), in that
//! order: each file names only those before it, and the layers below
//! (`base/`, `mailbox/`, the envelope and the cell, the system's shared
//! state, the transport interface).

pub(crate) mod context;
pub(crate) mod message;
pub(crate) mod run;
pub(crate) mod shared;
