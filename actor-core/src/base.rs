//! The ground floor: what knows no actor. Ids, errors, flight records,
//! stats records and the loom switch; every other layer stands on these,
//! and nothing here imports a file outside `base/`.

pub mod error;
pub(crate) mod flight;
pub(crate) mod id;
pub(crate) mod stats;
pub(crate) mod sync;
