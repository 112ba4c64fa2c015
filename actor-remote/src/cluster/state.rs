//! The replicated registry and process groups.
//!
//! Each node is the only writer of its own entries (the names it registered
//! and its actors' group memberships). It replicates them whole, as one
//! versioned [`OwnerState`], to every member; a receiver keeps the newest
//! version per owner. So there are no concurrent writes to one record, and a
//! lost or reordered update is repaired by the next one. What can conflict
//! is a *name* claimed by two owners at once: every node resolves it with the
//! same rule (the lowest `(node name, actor id)` wins), so all of them agree
//! on the winner without talking about it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actor_core::ActorId;
use serde::{Deserialize, Serialize};

/// One registered actor, as replicated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) id: ActorId,
    /// `std::any::type_name` of the actor, checked by typed look-ups.
    pub(crate) actor_type: String,
}

/// Everything one node owns, at one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OwnerState {
    pub(crate) node: String,
    pub(crate) address: String,
    /// The owner's process incarnation: a restarted node is a new owner.
    pub(crate) incarnation: u64,
    pub(crate) version: u64,
    pub(crate) names: BTreeMap<String, Entry>,
    pub(crate) groups: BTreeMap<String, BTreeSet<Entry>>,
}

impl OwnerState {
    pub(crate) fn new(node: String, address: String, incarnation: u64) -> Self {
        OwnerState { node, address, incarnation, version: 0, names: BTreeMap::new(), groups: BTreeMap::new() }
    }
}

/// A claim on a name (or a group membership) as the merged view sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) node: String,
    pub(crate) address: String,
    pub(crate) id: ActorId,
    pub(crate) actor_type: String,
}

impl Claim {
    fn new(owner: &OwnerState, entry: &Entry) -> Self {
        Claim {
            node: owner.node.clone(),
            address: owner.address.clone(),
            id: entry.id,
            actor_type: entry.actor_type.clone(),
        }
    }

    /// The conflict order: lowest node name, then lowest actor id, wins.
    fn rank(&self) -> (&str, ActorId) {
        (&self.node, self.id)
    }
}

/// The merged view of every owner's state, this node's own included.
#[derive(Debug, Default)]
pub(crate) struct View {
    owners: HashMap<String, OwnerState>,
}

impl View {
    /// Takes `state` if it is newer than what the view holds for its owner
    /// (or from a new incarnation of it). Returns whether anything changed.
    pub(crate) fn apply(&mut self, state: OwnerState) -> bool {
        match self.owners.get(&state.node) {
            Some(held) if held.incarnation == state.incarnation && held.version >= state.version => false,
            Some(held) if *held == state => false,
            _ => {
                self.owners.insert(state.node.clone(), state);
                true
            }
        }
    }

    /// Forgets the owner `node` of `incarnation` (it is down or left).
    pub(crate) fn remove(&mut self, node: &str, incarnation: u64) -> bool {
        if self.owners.get(node).is_some_and(|s| s.incarnation == incarnation) {
            self.owners.remove(node);
            true
        } else {
            false
        }
    }

    /// The owners whose state the view holds.
    pub(crate) fn owners(&self) -> impl Iterator<Item = &str> {
        self.owners.keys().map(String::as_str)
    }

    /// Every claim on `name`, best first.
    pub(crate) fn claims(&self, name: &str) -> Vec<Claim> {
        let mut claims: Vec<Claim> =
            self.owners.values().filter_map(|o| o.names.get(name).map(|e| Claim::new(o, e))).collect();
        claims.sort_by(|a, b| a.rank().cmp(&b.rank()));
        claims
    }

    /// The claim that holds `name` cluster-wide.
    pub(crate) fn resolve(&self, name: &str) -> Option<Claim> {
        self.claims(name).into_iter().next()
    }

    /// Names claimed more than once: `(name, winner, losers)`.
    pub(crate) fn conflicts(&self) -> Vec<(String, Claim, Vec<Claim>)> {
        let names: BTreeSet<&String> = self.owners.values().flat_map(|o| o.names.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| {
                let mut claims = self.claims(name);
                if claims.len() < 2 {
                    return None;
                }
                let winner = claims.remove(0);
                Some((name.clone(), winner, claims))
            })
            .collect()
    }

    /// The members of `group` on every node, in `(node, id)` order.
    pub(crate) fn group(&self, group: &str) -> Vec<Claim> {
        let mut members: Vec<Claim> = self
            .owners
            .values()
            .flat_map(|o| o.groups.get(group).into_iter().flatten().map(move |e| Claim::new(o, e)))
            .collect();
        members.sort_by(|a, b| a.rank().cmp(&b.rank()));
        members
    }

    /// The names of all groups with at least one member.
    pub(crate) fn groups(&self) -> BTreeSet<String> {
        self.owners
            .values()
            .flat_map(|o| o.groups.iter().filter(|(_, m)| !m.is_empty()).map(|(g, _)| g.clone()))
            .collect()
    }

    /// Every name that resolves, with its winner.
    pub(crate) fn names(&self) -> BTreeMap<String, Claim> {
        let names: BTreeSet<&String> = self.owners.values().flat_map(|o| o.names.keys()).collect();
        names.into_iter().filter_map(|n| self.resolve(n).map(|c| (n.clone(), c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> ActorId {
        ActorId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn owner(node: &str, version: u64, names: &[(&str, ActorId)]) -> OwnerState {
        let mut state = OwnerState::new(node.into(), format!("tcp://{node}"), 7);
        state.version = version;
        for (name, id) in names {
            state.names.insert((*name).into(), Entry { id: *id, actor_type: "T".into() });
        }
        state
    }

    #[test]
    fn the_lowest_node_then_id_wins_a_name_whatever_the_arrival_order() {
        let (x, y) = (id(2), id(1));
        let states = [owner("b", 1, &[("svc", x)]), owner("a", 1, &[("svc", y)]), owner("c", 1, &[("svc", x)])];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut view = View::default();
            for i in order {
                view.apply(states[i].clone());
            }
            assert_eq!(view.resolve("svc").unwrap().node, "a");
            let conflicts = view.conflicts();
            assert_eq!(conflicts.len(), 1);
            let losers: Vec<_> = conflicts[0].2.iter().map(|c| c.node.as_str()).collect();
            assert_eq!(losers, ["b", "c"]);
        }
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one_and_removal_checks_the_incarnation() {
        let id = id(1);
        let mut view = View::default();
        assert!(view.apply(owner("a", 2, &[("x", id)])));
        assert!(!view.apply(owner("a", 1, &[])));
        assert!(view.resolve("x").is_some());
        assert!(!view.remove("a", 8), "another incarnation's removal is ignored");
        assert!(view.remove("a", 7));
        assert!(view.resolve("x").is_none());
    }
}
