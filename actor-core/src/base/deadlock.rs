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
//!
//! The graph is kept per actor system (a key's first half is the system's
//! id): a node serves one system, so two nodes in one process know of each
//! other's waits only what their asks carry, as two processes would. (Asks
//! between actors of two systems of one process, without a node between
//! them, are therefore not traced.)
//!
//! Across nodes, the graph of one process is not enough: A on one node may
//! wait for B on another, which asks A back. So a remote ask made by a
//! handler carries its *chain*: the waits of this process that lead to the
//! asker (found by walking the graph backwards from it), plus the asker's
//! own wait on the target. The node that receives the ask *assumes* those
//! waits for as long as the ask is queued or handled, in a second map of
//! the same graph, so that the handler's own asks (local or remote) are
//! checked against them, and carry them further. An assumed wait also ends
//! at the remote asker's deadline, if it gave one: past it, the asker has
//! given up and waits no more.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::base::sync::plain::{Mutex, MutexGuard};

use tokio::time::Instant;

use crate::base::error::Cycle;
use crate::base::id::ActorId;
use crate::base::reply::Me;

/// Which actor system a wait belongs to: its id.
pub(crate) type Scope = u64;

/// An actor, within its system's graph.
type Key = (Scope, ActorId);

/// The most waits a chain carries to another node; a longer one keeps the
/// waits nearest the asker. Cutting a chain can only hide a cycle (the asks
/// then end at their timeouts), never report a false one.
#[cfg(feature = "serde")]
pub(crate) const MAX_CHAIN: usize = 64;

/// One wait: `.0` waits for `.1`.
#[cfg(feature = "serde")]
pub(crate) type Edge = (ActorId, ActorId);

#[derive(Default)]
struct Graph {
    /// Waiter -> the actors it waits for (a handler may await several asks),
    /// for asks made in this process.
    waits: HashMap<Key, Vec<ActorId>>,
    /// Waits reported by other nodes with the asks they sent here: waiter
    /// -> (awaited, until when). Empty unless remote asks with chains are
    /// queued or running here.
    assumed: HashMap<Key, Vec<(ActorId, Option<Instant>)>>,
}

impl Graph {
    /// The actors `at` waits for, as far as this process knows.
    fn next(&self, at: Key, now: Option<Instant>) -> impl Iterator<Item = ActorId> + '_ {
        let local = self.waits.get(&at).into_iter().flatten().copied();
        let assumed = self
            .assumed
            .get(&at)
            .into_iter()
            .flatten()
            .filter(move |(_, until)| match (until, now) {
                (Some(until), Some(now)) => now < *until,
                _ => true,
            })
            .map(|(to, _)| *to);
        local.chain(assumed)
    }

    /// Whether `at` waits for anybody.
    fn waits_for_anybody(&self, at: Key) -> bool {
        self.waits.get(&at).is_some_and(|t| !t.is_empty())
            || (!self.assumed.is_empty() && self.assumed.get(&at).is_some_and(|t| !t.is_empty()))
    }
}

static GRAPH: LazyLock<Mutex<Graph>> = LazyLock::new(|| Mutex::new(Graph::default()));

fn graph() -> MutexGuard<'static, Graph> {
    GRAPH.lock()
}

/// A wait in the graph, removed when the ask ends (answered, failed, timed
/// out or dropped).
#[derive(Debug)]
pub(crate) struct Waiting {
    waiter: Key,
    target: ActorId,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut graph = graph();
        let waits = &mut graph.waits;
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

/// Records that `waiter` (a handler's actor) waits for `target`, unless
/// that closes a cycle.
///
/// # Errors
///
/// The cycle, starting and ending with `waiter`.
pub(crate) fn wait(waiter: Me, target: ActorId) -> Result<Waiting, Cycle> {
    let Me { id: waiter, scope } = waiter;
    if waiter == target {
        return Err(Cycle(vec![waiter, target]));
    }
    let mut graph = graph();
    closes_cycle(&graph, scope, waiter, target)?;
    graph.waits.entry((scope, waiter)).or_default().push(target);
    Ok(Waiting { waiter: (scope, waiter), target })
}

/// Whether `waiter` waiting for `target` would close a cycle, without
/// recording the wait: for a tell that finds a full mailbox. Its wait for
/// room is not recorded, because the room may already be on its way (the
/// target may have taken messages and not yet been seen by the waiter),
/// and an edge kept until the waiter runs again could report a cycle that
/// is not there. A target that waits on the waiter, though, makes no room
/// until that wait ends.
///
/// # Errors
///
/// The cycle, starting and ending with `waiter`.
pub(crate) fn check(waiter: Me, target: ActorId) -> Result<(), Cycle> {
    let Me { id: waiter, scope } = waiter;
    if waiter == target {
        return Err(Cycle(vec![waiter, target]));
    }
    closes_cycle(&graph(), scope, waiter, target)
}

/// The cycle `waiter` waiting for `target` would close, if any.
fn closes_cycle(graph: &Graph, scope: Scope, waiter: ActorId, target: ActorId) -> Result<(), Cycle> {
    // The common case: the target waits for nobody, so no path can start
    // there; no search, no allocation.
    if graph.waits_for_anybody((scope, target))
        && let Some(path) = path(graph, scope, target, waiter)
    {
        let mut cycle = Vec::with_capacity(path.len() + 1);
        cycle.push(waiter);
        cycle.extend(path);
        return Err(Cycle(cycle));
    }
    Ok(())
}

/// The chain a remote ask from `asker` (a handler) to `target` carries: every
/// wait this process knows of on a path that ends at `asker`, nearest
/// first, then `asker`'s wait on `target`; at most [`MAX_CHAIN`] waits.
#[cfg(feature = "serde")]
pub(crate) fn chain(asker: Me, target: ActorId) -> Vec<Edge> {
    let Me { id: asker, scope } = asker;
    let graph = graph();
    let now = (!graph.assumed.is_empty()).then(Instant::now);
    let mut edges = Vec::new();
    // Backwards from the asker, breadth first: who waits for it, who waits
    // for them, and so on. Each waiter is expanded once.
    let mut frontier = vec![asker];
    let mut seen = vec![asker];
    while let Some(at) = frontier.pop() {
        let waiters = graph
            .waits
            .keys()
            .chain(graph.assumed.keys())
            .filter(|w| w.0 == scope && graph.next(**w, now).any(|to| to == at))
            .map(|w| w.1)
            .collect::<Vec<_>>();
        for waiter in waiters {
            if edges.len() + 1 >= MAX_CHAIN {
                break;
            }
            if !edges.contains(&(waiter, at)) {
                edges.push((waiter, at));
            }
            if !seen.contains(&waiter) {
                seen.push(waiter);
                frontier.insert(0, waiter);
            }
        }
    }
    edges.reverse();
    edges.push((asker, target));
    edges
}

/// Waits of another node, assumed here while the ask that reported them is
/// queued or handled; removed when dropped.
/// Only remote asks (feature `serde`) bring chains to assume; without the
/// feature the second map of the graph stays empty.
#[derive(Debug)]
#[cfg(feature = "serde")]
pub(crate) struct Assumed {
    scope: Scope,
    edges: Vec<Edge>,
    until: Option<Instant>,
}

/// Assumes `edges` (a chain received with a remote ask) in the graph of
/// system `scope` until the returned guard is dropped, or until `until`
/// passes.
#[cfg(feature = "serde")]
pub(crate) fn assume(scope: Scope, mut edges: Vec<Edge>, until: Option<Instant>) -> Assumed {
    edges.truncate(MAX_CHAIN);
    let mut graph = graph();
    for (waiter, target) in &edges {
        graph.assumed.entry((scope, *waiter)).or_default().push((*target, until));
    }
    Assumed { scope, edges, until }
}

#[cfg(feature = "serde")]
impl Drop for Assumed {
    fn drop(&mut self) {
        let mut graph = graph();
        for (waiter, target) in &self.edges {
            let key = (self.scope, *waiter);
            if let Some(list) = graph.assumed.get_mut(&key) {
                if let Some(i) = list.iter().position(|e| *e == (*target, self.until)) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    graph.assumed.remove(&key);
                }
            }
        }
    }
}

/// A path of waits from `from` to `to`, both included, if there is one.
fn path(graph: &Graph, scope: Scope, from: ActorId, to: ActorId) -> Option<Vec<ActorId>> {
    let now = (!graph.assumed.is_empty()).then(Instant::now);
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
        for next in graph.next((scope, at), now) {
            if next != from && !came_from.contains_key(&next) {
                came_from.insert(next, at);
                stack.push(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(id: ActorId) -> Me {
        Me { id, scope: 0 }
    }

    fn wait(waiter: ActorId, target: ActorId) -> Result<Waiting, Cycle> {
        super::wait(me(waiter), target)
    }

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

    #[test]
    #[cfg(feature = "serde")]
    fn a_chain_leads_to_the_asker_and_assumed_waits_close_cycles() {
        let (a, b, c, x) = (ActorId::next(), ActorId::next(), ActorId::next(), ActorId::next());
        // a waits for b here; b asks x on another node.
        let ab = wait(a, b).unwrap();
        let _bx = wait(b, x).unwrap();
        assert_eq!(chain(me(b), x), [(a, b), (b, x)]);
        assert_eq!(chain(me(c), x), [(c, x)], "nobody waits for c");
        // Another system of the process knows nothing of these waits.
        assert_eq!(chain(Me { id: b, scope: 1 }, x), [(b, x)]);
        drop(ab);
        // Another node reports that x waits for c: c asking x closes a cycle.
        let assumed = assume(0, vec![(x, c)], None);
        assert_eq!(wait(c, x).unwrap_err().actors(), [c, x, c]);
        drop(assumed);
        let _cx = wait(c, x).expect("the assumed wait ended with its ask");
    }

    #[tokio::test(start_paused = true)]
    #[cfg(feature = "serde")]
    async fn an_assumed_wait_ends_at_its_deadline() {
        let (p, q) = (ActorId::next(), ActorId::next());
        let _assumed = assume(0, vec![(q, p)], Some(Instant::now() + std::time::Duration::from_secs(1)));
        assert!(wait(p, q).is_err());
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let _pq = wait(p, q).expect("the remote asker gave up: it waits no more");
    }
}
