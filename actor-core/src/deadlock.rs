//! Ask-cycle detection: who waits on whom.
//!
//! When a handler of actor A awaits an ask to B, A handles nothing else until
//! B answers: A waits for B. The graph of such waits is kept here (only
//! asks made from inside a handler enter it; asks from plain tasks cannot
//! close a cycle, since nobody waits on a plain task). An ask from A to B
//! that finds a path of waits from B back to A would never be answered, so
//! it fails at once with the cycle instead of hanging until its timeout.
//!
//! The check and the insertion happen under one lock, so two actors asking
//! each other at the same moment cannot both slip in: the second finds the
//! first's wait. Asks from plain tasks never take the lock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, Mutex, PoisonError};

use crate::id::ActorId;

/// Waiter -> the actors it waits for (a handler may await several asks).
static WAITS: LazyLock<Mutex<HashMap<ActorId, Vec<ActorId>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A wait in the graph, removed when the ask ends (answered, failed, timed
/// out or dropped).
#[derive(Debug)]
pub(crate) struct Waiting {
    waiter: ActorId,
    target: ActorId,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waits = WAITS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(targets) = waits.get_mut(&self.waiter) {
            if let Some(i) = targets.iter().position(|t| *t == self.target) {
                targets.swap_remove(i);
            }
            // An empty list stays, with its capacity, for this actor's next
            // ask: no allocation per ask. It goes when the map grows large.
            if targets.is_empty() && waits.len() > 1024 {
                waits.retain(|_, t| !t.is_empty());
            }
        }
    }
}

/// Records that `waiter` waits for `target`, unless that closes a cycle.
///
/// # Errors
///
/// The cycle, starting and ending with `waiter`.
pub(crate) fn wait(waiter: ActorId, target: ActorId) -> Result<Waiting, Cycle> {
    if waiter == target {
        return Err(Cycle(vec![waiter, target]));
    }
    let mut waits = WAITS.lock().unwrap_or_else(PoisonError::into_inner);
    // The common case: the target waits for nobody, so no path can start
    // there; no search, no allocation.
    let target_waits = waits.get(&target).is_some_and(|t| !t.is_empty());
    if let Some(path) = target_waits.then(|| path(&waits, target, waiter)).flatten() {
        let mut cycle = Vec::with_capacity(path.len() + 1);
        cycle.push(waiter);
        cycle.extend(path);
        return Err(Cycle(cycle));
    }
    waits.entry(waiter).or_default().push(target);
    Ok(Waiting { waiter, target })
}

/// A path of waits from `from` to `to`, both included, if there is one.
fn path(waits: &HashMap<ActorId, Vec<ActorId>>, from: ActorId, to: ActorId) -> Option<Vec<ActorId>> {
    // Depth-first, remembering how each actor was reached.
    let mut came_from: HashMap<ActorId, ActorId> = HashMap::new();
    let mut stack = vec![from];
    while let Some(at) = stack.pop() {
        if at == to {
            let mut path = vec![at];
            let mut cur = at;
            while cur != from {
                cur = came_from[&cur];
                path.push(cur);
            }
            path.reverse();
            return Some(path);
        }
        for &next in waits.get(&at).into_iter().flatten() {
            if next != from && !came_from.contains_key(&next) {
                came_from.insert(next, at);
                stack.push(next);
            }
        }
    }
    None
}

/// The actors of an ask cycle, in wait order: the first waits for the
/// second, and so on; the last is the first again. Carried by
/// [`AskError::Deadlock`](crate::error::AskError::Deadlock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(Vec<ActorId>);

impl Cycle {
    /// The actors, the asker first and last.
    pub fn actors(&self) -> &[ActorId] {
        &self.0
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_removed_when_dropped_and_cycles_are_found() {
        let (a, b, c) = (ActorId::next(), ActorId::next(), ActorId::next());
        let ab = wait(a, b).unwrap();
        let bc = wait(b, c).unwrap();
        let cycle = wait(c, a).unwrap_err();
        assert_eq!(cycle.actors(), [c, a, b, c]);
        drop(bc);
        let ca = wait(c, a).expect("no cycle once b stopped waiting");
        drop((ab, ca));
        assert!(wait(a, a).is_err(), "asking oneself is a cycle");
        let _ = wait(b, a).expect("nothing waits any more");
    }
}
