//! A subscriber that records the cluster events it is sent, for tests that
//! read a node's view of membership.

use actor_core::prelude::*;
use actor_remote::ClusterEvent;

/// Records the cluster events it is sent, in order.
#[derive(Default)]
pub(crate) struct Events {
    seen: Vec<ClusterEvent>,
}

#[actor]
impl Events {
    /// Every event so far.
    #[message]
    pub(crate) fn seen(&self) -> Vec<ClusterEvent> {
        self.seen.clone()
    }
}

impl Handler<ClusterEvent> for Events {
    async fn handle(&mut self, event: ClusterEvent, _: &mut Context<Self>) {
        self.seen.push(event);
    }
}
