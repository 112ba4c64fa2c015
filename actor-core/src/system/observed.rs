//! The table of an observed system: every live actor, with its failures
//! once it has had any, for `ActorSystem::stats`.
//!
//! Written only when a panic or a restart happens, nothing per message, and
//! nothing at all for a system that is not observed.

use std::collections::VecDeque;
use std::sync::Weak;
use std::time::SystemTime;

use crate::base::error::PanicError;
use crate::base::stats::{PanicRecord, RECENT_RESTARTS};
use crate::cell::Lane;

/// An observed system's entry for one live actor: how to reach it, and
/// its failures once it has had any.
pub(crate) struct Observed {
    pub(crate) lane: Weak<dyn Lane>,
    failures: Option<Box<Failures>>,
}

/// What an observed actor's entry remembers once it has failed.
#[derive(Default)]
struct Failures {
    last_panic: Option<PanicRecord>,
    restarts: VecDeque<SystemTime>,
}

impl Observed {
    pub(crate) fn new(lane: Weak<dyn Lane>) -> Self {
        Observed { lane, failures: None }
    }

    /// Notes a panic, now.
    pub(crate) fn panicked(&mut self, error: &PanicError) {
        let failures = self.failures.get_or_insert_default();
        failures.last_panic = Some(PanicRecord { at: SystemTime::now(), error: error.clone() });
    }

    /// Notes a restart, now.
    pub(crate) fn restarted(&mut self) {
        let restarts = &mut self.failures.get_or_insert_default().restarts;
        if restarts.len() == RECENT_RESTARTS {
            restarts.pop_front();
        }
        restarts.push_back(SystemTime::now());
    }

    /// The actor's last panic and recent restart times, for its `stats`.
    pub(crate) fn failures(&self) -> (Option<PanicRecord>, Vec<SystemTime>) {
        match &self.failures {
            Some(f) => (f.last_panic.clone(), f.restarts.iter().copied().collect()),
            None => (None, Vec::new()),
        }
    }
}
