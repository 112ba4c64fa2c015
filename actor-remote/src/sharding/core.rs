//! One node's region of one entity type: the placement view, the state of
//! every shard, the routes and holds, and the hand-off protocol.
//!
//! Everything is under one mutex, taken by senders (an `ActorRef` of an
//! entity routes its message in the caller's task), by the region actor
//! (a batch from another node) and by the driver task (membership changes,
//! entity terminations, timers). Nothing awaits under it: what must happen
//! after it is released (spawning a link's sender, waking waiting senders,
//! running watchers) is collected in [`Effects`].
//!
//! A shard is in one [`Mode`] on each node:
//!
//! - `Remote(owner)`: messages go to the owner's region.
//! - `Acquiring`: this node owns it in its view, and waits until every
//!   other region has said it holds no activation of it (`Released`);
//!   messages are held meanwhile.
//! - `Active`: entities of the shard run here.
//! - `Releasing`: this node no longer owns it; its entities are stopping
//!   (each finishes what is in its mailbox, then `on_stop`); messages are
//!   held, and sent on to the owner once the last one has stopped.
//! - `NoHost`: no node hosts the type (a proxy alone): messages are held.
//!
//! Apart from the mode, a shard whose route moved away from a live node is
//! *switching*: a marker went down the old route, and messages are held
//! until it comes back acknowledged, so that nothing sent later on the new
//! route can overtake what was sent earlier on the old one. What other
//! regions send through this node waits too, except what comes back from
//! the old route (it is ahead) and markers (two switches must not wait for
//! each other). While the owner in this node's view sends the shard's
//! messages here (the two views differ), the one of the two regions with
//! the lower name keeps them (`Shard::returned`) instead of sending them
//! back, and switches to the other as above.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use actor_core::transport::{self, Exported, PendingReply, RefCodec, RemoteFailure, TerminationNotice};
use actor_core::{ActorId, ActorRef, ActorSystem, DeadLetterReason, StopReason};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::placement;
use super::wire::{Batch, Inbox, Item, RegionActor, WireAsk, WireResult};
// The one import up to the room's face: the options and the counters are
// public types that `sharding.rs` defines and documents for users; the
// core only reads the one and fills in the other.
use super::{ShardingOptions, ShardingStats};
use crate::cluster::Cluster;

thread_local! {
    /// Set while this thread holds a region's lock: a reply sink that runs
    /// then (an actor killed under the lock answers its asks at once)
    /// hands its reply to the driver instead of taking the lock again.
    static IN_CORE: Cell<bool> = const { Cell::new(false) };
}

/// Builds an entity and spawns it: the id in, the export and the strong
/// reference that keeps it alive out.
pub(crate) type Spawner = Box<dyn Fn(&str) -> Spawned + Send + Sync>;

/// Drains the link to a node until its queue is empty (`link::sender`).
/// Handed to the region when it starts, so that the state stands below the
/// link's sender that works on it.
pub(crate) type Drain = fn(Arc<Core>, String) -> futures::future::BoxFuture<'static, ()>;

/// A freshly spawned entity.
pub(crate) struct Spawned {
    pub(crate) exported: Arc<dyn Exported>,
    pub(crate) keep: Box<dyn std::any::Any + Send + Sync>,
}

/// The message type named in dead letters of messages that came from
/// another node (their Rust type is not known here; the detail names the
/// wire name).
pub(crate) const FOREIGN: &str = "(a sharded message from another node)";

/// One node's region of one entity type.
pub(crate) struct Core {
    pub(crate) me: Weak<Core>,
    pub(crate) node: Arc<str>,
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) options: ShardingOptions,
    pub(crate) system: ActorSystem,
    pub(crate) codec: Arc<dyn RefCodec>,
    pub(crate) cluster: Cluster,
    pub(crate) spawner: Option<Spawner>,
    pub(crate) state: Mutex<State>,
    /// Woken when custody drops, for senders waiting for room.
    pub(crate) room: Notify,
    /// Work for the driver task.
    pub(crate) events: mpsc::UnboundedSender<Event>,
    /// This region's actor.
    pub(crate) region: OnceLock<ActorRef<RegionActor>>,
    /// Set once the region has stopped (its node shut down).
    pub(crate) stopped: std::sync::atomic::AtomicBool,
    /// Spawned for a link with something to send and no sender running.
    pub(crate) drain: Drain,
}

impl Inbox for Core {
    fn region(&self) -> &str {
        &self.name
    }

    fn receive(&self, batch: Batch) {
        Core::receive(self, batch);
    }
}

/// What the driver task is told.
pub(crate) enum Event {
    /// An activation ended.
    Terminated { entity: Arc<str>, generation: u64 },
    /// A reply produced while this thread held the lock.
    Reply { origin: String, id: u64, result: WireResult },
    /// A parked delivery finished (or failed, handing back the sink).
    Drained { waiter: Waiter, failed: Option<Option<transport::ReplySink>> },
}

/// A message parked until its entity's mailbox has room.
pub(crate) struct Waiter {
    pub(crate) entity: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) done: Done,
    pub(crate) message_type: &'static str,
    pub(crate) wire_name: Cow<'static, str>,
}

/// Everything a region knows, under its lock.
pub(crate) struct State {
    /// The other regions of this type in the group, by node.
    pub(crate) peers: BTreeMap<String, Peer>,
    /// Members up whose registry state is not known yet: they may host.
    pub(crate) unknown: BTreeSet<String>,
    /// Members up (other than this node).
    pub(crate) up: HashSet<String>,
    /// Members seen up that are no longer: another region's word that one
    /// of them may hold a shard is not waited for (its own view decided).
    pub(crate) departed: HashSet<String>,
    /// When claims still unanswered were last sent again.
    pub(crate) claims_resent: Instant,
    /// The hosts, sorted: peers not leaving, and this node if it hosts.
    pub(crate) hosts: Vec<String>,
    /// The owner of each shard in this node's view.
    pub(crate) owners: Vec<Option<Arc<str>>>,
    pub(crate) shards: Vec<Shard>,
    pub(crate) entities: HashMap<Arc<str>, Activation>,
    pub(crate) links: HashMap<String, Link>,
    /// Control items for nodes whose region this node does not know yet,
    /// in order, with when each was queued: sent when a link to that
    /// region opens, dropped once older than the hand-off timeout or when
    /// the node goes down.
    pub(crate) unsent: HashMap<String, VecDeque<(Instant, Item)>>,
    /// Asks sent from this node to entities elsewhere, by id.
    pub(crate) asks: HashMap<u64, PendingAsk>,
    pub(crate) next_id: u64,
    /// Whether this node places shards on itself.
    pub(crate) hosting: bool,
    pub(crate) stopped: bool,
    pub(crate) counters: Counters,
    /// Notices of entity handles watched on this node, run when the region
    /// stops: key, entity actor id, notice.
    pub(crate) watchers: Vec<(u64, ActorId, TerminationNotice)>,
}

/// Another node's region.
pub(crate) struct Peer {
    pub(crate) id: ActorId,
    pub(crate) region: ActorRef<RegionActor>,
    /// It said it is leaving: not a host, still asked in hand-offs.
    pub(crate) leaving: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) started: u64,
    pub(crate) passivated: u64,
    pub(crate) handed_off: u64,
    pub(crate) delivered: u64,
    pub(crate) forwarded: u64,
    pub(crate) dead_letters: u64,
}

/// One shard on this node.
pub(crate) struct Shard {
    pub(crate) mode: Mode,
    pub(crate) switching: Option<Switching>,
    /// Messages from this node's senders for this shard that have not left
    /// its custody (held, queued, in flight, waiting for mailbox room).
    pub(crate) custody: usize,
    /// The entities of this shard activated here.
    pub(crate) entities: HashSet<Arc<str>>,
    /// Claims to answer once this node holds no activation: node, round.
    pub(crate) deferred: BTreeMap<String, u64>,
    /// With the shard `Remote(owner)`: what came from the owner's region
    /// itself (its view of the shard's owner differs from this node's), in
    /// order. Sent back, it could cross later messages of its senders that
    /// reach either node meanwhile; it waits instead for one of the views
    /// to change: the owner's claim (it goes back ahead of the answer) or
    /// a new owner here (it goes first on the new route).
    pub(crate) returned: VecDeque<Held>,
}

pub(crate) enum Mode {
    Remote(Arc<str>),
    Acquiring { round: u64, waiting: BTreeMap<String, Waiting>, held: VecDeque<Held> },
    Active,
    Releasing { held: VecDeque<Held> },
    NoHost { held: VecDeque<Held> },
}

/// Why a claimant still waits for a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Asked; waiting for its `Released`.
    Asked,
    /// A member up whose registry state is not known yet.
    Unknown,
    /// Named by another region, not known here yet; forgotten after the
    /// deadline if it never shows up.
    Indirect(Instant),
}

/// A marker down the old route, and what waits for its acknowledgement.
pub(crate) struct Switching {
    /// The marker down the old route (0 once acknowledged).
    pub(crate) marker: u64,
    pub(crate) via: String,
    pub(crate) since: Instant,
    pub(crate) held: VecDeque<Held>,
    /// A second marker, to the region this node holds messages back from
    /// (see `Shard::returned`), and its node: until it is back, what other
    /// regions send through this node waits here too.
    pub(crate) back: Option<(u64, String)>,
}

/// Something that travels along a shard's route, in order.
pub(crate) enum Held {
    Msg(Envelope),
    /// `reply_to`: the origin's region, for a region that delivers the
    /// marker without ever having heard from the origin (a client that saw
    /// a move after the old owner did) to send the acknowledgement to.
    Marker {
        shard: u32,
        origin: String,
        id: u64,
        reply_to: Option<ActorRef<RegionActor>>,
    },
    Stop {
        entity: Arc<str>,
        shard: u32,
        kill: bool,
    },
}

impl Held {
    fn shard(&self) -> u32 {
        match self {
            Held::Msg(env) => env.shard,
            Held::Marker { shard, .. } | Held::Stop { shard, .. } => *shard,
        }
    }
}

/// One entity message in this node's custody.
pub(crate) struct Envelope {
    pub(crate) entity: Arc<str>,
    pub(crate) shard: u32,
    pub(crate) wire_name: Cow<'static, str>,
    pub(crate) message_type: &'static str,
    pub(crate) payload: Vec<u8>,
    pub(crate) ask: Option<AskTo>,
    /// Whose custody it leaves when it leaves this node's.
    pub(crate) done: Done,
}

/// Whom to tell when a message leaves this node's custody.
#[derive(Clone, Debug)]
pub(crate) enum Done {
    /// A sender of this node: its shard's custody drops.
    Local { shard: u32 },
    /// The region that sent it here: acknowledge `seq` to `node`.
    Ack { node: String, seq: u64 },
}

/// Where an ask's reply goes.
pub(crate) enum AskTo {
    Local(PendingReply),
    Remote { origin: String, id: u64, deadline: Option<Instant> },
}

/// An ask sent from this node, waiting for its reply from `hop`.
pub(crate) struct PendingAsk {
    pub(crate) reply: PendingReply,
    pub(crate) hop: String,
}

/// A message sent to another node and not yet acknowledged.
pub(crate) struct Sent {
    pub(crate) entity: Arc<str>,
    pub(crate) message_type: &'static str,
    pub(crate) wire_name: Cow<'static, str>,
    pub(crate) done: Done,
    /// An ask this node passed on for another node (its origin and id):
    /// failed back to the origin if the next hop is lost, since the origin
    /// may already have let go of that hop.
    pub(crate) ask: Option<(String, u64)>,
}

/// The way to another node's region: what waits to be sent, what was sent
/// and not acknowledged, and acknowledgements owed to it.
pub(crate) struct Link {
    pub(crate) region: ActorRef<RegionActor>,
    pub(crate) region_id: ActorId,
    pub(crate) queue: VecDeque<Out>,
    pub(crate) inflight: HashMap<u64, Sent>,
    pub(crate) next_seq: u64,
    pub(crate) acks: Vec<u64>,
    /// A sender task runs for this link.
    pub(crate) busy: bool,
}

pub(crate) enum Out {
    Msg(Envelope),
    Item(Item),
}

/// An activation of an entity on this node.
pub(crate) struct Activation {
    pub(crate) shard: u32,
    pub(crate) generation: u64,
    pub(crate) exported: Arc<dyn Exported>,
    /// The strong reference; dropped when the activation ends.
    pub(crate) _keep: Box<dyn std::any::Any + Send + Sync>,
    pub(crate) last_used: Instant,
    /// Messages that wait: for mailbox room, or (stopping) for the next
    /// activation.
    pub(crate) backlog: VecDeque<Held>,
    /// A task drives a delivery that waits for mailbox room.
    pub(crate) draining: bool,
    pub(crate) stopping: Option<StopCause>,
    /// Stop once the backlog is in the mailbox.
    pub(crate) stop_when_drained: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopCause {
    Idle,
    HandOff,
    Asked,
}

/// What to do once the lock is released.
#[derive(Default)]
pub(crate) struct Effects {
    pub(crate) kick: Vec<String>,
    pub(crate) drains: Vec<(Waiter, transport::Parked)>,
    pub(crate) room: bool,
    pub(crate) notices: Vec<(ActorId, TerminationNotice)>,
}

impl Core {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` under the lock, then carries out its effects.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&Core, &mut State, &mut Effects) -> R) -> R {
        let mut fx = Effects::default();
        let result = {
            let mut st = self.lock();
            IN_CORE.set(true);
            let result = f(self, &mut st, &mut fx);
            IN_CORE.set(false);
            result
        };
        self.perform(fx);
        result
    }

    fn perform(&self, fx: Effects) {
        if fx.room {
            self.room.notify_waiters();
        }
        let Some(me) = self.me.upgrade() else { return };
        for node in fx.kick {
            tokio::spawn((self.drain)(me.clone(), node));
        }
        for (waiter, parked) in fx.drains {
            let events = self.events.clone();
            tokio::spawn(async move {
                let failed = parked.await.err();
                let _ = events.send(Event::Drained { waiter, failed });
            });
        }
        for (id, notice) in fx.notices {
            notice(id, &StopReason::Normal);
        }
    }

    pub(crate) fn next_id(st: &mut State) -> u64 {
        st.next_id += 1;
        st.next_id
    }

    /// Whether this node is `node`.
    pub(crate) fn is_me(&self, node: &str) -> bool {
        *self.node == *node
    }

    // ---- Sending ------------------------------------------------------

    /// Routes what this node's own senders send: behind the shard's
    /// switch, if its route is moving (see `start_switch`).
    pub(crate) fn route_local(&self, st: &mut State, held: Held, fx: &mut Effects) {
        let s = held.shard() as usize;
        if let Some(switching) = &mut st.shards[s].switching {
            switching.held.push_back(held);
            return;
        }
        self.route(st, held, fx);
    }

    /// Routes `held` by its shard's mode on this node. Fresh sends of this
    /// node wait behind a switch (`route_local`), and so does what other
    /// regions send (`route_from`); what was already held here is ahead of
    /// them.
    pub(crate) fn route(&self, st: &mut State, held: Held, fx: &mut Effects) {
        let s = held.shard() as usize;
        match &mut st.shards[s].mode {
            Mode::Active => self.deliver_here(st, held, fx),
            Mode::Acquiring { held: hold, .. } | Mode::Releasing { held: hold } | Mode::NoHost { held: hold } => {
                hold.push_back(held);
            }
            Mode::Remote(owner) => {
                let owner = owner.to_string();
                if !st.shards[s].returned.is_empty() {
                    st.shards[s].returned.push_back(held);
                    return;
                }
                self.send_on(st, &owner, held, fx);
            }
        }
    }

    /// Routes what came from the region of `from`: held (see
    /// `Shard::returned`) if this node would send it straight back.
    fn route_from(&self, st: &mut State, from: &str, held: Held, fx: &mut Effects) {
        let s = held.shard() as usize;
        let back = !self.is_me(from) && matches!(&st.shards[s].mode, Mode::Remote(owner) if **owner == *from);
        if back {
            if let Held::Marker { origin, id, .. } = &held
                && self.is_me(origin)
            {
                // This node's own marker, back from where it went: what
                // was sent there before it is back too.
                let (shard, id) = (held.shard(), *id);
                self.marker_acked(st, shard, id, fx);
                return;
            }
            if *self.node < *from {
                // Of the two regions, the one with the lower name holds;
                // the other sends back. A marker to the other marks what
                // this node sent it before, still to come back.
                if st.shards[s].switching.as_ref().is_none_or(|sw| sw.back.is_none()) {
                    let id = Self::next_id(st);
                    let marker = self.own_marker(s, id);
                    self.send_on(st, from, marker, fx);
                    let sw = st.shards[s].switching.get_or_insert_with(|| Switching {
                        marker: 0,
                        via: from.to_owned(),
                        since: Instant::now(),
                        held: VecDeque::new(),
                        back: None,
                    });
                    sw.back = Some((id, from.to_owned()));
                }
                st.shards[s].returned.push_back(held);
                return;
            }
        }
        // (Markers pass: two regions each holding another's marker would
        // wait for each other.)
        if let Some(sw) = &mut st.shards[s].switching
            && (sw.back.is_some() || sw.marker != 0)
            && sw.via != *from
            && sw.back.as_ref().is_none_or(|(_, node)| *node != *from)
            && !self.is_me(from)
            && !matches!(held, Held::Marker { .. })
        {
            sw.held.push_back(held);
            return;
        }
        self.route(st, held, fx);
    }

    /// Sends `held` to the region of `node`, in order after what was sent
    /// there before.
    fn send_on(&self, st: &mut State, node: &str, held: Held, fx: &mut Effects) {
        if !st.links.contains_key(node) && !self.open_link(st, node, fx) {
            // No way to that node's region (it vanished between the view
            // and now): report what cannot go.
            self.unroutable(st, held, &format!("no route to the region on node {node}"), fx);
            return;
        }
        let out = match held {
            Held::Msg(env) => {
                if let Some(AskTo::Remote { origin, id, .. }) = &env.ask {
                    // The asker learns where its ask went, to fail it if
                    // that node goes down.
                    let moved = Item::Moved { id: *id, to: node.to_owned() };
                    let origin = origin.clone();
                    self.send_item(st, &origin, moved, fx);
                }
                st.counters.forwarded += 1;
                Out::Msg(env)
            }
            Held::Marker { shard, origin, id, reply_to } => Out::Item(Item::Marker { shard, origin, id, reply_to }),
            Held::Stop { entity, kill, .. } => Out::Item(Item::Stop { entity: entity.to_string(), kill }),
        };
        let link = st.links.get_mut(node).expect("opened above");
        link.queue.push_back(out);
        Self::kick(link, node, fx);
    }

    /// Sends a control item to `node`'s region (or handles it here, if it
    /// is for this node).
    pub(crate) fn send_item(&self, st: &mut State, node: &str, item: Item, fx: &mut Effects) {
        if self.is_me(node) {
            let me = self.node.to_string();
            self.apply(st, &me, item, fx);
            return;
        }
        if !st.links.contains_key(node) && !self.open_link(st, node, fx) {
            if st.departed.contains(node) {
                tracing::debug!(region = %self.name, %node, ?item, "a sharding item for a node gone dropped");
            } else {
                // Its region is not in this node's view yet: the group's
                // news travels apart from the traffic, and a region that
                // just joined can be handed a marker whose origin it does
                // not know yet. Kept until that region shows up.
                st.unsent.entry(node.to_owned()).or_default().push_back((Instant::now(), item));
            }
            return;
        }
        let link = st.links.get_mut(node).expect("opened above");
        link.queue.push_back(Out::Item(item));
        Self::kick(link, node, fx);
    }

    pub(crate) fn kick(link: &mut Link, node: &str, fx: &mut Effects) {
        if !link.busy && (!link.queue.is_empty() || !link.acks.is_empty()) {
            link.busy = true;
            fx.kick.push(node.to_owned());
        }
    }

    /// Opens a link to a peer's region; false if none is known.
    fn open_link(&self, st: &mut State, node: &str, fx: &mut Effects) -> bool {
        let Some(peer) = st.peers.get(node) else { return false };
        let link = Link::new(peer.region.clone(), peer.id);
        self.insert_link(st, node, link, fx);
        true
    }

    /// Puts a new link to `node` in place, with the items that waited for
    /// its region first on it.
    fn insert_link(&self, st: &mut State, node: &str, mut link: Link, fx: &mut Effects) {
        if let Some(unsent) = st.unsent.remove(node) {
            link.queue.extend(unsent.into_iter().map(|(_, item)| Out::Item(item)));
            Self::kick(&mut link, node, fx);
        }
        st.links.insert(node.to_owned(), link);
    }

    /// A message leaves this node's custody.
    pub(crate) fn done(&self, st: &mut State, done: Done, fx: &mut Effects) {
        match done {
            Done::Local { shard } => {
                let custody = &mut st.shards[shard as usize].custody;
                *custody = custody.saturating_sub(1);
                fx.room = true;
            }
            Done::Ack { node, seq } => {
                // The link may have been dropped meanwhile (its node was
                // down for a moment): the sender still waits for the ack.
                if !st.links.contains_key(&node) {
                    self.open_link(st, &node, fx);
                }
                if let Some(link) = st.links.get_mut(&node) {
                    link.acks.push(seq);
                    Self::kick(link, &node, fx);
                }
            }
        }
    }

    /// Reports a message that cannot be delivered, fails its ask, and
    /// releases its custody.
    pub(crate) fn unroutable(&self, st: &mut State, held: Held, why: &str, fx: &mut Effects) {
        if let Held::Msg(env) = held {
            self.dead_letter(st, &env.entity, env.message_type, &env.wire_name, DeadLetterReason::NodeDown, why);
            self.fail_ask(st, env.ask, RemoteFailure::NodeDown, fx);
            self.done(st, env.done, fx);
        }
    }

    /// A message sent toward another node that will not be acknowledged:
    /// a `NodeDown` dead letter saying `why`, and the ask it passed on and
    /// its completion failed.
    pub(crate) fn lost(&self, st: &mut State, sent: Sent, why: &str, fx: &mut Effects) {
        self.dead_letter(st, &sent.entity, sent.message_type, &sent.wire_name, DeadLetterReason::NodeDown, why);
        self.fail_passed_on(st, sent.ask, fx);
        self.done(st, sent.done, fx);
    }

    /// Fails with `NodeDown` the asks whose answer was to come through
    /// `node`.
    pub(crate) fn fail_asks_via(st: &mut State, node: &str) {
        let failed: Vec<u64> = st.asks.iter().filter(|(_, a)| a.hop == node).map(|(id, _)| *id).collect();
        for id in failed {
            if let Some(pending) = st.asks.remove(&id) {
                pending.reply.fail(RemoteFailure::NodeDown);
            }
        }
    }

    /// Fails, at its origin, an ask this node passed on to a hop that is
    /// lost.
    pub(crate) fn fail_passed_on(&self, st: &mut State, ask: Option<(String, u64)>, fx: &mut Effects) {
        if let Some((origin, id)) = ask {
            let ask = AskTo::Remote { origin, id, deadline: None };
            self.fail_ask(st, Some(ask), RemoteFailure::NodeDown, fx);
        }
    }

    pub(crate) fn fail_ask(&self, st: &mut State, ask: Option<AskTo>, failure: RemoteFailure, fx: &mut Effects) {
        match ask {
            None => {}
            Some(AskTo::Local(reply)) => reply.fail(failure),
            Some(AskTo::Remote { origin, id, .. }) => {
                let result = WireResult::from(Err::<Vec<u8>, _>(failure));
                self.send_item(st, &origin, Item::Reply { id, result }, fx);
            }
        }
    }

    pub(crate) fn dead_letter(
        &self,
        st: &mut State,
        entity: &str,
        message_type: &'static str,
        wire_name: &str,
        reason: DeadLetterReason,
        why: &str,
    ) {
        st.counters.dead_letters += 1;
        tracing::debug!(region = %self.name, %entity, %wire_name, ?reason, why, "sharded message undelivered");
        transport::dead_letter(
            &self.system,
            Some(super::entity_actor_id(&self.name, entity)),
            message_type,
            reason,
            format!("entity {:?} of {} ({wire_name}): {why}", entity, self.name),
        );
    }

    // ---- Receiving ----------------------------------------------------

    /// A batch from another region.
    pub(crate) fn receive(&self, batch: Batch) {
        self.update(|core, st, fx| {
            let from = batch.from;
            core.note_sender(st, &from, &batch.reply_to, fx);
            if batch.region != core.name || batch.shards != core.options.shards {
                tracing::error!(
                    region = %core.name, shards = core.options.shards, peer = %from, peer_region = %batch.region,
                    peer_shards = batch.shards,
                    "a region of another entity type or shard count sent to this one; its messages are refused"
                );
                for item in batch.items {
                    if let Item::Deliver { seq, entity, wire_name, .. } = item {
                        let why = "the sending region has another shard count or entity type";
                        core.dead_letter(st, &entity, FOREIGN, &wire_name, DeadLetterReason::Undeliverable, why);
                        core.done(st, Done::Ack { node: from.clone(), seq }, fx);
                    }
                }
                return;
            }
            for item in batch.items {
                core.apply(st, &from, item, fx);
            }
        });
    }

    /// Keeps a link to a region that sent to this one, so that replies and
    /// acknowledgements reach proxies (which are in no group).
    fn note_sender(&self, st: &mut State, from: &str, region: &ActorRef<RegionActor>, fx: &mut Effects) {
        match st.links.get(from) {
            Some(link) if link.region_id == region.id() => {}
            Some(_) => {
                // A new region of that node: the old one is gone.
                let requeue = self.link_lost(st, from, "its region was replaced", fx);
                self.insert_link(st, from, Link::new(region.clone(), region.id()), fx);
                for held in requeue {
                    self.route(st, held, fx);
                }
            }
            None => self.insert_link(st, from, Link::new(region.clone(), region.id()), fx),
        }
    }

    /// One item from `from` (or from this node itself).
    pub(crate) fn apply(&self, st: &mut State, from: &str, item: Item, fx: &mut Effects) {
        let shards = self.options.shards;
        match item {
            Item::Deliver { seq, entity, wire_name, payload, ask } => {
                let shard = placement::shard_of(&entity, shards);
                let ask = ask.map(|WireAsk { origin, id, timeout_ms }| AskTo::Remote {
                    origin,
                    id,
                    deadline: timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms)),
                });
                let env = Envelope {
                    entity: entity.into(),
                    shard,
                    wire_name: Cow::Owned(wire_name),
                    message_type: FOREIGN,
                    payload,
                    ask,
                    done: Done::Ack { node: from.to_owned(), seq },
                };
                self.route_from(st, from, Held::Msg(env), fx);
            }
            Item::Ack { seqs } => {
                for seq in seqs {
                    let sent = st.links.get_mut(from).and_then(|l| l.inflight.remove(&seq));
                    if let Some(sent) = sent {
                        self.done(st, sent.done, fx);
                    }
                }
            }
            Item::Marker { shard, origin, id, reply_to } if shard < shards => {
                self.route_from(st, from, Held::Marker { shard, origin, id, reply_to }, fx);
            }
            Item::MarkerAck { shard, id } if shard < shards => self.marker_acked(st, shard, id, fx),
            Item::Stop { entity, kill } => {
                let shard = placement::shard_of(&entity, shards);
                self.route_from(st, from, Held::Stop { entity: entity.into(), shard, kill }, fx);
            }
            Item::Acquire { shard, round } if shard < shards => self.claimed(st, from, shard, round, fx),
            Item::Released { shard, round, peers } if shard < shards => {
                self.released(st, from, shard, round, peers, fx);
            }
            Item::Reply { id, result } => {
                if let Some(pending) = st.asks.remove(&id) {
                    match result.into_result() {
                        Ok(bytes) => pending.reply.complete(&bytes, &self.codec),
                        Err(failure) => pending.reply.fail(failure),
                    }
                }
            }
            Item::Moved { id, to } => {
                // (From a node that forwarded this node's ask, or from this
                // node itself forwarding an ask that came back to it.) To
                // a node already gone here, it is lost: nothing else would
                // fail it.
                if st.departed.contains(&to) && !st.links.contains_key(&to) {
                    if let Some(pending) = st.asks.remove(&id) {
                        pending.reply.fail(RemoteFailure::NodeDown);
                    }
                } else if let Some(pending) = st.asks.get_mut(&id) {
                    pending.hop = to;
                }
            }
            Item::Leaving => {
                if let Some(peer) = st.peers.get_mut(from)
                    && !peer.leaving
                {
                    peer.leaving = true;
                    self.replace_hosts(st, fx);
                }
            }
            other => tracing::warn!(region = %self.name, peer = %from, ?other, "a sharding item out of range refused"),
        }
    }

    // ---- Markers ------------------------------------------------------

    /// Starts switching shard `s` away from the live node `via`.
    fn start_switch(&self, st: &mut State, s: usize, via: &str, fx: &mut Effects) {
        if st.shards[s].switching.is_some() {
            return;
        }
        let id = Self::next_id(st);
        let marker = self.own_marker(s, id);
        self.send_on(st, via, marker, fx);
        st.shards[s].switching = Some(Switching {
            marker: id,
            via: via.to_owned(),
            since: Instant::now(),
            held: VecDeque::new(),
            back: None,
        });
    }

    /// A marker of this node's for shard `s`, carrying where to answer.
    fn own_marker(&self, s: usize, id: u64) -> Held {
        Held::Marker { shard: s as u32, origin: self.node.to_string(), id, reply_to: self.region.get().cloned() }
    }

    /// Before acknowledging a marker from `origin`: a link to its region,
    /// if this node has none and the marker says where it is. A region
    /// that was handed the marker by another (a client whose view of the
    /// shard's owner changed after the old owner's did) may never have
    /// heard from the origin, and a client's region is in no group: the
    /// acknowledgement would otherwise wait for a region that never
    /// appears, and the origin's messages with it, until the hand-off
    /// timeout.
    pub(crate) fn reach_origin(
        &self,
        st: &mut State,
        origin: &str,
        reply_to: Option<&ActorRef<RegionActor>>,
        fx: &mut Effects,
    ) {
        if self.is_me(origin) || st.links.contains_key(origin) || st.peers.contains_key(origin) {
            return;
        }
        if let Some(region) = reply_to
            && !st.departed.contains(origin)
        {
            self.insert_link(st, origin, Link::new(region.clone(), region.id()), fx);
        }
    }

    fn marker_acked(&self, st: &mut State, shard: u32, id: u64, fx: &mut Effects) {
        let s = shard as usize;
        let Some(sw) = &mut st.shards[s].switching else { return };
        if sw.marker == id {
            sw.marker = 0;
        }
        if sw.back.as_ref().is_some_and(|(back, _)| *back == id) {
            sw.back = None;
        }
        if sw.marker == 0 && sw.back.is_none() {
            self.end_switch(st, s, fx);
        }
    }

    /// A region that hosts nothing (it left, or never hosted) never owns
    /// a shard again, so no claim from the owner and no change of its own
    /// view may come to release what it kept back from the owner's region
    /// (`Shard::returned`): once no switch is in progress, that goes on to
    /// the owner in its view, in order. If that region still sees this one
    /// as the owner, it sends them back and they are kept until the next
    /// tick: they travel at the tick's pace until the views agree, and are
    /// never left behind.
    fn return_kept(&self, st: &mut State, s: usize, fx: &mut Effects) {
        let shard = &mut st.shards[s];
        if st.hosting || shard.switching.is_some() || shard.returned.is_empty() {
            return;
        }
        let Mode::Remote(owner) = &shard.mode else { return };
        let owner = owner.to_string();
        let returned = std::mem::take(&mut shard.returned);
        tracing::debug!(region = %self.name, shard = s, messages = returned.len(), to = %owner, "kept messages go on");
        for held in returned {
            self.send_on(st, &owner, held, fx);
        }
    }

    /// Sends what the switch held along the shard's current route.
    pub(crate) fn end_switch(&self, st: &mut State, s: usize, fx: &mut Effects) {
        if let Some(switching) = st.shards[s].switching.take() {
            for held in switching.held {
                self.route(st, held, fx);
            }
        }
    }

    // ---- Hand-off -----------------------------------------------------

    /// Another region claims `shard` (round `round`).
    fn claimed(&self, st: &mut State, from: &str, shard: u32, round: u64, fx: &mut Effects) {
        let s = shard as usize;
        if Self::holds_or_wants(&st.shards[s]) {
            st.shards[s].deferred.insert(from.to_owned(), round);
        } else {
            // What this node held back from the claimant goes to it first,
            // ahead of the answer.
            if matches!(&st.shards[s].mode, Mode::Remote(owner) if **owner == *from) {
                let returned = std::mem::take(&mut st.shards[s].returned);
                for held in returned {
                    self.send_on(st, from, held, fx);
                }
            }
            let peers = self.known_names(st);
            self.send_item(st, from, Item::Released { shard, round, peers }, fx);
        }
    }

    fn holds_or_wants(shard: &Shard) -> bool {
        matches!(shard.mode, Mode::Active | Mode::Releasing { .. } | Mode::Acquiring { .. })
    }

    /// The regions this node knows, for a claimant to ask too.
    fn known_names(&self, st: &State) -> Vec<String> {
        st.peers.keys().chain(st.unknown.iter()).cloned().collect()
    }

    /// Answers the claims deferred on shard `s`, once this node neither
    /// holds nor wants it.
    fn answer_claims(&self, st: &mut State, s: usize, fx: &mut Effects) {
        if Self::holds_or_wants(&st.shards[s]) {
            return;
        }
        let claims = std::mem::take(&mut st.shards[s].deferred);
        let peers = self.known_names(st);
        for (node, round) in claims {
            self.send_item(st, &node, Item::Released { shard: s as u32, round, peers: peers.clone() }, fx);
        }
    }

    fn released(&self, st: &mut State, from: &str, shard: u32, round: u64, peers: Vec<String>, fx: &mut Effects) {
        let s = shard as usize;
        let indirect = Instant::now() + self.options.handoff_timeout;
        let Mode::Acquiring { round: current, waiting, .. } = &mut st.shards[s].mode else { return };
        if *current != round {
            return;
        }
        waiting.remove(from);
        for name in peers {
            if *name == *self.node
                || st.peers.contains_key(&name)
                || st.up.contains(&name)
                || st.departed.contains(&name)
            {
                // Known here: this node's own view decides about it.
                continue;
            }
            waiting.entry(name).or_insert(Waiting::Indirect(indirect));
        }
        self.maybe_activate(st, s, fx);
    }

    /// Starts acquiring shard `s`: asks every region, and every member that
    /// may have one, to release it.
    fn start_acquire(&self, st: &mut State, s: usize, held: VecDeque<Held>, fx: &mut Effects) {
        let round = Self::next_id(st);
        let mut waiting = BTreeMap::new();
        for name in st.peers.keys() {
            waiting.insert(name.clone(), Waiting::Asked);
        }
        for name in &st.unknown {
            waiting.insert(name.clone(), Waiting::Unknown);
        }
        let asked: Vec<String> = st.peers.keys().cloned().collect();
        st.shards[s].mode = Mode::Acquiring { round, waiting, held };
        for node in asked {
            self.send_item(st, &node, Item::Acquire { shard: s as u32, round }, fx);
        }
        self.maybe_activate(st, s, fx);
    }

    fn maybe_activate(&self, st: &mut State, s: usize, fx: &mut Effects) {
        let Mode::Acquiring { waiting, .. } = &st.shards[s].mode else { return };
        if !waiting.is_empty() {
            return;
        }
        let Mode::Acquiring { held, .. } = std::mem::replace(&mut st.shards[s].mode, Mode::Active) else {
            unreachable!("checked above")
        };
        tracing::debug!(region = %self.name, shard = s, "shard active here");
        for item in held {
            self.deliver_here(st, item, fx);
        }
    }

    /// Starts stopping the entities of shard `s`, which this node no longer
    /// owns.
    fn start_release(&self, st: &mut State, s: usize, held: VecDeque<Held>, fx: &mut Effects) {
        st.shards[s].mode = Mode::Releasing { held };
        let entities: Vec<Arc<str>> = st.shards[s].entities.iter().cloned().collect();
        for entity in entities {
            self.stop_entity(st, &entity, StopCause::HandOff, false, fx);
        }
        self.maybe_released(st, s, fx);
    }

    /// Completes a release once the shard's last entity has stopped: the
    /// held messages go to the owner first, then the claims are answered.
    pub(crate) fn maybe_released(&self, st: &mut State, s: usize, fx: &mut Effects) {
        if !matches!(st.shards[s].mode, Mode::Releasing { .. }) || !st.shards[s].entities.is_empty() {
            return;
        }
        let Mode::Releasing { held } =
            std::mem::replace(&mut st.shards[s].mode, Mode::NoHost { held: VecDeque::new() })
        else {
            unreachable!("checked above")
        };
        tracing::debug!(region = %self.name, shard = s, "shard released");
        self.enter(st, s, held, fx);
        self.answer_claims(st, s, fx);
    }

    /// Puts shard `s` in the mode its current owner calls for, with `held`
    /// routed (in order) from there.
    fn enter(&self, st: &mut State, s: usize, held: VecDeque<Held>, fx: &mut Effects) {
        match st.owners[s].clone() {
            None => {
                st.shards[s].mode = Mode::NoHost { held };
            }
            Some(owner) if *owner == *self.node => self.start_acquire(st, s, held, fx),
            Some(owner) => {
                st.shards[s].mode = Mode::Remote(owner);
                for item in held {
                    self.route(st, item, fx);
                }
            }
        }
    }

    /// The owner of shard `s` changed in this node's view.
    fn owner_changed(&self, st: &mut State, s: usize, fx: &mut Effects) {
        let owner = st.owners[s].clone();
        let mine = owner.as_deref().is_some_and(|o| self.is_me(o));
        match &mut st.shards[s].mode {
            Mode::Active => {
                if !mine {
                    self.start_release(st, s, VecDeque::new(), fx);
                }
            }
            // Decided when the release completes.
            Mode::Releasing { .. } => {}
            Mode::Acquiring { held, .. } => {
                if !mine {
                    let held = std::mem::take(held);
                    if st.shards[s].entities.is_empty() {
                        st.shards[s].mode = Mode::NoHost { held: VecDeque::new() };
                        self.enter(st, s, held, fx);
                        self.answer_claims(st, s, fx);
                    } else {
                        // Being confirmed again (see `reconfirm`) with
                        // entities running: they stop first.
                        self.start_release(st, s, held, fx);
                    }
                }
            }
            Mode::Remote(old) => {
                if owner.as_ref() != Some(old) {
                    let old = old.to_string();
                    if st.links.contains_key(&old) && st.up.contains(&old) {
                        self.start_switch(st, s, &old, fx);
                    }
                    st.shards[s].mode = Mode::NoHost { held: VecDeque::new() };
                    let returned = std::mem::take(&mut st.shards[s].returned);
                    self.enter(st, s, returned, fx);
                }
            }
            Mode::NoHost { held } => {
                if owner.is_some() {
                    let held = std::mem::take(held);
                    self.enter(st, s, held, fx);
                }
            }
        }
    }

    // ---- The view -----------------------------------------------------

    /// Reads the cluster's members and the group, and applies what changed.
    pub(crate) fn refresh(&self) {
        let snapshot = self.cluster.group_snapshot::<RegionActor>(&self.group);
        self.update(|core, st, fx| {
            let mut peers: BTreeMap<String, (ActorId, ActorRef<RegionActor>)> = BTreeMap::new();
            for (node, id, region) in snapshot.members {
                if !core.is_me(&node) {
                    peers.insert(node, (id, region));
                }
            }
            let departed: Vec<String> = st.up.difference(&snapshot.up).cloned().collect();
            st.departed.extend(departed);
            st.departed.retain(|n| !snapshot.up.contains(n));
            st.up = snapshot.up.clone();
            let seen_before: BTreeSet<String> = st.peers.keys().chain(st.unknown.iter()).cloned().collect();
            st.unknown = snapshot.up.iter().filter(|n| !snapshot.known.contains(*n)).cloned().collect();
            // Regions gone (or replaced by a new one on the same node).
            let gone: Vec<String> = st
                .peers
                .iter()
                .filter(|(node, peer)| peers.get(*node).is_none_or(|(id, _)| *id != peer.id))
                .map(|(node, _)| node.clone())
                .collect();
            for node in &gone {
                st.peers.remove(node);
            }
            // Links to nodes no longer up, or whose region was replaced.
            let lost: Vec<String> = st
                .links
                .iter()
                .filter(|(node, link)| {
                    !st.up.contains(*node) || peers.get(*node).is_some_and(|(id, _)| *id != link.region_id)
                })
                .map(|(node, _)| node.clone())
                .collect();
            let mut requeue = Vec::new();
            for node in &lost {
                requeue.extend(core.link_lost(st, node, "its node is down or its region was replaced", fx));
            }
            let mut added = Vec::new();
            for (node, (id, region)) in peers {
                if !st.peers.contains_key(&node) {
                    st.peers.insert(node.clone(), Peer { id, region, leaving: false });
                    added.push(node);
                }
            }
            // What waited for a region now known goes to it; what waited
            // for a node now gone is dropped.
            st.unsent.retain(|node, _| !st.departed.contains(node));
            for node in &added {
                if st.unsent.contains_key(node) && !st.links.contains_key(node) {
                    core.open_link(st, node, fx);
                }
            }
            core.replace_hosts(st, fx);
            // A region (or a member that may have one) this node did not
            // know: it may hold activations of shards active here, from
            // a view in which it owned them (before it joined, or across a
            // partition). Those shards are confirmed again with it.
            let fresh: Vec<String> =
                st.peers.keys().chain(st.unknown.iter()).filter(|n| !seen_before.contains(*n)).cloned().collect();
            if !fresh.is_empty() {
                core.reconfirm(st, &fresh);
            }
            core.update_claims(st, &gone, &added, fx);
            // What was queued for lost links goes on by the new routes.
            for held in requeue {
                core.route(st, held, fx);
            }
            // Switches whose old route is gone end now.
            for s in 0..st.shards.len() {
                let stale = st.shards[s].switching.as_ref().is_some_and(|sw| {
                    (sw.marker != 0 && !st.links.contains_key(&sw.via))
                        || sw.back.as_ref().is_some_and(|(_, node)| !st.links.contains_key(node))
                });
                if stale {
                    core.end_switch(st, s, fx);
                }
            }
        });
    }

    /// Recomputes the hosts and, if they changed, the owners.
    pub(crate) fn replace_hosts(&self, st: &mut State, fx: &mut Effects) {
        let mut hosts: Vec<String> = st.peers.iter().filter(|(_, p)| !p.leaving).map(|(n, _)| n.clone()).collect();
        if st.hosting {
            hosts.push(self.node.to_string());
        }
        hosts.sort();
        if hosts == st.hosts {
            return;
        }
        let names: Vec<Arc<str>> = hosts.iter().map(|h| Arc::from(h.as_str())).collect();
        let owners: Vec<Option<Arc<str>>> =
            placement::assign(self.options.shards, &hosts).into_iter().map(|o| o.map(|i| names[i].clone())).collect();
        st.hosts = hosts;
        let before = std::mem::replace(&mut st.owners, owners);
        for (s, owner) in before.iter().enumerate() {
            if *owner != st.owners[s] {
                self.owner_changed(st, s, fx);
            }
        }
    }

    /// Puts every shard active here back into `Acquiring`, waiting for the
    /// regions of `fresh` (its entities keep running; new messages are
    /// held until they answer). `update_claims` sends the claims.
    fn reconfirm(&self, st: &mut State, fresh: &[String]) {
        for s in 0..st.shards.len() {
            if !matches!(st.shards[s].mode, Mode::Active) {
                continue;
            }
            let round = Self::next_id(st);
            let waiting = fresh.iter().map(|n| (n.clone(), Waiting::Unknown)).collect();
            st.shards[s].mode = Mode::Acquiring { round, waiting, held: VecDeque::new() };
        }
    }

    /// Brings the waiting sets of shards being acquired up to date: regions
    /// gone are no longer waited for, members whose state is unknown are,
    /// and every region waited for has been asked (a new one again).
    fn update_claims(&self, st: &mut State, gone: &[String], added: &[String], fx: &mut Effects) {
        let now = Instant::now();
        for s in 0..st.shards.len() {
            for node in gone {
                st.shards[s].deferred.remove(node);
            }
            let (peers, unknown, up) = (&st.peers, &st.unknown, &st.up);
            let Mode::Acquiring { round, waiting, .. } = &mut st.shards[s].mode else { continue };
            waiting.retain(|node, why| {
                if peers.contains_key(node) || unknown.contains(node) {
                    return true;
                }
                matches!(why, Waiting::Indirect(deadline) if *deadline > now && !up.contains(node))
            });
            for node in unknown {
                waiting.entry(node.clone()).or_insert(Waiting::Unknown);
            }
            let mut ask = Vec::new();
            for node in peers.keys() {
                let fresh = added.contains(node);
                match waiting.get_mut(node) {
                    Some(why) if *why != Waiting::Asked || fresh => {
                        *why = Waiting::Asked;
                        ask.push(node.clone());
                    }
                    None if fresh => {
                        waiting.insert(node.clone(), Waiting::Asked);
                        ask.push(node.clone());
                    }
                    _ => {}
                }
            }
            let round = *round;
            for node in ask {
                self.send_item(st, &node, Item::Acquire { shard: s as u32, round }, fx);
            }
            self.maybe_activate(st, s, fx);
        }
    }

    /// The link to `node` is gone: what was sent and not acknowledged is
    /// reported (it may or may not have arrived), asks waiting on that node
    /// fail, and what was never sent is handed back to be routed again.
    pub(crate) fn link_lost(&self, st: &mut State, node: &str, why: &str, fx: &mut Effects) -> Vec<Held> {
        let Some(link) = st.links.remove(node) else { return Vec::new() };
        let detail = format!("maybe delivered: node {node} was lost before acknowledging it ({why})");
        for (_, sent) in link.inflight {
            self.lost(st, sent, &detail, fx);
        }
        Self::fail_asks_via(st, node);
        let mut back = Vec::new();
        for out in link.queue {
            match out {
                Out::Msg(env) => back.push(Held::Msg(env)),
                Out::Item(Item::Marker { shard, origin, id, reply_to }) => {
                    back.push(Held::Marker { shard, origin, id, reply_to });
                }
                Out::Item(Item::Stop { entity, kill }) => {
                    let shard = placement::shard_of(&entity, self.options.shards);
                    back.push(Held::Stop { entity: entity.into(), shard, kill });
                }
                Out::Item(_) => {}
            }
        }
        back
    }

    // ---- Timers -------------------------------------------------------

    /// Periodic work: switches and indirect waits past their deadline,
    /// asks whose askers gave up.
    pub(crate) fn on_tick(&self) {
        self.update(|core, st, fx| {
            let now = Instant::now();
            for s in 0..st.shards.len() {
                let late =
                    st.shards[s].switching.as_ref().is_some_and(|sw| now - sw.since > core.options.handoff_timeout);
                if late {
                    tracing::warn!(region = %core.name, shard = s, "a route marker was not acknowledged in time");
                    core.end_switch(st, s, fx);
                }
                core.return_kept(st, s, fx);
                if let Mode::Acquiring { waiting, .. } = &mut st.shards[s].mode {
                    waiting.retain(|_, why| !matches!(why, Waiting::Indirect(deadline) if *deadline <= now));
                    core.maybe_activate(st, s, fx);
                }
            }
            // A claim, or its answer, can be lost with a link (a member
            // that flapped down and up): claims still unanswered go again.
            // Both sides take a repeated claim or answer as the first.
            if now - st.claims_resent >= core.options.tick() * 4 {
                st.claims_resent = now;
                for s in 0..st.shards.len() {
                    let Mode::Acquiring { round, waiting, .. } = &st.shards[s].mode else { continue };
                    let round = *round;
                    let again: Vec<String> = waiting
                        .iter()
                        .filter(|(node, why)| **why == Waiting::Asked && st.peers.contains_key(*node))
                        .map(|(node, _)| node.clone())
                        .collect();
                    for node in again {
                        core.send_item(st, &node, Item::Acquire { shard: s as u32, round }, fx);
                    }
                }
            }
            st.asks.retain(|_, a| !a.reply.is_closed());
            let timeout = core.options.handoff_timeout;
            st.unsent.retain(|node, items| {
                while items.front().is_some_and(|(since, _)| now - *since > timeout) {
                    if let Some((_, item)) = items.pop_front() {
                        tracing::debug!(region = %core.name, %node, ?item, "a sharding item for an unknown region dropped");
                    }
                }
                !items.is_empty()
            });
        });
    }

    /// Handles an event of the driver.
    pub(crate) fn on_event(&self, event: Event) {
        match event {
            Event::Terminated { entity, generation } => {
                self.update(|core, st, fx| core.terminated(st, &entity, generation, fx));
            }
            Event::Reply { origin, id, result } => {
                self.update(|core, st, fx| core.send_item(st, &origin, Item::Reply { id, result }, fx));
            }
            Event::Drained { waiter, failed } => {
                self.update(|core, st, fx| core.drained(st, waiter, failed, fx));
            }
        }
    }

    /// A reply from an entity of this node to an asker on `origin`.
    pub(crate) fn reply_to(&self, origin: String, id: u64, result: Result<Vec<u8>, RemoteFailure>) {
        let result = WireResult::from(result);
        if IN_CORE.get() {
            let _ = self.events.send(Event::Reply { origin, id, result });
        } else {
            self.update(|core, st, fx| core.send_item(st, &origin, Item::Reply { id, result }, fx));
        }
    }

    // ---- Stats --------------------------------------------------------

    pub(crate) fn stats(&self) -> ShardingStats {
        let st = self.lock();
        let mut stats = ShardingStats::empty(self.node.to_string());
        stats.hosts = st.hosts.clone();
        stats.shards_owned = st.owners.iter().filter(|o| o.as_deref().is_some_and(|o| self.is_me(o))).count();
        for shard in &st.shards {
            match &shard.mode {
                Mode::Active => stats.shards_active += 1,
                Mode::Acquiring { held, .. } | Mode::Releasing { held } => {
                    stats.shards_in_hand_off += 1;
                    stats.held += held.len();
                }
                Mode::NoHost { held } => stats.held += held.len(),
                Mode::Remote(_) => {}
            }
            stats.held += shard.returned.len();
            if let Some(switching) = &shard.switching {
                stats.shards_switching += 1;
                stats.held += switching.held.len();
            }
        }
        stats.entities_active = st.entities.values().filter(|a| a.stopping.is_none()).count();
        stats.held += st.entities.values().map(|a| a.backlog.len()).sum::<usize>();
        stats.in_flight = st.links.values().map(|l| l.inflight.len() + l.queue.len()).sum();
        stats.entities_started = st.counters.started;
        stats.entities_passivated = st.counters.passivated;
        stats.entities_handed_off = st.counters.handed_off;
        stats.delivered = st.counters.delivered;
        stats.forwarded = st.counters.forwarded;
        stats.dead_letters = st.counters.dead_letters;
        stats.asks_pending = st.asks.len();
        stats
    }
}

impl Link {
    pub(crate) fn new(region: ActorRef<RegionActor>, region_id: ActorId) -> Self {
        Link {
            region,
            region_id,
            queue: VecDeque::new(),
            inflight: HashMap::new(),
            next_seq: 0,
            acks: Vec::new(),
            busy: false,
        }
    }
}

impl State {
    pub(crate) fn new(shards: u32, hosting: bool) -> Self {
        State {
            peers: BTreeMap::new(),
            unknown: BTreeSet::new(),
            up: HashSet::new(),
            departed: HashSet::new(),
            claims_resent: Instant::now(),
            hosts: Vec::new(),
            // No host yet: no shard has an owner (every shard starts in
            // `NoHost`, which agrees).
            owners: vec![None; shards as usize],
            shards: (0..shards)
                .map(|_| Shard {
                    mode: Mode::NoHost { held: VecDeque::new() },
                    switching: None,
                    custody: 0,
                    entities: HashSet::new(),
                    deferred: BTreeMap::new(),
                    returned: VecDeque::new(),
                })
                .collect(),
            entities: HashMap::new(),
            links: HashMap::new(),
            unsent: HashMap::new(),
            asks: HashMap::new(),
            next_id: 0,
            hosting,
            stopped: false,
            counters: Counters::default(),
            watchers: Vec::new(),
        }
    }
}
