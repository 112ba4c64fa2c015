//! SWIM membership with foca: the member identity and foca's settings.
//!
//! foca is sans-IO: it is handed bytes and timer events, and hands back
//! bytes to send, timers to schedule and notifications. The cluster layer
//! (`cluster.rs`) carries the bytes over the nodes' authenticated
//! connections and schedules the timers on tokio.

use std::num::{NonZeroU32, NonZeroUsize};

use foca::{Config, PeriodicParams};
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::ClusterConfig;

/// A member as SWIM knows it. Unique per node *process* and rejoin: the
/// name is the address SWIM reasons about (one live identity per name), the
/// incarnation tells a restarted process from the old one, and the
/// generation orders identities of one name (a restart starts from the wall
/// clock, a rejoin after being declared down adds one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Id {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) incarnation: u64,
    pub(crate) generation: u64,
}

impl foca::Identity for Id {
    type Addr = String;

    fn renew(&self) -> Option<Self> {
        Some(Id { generation: self.generation + 1, ..self.clone() })
    }

    fn addr(&self) -> String {
        self.name.clone()
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        (self.generation, self.incarnation) > (adversary.generation, adversary.incarnation)
    }
}

/// The foca instance the cluster drives.
pub(crate) type Swim = foca::Foca<Id, foca::PostcardCodec, SmallRng, foca::NoCustomBroadcast>;

/// The runtime foca writes its effects into; drained after every call.
pub(crate) type Effects = foca::AccumulatingRuntime<Id>;

/// foca's settings from ours.
pub(crate) fn swim_config(config: &ClusterConfig) -> Config {
    let mut swim = Config::new_lan(NonZeroU32::new(16).expect("non-zero"));
    swim.probe_period = config.probe_period;
    swim.probe_rtt = config.probe_timeout.min(config.probe_period.mul_f32(0.9));
    swim.num_indirect_probes = NonZeroUsize::new(config.indirect_probes.max(1)).expect("non-zero");
    swim.suspect_to_down_after = config.suspicion_timeout;
    swim.remove_down_after = Some(config.remember_down);
    // The connections are streams, not datagrams: no MTU to respect.
    swim.max_packet_size = NonZeroUsize::new(64 * 1024).expect("non-zero");
    swim.periodic_gossip = Some(PeriodicParams {
        frequency: config.gossip_interval,
        num_members: NonZeroUsize::new(3).expect("non-zero"),
    });
    swim.periodic_announce = Some(PeriodicParams {
        frequency: config.sync_interval * 6,
        num_members: NonZeroUsize::new(1).expect("non-zero"),
    });
    swim.periodic_announce_to_down_members = None;
    // foca 2.0 sends its "you were declared down" courtesy message also when
    // the suspicion was refuted in time (its timer's condition fails but the
    // message goes out), which makes a slow node that did answer rejoin as
    // if it had been down. Without it, a node really declared down still
    // learns it: its next message is answered with the same notice.
    swim.notify_down_members = false;
    swim
}
