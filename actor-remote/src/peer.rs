//! One peer node: its connection (a reader and a writer task), the outbox
//! the writer drains, the asks waiting for replies, the credit toward each
//! of its actors, and the monitors set on them.
//!
//! Everything that must agree on "is the connection up" (the outbox, the
//! pending asks, the monitors) changes under one lock, [`Peer::link`], so
//! that an ask or a monitor registered while the connection drops is either
//! failed by the drop or sent on the next connection, never forgotten.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use actor_core::transport::{
    self, AskContext, Exported, Outgoing, PendingReply, RefCodec, Refused, RemoteEndpoint, RemoteFailure, ReplySink,
    TerminationNotice, Undelivered, WatchKey, WireRef,
};
use actor_core::{ActorId, DeadLetterReason, StopReason};
use bytes::{BufMut, Bytes, BytesMut};
use dashmap::DashMap;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio_util::codec::FramedRead;

use crate::address::{Address, BoxStream, Receipts};
use crate::channel::{self, Records, Sealer};
use crate::error::NodeError;
use crate::frame::{self, Frame, System, WireFailure};
use crate::handshake::PeerInfo;
use crate::node::NodeInner;

/// A frame waiting in the outbox.
enum Queued {
    Tell {
        target: ActorId,
        wire_name: &'static str,
        message_type: &'static str,
        payload: Vec<u8>,
    },
    /// An ask; its context (deadline, chain of waits) is boxed, and absent
    /// for the usual ask from a plain task without a timeout.
    Ask {
        corr: u64,
        target: ActorId,
        wire_name: &'static str,
        payload: Vec<u8>,
        context: Option<Box<AskContext>>,
    },
    Reply {
        corr: u64,
        payload: Vec<u8>,
    },
    Failure {
        corr: u64,
        failure: WireFailure,
    },
    System(System),
    Credit {
        target: ActorId,
        count: u32,
    },
    /// The rest of a sealed record that a direct write could not finish:
    /// it goes out first, as it is, before anything queued after it.
    Rest(Bytes),
}

impl Queued {
    fn encode(&self, buf: &mut BytesMut) {
        match self {
            Queued::Tell { target, wire_name, payload, .. } => frame::tell(buf, *target, wire_name, payload),
            Queued::Ask { corr, target, wire_name, payload, context: None } => {
                frame::ask(buf, *corr, *target, wire_name, payload)
            }
            Queued::Ask { corr, target, wire_name, payload, context: Some(context) } => {
                // The time left is taken now, as the frame is written: what
                // the far side can count on, whatever its clock says.
                let now = tokio::time::Instant::now();
                let time_left = context.deadline.map(|d| d.saturating_duration_since(now));
                frame::ask_with(buf, *corr, *target, wire_name, time_left, &context.chain, payload)
            }
            Queued::Reply { corr, payload } => frame::reply(buf, *corr, payload),
            Queued::Failure { corr, failure } => frame::failure(buf, *corr, failure),
            Queued::System(msg) => frame::system(buf, msg),
            Queued::Credit { target, count } => frame::credit(buf, *target, *count),
            Queued::Rest(_) => unreachable!("a frame's rest is written as it is, not encoded"),
        }
    }

    /// Appends the frame, with its length prefix, to `out`; false (and
    /// nothing appended) if it is over `max`, or is the rest of a sealed
    /// record (written as it is, never encoded).
    fn put(&self, out: &mut BytesMut, max: usize) -> bool {
        match self {
            Queued::Rest(_) => false,
            Queued::Tell { wire_name, .. } | Queued::Ask { wire_name, .. }
                if wire_name.len() > frame::MAX_WIRE_NAME =>
            {
                false
            }
            queued => put_frame(out, max, |buf| queued.encode(buf)),
        }
    }
}

/// What waits for an answer from the peer.
pub(crate) enum Pending {
    Ask(PendingReply),
    Lookup(oneshot::Sender<Result<(ActorId, String), NodeError>>),
}

/// The state that changes when the connection comes and goes.
struct Link {
    /// Whether a connection is established.
    up: bool,
    /// Counts connections; tasks of an old one stop touching the peer.
    generation: u64,
    /// The peer's incarnation on the current (or last) connection.
    incarnation: u64,
    /// Frames for the writer. Bounded while down (`Limits::outbox`); while
    /// up, the credit windows bound it.
    frames: VecDeque<Queued>,
    /// Monitors set on the peer's actors, by actor, then by key (see
    /// `Endpoint::watch`). An actor's entry stays, even empty, until its
    /// `Down` comes or the connection drops: the peer watches it until
    /// then, so watching it again sends no frame.
    watchers: HashMap<ActorId, BTreeMap<u64, TerminationNotice>>,
    /// Closes the current connection's tasks.
    close: Option<Arc<Notify>>,
    /// Whether the current connection was accepted (the peer dialed it).
    accepted: bool,
    /// The current connection's write side, while nobody writes to it:
    /// whoever takes it (the writer task, or a sender writing directly)
    /// is the only one writing until it puts it back.
    sender: Option<Sender>,
    /// Whether senders may write to this connection's socket themselves
    /// (plain TCP and Unix sockets; see `Peer::send_now`).
    direct: bool,
    /// The node's frame limit, for frames encoded by senders.
    max_frame: usize,
}

/// The write side of one connection: the socket's write half and the
/// channel's sealer, always taken together (records must reach the socket
/// in the order their nonces were taken), with the buffers every write
/// reuses.
struct Sender {
    write: WriteHalf<BoxStream>,
    sealer: Sealer,
    /// Frames of the write being prepared, before sealing.
    plain: BytesMut,
    /// What goes to the socket: sealed records (and the rest of an
    /// unfinished one first, if any).
    sealed: BytesMut,
}

impl Sender {
    fn new(write: WriteHalf<BoxStream>, sealer: Sealer) -> Self {
        Sender { write, sealer, plain: BytesMut::new(), sealed: BytesMut::new() }
    }

    /// Seals the frames in `plain` onto `sealed`, emptying `plain`.
    fn seal(&mut self) {
        self.sealer.seal(&self.plain, &mut self.sealed);
        self.plain.clear();
    }

    /// Empties both buffers, giving back memory a rare large write grew.
    fn clear(&mut self) {
        const KEEP: usize = 128 * 1024;
        for buf in [&mut self.plain, &mut self.sealed] {
            if buf.capacity() > KEEP {
                *buf = BytesMut::new();
            } else {
                buf.clear();
            }
        }
    }
}

impl Link {
    /// Whether connection `generation` is the one up.
    fn up_on(&self, generation: u64) -> bool {
        self.up && self.generation == generation
    }
}

/// Credit toward one of the peer's actors.
///
/// A unit is *available* (a permit of `credit`), *reserved* by a sender
/// about to send, or *in flight*: its message is in the outbox or was
/// written, and the peer has not granted it back. The peer counts the
/// same messages from its side and closes a connection that carries more
/// than the window toward one actor, so the units in flight must be
/// exactly the messages sent: they change under the link lock.
pub(crate) struct Target {
    credit: Semaphore,
    /// Messages queued or written and not yet granted back.
    in_flight: AtomicUsize,
    /// Permits owed because the window shrank while they were out:
    /// paid back from what is given back before anything is available.
    debt: AtomicUsize,
    /// The window in force.
    window: AtomicUsize,
    /// The actor was reported stopped.
    closed: AtomicBool,
}

impl Target {
    fn new(window: usize) -> Self {
        Target {
            credit: Semaphore::new(window),
            in_flight: AtomicUsize::new(0),
            debt: AtomicUsize::new(0),
            window: AtomicUsize::new(window),
            closed: AtomicBool::new(false),
        }
    }

    /// Makes `count` units available again, paying any debt first.
    fn release(&self, count: usize) {
        let paid = self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| Some(d - d.min(count)))
            .map_or(0, |d| d.min(count));
        if count > paid {
            self.credit.add_permits(count - paid);
        }
    }

    /// A reserved unit is sent: it is in flight. Under the link lock.
    fn sent(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// The peer granted `count` units back.
    fn grant(&self, count: usize) {
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(count)))
            .unwrap_or_else(|n| n);
        self.release(count.min(taken));
    }

    /// The connection that carried the units in flight is gone, and the
    /// next one starts with a fresh window on the far side: every unit
    /// comes back but those of the `queued` messages still in the outbox,
    /// which the next connection carries. Under the link lock.
    fn reset_to(&self, queued: usize) {
        let taken = self.in_flight.swap(queued, Ordering::AcqRel);
        self.release(taken.saturating_sub(queued));
    }

    /// Changes the window (the peer announced a smaller or larger one).
    fn resize(&self, window: usize) {
        let old = self.window.swap(window, Ordering::AcqRel);
        if window > old {
            self.release(window - old);
        } else if window < old {
            let owed = old - window;
            let forgotten = self.credit.forget_permits(owed);
            self.debt.fetch_add(owed - forgotten, Ordering::AcqRel);
        }
    }
}

pub(crate) struct Peer {
    pub(crate) name: String,
    node: Weak<NodeInner>,
    /// Where to dial the peer, if this node dialed it (and so reconnects).
    dial: Mutex<Option<Address>>,
    /// Where the peer says it listens.
    advertised: Mutex<String>,
    link: Mutex<Link>,
    wake_writer: Notify,
    pending: DashMap<u64, Pending>,
    targets: DashMap<ActorId, Arc<Target>>,
    next_corr: AtomicU64,
    /// The peer said goodbye: do not reconnect.
    left: AtomicBool,
    /// This node gave up redialing the peer (`Limits::reconnect_give_up`):
    /// nothing waits for it any more.
    abandoned: AtomicBool,
    /// Mirrors `Link::up` (written under the link lock), so that the send
    /// path can check it without the lock.
    up: AtomicBool,
    reconnecting: AtomicBool,
    /// The watches the peer holds on this node's actors: one per actor and
    /// connection, however many `Watch` frames it sends.
    watched: Mutex<HashMap<ActorId, Watched>>,
    /// The credit window toward each of the peer's actors: the smaller of
    /// this node's and the peer's, once a connection told.
    window: AtomicUsize,
}

/// A watch the peer set on one of this node's actors, on one connection.
struct Watched {
    generation: u64,
    exported: Arc<dyn Exported>,
    /// Takes the notice back (`None` until it is known, or if it ran).
    key: Option<WatchKey>,
}

/// Keys for the notices of `Link::watchers`, unique in the process.
static NEXT_WATCH: AtomicU64 = AtomicU64::new(0);

impl Peer {
    pub(crate) fn new(name: String, node: Weak<NodeInner>, advertised: String, window: usize) -> Self {
        Peer {
            name,
            node,
            dial: Mutex::new(None),
            advertised: Mutex::new(advertised),
            link: Mutex::new(Link {
                up: false,
                generation: 0,
                incarnation: 0,
                frames: VecDeque::new(),
                watchers: HashMap::new(),
                close: None,
                accepted: false,
                sender: None,
                direct: false,
                max_frame: 0,
            }),
            wake_writer: Notify::new(),
            pending: DashMap::new(),
            targets: DashMap::new(),
            next_corr: AtomicU64::new(1),
            left: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            up: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            watched: Mutex::new(HashMap::new()),
            window: AtomicUsize::new(window.max(1)),
        }
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_up(&self) -> bool {
        self.link().up
    }

    /// Down, and not coming back by this node's doing: it did not dial
    /// the peer (or the peer left), so nobody reconnects.
    fn unreachable(&self) -> bool {
        !self.up.load(Ordering::Acquire)
            && (self.left.load(Ordering::Acquire)
                || self.abandoned.load(Ordering::Acquire)
                || self.dial.lock().unwrap_or_else(PoisonError::into_inner).is_none())
    }

    pub(crate) fn dial_address(&self) -> Option<Address> {
        self.dial.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn set_dial(&self, address: Address) {
        *self.dial.lock().unwrap_or_else(PoisonError::into_inner) = Some(address);
    }

    fn node(&self) -> Option<Arc<NodeInner>> {
        self.node.upgrade()
    }

    /// The credit state toward one of the peer's actors.
    pub(crate) fn target(&self, id: ActorId) -> Arc<Target> {
        self.targets.entry(id).or_insert_with(|| Arc::new(Target::new(self.window.load(Ordering::Acquire)))).clone()
    }

    /// Whether nothing holds this entry to the peer's name any more: it is
    /// down, nobody redials it, and no tell waits in its outbox (those
    /// would go out if the peer dialed again, and must not vanish).
    pub(crate) fn forgettable(&self) -> bool {
        !self.up.load(Ordering::Acquire)
            && !self.reconnecting.load(Ordering::Acquire)
            && self.unreachable()
            && self.link().frames.is_empty()
    }

    fn corr(&self) -> u64 {
        self.next_corr.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a frame for the writer. Control frames and replies are only
    /// worth sending on the connection they belong to.
    fn push(&self, frame: Queued) {
        self.link().frames.push_back(frame);
        self.wake_writer.notify_one();
    }

    /// Takes the write side of connection `generation`, if it is up and
    /// nobody is writing, with every frame queued (into `batch`): they go
    /// out first, in order.
    fn take_sender(&self, generation: u64, batch: &mut VecDeque<Queued>) -> Option<Sender> {
        let mut link = self.link();
        if link.generation != generation || !link.up {
            return None;
        }
        link.sender.take().inspect(|_| std::mem::swap(&mut link.frames, batch))
    }

    /// Puts the write side back after a write (dropping it if its
    /// connection has been replaced meanwhile).
    fn put_sender(&self, generation: u64, sender: Sender) {
        let mut link = self.link();
        if link.generation == generation {
            link.sender = Some(sender);
        }
    }

    /// Sends a latency-sensitive frame (an ask, or a reply when it is the
    /// only one pending): written straight to the socket by the calling
    /// task when nothing is queued and nobody is writing, which saves the
    /// hop to the writer task and back; queued for the writer otherwise.
    ///
    /// Tells never come here: sent one by one they would each cost a
    /// system call, where the writer puts thousands in one.
    ///
    /// The write does not wait: with a waker that does nothing, it takes
    /// what the socket accepts now, and the rest (rare: a full socket
    /// buffer) goes to the front of the outbox for the writer. Only plain
    /// sockets allow this (`Link::direct`): a TLS stream may keep bytes
    /// buffered after a write returns, which only a later write or flush
    /// would send.
    fn send_now(self: &Arc<Self>, mut link: MutexGuard<'_, Link>, frame: Queued) {
        let generation = link.generation;
        let sender = if link.direct && link.up && link.frames.is_empty() { link.sender.take() } else { None };
        let Some(mut sender) = sender else {
            link.frames.push_back(frame);
            drop(link);
            self.wake_writer.notify_one();
            return;
        };
        let max_frame = link.max_frame;
        drop(link);
        if frame.put(&mut sender.plain, max_frame) {
            sender.seal();
        } else {
            tracing::warn!(peer = %self.name, "a frame over the limit was not sent");
        }
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut written = 0;
        let failed = loop {
            if written == sender.sealed.len() {
                break None;
            }
            match std::pin::Pin::new(&mut sender.write).poll_write(&mut cx, &sender.sealed[written..]) {
                std::task::Poll::Ready(Ok(0)) => break Some(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                std::task::Poll::Ready(Ok(n)) => written += n,
                std::task::Poll::Ready(Err(e)) => break Some(e),
                std::task::Poll::Pending => break None,
            }
        };
        let rest = (failed.is_none() && written < sender.sealed.len())
            .then(|| Bytes::copy_from_slice(&sender.sealed[written..]));
        sender.clear();
        let mut link = self.link();
        if link.generation == generation {
            link.sender = Some(sender);
        }
        if let Some(rest) = rest {
            link.frames.push_front(Queued::Rest(rest));
        }
        let queued = !link.frames.is_empty();
        drop(link);
        if let Some(e) = failed {
            // As when the writer's write fails: the connection is gone,
            // and with it this frame (its ask fails with the connection).
            self.connection_lost(generation, &format!("write failed: {e}"));
        } else if queued {
            self.wake_writer.notify_one();
        }
    }

    fn push_on(&self, generation: u64, frame: Queued) {
        let mut link = self.link();
        if link.up && link.generation == generation {
            link.frames.push_back(frame);
            drop(link);
            self.wake_writer.notify_one();
        }
    }

    /// Sends a lookup and waits for the answer.
    pub(crate) async fn lookup(&self, name: &str, timeout: Duration) -> Result<(ActorId, String), NodeError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut link = self.link();
            if !link.up {
                return Err(NodeError::NodeDown(self.name.clone()));
            }
            let corr = self.corr();
            self.pending.insert(corr, Pending::Lookup(tx));
            link.frames.push_back(Queued::System(System::Lookup { corr, name: name.to_owned() }));
        }
        self.wake_writer.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NodeError::NodeDown(self.name.clone())),
            Err(_) => Err(NodeError::Timeout),
        }
    }

    /// Queues a cluster-layer message on the current connection; `false`
    /// (and dropped) if the peer is not connected.
    pub(crate) fn send_cluster(&self, bytes: Vec<u8>) -> bool {
        let mut link = self.link();
        if !link.up {
            return false;
        }
        link.frames.push_back(Queued::System(System::Cluster(bytes)));
        drop(link);
        self.wake_writer.notify_one();
        true
    }

    fn watched(&self) -> MutexGuard<'_, HashMap<ActorId, Watched>> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The peer watches this node's actor `id` on connection `generation`:
    /// its `Down` goes back on that connection when the actor stops. A
    /// watch the peer already holds there is not set again.
    fn watch_here(self: &Arc<Self>, node: &NodeInner, id: ActorId, generation: u64) {
        let Some(exported) = node.exports.get(&id).map(|e| e.value().clone()) else {
            self.push_on(generation, Queued::System(System::Down { id, reason: StopReason::NotFound }));
            return;
        };
        let replaced = {
            let mut watched = self.watched();
            if watched.get(&id).is_some_and(|w| w.generation == generation) {
                return;
            }
            // Checked under this lock: `forget_watches` for this connection
            // either comes later and finds the entry, or came before and
            // the connection is down.
            if !self.link().up_on(generation) {
                return;
            }
            watched.insert(id, Watched { generation, exported: exported.clone(), key: None })
        };
        // A watch of an earlier connection whose loss has not been
        // handled yet: its notice would answer on a dead connection.
        if let Some(Watched { exported, key: Some(key), .. }) = replaced {
            exported.unwatch(key);
        }
        let peer = Arc::downgrade(self);
        let notice: TerminationNotice = Box::new(move |id, reason| {
            if let Some(peer) = peer.upgrade() {
                {
                    let mut watched = peer.watched();
                    if watched.get(&id).is_some_and(|w| w.generation == generation) {
                        watched.remove(&id);
                    }
                }
                peer.push_on(generation, Queued::System(System::Down { id, reason: reason.clone() }));
            }
        });
        // Outside the lock: the notice runs at once if the actor has stopped.
        let Some(key) = exported.watch(notice) else { return };
        let lost = {
            let mut watched = self.watched();
            match watched.get_mut(&id) {
                Some(w) if w.generation == generation => {
                    w.key = Some(key);
                    false
                }
                // The connection was lost meanwhile.
                _ => true,
            }
        };
        if lost {
            exported.unwatch(key);
        }
    }

    /// Takes back the watches the peer held on connection `generation`.
    fn forget_watches(&self, generation: u64) {
        let gone: Vec<Watched> = self.watched().extract_if(|_, w| w.generation == generation).map(|(_, w)| w).collect();
        for w in gone {
            if let Some(key) = w.key {
                w.exported.unwatch(key);
            }
        }
    }

    /// Notices this node holds for the peer's actors (monitors, waits,
    /// links), and the watches the peer holds on this node's actors.
    pub(crate) fn watch_counts(&self) -> (usize, usize) {
        let notices = self.link().watchers.values().map(BTreeMap::len).sum();
        (notices, self.watched().len())
    }

    /// Asks waiting for an answer from the peer.
    pub(crate) fn pending_asks(&self) -> usize {
        self.pending.iter().filter(|p| matches!(p.value(), Pending::Ask(_))).count()
    }

    /// Whether the peer said goodbye (or this node closed it).
    pub(crate) fn has_left(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    /// Tells the peer this node is leaving.
    pub(crate) fn say_goodbye(&self) {
        self.push(Queued::System(System::Bye));
    }

    /// Installs a freshly authenticated connection and starts its tasks.
    /// Refused (the stream is dropped) if a connection is already up.
    pub(crate) fn attach(
        self: &Arc<Self>,
        node: &Arc<NodeInner>,
        stream: BoxStream,
        info: PeerInfo,
        early: BytesMut,
        accepted: bool,
        wire: Wire,
    ) -> bool {
        let Wire { direct, receipts } = wire;
        if accepted {
            // The peer dialed again while we still hold a connection it
            // dialed before: it has given up on that one (it only redials
            // after a loss), so the new one replaces it rather than being
            // refused until we notice the loss ourselves.
            let held = {
                let link = self.link();
                (link.up && link.accepted).then_some(link.generation)
            };
            if let Some(old) = held {
                self.connection_lost(old, "replaced by the peer's new connection");
            }
        }
        let PeerInfo { incarnation, address, credit_window, sealer, opener, .. } = info;
        let (read, write) = tokio::io::split(stream);
        let (generation, close, stale_targets) = {
            let mut link = self.link();
            if link.up {
                return false;
            }
            link.up = true;
            link.accepted = accepted;
            link.sender = Some(Sender::new(write, sealer));
            link.direct = direct;
            link.max_frame = node.limits.max_frame;
            self.up.store(true, Ordering::Release);
            link.generation += 1;
            // A peer this node had given up on is treated like a restarted
            // one: references to its actors were failed, so they stay so.
            let abandoned = self.abandoned.swap(false, Ordering::AcqRel);
            let restarted = abandoned || (link.incarnation != 0 && link.incarnation != incarnation);
            link.incarnation = incarnation;
            let close = Arc::new(Notify::new());
            link.close = Some(close.clone());
            // The peer's actors of a previous incarnation died with it.
            let stale: Vec<_> = if restarted {
                let stale = self.targets.iter().map(|t| t.value().clone()).collect();
                self.targets.clear();
                stale
            } else {
                Vec::new()
            };
            // The window both sides agreed on for this connection.
            let window = (credit_window as usize).max(1);
            if self.window.swap(window, Ordering::AcqRel) != window {
                for target in self.targets.iter() {
                    target.resize(window);
                }
            }
            (link.generation, close, stale)
        };
        for target in stale_targets {
            target.closed.store(true, Ordering::Release);
        }
        *self.advertised.lock().unwrap_or_else(PoisonError::into_inner) = address;
        self.left.store(false, Ordering::Release);
        let limits = node.limits.clone();
        tokio::spawn(write_loop(self.clone(), generation, close.clone(), limits.clone(), receipts.clone()));
        let reading = Reading { read, early, records: Records::new(opener, limits.max_frame), window: credit_window };
        tokio::spawn(read_loop(self.clone(), generation, reading, close, limits, receipts));
        // Frames queued while down go out now.
        self.wake_writer.notify_one();
        tracing::info!(peer = %self.name, generation, "connected");
        true
    }

    /// The connection of `generation` is gone: fail what waited on it, fire
    /// monitors, and reconnect if this node dialed.
    fn connection_lost(self: &Arc<Self>, generation: u64, why: &str) {
        let (notices, pending) = {
            let mut link = self.link();
            if link.generation != generation || !link.up {
                return;
            }
            link.up = false;
            self.up.store(false, Ordering::Release);
            if let Some(close) = link.close.take() {
                close.notify_waiters();
            }
            // Only tells wait for the next connection; the rest belonged to
            // this one.
            link.frames.retain(|f| matches!(f, Queued::Tell { .. }));
            // The credit of everything else sent comes back: the next
            // connection starts a fresh window on the far side, which sees
            // only the tells still queued. Under the link lock, so that no
            // send slips between the count and the reset.
            let mut queued = HashMap::<ActorId, usize>::new();
            for frame in &link.frames {
                if let Queued::Tell { target, .. } = frame {
                    *queued.entry(*target).or_default() += 1;
                }
            }
            for target in self.targets.iter() {
                target.reset_to(queued.get(target.key()).copied().unwrap_or(0));
            }
            let notices: Vec<_> = link.watchers.drain().collect();
            // Keys first: removing while iterating would deadlock a shard.
            let keys: Vec<u64> = self.pending.iter().map(|e| *e.key()).collect();
            let pending: Vec<_> = keys.into_iter().filter_map(|k| self.pending.remove(&k)).collect();
            (notices, pending)
        };
        tracing::warn!(peer = %self.name, reason = why, "connection lost");
        for (_, waiting) in pending {
            match waiting {
                Pending::Ask(reply) => reply.fail(RemoteFailure::NodeDown),
                Pending::Lookup(tx) => {
                    let _ = tx.send(Err(NodeError::NodeDown(self.name.clone())));
                }
            }
        }
        for (id, list) in notices {
            for notice in list.into_values() {
                notice(id, &StopReason::NodeDown);
            }
        }
        self.forget_watches(generation);
        self.reconnect();
    }

    /// Dials the peer again with exponential backoff, if this node dialed
    /// it and it did not leave.
    pub(crate) fn reconnect(self: &Arc<Self>) {
        let Some(address) = self.dial.lock().unwrap_or_else(PoisonError::into_inner).clone() else { return };
        let Some(node) = self.node() else { return };
        if self.left.load(Ordering::Acquire) || node.is_shut_down() {
            return;
        }
        if self.reconnecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let peer = self.clone();
        let (min, max) = (node.limits.reconnect_min, node.limits.reconnect_max);
        let give_up = tokio::time::Instant::now() + node.limits.reconnect_give_up;
        drop(node);
        tokio::spawn(async move {
            let mut delay = min;
            loop {
                tokio::time::sleep(delay).await;
                let Some(node) = peer.node() else { break };
                if node.is_shut_down() || peer.left.load(Ordering::Acquire) || peer.is_up() {
                    break;
                }
                if tokio::time::Instant::now() >= give_up {
                    peer.abandon(&node);
                    peer.reconnecting.store(false, Ordering::Release);
                    return;
                }
                match node.dial(&address).await {
                    Ok(_) if peer.is_up() => break,
                    // The new connection dropped at once (its loss found
                    // this task still running and started no other): dial
                    // again.
                    Ok(_) => delay = min,
                    Err(e) => {
                        tracing::debug!(peer = %peer.name, error = %e, "reconnect failed");
                        delay = (delay * 2).min(max);
                    }
                }
            }
            peer.reconnecting.store(false, Ordering::Release);
            // A connection lost between the check above and now found this
            // task still running: start another.
            if !peer.is_up() {
                peer.reconnect();
            }
        });
    }

    /// Gives up on a peer that stayed unreachable past
    /// `Limits::reconnect_give_up`: senders waiting for credit fail with
    /// `NodeDown`, and tells in the outbox become dead letters.
    fn abandon(&self, node: &NodeInner) {
        let lost: VecDeque<Queued> = {
            let mut link = self.link();
            if link.up {
                return;
            }
            self.abandoned.store(true, Ordering::Release);
            std::mem::take(&mut link.frames)
        };
        let after = node.limits.reconnect_give_up;
        tracing::warn!(peer = %self.name, ?after, "gave up reconnecting; the peer counts as down for good");
        for target in self.targets.iter() {
            // Wakes every sender waiting for credit: the semaphore is closed
            // for good, and a later connection makes new targets.
            target.credit.close();
        }
        for queued in lost {
            if let Queued::Tell { target, message_type, wire_name, .. } = queued {
                transport::dead_letter(
                    &node.system,
                    Some(target),
                    message_type,
                    DeadLetterReason::NodeDown,
                    format!("{wire_name} waited for node {} until this node gave up reconnecting", self.name),
                );
            }
        }
    }

    /// A monitored actor of the peer has stopped.
    fn target_down(&self, id: ActorId, reason: StopReason) {
        let notices = self.link().watchers.remove(&id).unwrap_or_default();
        if let Some(target) = self.targets.get(&id) {
            target.closed.store(true, Ordering::Release);
        }
        for notice in notices.into_values() {
            notice(id, &reason);
        }
    }

    /// Closes the connection (node shutdown).
    pub(crate) fn close(self: &Arc<Self>) {
        self.left.store(true, Ordering::Release);
        let generation = self.link().generation;
        self.connection_lost(generation, "node shut down");
    }
}

/// What a connection's transport allows beyond a byte stream.
pub(crate) struct Wire {
    /// Whether senders may write to the socket themselves (see
    /// `Peer::send_now`).
    pub(crate) direct: bool,
    /// How the transport confirms what the peer read, if it does.
    pub(crate) receipts: Option<Arc<dyn Receipts>>,
}

/// A reference's view of one actor of the peer.
pub(crate) struct Endpoint {
    pub(crate) peer: Arc<Peer>,
    pub(crate) id: ActorId,
    pub(crate) target: Arc<Target>,
    pub(crate) codec: Arc<dyn RefCodec>,
    pub(crate) outbox: usize,
    pub(crate) max_frame: usize,
}

impl Endpoint {
    fn check(&self) -> Result<(), Refused> {
        if self.target.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        if self.peer.up.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.peer.abandoned.load(Ordering::Acquire) {
            return Err(Refused::NodeDown);
        }
        let link = self.peer.link();
        if !link.up && link.frames.len() >= self.outbox {
            return Err(Refused::NodeDown);
        }
        Ok(())
    }

    /// Refuses a message that cannot be sent, giving its credit back: an
    /// ask fails with a remote error of kind `Refused`, a tell becomes a
    /// dead letter; both say why.
    fn refuse(&self, message_type: &'static str, reply: Option<PendingReply>, detail: String) {
        self.unreserve();
        tracing::warn!(peer = %self.peer.name, target = %self.id, message = message_type, reason = %detail, "a message was not sent");
        match reply {
            Some(reply) => reply.fail(RemoteFailure::Remote(actor_core::error::RemoteError::new(
                actor_core::error::RemoteErrorKind::Refused,
                detail,
            ))),
            None => {
                if let Some(node) = self.peer.node() {
                    transport::dead_letter(
                        &node.system,
                        Some(self.id),
                        message_type,
                        DeadLetterReason::Undeliverable,
                        detail,
                    );
                }
            }
        }
    }
}

impl RemoteEndpoint for Endpoint {
    fn id(&self) -> ActorId {
        self.id
    }

    fn node(&self) -> &str {
        &self.peer.name
    }

    fn is_alive(&self) -> bool {
        !self.target.closed.load(Ordering::Acquire) && !self.peer.left.load(Ordering::Acquire)
    }

    fn try_reserve(&self) -> Result<(), Refused> {
        self.check()?;
        match self.target.credit.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(())
            }
            // No credit comes back from a node that is down and that
            // nobody redials: its window is what it may still queue.
            Err(_) if self.peer.unreachable() => Err(Refused::NodeDown),
            Err(_) => Err(Refused::Full),
        }
    }

    fn reserve(&self) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(async move {
            self.check()?;
            if self.peer.unreachable() {
                // Waiting for credit from a node that is down and that this
                // node does not redial would wait forever: queue or fail now.
                // (A node being redialed is waited for: backpressure until
                // it is back.)
                return self.try_reserve();
            }
            // Closed when this node gives up on the peer.
            let permit = self.target.credit.acquire().await.map_err(|_| Refused::NodeDown)?;
            permit.forget();
            // The node may have gone down while this waited.
            self.check().inspect_err(|_| self.unreserve())
        })
    }

    fn unreserve(&self) {
        self.target.release(1);
    }

    fn send(&self, outgoing: Outgoing) {
        let Outgoing { wire_name, message_type, payload, reply } = outgoing;
        if wire_name.len() > frame::MAX_WIRE_NAME {
            let detail = format!(
                "the wire name {wire_name:?} is {} bytes long; a frame carries at most {}",
                wire_name.len(),
                frame::MAX_WIRE_NAME
            );
            return self.refuse(message_type, reply, detail);
        }
        if payload.len() + wire_name.len() + 64 > self.max_frame {
            let detail = format!("{} bytes exceed the frame limit of {}", payload.len(), self.max_frame);
            return self.refuse(message_type, reply, detail);
        }
        let mut link = self.peer.link();
        match reply {
            None => {
                link.frames.push_back(Queued::Tell { target: self.id, wire_name, message_type, payload });
                self.target.sent();
            }
            Some(mut reply) => {
                if !link.up {
                    drop(link);
                    self.unreserve();
                    reply.fail(RemoteFailure::NodeDown);
                    return;
                }
                let corr = self.peer.corr();
                if corr.is_multiple_of(1024) {
                    // Asks whose askers gave up leave an entry until a reply
                    // comes; sweep them now and then.
                    self.peer.pending.retain(|_, p| !matches!(p, Pending::Ask(r) if r.is_closed()));
                }
                let context = reply.take_context();
                let context = (!context.is_empty()).then(|| Box::new(context));
                self.peer.pending.insert(corr, Pending::Ask(reply));
                self.target.sent();
                self.peer.send_now(link, Queued::Ask { corr, target: self.id, wire_name, payload, context });
                return;
            }
        }
        drop(link);
        self.peer.wake_writer.notify_one();
    }

    fn stop(&self) {
        self.peer.push(Queued::System(System::Stop { id: self.id }));
    }

    fn kill(&self) {
        self.peer.push(Queued::System(System::Kill { id: self.id }));
    }

    fn on_terminated(&self, notice: TerminationNotice) {
        let _ = self.watch(notice);
    }

    fn watch(&self, notice: TerminationNotice) -> Option<WatchKey> {
        if self.target.closed.load(Ordering::Acquire) {
            notice(self.id, &StopReason::NotFound);
            return None;
        }
        let mut link = self.peer.link();
        if !link.up {
            drop(link);
            notice(self.id, &StopReason::NodeDown);
            return None;
        }
        let key = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
        let first = !link.watchers.contains_key(&self.id);
        link.watchers.entry(self.id).or_default().insert(key, notice);
        if first {
            link.frames.push_back(Queued::System(System::Watch { id: self.id }));
            drop(link);
            self.peer.wake_writer.notify_one();
        }
        Some(WatchKey::new(key))
    }

    fn unwatch(&self, key: WatchKey) {
        let removed = self.peer.link().watchers.get_mut(&self.id).and_then(|list| list.remove(&key.get()));
        // Dropped outside the lock: a notice may own anything.
        drop(removed);
    }

    fn wire_ref(&self) -> WireRef {
        let address = self.peer.advertised.lock().unwrap_or_else(PoisonError::into_inner).clone();
        WireRef { node: self.peer.name.clone(), address, id: self.id }
    }

    fn ref_codec(&self) -> Arc<dyn RefCodec> {
        self.codec.clone()
    }
}

/// A tell written to a stream that keeps receipts, until the peer
/// confirms reading past its last byte.
struct Unconfirmed {
    /// The stream offset just past the tell's frame.
    end: u64,
    target: ActorId,
    message_type: &'static str,
    wire_name: &'static str,
}

/// Drains the outbox into the socket, many frames per write; pings when
/// idle. It writes only while it holds the socket (`Link::socket`), which
/// it takes with the batch under the link lock, so frames leave in the
/// order they were queued even when senders write some directly.
async fn write_loop(
    peer: Arc<Peer>,
    generation: u64,
    close: Arc<Notify>,
    limits: crate::Limits,
    receipts: Option<Arc<dyn Receipts>>,
) {
    // With receipts, the tells the peer has not confirmed reading, in
    // stream order. (Streams with receipts never take direct writes, so
    // the writer knows every byte's place.)
    let mut unconfirmed = VecDeque::<Unconfirmed>::new();
    // Tells of the frames not sealed yet, with where they end in them.
    let mut unsealed = Vec::<(usize, Unconfirmed)>::new();
    let mut batch = VecDeque::new();
    // One heartbeat timer for the connection: it fires once per interval,
    // and sends a ping only if nothing was written since.
    let heartbeat = tokio::time::sleep(limits.heartbeat_interval);
    tokio::pin!(heartbeat);
    let closed = close.notified();
    tokio::pin!(closed);
    // Registered now, so a close before the first wait is not missed.
    closed.as_mut().enable();
    let mut last_write = tokio::time::Instant::now();
    loop {
        let taken = {
            let mut link = peer.link();
            if link.generation != generation || !link.up {
                break;
            }
            if link.frames.is_empty() {
                None
            } else {
                // `None` while a sender writes directly: it wakes us when
                // it puts the write side back.
                link.sender.take().inspect(|_| std::mem::swap(&mut link.frames, &mut batch))
            }
        };
        let mut ping = false;
        let mut sender = match taken {
            Some(sender) => sender,
            None => {
                tokio::select! {
                    biased;
                    () = &mut closed => break,
                    () = peer.wake_writer.notified() => continue,
                    () = &mut heartbeat => {
                        let due = last_write + limits.heartbeat_interval;
                        let now = tokio::time::Instant::now();
                        if now < due {
                            heartbeat.as_mut().reset(due);
                            continue;
                        }
                        heartbeat.as_mut().reset(now + limits.heartbeat_interval);
                        // If a sender holds the write side, it is writing:
                        // no ping needed. Whatever was queued meanwhile
                        // (the rest of a record a sender began, first of
                        // all) goes out before the ping.
                        let Some(sender) = peer.take_sender(generation, &mut batch) else { continue };
                        ping = true;
                        sender
                    }
                }
            }
        };
        let base = receipts.as_ref().map(|r| r.written());
        for queued in &batch {
            if let Queued::Rest(rest) = queued {
                // The end of a record a sender began: out first, as it is.
                seal_frames(&mut sender, &mut unsealed, &mut unconfirmed, base);
                sender.sealed.extend_from_slice(rest);
                continue;
            }
            if !queued.put(&mut sender.plain, limits.max_frame) {
                tracing::warn!(peer = %peer.name, "a frame over the limit was not sent");
                continue;
            }
            if let (Some(_), Queued::Tell { target, message_type, wire_name, .. }) = (base, queued) {
                let tell = Unconfirmed { end: 0, target: *target, message_type, wire_name };
                unsealed.push((sender.plain.len(), tell));
            }
        }
        if ping {
            put_frame(&mut sender.plain, limits.max_frame, frame::ping);
        }
        seal_frames(&mut sender, &mut unsealed, &mut unconfirmed, base);
        let written = sender.write.write_all(&sender.sealed).await;
        sender.clear();
        last_write = tokio::time::Instant::now();
        peer.put_sender(generation, sender);
        if let Err(e) = written {
            if receipts.is_none() {
                report_lost(&peer, &mut batch);
            }
            peer.connection_lost(generation, &format!("write failed: {e}"));
            break;
        }
        batch.clear();
        if let Some(receipts) = &receipts {
            let confirmed = receipts.confirmed();
            while unconfirmed.front().is_some_and(|u| u.end <= confirmed) {
                unconfirmed.pop_front();
            }
        }
    }
    // The connection is over: close our side of it, unless a newer
    // connection has replaced it already (which dropped this socket).
    let sender = {
        let mut link = peer.link();
        if link.generation == generation { link.sender.take() } else { None }
    };
    if let Some(mut sender) = sender {
        let _ = sender.write.shutdown().await;
    }
    if let Some(receipts) = receipts {
        report_unconfirmed(&peer, unconfirmed, receipts.as_ref());
    }
}

/// Seals the frames the writer has encoded so far, and places the tells
/// among them in the stream (with receipts, `base` is where this write
/// starts): each ends where the record that holds its last byte ends.
fn seal_frames(
    sender: &mut Sender,
    unsealed: &mut Vec<(usize, Unconfirmed)>,
    unconfirmed: &mut VecDeque<Unconfirmed>,
    base: Option<u64>,
) {
    let (start, plain) = (sender.sealed.len(), sender.plain.len());
    if let Some(base) = base {
        for (end, mut tell) in unsealed.drain(..) {
            tell.end = base + (start + channel::sealed_end(end, plain)) as u64;
            unconfirmed.push_back(tell);
        }
    }
    sender.seal();
}

/// Reports the tells the peer never confirmed reading, once a connection
/// with receipts has ended by loss (or by the peer's close). After a
/// close of this side's own making, nothing is reported: the peer reads
/// what was sent.
fn report_unconfirmed(peer: &Peer, unconfirmed: VecDeque<Unconfirmed>, receipts: &dyn Receipts) {
    let Some(why) = receipts.loss() else { return };
    let confirmed = receipts.confirmed();
    let Some(node) = peer.node() else { return };
    let mut reported = 0usize;
    for tell in unconfirmed.into_iter().filter(|u| u.end > confirmed) {
        reported += 1;
        transport::dead_letter(
            &node.system,
            Some(tell.target),
            tell.message_type,
            DeadLetterReason::NodeDown,
            format!("{} to node {} was not read by it before the connection ended: {why}", tell.wire_name, peer.name),
        );
    }
    if reported > 0 {
        tracing::warn!(peer = %peer.name, tells = reported, reason = %why, "tells the peer never read became dead letters");
    }
}

/// Appends one frame to `out` with the length prefix the reader's
/// `LengthDelimitedCodec` expects (4 bytes, big-endian, not counting
/// itself), encoding in place to avoid a copy. A frame over `max` is left
/// out; returns whether it was written.
fn put_frame(out: &mut BytesMut, max: usize, encode: impl FnOnce(&mut BytesMut)) -> bool {
    let start = out.len();
    out.put_u32(0);
    encode(out);
    let len = out.len() - start - 4;
    if len > max {
        out.truncate(start);
        return false;
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    true
}

/// Reports the tells of a batch that may not have reached the peer.
fn report_lost(peer: &Peer, batch: &mut VecDeque<Queued>) {
    let Some(node) = peer.node() else { return };
    for queued in batch.drain(..) {
        if let Queued::Tell { target, message_type, wire_name, .. } = queued {
            transport::dead_letter(
                &node.system,
                Some(target),
                message_type,
                DeadLetterReason::NodeDown,
                format!("{wire_name} was in flight to node {} when the connection dropped", peer.name),
            );
        }
    }
}

/// Work for one local actor whose mailbox was full: finished in order.
enum Parked {
    Waiting(transport::Parked),
    Raw { wire_name: String, payload: Bytes, reply: Option<Incoming> },
}

/// Deliveries waiting for room in one local actor's mailbox: at most the
/// credit window of them, since the peer may not send more.
struct ParkedQueue {
    tx: mpsc::Sender<Parked>,
    /// Deliveries in the queue, not yet landed.
    queued: Arc<AtomicUsize>,
}

/// What one connection brought for one local actor, on the receiving side.
struct Inbound {
    /// Messages received and not granted back yet: the part of the
    /// window the peer has used. Also decreased by the parked queue's task
    /// when it grants.
    outstanding: Arc<AtomicUsize>,
    /// Messages delivered whose credit the reader has not granted yet (it
    /// grants in batches).
    delivered: u32,
    parked: Option<ParkedQueue>,
}

/// An ask as it came in: where its answer goes, and what it carried.
type Incoming = (u64, ReplySink, AskContext);

/// Hands a decoded tell or ask to a local actor.
fn deliver_to(
    exported: &dyn Exported,
    wire_name: &str,
    payload: &[u8],
    reply: Option<(ReplySink, AskContext)>,
    codec: &Arc<dyn RefCodec>,
) -> Result<(), Undelivered> {
    match reply {
        Some((sink, context)) => exported.deliver_ask(wire_name, payload, sink, context, codec),
        None => exported.deliver(wire_name, payload, None, codec),
    }
}

/// What the reader needs per connection.
struct Reader {
    peer: Arc<Peer>,
    node: Arc<NodeInner>,
    codec: Arc<dyn RefCodec>,
    generation: u64,
    /// Per local actor this connection sends to: credit used, deliveries
    /// not granted back, the parked queue.
    inbound: HashMap<ActorId, Inbound>,
    /// The credit window of this connection, per target actor.
    window: usize,
    grant_every: u32,
    /// The last local actor a frame went to: runs of frames to one actor
    /// skip the table.
    last: Option<(ActorId, Arc<dyn Exported>)>,
    /// Asks from this connection not yet answered, and their limit.
    inflight_asks: Arc<AtomicUsize>,
    max_inflight_asks: usize,
}

/// Counts one ask in flight on a connection until its reply is sent (or
/// its reply sink is dropped unanswered).
struct InflightAsk(Arc<AtomicUsize>);

impl Drop for InflightAsk {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The read side of a fresh connection.
struct Reading {
    read: ReadHalf<BoxStream>,
    /// What the handshake read past its end.
    early: BytesMut,
    records: Records,
    /// The credit window agreed on in the handshake.
    window: u32,
}

async fn read_loop(
    peer: Arc<Peer>,
    generation: u64,
    reading: Reading,
    close: Arc<Notify>,
    limits: crate::Limits,
    receipts: Option<Arc<dyn Receipts>>,
) {
    let Some(node) = peer.node() else { return };
    let codec: Arc<dyn RefCodec> = node.clone();
    let Reading { read, early, records, window } = reading;
    let window = (window as usize).max(1);
    let mut reader = Reader {
        peer: peer.clone(),
        node,
        codec,
        generation,
        inbound: HashMap::new(),
        window,
        grant_every: (window / 2).max(1) as u32,
        last: None,
        inflight_asks: Arc::new(AtomicUsize::new(0)),
        max_inflight_asks: limits.max_inflight_asks.max(1),
    };
    let mut framed = FramedRead::new(read, records);
    framed.read_buffer_mut().extend_from_slice(&early);
    // One heartbeat timer for the connection, not one per frame: it ticks
    // every quarter of the timeout, and the peer is presumed dead after
    // four ticks in a row without a frame (detection within 1.25x the
    // timeout, at no cost per frame).
    const TICKS: u32 = 4;
    let tick = limits.heartbeat_timeout / TICKS;
    let deadline = tokio::time::sleep(tick);
    tokio::pin!(deadline);
    let closed = close.notified();
    tokio::pin!(closed);
    // Registered now, so a close before the first wait is not missed.
    closed.as_mut().enable();
    let (mut seen, mut seen_at_tick, mut idle_ticks) = (0u64, 0u64, 0u32);
    let why = loop {
        let next = tokio::select! {
            biased;
            next = framed.next() => next,
            () = &mut closed => break "closed".to_owned(),
            () = &mut deadline => {
                if seen == seen_at_tick {
                    idle_ticks += 1;
                    if idle_ticks >= TICKS {
                        break format!("no frame for {:?}: peer presumed dead", limits.heartbeat_timeout);
                    }
                } else {
                    idle_ticks = 0;
                    seen_at_tick = seen;
                }
                deadline.as_mut().reset(tokio::time::Instant::now() + tick);
                continue;
            }
        };
        seen += 1;
        match next {
            None => break "closed by the peer".to_owned(),
            Some(Err(e)) => break format!("bad frame: {e}"),
            Some(Ok(bytes)) => match frame::decode(bytes.freeze()) {
                Ok(frame) => {
                    if let Err(why) = reader.handle(frame) {
                        break why;
                    }
                }
                Err(e) => break format!("malformed frame: {e}"),
            },
        }
    };
    if why != "closed" {
        tracing::warn!(peer = %peer.name, reason = %why, "closing the connection");
        if let Some(receipts) = &receipts {
            // Before the writer stops: it reports what was never read.
            receipts.fail(&why);
        }
    }
    peer.connection_lost(generation, &why);
}

impl Reader {
    /// Handles one frame; `Err` (with the reason) closes the connection.
    fn handle(&mut self, frame: Frame) -> Result<(), String> {
        match frame {
            Frame::Tell { target, wire_name, payload } => {
                return self.incoming(target, wire_name.as_str(), payload, None);
            }
            Frame::Ask { corr, target, wire_name, context, payload } => {
                if self.inflight_asks.load(Ordering::Acquire) >= self.max_inflight_asks {
                    // Over the limit: answered at once, never dropped. Its
                    // credit goes straight back.
                    let detail = format!(
                        "more than {} asks in flight on this connection; {} refused",
                        self.max_inflight_asks,
                        wire_name.as_str()
                    );
                    let failure = WireFailure::Refused(detail);
                    self.peer.push_on(self.generation, Queued::Failure { corr, failure });
                    self.refund(target);
                    return Ok(());
                }
                self.inflight_asks.fetch_add(1, Ordering::AcqRel);
                let sink = self.reply_sink(corr);
                // The asker's deadline, on this node's clock, counted from
                // now: the time the frame spent in transit is not known, so
                // the far side's deadline is never earlier than the asker's.
                let context = AskContext {
                    deadline: context.time_left.map(|left| tokio::time::Instant::now() + left),
                    chain: context.chain,
                };
                return self.incoming(target, wire_name.as_str(), payload, Some((corr, sink, context)));
            }
            Frame::Reply { corr, payload } => {
                if let Some((_, Pending::Ask(reply))) = self.peer.pending.remove(&corr) {
                    reply.complete(&payload, &self.codec);
                }
            }
            Frame::Failure { corr, failure } => {
                if let Some((_, Pending::Ask(reply))) = self.peer.pending.remove(&corr) {
                    reply.fail(failure.into());
                }
            }
            Frame::Credit { target, count } => {
                // Under the link lock (taken first, as everywhere): a grant
                // from a connection that is gone must not add to the next
                // one's window.
                let link = self.peer.link();
                if link.up
                    && link.generation == self.generation
                    && let Some(t) = self.peer.targets.get(&target)
                {
                    t.grant(count as usize);
                }
                drop(link);
            }
            Frame::Ping => {}
            Frame::System(msg) => self.system(msg),
        }
        Ok(())
    }

    fn system(&mut self, msg: System) {
        match msg {
            System::Lookup { corr, name } => {
                let result = match self.node.named.get(&name) {
                    Some(exported) if exported.is_alive() => Ok((exported.id(), exported.actor_type().to_owned())),
                    _ => Err(format!("no actor is registered for remote use under {name:?}")),
                };
                self.peer.push_on(self.generation, Queued::System(System::Found { corr, result }));
            }
            System::Found { corr, result } => {
                if let Some((_, Pending::Lookup(tx))) = self.peer.pending.remove(&corr) {
                    let _ = tx.send(result.map_err(|reason| NodeError::NotFound { name: String::new(), reason }));
                }
            }
            System::Watch { id } => self.peer.watch_here(&self.node, id, self.generation),
            System::Down { id, reason } => self.peer.target_down(id, reason),
            System::Stop { id } => {
                if let Some(exported) = self.node.exports.get(&id).map(|e| e.value().clone()) {
                    exported.stop();
                }
            }
            System::Kill { id } => {
                if let Some(exported) = self.node.exports.get(&id).map(|e| e.value().clone()) {
                    exported.kill();
                }
            }
            System::Undelivered { target, wire_name, reason } => {
                tracing::warn!(peer = %self.peer.name, %target, message = %wire_name, %reason, "the peer could not deliver a message");
            }
            System::Bye => {
                tracing::info!(peer = %self.peer.name, "the peer is leaving");
                self.peer.left.store(true, Ordering::Release);
            }
            System::Cluster(bytes) => crate::cluster::incoming(&self.node, &self.peer.name, &bytes),
        }
    }

    /// Where the reply to the ask `corr` goes: back on this connection.
    fn reply_sink(&self, corr: u64) -> ReplySink {
        let peer = Arc::downgrade(&self.peer);
        let generation = self.generation;
        let inflight = InflightAsk(self.inflight_asks.clone());
        Box::new(move |result| {
            let Some(peer) = peer.upgrade() else { return };
            let frame = match result {
                Ok(payload) => Queued::Reply { corr, payload },
                Err(failure) => Queued::Failure { corr, failure: failure.into() },
            };
            // The only ask pending on this connection: someone waits for
            // this reply alone, so write it now. With more pending, the
            // writer batches the replies instead.
            let alone = inflight.0.load(Ordering::Acquire) == 1;
            drop(inflight);
            if alone {
                let link = peer.link();
                if link.up && link.generation == generation {
                    peer.send_now(link, frame);
                }
            } else {
                peer.push_on(generation, frame);
            }
        })
    }

    /// A tell or ask for a local actor; `Err` if the peer sent it past
    /// its credit window.
    fn incoming(
        &mut self,
        target: ActorId,
        wire_name: &str,
        payload: Bytes,
        reply: Option<Incoming>,
    ) -> Result<(), String> {
        if let Some(inbound) = self.inbound.get(&target)
            && let Some(queue) = &inbound.parked
            && queue.queued.load(Ordering::Acquire) > 0
        {
            // Earlier messages to this actor still wait for room: queue
            // behind them, keeping the sender's order.
            self.charge(target)?;
            let work = Parked::Raw { wire_name: wire_name.to_owned(), payload, reply };
            return self.park(target, work);
        }
        if self.last.as_ref().is_none_or(|(id, _)| *id != target) {
            let Some(found) = self.node.exports.get(&target).map(|e| e.value().clone()) else {
                undeliverable(&self.node, &self.peer, self.generation, target, wire_name, "no such actor", reply);
                self.refund(target);
                return Ok(());
            };
            self.last = Some((target, found));
        }
        self.charge(target)?;
        let exported = self.last.as_ref().map(|(_, e)| e.clone()).expect("set just above");
        let (reply, corr) = match reply {
            Some((corr, sink, context)) => (Some((sink, context)), Some(corr)),
            None => (None, None),
        };
        match deliver_to(&*exported, wire_name, &payload, reply, &self.codec) {
            Ok(()) => self.delivered(target),
            Err(Undelivered::Full(parked)) => {
                let inbound = self.inbound.get_mut(&target).expect("charged above");
                if inbound.parked.is_none() {
                    inbound.parked = Some(start_parked_queue(
                        self.peer.clone(),
                        self.node.clone(),
                        self.codec.clone(),
                        self.generation,
                        target,
                        exported,
                        inbound.outstanding.clone(),
                        self.window,
                    ));
                }
                return self.park(target, Parked::Waiting(parked));
            }
            Err(other) => {
                failed_delivery(&self.node, &self.peer, self.generation, target, wire_name, other, corr);
                self.delivered(target);
            }
        }
        Ok(())
    }

    /// Counts a message toward `target` against the window; `Err` once the
    /// peer has sent more than it was granted.
    fn charge(&mut self, target: ActorId) -> Result<(), String> {
        let inbound = self.inbound.entry(target).or_insert_with(|| Inbound {
            outstanding: Arc::new(AtomicUsize::new(0)),
            delivered: 0,
            parked: None,
        });
        let used = inbound.outstanding.fetch_add(1, Ordering::AcqRel) + 1;
        if used > self.window {
            return Err(format!(
                "the peer sent {used} messages to actor {target} without being granted credit for more than {}: \
                 past its credit window",
                self.window
            ));
        }
        Ok(())
    }

    /// Queues a delivery behind those waiting for room in `target`'s
    /// mailbox.
    fn park(&mut self, target: ActorId, work: Parked) -> Result<(), String> {
        let queue = self.inbound.get(&target).and_then(|i| i.parked.as_ref()).expect("a parked queue");
        queue.queued.fetch_add(1, Ordering::AcqRel);
        queue.tx.try_send(work).map_err(|_| {
            queue.queued.fetch_sub(1, Ordering::AcqRel);
            format!("more than {} messages wait for room in actor {target}'s mailbox", self.window)
        })
    }

    /// Counts a delivered message; grants credit back in batches, and
    /// forgets an actor this connection has no credit out for.
    fn delivered(&mut self, target: ActorId) {
        let Some(inbound) = self.inbound.get_mut(&target) else { return };
        inbound.delivered += 1;
        if inbound.delivered >= self.grant_every {
            let count = std::mem::take(&mut inbound.delivered);
            let left = inbound.outstanding.fetch_sub(count as usize, Ordering::AcqRel) - count as usize;
            self.peer.push_on(self.generation, Queued::Credit { target, count });
            let parked = inbound.parked.as_ref().map_or(0, |q| q.queued.load(Ordering::Acquire));
            if left == 0 && parked == 0 {
                self.inbound.remove(&target);
            }
        }
    }

    /// Gives the credit of a message that was never counted straight back
    /// (it was refused before reaching an actor).
    fn refund(&self, target: ActorId) {
        self.peer.push_on(self.generation, Queued::Credit { target, count: 1 });
    }
}

/// Reports a message that could not be delivered: a dead letter here, and
/// for an ask, a failure back to the asker.
fn undeliverable(
    node: &NodeInner,
    peer: &Peer,
    generation: u64,
    target: ActorId,
    wire_name: &str,
    why: &str,
    reply: Option<Incoming>,
) {
    tracing::warn!(peer = %peer.name, %target, message = wire_name, reason = why, "undeliverable remote message");
    transport::dead_letter(
        &node.system,
        Some(target),
        "<remote message>",
        DeadLetterReason::Undeliverable,
        format!("{wire_name} from node {}: {why}", peer.name),
    );
    match reply {
        Some((_, sink, _)) => {
            let failure = RemoteFailure::Remote(actor_core::error::RemoteError::new(
                actor_core::error::RemoteErrorKind::UnknownActor,
                format!("no actor {target} on node {}", node.identity.node),
            ));
            sink(Err(failure));
        }
        None => peer.push_on(
            generation,
            Queued::System(System::Undelivered { target, wire_name: wire_name.to_owned(), reason: why.to_owned() }),
        ),
    }
}

/// Answers a delivery that failed for a reason other than a full mailbox.
fn failed_delivery(
    node: &NodeInner,
    peer: &Peer,
    generation: u64,
    target: ActorId,
    wire_name: &str,
    undelivered: Undelivered,
    corr: Option<u64>,
) {
    use actor_core::error::RemoteErrorKind as K;
    let (kind, why, sink) = match undelivered {
        Undelivered::UnknownMessage(sink) => {
            (K::UnknownMessage, format!("the actor does not accept {wire_name} from other nodes"), sink)
        }
        Undelivered::Undecodable(e, sink) => (K::Undecodable, e, sink),
        Undelivered::Closed(sink) => (K::UnknownActor, "the actor has stopped".to_owned(), sink),
        Undelivered::Full(_) => unreachable!("handled by the caller"),
        _ => (K::Refused, "not delivered".to_owned(), None),
    };
    tracing::warn!(peer = %peer.name, %target, message = wire_name, reason = %why, "undeliverable remote message");
    transport::dead_letter(
        &node.system,
        Some(target),
        "<remote message>",
        DeadLetterReason::Undeliverable,
        format!("{wire_name} from node {}: {why}", peer.name),
    );
    match (sink, corr) {
        (Some(sink), _) => sink(Err(RemoteFailure::Remote(actor_core::error::RemoteError::new(kind, why)))),
        _ => peer.push_on(
            generation,
            Queued::System(System::Undelivered { target, wire_name: wire_name.to_owned(), reason: why }),
        ),
    }
}

/// Starts the task that finishes deliveries to one local actor in order as
/// its mailbox makes room, granting credit back as they land.
#[allow(clippy::too_many_arguments)]
fn start_parked_queue(
    peer: Arc<Peer>,
    node: Arc<NodeInner>,
    codec: Arc<dyn RefCodec>,
    generation: u64,
    target: ActorId,
    exported: Arc<dyn Exported>,
    outstanding: Arc<AtomicUsize>,
    window: usize,
) -> ParkedQueue {
    let (tx, mut rx) = mpsc::channel::<Parked>(window.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    let count = queued.clone();
    tokio::spawn(async move {
        let mut landed = 0u32;
        while let Some(work) = rx.recv().await {
            let result = match work {
                Parked::Waiting(parked) => parked.await.map_err(|sink| (sink, "the actor has stopped".to_owned())),
                Parked::Raw { wire_name, payload, reply } => {
                    let corr = reply.as_ref().map(|(c, _, _)| *c);
                    let reply = reply.map(|(_, sink, context)| (sink, context));
                    match deliver_to(&*exported, &wire_name, &payload, reply, &codec) {
                        Ok(()) => Ok(()),
                        Err(Undelivered::Full(parked)) => {
                            parked.await.map_err(|sink| (sink, "the actor has stopped".to_owned()))
                        }
                        Err(other) => {
                            failed_delivery(&node, &peer, generation, target, &wire_name, other, corr);
                            Ok(())
                        }
                    }
                }
            };
            if let Err((Some(sink), why)) = result {
                sink(Err(RemoteFailure::Remote(actor_core::error::RemoteError::new(
                    actor_core::error::RemoteErrorKind::UnknownActor,
                    why,
                ))));
            }
            landed += 1;
            // Grant what landed once the queue is empty (or in batches).
            if count.fetch_sub(1, Ordering::AcqRel) == 1 || landed >= 64 {
                let granted = std::mem::take(&mut landed);
                outstanding.fetch_sub(granted as usize, Ordering::AcqRel);
                peer.push_on(generation, Queued::Credit { target, count: granted });
            }
        }
    });
    ParkedQueue { tx, queued }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;
    use actor_core::ActorSystem;
    use tokio::io::AsyncReadExt;

    /// A direct write that the socket takes only in part leaves the rest of
    /// its record at the front of the outbox: the writer sends it before
    /// anything queued later, so the records on the wire stay whole and in
    /// nonce order.
    #[tokio::test]
    async fn a_direct_write_that_the_socket_takes_in_part_is_finished_first_by_the_writer() {
        let node = Node::builder(ActorSystem::new()).secret("s").start().await.unwrap();
        let peer = Arc::new(Peer::new("far".into(), Arc::downgrade(&node.inner), String::new(), 64));
        // A pipe that holds 16 bytes: an ask's record does not fit at once.
        let (ours, mut theirs) = tokio::io::duplex(16);
        let ((sealer, opener), (_, far_opener)) = crate::channel::tests::pair();
        let keys = crate::handshake::SessionKeys { send: [0; 32], receive: [0; 32] };
        let info = PeerInfo {
            node: "far".into(),
            incarnation: 1,
            address: String::new(),
            credit_window: 64,
            sealer,
            opener,
            keys,
        };
        let wire = Wire { direct: true, receipts: None };
        assert!(peer.attach(&node.inner, Box::pin(ours), info, BytesMut::new(), false, wire));
        let target = actor_core::ActorId::from_uuid(uuid::Uuid::from_u128(5));
        let payload = vec![9u8; 100];
        let ask = Queued::Ask { corr: 1, target, wire_name: "T::ask", payload: payload.clone(), context: None };
        peer.send_now(peer.link(), ask);
        // The socket took 16 bytes; the rest waits at the front, ahead of
        // this tell.
        peer.push(Queued::Tell { target, wire_name: "T::tell", message_type: "Tell", payload: vec![1] });

        let mut codec = FramedRead::new(&mut theirs, Records::new(far_opener, 1 << 20));
        let first = tokio::time::timeout(Duration::from_secs(5), codec.next()).await.unwrap().unwrap().unwrap();
        match frame::decode(first.freeze()).unwrap() {
            Frame::Ask { corr: 1, target: t, payload: p, .. } => {
                assert_eq!(t, target);
                assert_eq!(&p[..], &payload[..]);
            }
            other => panic!("expected the ask first, got {other:?}"),
        }
        let second = tokio::time::timeout(Duration::from_secs(5), codec.next()).await.unwrap().unwrap().unwrap();
        assert!(matches!(frame::decode(second.freeze()).unwrap(), Frame::Tell { .. }));
        drop(codec);
        let mut rest = [0u8; 1];
        assert!(tokio::time::timeout(Duration::from_millis(50), theirs.read(&mut rest)).await.is_err());
        peer.close();
    }

    fn available(target: &Target) -> usize {
        target.credit.available_permits()
    }

    /// Take a unit and send it, as an endpoint does.
    fn send_one(target: &Target) {
        target.credit.try_acquire().unwrap().forget();
        target.sent();
    }

    #[test]
    fn a_lost_connection_gives_back_all_credit_but_that_of_tells_still_queued() {
        let target = Target::new(8);
        for _ in 0..6 {
            send_one(&target);
        }
        assert_eq!(available(&target), 2);
        // Two of the six are still in the outbox: they keep their units.
        target.reset_to(2);
        assert_eq!(available(&target), 6);
        target.grant(2);
        assert_eq!(available(&target), 8);
        // A grant for more than is in flight gives back only what is.
        target.grant(5);
        assert_eq!(available(&target), 8);
    }

    #[test]
    fn a_window_that_shrinks_while_units_are_out_is_paid_back_before_credit_returns() {
        let target = Target::new(8);
        for _ in 0..6 {
            send_one(&target);
        }
        // The window becomes 4 with 6 units out: the 2 available go, and
        // 2 more are owed.
        target.resize(4);
        assert_eq!(available(&target), 0);
        target.grant(3);
        assert_eq!(available(&target), 1, "2 of the 3 paid the debt");
        target.grant(3);
        assert_eq!(available(&target), 4, "the whole smaller window");
        target.resize(6);
        assert_eq!(available(&target), 6);
    }
}
