//! What regions of one entity type say to each other: batches of items,
//! told to the far region's actor over the nodes' ordinary connections.
//!
//! A batch is one remote tell (`actor-remote/sharding/batch`), so it gets
//! the transport's authentication, per-actor credit, FIFO per connection and
//! `NodeDown` reporting. Items inside a batch, and batches from one node to
//! one region, are handled in the order sent: the hand-off protocol relies
//! on that order (a marker follows the messages it vouches for, a release
//! follows the messages held for the new owner).
//!
//! | item | from, to | meaning |
//! | --- | --- | --- |
//! | `Deliver { seq, .. }` | any region, next hop | one entity message; `seq` numbers it on this link, to be acknowledged |
//! | `Ack { seqs }` | next hop, sender | these deliveries left the next hop's custody (queued in an entity's mailbox, or acknowledged further on) |
//! | `Marker` | a region whose route for a shard changed, along the old route | everything sent before it on that route is where it belongs; carries the origin's region, which the region that delivers it may never have heard from |
//! | `MarkerAck` | whoever delivers the marker, its origin | the origin may send on the new route |
//! | `Stop` | any region, along the route | passivate (or kill) the entity, after what was sent before |
//! | `Acquire` | a shard's new owner, every region | release the shard to me (round `round`) |
//! | `Released` | any region, the claimant | I hold no activation of the shard; here are the regions I know |
//! | `Reply` | the entity's owner, the asker's region | the reply to an ask, or why there is none |
//! | `Moved` | a region that forwarded an ask, the asker's region | the ask went on to this node |
//! | `Leaving` | a region that stops hosting, every region | do not place shards on me; I still answer claims |

use std::sync::Arc;

use actor_core::error::{RemoteError, RemoteErrorKind};
use actor_core::transport::RemoteFailure;
use actor_core::{Actor, ActorRef, Context, Handler, Message, RemoteMessage};
use actor_core::{RemoteActor, RemoteMessages};
use serde::{Deserialize, Serialize};

/// Where a region's actor hands the batches it gets: the region's state
/// (`core::Core`). A trait, so that the wire stands below the state that
/// speaks it.
pub(crate) trait Inbox: Send + Sync + 'static {
    /// The entity type's region name.
    fn region(&self) -> &str;
    /// Takes a batch from another region, without waiting.
    fn receive(&self, batch: Batch);
}

/// The actor a node's region answers at. It does no work of its own: a
/// batch is handed to the region's state, under its lock, without waiting.
pub(crate) struct RegionActor {
    pub(crate) core: Arc<dyn Inbox>,
}

impl Actor for RegionActor {
    type Error = std::convert::Infallible;
}

impl std::fmt::Debug for RegionActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionActor").field("region", &self.core.region()).finish()
    }
}

impl RemoteActor for RegionActor {
    fn remote_messages(messages: &mut RemoteMessages<Self>) {
        messages.add::<Batch>();
    }
}

impl Handler<Batch> for RegionActor {
    async fn handle(&mut self, batch: Batch, _: &mut Context<Self>) {
        self.core.receive(batch);
    }
}

/// Items from one region to another, in order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// The entity type's region name; a batch for another is refused.
    pub(crate) region: String,
    /// The sender's shard count; a batch from a region that hashes to
    /// another number of shards is refused.
    pub(crate) shards: u32,
    /// The sending node.
    pub(crate) from: String,
    /// Where the sender's region answers (a proxy is in no group).
    pub(crate) reply_to: ActorRef<RegionActor>,
    pub(crate) items: Vec<Item>,
}

impl Message for Batch {
    type Reply = ();
}

impl RemoteMessage for Batch {
    const WIRE_NAME: &'static str = "actor-remote/sharding/batch";
}

/// One step of the protocol; see the module's table.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Item {
    Deliver { seq: u64, entity: String, wire_name: String, payload: Vec<u8>, ask: Option<WireAsk> },
    Ack { seqs: Vec<u64> },
    Marker { shard: u32, origin: String, id: u64, reply_to: Option<ActorRef<RegionActor>> },
    MarkerAck { shard: u32, id: u64 },
    Stop { entity: String, kill: bool },
    Acquire { shard: u32, round: u64 },
    Released { shard: u32, round: u64, peers: Vec<String> },
    Reply { id: u64, result: WireResult },
    Moved { id: u64, to: String },
    Leaving,
}

/// An ask inside a `Deliver`: where its reply goes, and how long its asker
/// still waits (clocks differ between nodes; the time left does not).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireAsk {
    pub(crate) origin: String,
    pub(crate) id: u64,
    pub(crate) timeout_ms: Option<u64>,
}

/// The outcome of an ask, on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireResult {
    Reply(Vec<u8>),
    NodeDown,
    Expired,
    NoReply,
    Panicked(String),
    Remote { kind: u8, detail: String },
}

impl From<Result<Vec<u8>, RemoteFailure>> for WireResult {
    fn from(result: Result<Vec<u8>, RemoteFailure>) -> Self {
        match result {
            Ok(bytes) => WireResult::Reply(bytes),
            Err(RemoteFailure::NodeDown) => WireResult::NodeDown,
            Err(RemoteFailure::Expired) => WireResult::Expired,
            Err(RemoteFailure::NoReply) => WireResult::NoReply,
            Err(RemoteFailure::Panicked(text)) => WireResult::Panicked(text),
            Err(RemoteFailure::Remote(e)) => {
                let kind = match e.kind() {
                    RemoteErrorKind::UnknownActor => 0,
                    RemoteErrorKind::UnknownMessage => 1,
                    RemoteErrorKind::Undecodable => 2,
                    _ => 3,
                };
                WireResult::Remote { kind, detail: e.detail().to_owned() }
            }
            Err(other) => WireResult::Remote { kind: 3, detail: format!("{other:?}") },
        }
    }
}

impl WireResult {
    /// The failure an asker sees, or the reply's bytes.
    pub(crate) fn into_result(self) -> Result<Vec<u8>, RemoteFailure> {
        match self {
            WireResult::Reply(bytes) => Ok(bytes),
            WireResult::NodeDown => Err(RemoteFailure::NodeDown),
            WireResult::Expired => Err(RemoteFailure::Expired),
            WireResult::NoReply => Err(RemoteFailure::NoReply),
            WireResult::Panicked(text) => Err(RemoteFailure::Panicked(text)),
            WireResult::Remote { kind, detail } => {
                let kind = match kind {
                    0 => RemoteErrorKind::UnknownActor,
                    1 => RemoteErrorKind::UnknownMessage,
                    2 => RemoteErrorKind::Undecodable,
                    _ => RemoteErrorKind::Refused,
                };
                Err(RemoteFailure::Remote(RemoteError::new(kind, detail)))
            }
        }
    }
}
