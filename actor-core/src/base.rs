//! The ground floor: what knows no actor. Ids, errors, stop reasons, dead
//! letters, flight and stats records, the loom switch, and two pieces of
//! per-thread bookkeeping every message needs: reply channels (with what
//! is being polled) and the graph of waits. Every other layer stands on
//! these, and nothing here imports a file outside `base/`.

pub(crate) mod dead_letter;
pub(crate) mod deadlock;
pub(crate) mod error;
pub(crate) mod flight;
pub(crate) mod id;
pub(crate) mod reason;
pub(crate) mod reply;
pub(crate) mod stats;
pub(crate) mod sync;
