//! One peer node: its connection (a reader and a writer task), the outbox
//! the writer drains, the numbered stream of frames that outlives a
//! connection, the asks waiting for replies, the credit toward each of its
//! actors, and the monitors set on them.
//!
//! Everything that must agree on "is the connection up" (the outbox, the
//! resend buffer, the pending asks, the monitors) changes under one lock,
//! [`Peer::link`], so that an ask or a monitor registered while the
//! connection drops is either failed by the drop or sent on the next
//! connection, never forgotten.
//!
//! A connection runs two tasks, and each waits for the previous
//! connection's task of its kind to end before it starts (`Peer::reading`,
//! `Peer::writing`): one reader delivers to this node's actors at a time,
//! and frames the old writer had in hand are in the resend buffer before
//! the new one writes it again. See `stream.rs` for the numbering,
//! `writer.rs` and `reader.rs` for the tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use actor_core::transport::{
    self, AskContext, IdHasher, Outgoing, PendingReply, RefCodec, Refused, RemoteEndpoint, RemoteFailure, Terminable,
    TerminationNotice, WatchKey, WireRef,
};
use actor_core::{ActorId, DeadLetterReason, StopReason};
use bytes::{BufMut, Bytes, BytesMut};
use dashmap::DashMap;
use futures::future::BoxFuture;
use tokio::io::AsyncWrite;
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::channel::{Records, Sealer};
use crate::connection::{self, Abort, BoxStream, WriteSide};
use crate::error::NodeError;
use crate::frame::{self, System, WireFailure};
use crate::handshake::PeerInfo;
use crate::limits::Limits;

mod reader;
mod stream;
#[cfg(test)]
mod tests;
mod writer;

use reader::InStream;
use stream::{Lost, OutStream, Stats};

/// The node a peer belongs to, as the peer sees it: the local actors it
/// delivers to (and, as a [`RefCodec`], its actor system), the limits it keeps, and the dialing it asks for when it
/// reconnects. The node implements it; a peer holds it weakly and never
/// names the node, which stands a layer above.
pub(crate) trait Host: RefCodec + Send + Sync + 'static {
    /// This node's name.
    fn name(&self) -> &str;
    fn limits(&self) -> &Limits;
    /// The local actor reachable by `id`, if any.
    fn exported(&self, id: ActorId) -> Option<Arc<dyn transport::Exported>>;
    /// The local actor registered for remote use under `name`, if any.
    fn named(&self, name: &str) -> Option<Arc<dyn transport::Exported>>;
    fn is_shut_down(&self) -> bool;
    /// Dials `address` again (a reconnect), handshake included.
    fn dial<'a>(&'a self, address: &'a Address) -> BoxFuture<'a, Result<(), NodeError>>;
    /// A frame of the cluster layer arrived from the peer `from`.
    fn cluster_message(&self, from: &str, bytes: &[u8]);
}

/// Where a cluster message joins a connection's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Ahead of the data queued (membership's probes and answers).
    Ahead,
    /// Behind everything queued (what must keep its order with data).
    Behind,
}

/// A frame waiting in the outbox, or kept in the resend buffer.
enum Queued {
    /// A run of tells of one message type, each encoded once when it was
    /// sent (see [`TellBuffer`]): their frames back to back, each as it is
    /// written, length prefix included, whatever the connection. Each
    /// frame is numbered in the stream like any other; its target and
    /// wire name are in it ([`frame::tell_target`],
    /// [`frame::tell_wire_name`]). While it is the outbox's last run it
    /// may hold room after its frames, for the tells that follow.
    Tells {
        message_type: &'static str,
        frames: BytesMut,
        count: u64,
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
    /// Credit given back for messages of the peer's stream `stream`.
    Credit {
        stream: u64,
        target: ActorId,
        count: u32,
    },
    /// The rest of a sealed record that a direct write could not finish:
    /// it goes out first, as it is, before anything queued after it, on
    /// the same connection only.
    Rest {
        generation: u64,
        bytes: Bytes,
    },
}

impl Queued {
    /// A tell to `target`, a run of its own in a buffer of its own: for
    /// tests, which queue tells by hand.
    #[cfg(test)]
    fn tell(target: ActorId, wire_name: &str, message_type: &'static str, payload: &[u8]) -> Self {
        TellBuffer::default().tell(target, wire_name, message_type, payload)
    }

    /// `replay`: the frame is written again on a later connection. An ask
    /// is then sent as expired: its asker was failed with `NodeDown` when
    /// the connection it went out on was lost, so it must not run now (the
    /// far node skips it and gives its credit back).
    fn encode(&self, buf: &mut BytesMut, replay: bool) {
        match self {
            Queued::Tells { .. } => unreachable!("tells are written as they were encoded, not encoded again"),
            Queued::Ask { corr, target, wire_name, payload, context } if replay => {
                let chain = context.as_ref().map_or(&[][..], |c| &c.chain[..]);
                frame::ask_with(buf, *corr, *target, wire_name, Some(Duration::ZERO), chain, payload)
            }
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
            Queued::Credit { stream, target, count } => frame::credit(buf, *stream, *target, *count),
            Queued::Rest { .. } => unreachable!("a frame's rest is written as it is, not encoded"),
        }
    }

    /// Appends the frame, with its length prefix, to `out`; false (and
    /// nothing appended) if it is over `max`, or is the rest of a sealed
    /// record (written as it is, never encoded).
    fn put(&self, out: &mut BytesMut, max: usize) -> bool {
        match self {
            Queued::Rest { .. } => false,
            // Already framed: copied as they are. Each frame is within the
            // limit: `Endpoint::fits` refused any tell that would not be.
            Queued::Tells { frames, .. } => {
                debug_assert!(stream::run_frames(frames).all(|frame| frame.len() <= max));
                out.extend_from_slice(frames);
                true
            }
            Queued::Ask { wire_name, .. } if wire_name.len() > frame::MAX_WIRE_NAME => false,
            queued => put_frame(out, max, |buf| queued.encode(buf, false)),
        }
    }

    /// Appends the frame again, as written before (so within the limits).
    fn put_again(&self, out: &mut BytesMut) {
        match self {
            Queued::Tells { frames, .. } => out.extend_from_slice(frames),
            _ => {
                put_frame(out, usize::MAX, |buf| self.encode(buf, true));
            }
        }
    }

    /// Whether the frame is numbered in the link's stream.
    fn is_numbered(&self) -> bool {
        !matches!(self, Queued::Rest { .. })
    }

    /// The numbers the entry takes in the link's stream: one per frame.
    fn frames(&self) -> u64 {
        match self {
            Queued::Tells { count, .. } => *count,
            Queued::Rest { .. } => 0,
            _ => 1,
        }
    }

    /// Whether the frame goes even when the resend buffer is full: cluster
    /// messages, small and paced by membership's timers (one probe round
    /// per period), so that a peer slow to acknowledge a flood of data
    /// still hears this node's probes and answers in time. They are kept
    /// for resending like every numbered frame; the buffer's bound is
    /// passed by a few of them at most before the connection is
    /// acknowledged or given up (`heartbeat_timeout`).
    fn passes_the_resend_bound(&self) -> bool {
        matches!(self, Queued::System(System::Cluster(_)))
    }

    /// Whether the frame waits for the next connection when this one is
    /// lost before it is written: tells, credit and stop/kill belong to the
    /// link; asks, replies, lookups and watches to the connection, whose
    /// loss fails what waited for them.
    fn outlives_connection(&self) -> bool {
        matches!(
            self,
            Queued::Tells { .. } | Queued::Credit { .. } | Queued::System(System::Stop { .. } | System::Kill { .. })
        )
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
    /// Frames not written yet. Bounded while down (`Limits::outbox`);
    /// while up, the credit windows bound it.
    frames: VecDeque<Queued>,
    /// This node's numbered stream toward the peer, with the frames
    /// written and not acknowledged.
    out: OutStream,
    /// The last acknowledgement written, as (stream, received).
    ack_sent: (u64, u64),
    /// Monitors set on the peer's actors, by actor, then by key (see
    /// `Endpoint::watch`). An actor's entry stays, even empty, until its
    /// `Down` comes or the connection drops: the peer watches it until
    /// then, so watching it again sends no frame.
    watchers: HashMap<ActorId, BTreeMap<u64, TerminationNotice>>,
    /// Closes the current connection's tasks.
    close: Option<Arc<Close>>,
    /// Whether the current connection was accepted (the peer dialed it).
    accepted: bool,
    /// The current connection's write side, while nobody writes to it:
    /// whoever takes it (the writer task, or a sender writing directly)
    /// is the only one writing until it puts it back. `None` until the
    /// writer has resumed the stream on a new connection.
    sender: Option<Sender>,
    /// Whether senders may write to this connection's socket themselves
    /// (plain TCP and Unix sockets; see `Peer::send_now`).
    direct: bool,
    /// The node's frame limit, for frames encoded by senders.
    max_frame: usize,
    /// Where senders encode their tells.
    tells: TellBuffer,
}

/// Where senders encode their tells, each once, when it is sent: the frame
/// as it is written, length prefix included, whatever the connection
/// (nothing in a tell's frame depends on it). Frames are written into
/// chunks of [`TellBuffer::CHUNK`] bytes, and held in runs
/// ([`Queued::Tells`]) that share their chunk, so a tell costs no
/// allocation of its own while it waits in the outbox and in the resend
/// buffer, and the sender's payload is given back at once.
///
/// Consecutive tells of one message type join one run, written into the
/// room the run holds after its frames: a tell then costs its frame's
/// bytes and nothing else, where an entry of its own in the outbox and the
/// resend buffer (and a count taken on the chunk and given back) measured
/// a tenth of a tell's time over a Unix socket (2026-12-05). The outbox's
/// last run holds the room; a new run takes it from there (or from the
/// writer, which gives it back when it takes the outbox).
///
/// A used-up chunk is kept as a spare, and taken again once every run of
/// it has been acknowledged (and so dropped): acknowledgements come in
/// the order tells were sent, so the oldest spare is the first free, and a
/// busy link goes round the same few chunks instead of allocating.
struct TellBuffer {
    /// The chunk being cut; empty between two tells.
    current: Option<BytesMut>,
    /// Used-up chunks, oldest first.
    spare: VecDeque<BytesMut>,
    /// The most bytes a run grows to: a quarter of the resend buffer, so
    /// that a run goes over the buffer's bound only where a lone frame
    /// would (a run that finds the buffer empty goes, however large).
    max_run: usize,
}

#[cfg(test)]
impl Default for TellBuffer {
    fn default() -> Self {
        TellBuffer::new(crate::limits::Limits::default().resend_buffer)
    }
}

impl TellBuffer {
    /// The bytes of a chunk: a few hundred small tells. Under 64 KiB, so
    /// that the allocator gives one back without sweeping its caches of
    /// small blocks.
    const CHUNK: usize = 16 * 1024;

    /// The most spare chunks kept: room for a credit window of small tells
    /// in flight. A link keeps that much (128 KiB) once it has sent as
    /// much, as a connection keeps its write buffers.
    const SPARE: usize = 8;

    /// A buffer for a link whose resend buffer holds `resend_limit` bytes.
    fn new(resend_limit: usize) -> Self {
        TellBuffer { current: None, spare: VecDeque::new(), max_run: (resend_limit / 4).max(1) }
    }

    /// A tell to `target`, as a run of its own with no room to grow. The
    /// wire name must be within [`frame::MAX_WIRE_NAME`] bytes (checked by
    /// `Endpoint::fits`).
    fn tell(&mut self, target: ActorId, wire_name: &str, message_type: &'static str, payload: &[u8]) -> Queued {
        let buf = self.room_for(4 + frame::tell_len(wire_name, payload));
        frame::put_tell(buf, target, wire_name, payload);
        Queued::Tells { message_type, frames: buf.split(), count: 1 }
    }

    /// A tell to `target`, at the back of `outbox`: into the run there if
    /// it is of the same message type and has room for the frame, else as
    /// a new run that takes the room after its frame, to grow into.
    fn tell_into(
        &mut self,
        outbox: &mut VecDeque<Queued>,
        target: ActorId,
        wire_name: &str,
        message_type: &'static str,
        payload: &[u8],
    ) {
        let len = 4 + frame::tell_len(wire_name, payload);
        if let Some(Queued::Tells { message_type: of, frames, count }) = outbox.back_mut()
            && std::ptr::eq(*of, message_type)
            && frames.capacity() - frames.len() >= len
            && frames.len() + len <= self.max_run
        {
            frame::put_tell(frames, target, wire_name, payload);
            *count += 1;
            return;
        }
        self.take_room(outbox);
        let buf = self.room_for(len);
        frame::put_tell(buf, target, wire_name, payload);
        // The frame, and the room after it; the chunk's own handle keeps
        // none (it stays, to be kept as a spare).
        let frames = buf.split_off(0);
        outbox.push_back(Queued::Tells { message_type, frames, count: 1 });
    }

    /// Takes back the room the last run among the last few entries of
    /// `queue` holds after its frames (the writer calls this when it takes
    /// the outbox, which may no longer grow). Room out of reach is not
    /// lost: it goes with its chunk once the run is acknowledged.
    fn take_room(&mut self, queue: &mut VecDeque<Queued>) {
        let last = queue.iter_mut().rev().take(8).find_map(|queued| match queued {
            Queued::Tells { frames, .. } => Some(frames),
            _ => None,
        });
        if let Some(frames) = last
            && frames.capacity() > frames.len()
            && self.current.as_ref().is_none_or(|current| current.capacity() < frames.capacity() - frames.len())
        {
            self.current = Some(frames.split_off(frames.len()));
        }
    }

    /// The current chunk, with room for `len` bytes.
    fn room_for(&mut self, len: usize) -> &mut BytesMut {
        if self.current.as_ref().is_some_and(|buf| buf.capacity() >= len) {
            return self.current.as_mut().expect("checked just above");
        }
        self.next_chunk(len)
    }

    /// Retires the current chunk and takes one with room for `len` bytes:
    /// the oldest spare if it is free again, a new one otherwise.
    fn next_chunk(&mut self, len: usize) -> &mut BytesMut {
        let want = len.max(Self::CHUNK);
        if let Some(used) = self.current.take() {
            self.spare.push_back(used);
        }
        let free = if self.spare.front_mut().is_some_and(|oldest| oldest.try_reclaim(want)) {
            self.spare.pop_front()
        } else {
            None
        };
        if free.is_none() && self.spare.len() > Self::SPARE {
            // Not kept: freed with the last of its tells.
            self.spare.pop_front();
        }
        self.current.insert(free.unwrap_or_else(|| BytesMut::with_capacity(want)))
    }
}

/// The write side of one connection: the socket's write half and the
/// channel's sealer, always taken together (records must reach the socket
/// in the order their nonces were taken), with the buffers every write
/// reuses.
struct Sender {
    write: WriteSide,
    sealer: Sealer,
    /// Frames of the write being prepared, before sealing.
    plain: BytesMut,
    /// What goes to the socket: sealed records (and the rest of an
    /// unfinished one first, if any).
    sealed: BytesMut,
}

impl Sender {
    fn new(write: WriteSide, sealer: Sealer) -> Self {
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

    /// Appends an acknowledgement of the peer's stream to `out` if it says
    /// more than the last one written.
    fn put_ack(&mut self, peer: &Peer, out: &mut BytesMut) {
        let tracking = peer.tracking.load(Ordering::Acquire);
        let received = peer.received.load(Ordering::Acquire);
        if tracking != 0 && (tracking, received) != self.ack_sent {
            put_frame(out, usize::MAX, |buf| frame::ack(buf, tracking, received));
            self.ack_sent = (tracking, received);
            peer.ack_wanted.store(false, Ordering::Release);
        }
    }
}

/// What closes one connection: its reader and writer stop when told.
///
/// A flag beside the notice, so that the reader can tell at the cost of a
/// load, where polling the notice takes its lock, on each turn.
#[derive(Default)]
pub(super) struct Close {
    notice: Notify,
    closed: AtomicBool,
}

impl Close {
    /// Tells the connection's tasks to stop.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notice.notify_waiters();
    }

    /// Whether the connection was told to stop.
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Completes when the connection is told to stop (if created before).
    pub(super) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notice.notified()
    }
}

/// Credit toward one of the peer's actors.
///
/// A unit is *available* (a permit of `credit`), *reserved* by a sender
/// about to send, or *in flight*: its message is in the outbox, or was
/// written, and the peer has not granted it back. The peer counts the
/// same messages from its side and closes a connection that carries more
/// than the window toward one actor, so the units in flight must be
/// exactly the messages sent: they change under the link lock. Both
/// counts belong to the link's stream, not to a connection: a lost
/// connection changes neither (what it carried is written again, and
/// counted once on each side), and grants are numbered frames, so none is
/// lost or counted twice.
pub(crate) struct Target {
    credit: Semaphore,
    /// Messages queued or written and not yet granted back.
    in_flight: AtomicUsize,
    /// Permits owed because the window shrank while they were out:
    /// paid back from what is given back before anything is available.
    debt: AtomicUsize,
    /// The window in force.
    window: AtomicUsize,
    /// The actor was reported stopped, or its node restarted.
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

    /// A unit in flight was for a message that will never be written (an
    /// ask dropped with its connection): it comes back. Under the link lock.
    fn unsent(&self) {
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(1)))
            .unwrap_or_else(|n| n);
        self.release(1.min(taken));
    }

    /// The peer granted `count` units back.
    fn grant(&self, count: usize) {
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(count)))
            .unwrap_or_else(|n| n);
        self.release(count.min(taken));
    }

    /// The stream started over and the peer counts from nothing: every
    /// unit comes back but those of the `queued` messages still in the
    /// outbox, which the new stream carries. Under the link lock.
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

    /// The actor is gone for good (its node restarted, or was given up):
    /// refused from now on, and every sender waiting for credit wakes with
    /// `NodeDown`.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.credit.close();
    }
}

pub(crate) struct Peer {
    pub(crate) name: String,
    node: Weak<dyn Host>,
    /// Where to dial the peer, if this node dialed it (and so reconnects).
    dial: Mutex<Option<Address>>,
    /// Where the peer says it listens.
    advertised: Mutex<String>,
    link: Mutex<Link>,
    wake_writer: Notify,
    /// Notified when a connection is lost: wakes asks waiting for credit.
    lost: Notify,
    /// This node's asks and lookups awaiting their answer, by correlation
    /// id. The ids are this node's own count, so a multiply spreads them
    /// (`IdHasher`); the peer adds no key, it only looks its answers up.
    pending: DashMap<u64, Pending, IdHasher>,
    targets: DashMap<ActorId, Arc<Target>>,
    next_corr: AtomicU64,
    /// The peer said goodbye (or this node closed the link): do not
    /// reconnect.
    left: AtomicBool,
    /// This node gave up on the peer (`Limits::reconnect_give_up`):
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
    /// Where this node stands in the peer's stream. The reader of the
    /// connection in place holds it; the next connection's reader waits
    /// for it, so only one reader delivers at a time.
    reading: Arc<tokio::sync::Mutex<InStream>>,
    /// Held by the writer of the connection in place; the next one waits.
    writing: Arc<tokio::sync::Mutex<()>>,
    /// Mirrors of the reader's position in the peer's stream, for the
    /// acknowledgements the writer sends. Only ever read as `tracking`
    /// first: `received` is reset before `tracking` changes.
    tracking: AtomicU64,
    received: AtomicU64,
    /// The reader received enough since the last acknowledgement that the
    /// writer should send one now.
    ack_wanted: AtomicBool,
    /// The most bytes the resend buffer holds before the writer waits for
    /// acknowledgements (`Limits::resend_buffer`).
    resend_limit: usize,
    stats: Stats,
}

use crate::address::Address;

/// A watch the peer set on one of this node's actors, on one connection.
struct Watched {
    generation: u64,
    exported: Arc<dyn transport::Exported>,
    /// Takes the notice back (`None` until it is known, or if it ran).
    key: Option<WatchKey>,
}

/// Keys for the notices of `Link::watchers`, unique in the process.
static NEXT_WATCH: AtomicU64 = AtomicU64::new(0);

/// Why the link toward a peer ended.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// The peer came back as a new process.
    Restarted,
    /// This node gave up on it.
    GaveUp,
    /// The peer no longer knew this node's stream.
    Forgotten,
}

impl Peer {
    pub(crate) fn new(
        name: String,
        node: Weak<dyn Host>,
        advertised: String,
        window: usize,
        resend_limit: usize,
    ) -> Self {
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
                out: OutStream::new(),
                ack_sent: (0, 0),
                watchers: HashMap::new(),
                close: None,
                accepted: false,
                sender: None,
                direct: false,
                max_frame: 0,
                tells: TellBuffer::new(resend_limit),
            }),
            wake_writer: Notify::new(),
            lost: Notify::new(),
            pending: DashMap::with_hasher(IdHasher::default()),
            targets: DashMap::new(),
            next_corr: AtomicU64::new(1),
            left: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            up: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            watched: Mutex::new(HashMap::new()),
            window: AtomicUsize::new(window.max(1)),
            reading: Arc::new(tokio::sync::Mutex::new(InStream::new())),
            writing: Arc::new(tokio::sync::Mutex::new(())),
            tracking: AtomicU64::new(0),
            received: AtomicU64::new(0),
            ack_wanted: AtomicBool::new(false),
            resend_limit: resend_limit.max(1),
            stats: Stats::default(),
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

    fn node(&self) -> Option<Arc<dyn Host>> {
        self.node.upgrade()
    }

    /// The credit state toward one of the peer's actors.
    pub(crate) fn target(&self, id: ActorId) -> Arc<Target> {
        self.targets.entry(id).or_insert_with(|| Arc::new(Target::new(self.window.load(Ordering::Acquire)))).clone()
    }

    /// Whether nothing holds this entry to the peer's name any more: it is
    /// down, nobody redials it, and no tell waits for it in its outbox or
    /// resend buffer (those would go out if the peer dialed again, and
    /// must not vanish).
    pub(crate) fn forgettable(&self) -> bool {
        !self.up.load(Ordering::Acquire) && !self.reconnecting.load(Ordering::Acquire) && self.unreachable() && {
            let link = self.link();
            link.frames.is_empty() && link.out.resend.is_empty()
        }
    }

    fn corr(&self) -> u64 {
        self.next_corr.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a frame for the writer, whether the connection is up or not:
    /// for frames that belong to the link (credit, stop, kill).
    fn push(&self, frame: Queued) {
        self.link().frames.push_back(frame);
        self.wake_writer.notify_one();
    }

    /// Queues credit without waking the writer: credit granted by the
    /// delivery of an ask, which the ask's reply carries out in its own
    /// write (`send_now`), or the writer's next batch. Woken for the credit
    /// alone, the writer would be writing it just as the reply comes, which
    /// then waits its turn: about twice the usual round trip for every
    /// ask that completes a grant (every 512th of a run of asks to one
    /// actor, measured 2026-12-05). The reader wakes the writer itself if
    /// no reply has carried it within `reader::CREDIT_DELAY`.
    fn push_quiet(&self, credit: Queued) {
        debug_assert!(matches!(credit, Queued::Credit { .. }));
        self.link().frames.push_back(credit);
    }

    /// Queues a frame that belongs to connection `generation` (a reply, a
    /// control answer): dropped if that connection is gone.
    fn push_on(&self, generation: u64, frame: Queued) {
        let mut link = self.link();
        if link.up && link.generation == generation {
            link.frames.push_back(frame);
            drop(link);
            self.wake_writer.notify_one();
        }
    }

    /// Sends a latency-sensitive frame (an ask, or a reply when it is the
    /// only one pending): written straight to the socket by the calling
    /// task when nothing is queued, nobody is writing and the resend
    /// buffer has room, which saves the hop to the writer task and back;
    /// queued for the writer otherwise.
    ///
    /// Tells never come here: sent one by one they would each cost a
    /// system call, where the writer puts thousands in one.
    ///
    /// The write does not wait: with a waker that does nothing, it takes
    /// what the socket accepts now, and the rest (rare: a full socket
    /// buffer) goes to the front of the outbox for the writer of the same
    /// connection. Only plain sockets allow this (`Link::direct`): a TLS
    /// stream may keep bytes buffered after a write returns, which only a
    /// later write or flush would send.
    ///
    /// Credit queued ahead of it (`push_quiet`) goes out first, in the same
    /// write: it costs no room in the resend buffer.
    fn send_now(self: &Arc<Self>, mut link: MutexGuard<'_, Link>, frame: Queued) {
        let room = link.out.fits(stream::cost(&frame), self.resend_limit);
        let clear = link.frames.is_empty() || link.frames.iter().all(|queued| matches!(queued, Queued::Credit { .. }));
        let sender = if link.direct && link.up && room && clear { link.sender.take() } else { None };
        let Some(mut sender) = sender else {
            link.frames.push_back(frame);
            drop(link);
            self.wake_writer.notify_one();
            return;
        };
        let generation = link.generation;
        // Encoded and kept under the lock, while this task holds the write
        // side: its number is the next, and the frame is in the resend
        // buffer before any byte of it reaches the socket.
        link.put_ack(self, &mut sender.plain);
        if !link.frames.is_empty() {
            let link = &mut *link;
            for credit in link.frames.drain(..) {
                if credit.put(&mut sender.plain, link.max_frame) {
                    link.out.push(credit, &self.stats);
                }
            }
        }
        if frame.put(&mut sender.plain, link.max_frame) {
            link.out.push(frame, &self.stats);
        } else {
            tracing::warn!(peer = %self.name, "a frame over the limit was not sent");
        }
        drop(link);
        sender.seal();
        let (rest, failed) = write_now(&mut sender);
        self.finish_direct(generation, sender, rest, failed);
    }

    /// Puts the write side back after a direct write, with what the socket
    /// did not take. Both only on the connection they belong to: the rest
    /// of a record sealed for one connection would be garbage on the next
    /// (whose writer sends the whole frame again from the resend buffer).
    fn finish_direct(self: &Arc<Self>, generation: u64, sender: Sender, rest: Option<Bytes>, failed: Option<String>) {
        let mut link = self.link();
        let current = link.generation == generation;
        if current {
            link.sender = Some(sender);
            if let Some(bytes) = rest {
                link.frames.push_front(Queued::Rest { generation, bytes });
            }
        }
        let queued = !link.frames.is_empty();
        drop(link);
        if let Some(e) = failed {
            // As when the writer's write fails: the connection is gone; the
            // frame is in the resend buffer.
            self.connection_lost(generation, &format!("write failed: {e}"));
        } else if queued {
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
    ///
    /// [`Lane::Ahead`] puts it before the data already queued (after the
    /// rest of a record being written and the cluster messages queued
    /// before it): membership's probes and their answers never wait behind
    /// a flood of tells, nor for room in a full resend buffer (see
    /// `Queued::passes_the_resend_bound`). A busy link must not get its
    /// node declared down.
    pub(crate) fn send_cluster(&self, bytes: Vec<u8>, lane: Lane) -> bool {
        let mut link = self.link();
        if !link.up {
            return false;
        }
        let frame = Queued::System(System::Cluster(bytes));
        match lane {
            Lane::Behind => link.frames.push_back(frame),
            Lane::Ahead => {
                let at = link
                    .frames
                    .iter()
                    .position(|q| !matches!(q, Queued::Rest { .. } | Queued::System(System::Cluster(_))))
                    .unwrap_or(link.frames.len());
                link.frames.insert(at, frame);
            }
        }
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
    fn watch_here(self: &Arc<Self>, node: &dyn Host, id: ActorId, generation: u64) {
        let Some(exported) = node.exported(id) else {
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

    /// The link's figures: connections so far, bytes in the resend buffer
    /// now and the most it held, frames written again on a later
    /// connection, duplicates received and dropped, times the stream
    /// started over.
    pub(crate) fn link_stats(&self) -> LinkStats {
        let (resend_bytes, connections) = {
            let link = self.link();
            (link.out.bytes, link.generation)
        };
        LinkStats {
            connections,
            resend_bytes,
            resend_peak: self.stats.peak_bytes.load(Ordering::Relaxed),
            replayed: self.stats.replayed.load(Ordering::Relaxed),
            duplicates: self.stats.duplicates.load(Ordering::Relaxed),
            restarts: self.stats.restarts.load(Ordering::Relaxed),
            acked_tells: self.stats.acked_tells.load(Ordering::Relaxed),
            undelivered: self.stats.undelivered.load(Ordering::Relaxed),
            credit_timeouts: self.stats.credit_timeouts.load(Ordering::Relaxed),
        }
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
        node: &dyn Host,
        stream: BoxStream,
        info: PeerInfo,
        early: BytesMut,
        accepted: bool,
        wire: Wire,
    ) -> bool {
        let Wire { direct, abort } = wire;
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
        let (read, write) = connection::split(stream);
        let mut lost = Vec::new();
        let (generation, close, previous) = {
            let mut link = self.link();
            if link.up {
                return false;
            }
            link.up = true;
            link.accepted = accepted;
            // The writer holds the write side until it has resumed the
            // stream; only then may senders write directly.
            link.sender = None;
            link.direct = direct;
            link.max_frame = node.limits().max_frame;
            self.up.store(true, Ordering::Release);
            link.generation += 1;
            // A peer this node had given up on is treated like a restarted
            // one: references to its actors were failed, so they stay so.
            let abandoned = self.abandoned.swap(false, Ordering::AcqRel);
            let previous = link.incarnation;
            let restarted = abandoned || (previous != 0 && previous != incarnation);
            link.incarnation = incarnation;
            let close = Arc::new(Close::default());
            link.close = Some(close.clone());
            // The peer's actors of a previous incarnation died with it, and
            // so did everything it had not acknowledged.
            // Closed under the lock: a sender that took credit before sees
            // it when it sends (`Endpoint::send`), and nothing reaches the
            // new incarnation for the old one's actors.
            if restarted {
                self.end_stream(&mut link, &mut lost);
                for target in self.targets.iter() {
                    target.close();
                }
                self.targets.clear();
            }
            // The window both sides agreed on for this connection.
            let window = (credit_window as usize).max(1);
            if self.window.swap(window, Ordering::AcqRel) != window {
                for target in self.targets.iter() {
                    target.resize(window);
                }
            }
            (link.generation, close, previous)
        };
        if !lost.is_empty() {
            let why = format!("restarted (incarnation {previous:#x}, now {incarnation:#x})");
            self.report(node, lost, Ending::Restarted, &why);
        }
        *self.advertised.lock().unwrap_or_else(PoisonError::into_inner) = address;
        self.left.store(false, Ordering::Release);
        let limits = node.limits().clone();
        let (started_tx, started_rx) = oneshot::channel();
        let (resumed_tx, resumed_rx) = oneshot::channel();
        let writing = writer::Writing { sender: Sender::new(write, sealer), started: started_rx, resumed: resumed_rx };
        tokio::spawn(writer::write_loop(self.clone(), generation, writing, close.clone(), limits.clone()));
        let reading = reader::Reading {
            read,
            early,
            records: Records::new(opener, limits.max_frame),
            window: credit_window,
            started: started_tx,
            resumed: resumed_tx,
        };
        tokio::spawn(reader::read_loop(self.clone(), generation, reading, close, limits, abort));
        tracing::info!(peer = %self.name, generation, "connected");
        true
    }

    /// Ends this node's stream toward the peer (under the link lock): what
    /// it held unacknowledged, and the tells in the outbox, are lost. The
    /// outbox's other frames go too.
    fn end_stream(&self, link: &mut Link, lost: &mut Vec<Lost>) {
        stream::lost_tells(link.out.restart(), true, lost);
        stream::lost_tells(link.frames.drain(..), false, lost);
        self.stats.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Reports tells the link will not deliver as dead letters.
    fn report(&self, node: &dyn Host, lost: Vec<Lost>, ending: Ending, why: &str) {
        let (maybe, not) =
            lost.iter().fold((0, 0), |(m, n), l| if l.maybe_delivered { (m + 1, n) } else { (m, n + 1) });
        tracing::warn!(
            peer = %self.name, ?ending, reason = why, maybe_delivered = maybe, not_sent = not,
            "the link's unacknowledged tells became dead letters"
        );
        for l in lost {
            let detail = if l.maybe_delivered {
                format!(
                    "{} was sent to node {}, which {why} before acknowledging it: it may or may not have been handled",
                    l.wire_name, self.name
                )
            } else {
                format!("{} waited for node {}, which {why}: it was not sent", l.wire_name, self.name)
            };
            transport::dead_letter(
                node.system(),
                Some(l.target),
                l.message_type,
                DeadLetterReason::NodeLost { maybe_delivered: l.maybe_delivered },
                detail,
            );
        }
    }

    /// The connection of `generation` is gone: fail what waited on it, fire
    /// monitors, and reconnect if this node dialed (or give the link up
    /// later, if nobody redials).
    fn connection_lost(self: &Arc<Self>, generation: u64, why: &str) {
        let (notices, pending) = {
            let mut link = self.link();
            if link.generation != generation || !link.up {
                return;
            }
            link.up = false;
            self.up.store(false, Ordering::Release);
            if let Some(close) = link.close.take() {
                close.close();
            }
            // Frames of the link wait for the next connection; the rest
            // belonged to this one. An ask dropped here fails with the
            // connection and never goes out: its credit comes back.
            let mut unsent = Vec::new();
            link.frames.retain(|f| match f {
                Queued::Ask { target, .. } => {
                    unsent.push(*target);
                    false
                }
                other => other.outlives_connection(),
            });
            for id in unsent {
                if let Some(target) = self.targets.get(&id) {
                    target.unsent();
                }
            }
            let notices: Vec<_> = link.watchers.drain().collect();
            // Keys first: removing while iterating would deadlock a shard.
            let keys: Vec<u64> = self.pending.iter().map(|e| *e.key()).collect();
            let pending: Vec<_> = keys.into_iter().filter_map(|k| self.pending.remove(&k)).collect();
            (notices, pending)
        };
        self.lost.notify_waiters();
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
    /// it and it did not leave; otherwise gives the link up once the peer
    /// has stayed away for `Limits::reconnect_give_up`.
    pub(crate) fn reconnect(self: &Arc<Self>) {
        let Some(node) = self.node() else { return };
        let address = self.dial.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let give_up = tokio::time::Instant::now() + node.limits().reconnect_give_up;
        let Some(address) = address.filter(|_| !self.left.load(Ordering::Acquire) && !node.is_shut_down()) else {
            // Nobody redials: the peer may still come back by itself, until
            // the same deadline.
            let generation = self.link().generation;
            let peer = Arc::downgrade(self);
            drop(node);
            tokio::spawn(async move {
                tokio::time::sleep_until(give_up).await;
                let Some(peer) = peer.upgrade() else { return };
                let Some(node) = peer.node() else { return };
                let still_down = {
                    let link = peer.link();
                    !link.up && link.generation == generation
                };
                if still_down {
                    peer.abandon(&*node);
                }
            });
            return;
        };
        if self.reconnecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let peer = self.clone();
        let (min, max) = (node.limits().reconnect_min, node.limits().reconnect_max);
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
                    peer.abandon(&*node);
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
    /// `NodeDown`, and every tell not acknowledged becomes a dead letter
    /// (`NodeLost`, saying whether it had been sent). What this node
    /// received from the peer is kept: if the peer comes back, its stream
    /// resumes.
    fn abandon(&self, node: &dyn Host) {
        let mut lost = Vec::new();
        {
            let mut link = self.link();
            if link.up {
                return;
            }
            self.abandoned.store(true, Ordering::Release);
            self.end_stream(&mut link, &mut lost);
            for target in self.targets.iter() {
                // Wakes every sender waiting for credit: the semaphore is
                // closed for good, and a later connection makes new targets.
                target.close();
            }
        }
        let after = node.limits().reconnect_give_up;
        tracing::warn!(peer = %self.name, ?after, "gave up on the peer; it counts as down for good");
        self.report(node, lost, Ending::GaveUp, &format!("stayed unreachable for {after:?} (this node gave up on it)"));
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

/// The figures of one peer's link (see `Node::link_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(hidden)]
pub struct LinkStats {
    /// Connections made to the peer so far.
    pub connections: u64,
    /// Bytes the resend buffer holds now.
    pub resend_bytes: usize,
    /// The most bytes it held.
    pub resend_peak: usize,
    /// Numbered frames written again on a later connection.
    pub replayed: u64,
    /// Numbered frames received twice and dropped.
    pub duplicates: u64,
    /// Times this node's stream toward the peer started over.
    pub restarts: u64,
    /// Tells the peer acknowledged: it received them, and handed them to
    /// their actor (or to the queue waiting for room in its mailbox).
    pub acked_tells: u64,
    /// Messages the peer said it could not deliver (each one also a dead
    /// letter on the peer's node).
    pub undelivered: u64,
    /// Times this node's held-credit timer fired: credit granted by an
    /// ask's delivery, held for the ask's reply to carry back to the peer,
    /// was still held as far as the reader had seen a millisecond later
    /// (it then goes on its own if no reply has taken it). In a steady
    /// stream of asks the replies carry it, and the timer is taken down
    /// before it fires.
    pub credit_timeouts: u64,
}

/// Writes what `sender.sealed` holds to the socket without waiting: with a
/// waker that does nothing, it takes what the socket accepts now. Returns
/// what is left of it (if the socket was full) or why the write failed.
fn write_now(sender: &mut Sender) -> (Option<Bytes>, Option<String>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut written = 0;
    let failed = loop {
        if written == sender.sealed.len() {
            break None;
        }
        match std::pin::Pin::new(&mut sender.write).poll_write(&mut cx, &sender.sealed[written..]) {
            std::task::Poll::Ready(Ok(0)) => break Some("the socket took no byte".to_owned()),
            std::task::Poll::Ready(Ok(n)) => written += n,
            std::task::Poll::Ready(Err(e)) => break Some(e.to_string()),
            std::task::Poll::Pending => break None,
        }
    };
    let rest =
        (failed.is_none() && written < sender.sealed.len()).then(|| Bytes::copy_from_slice(&sender.sealed[written..]));
    sender.clear();
    (rest, failed)
}

/// Appends one frame to `out` with the length prefix the reader's
/// `channel::Records` expects (4 bytes, big-endian, not counting
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

/// What a connection's transport allows beyond a byte stream.
pub(crate) struct Wire {
    /// Whether senders may write to the socket themselves (see
    /// `Peer::send_now`).
    pub(crate) direct: bool,
    /// How to tell the transport why the connection is given up, if it
    /// passes that on to the peer.
    pub(crate) abort: Option<Arc<dyn Abort>>,
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
        // A node given up on closes its targets too: that is `NodeDown`,
        // not a stopped actor.
        if self.peer.abandoned.load(Ordering::Acquire) && !self.peer.up.load(Ordering::Acquire) {
            return Err(Refused::NodeDown);
        }
        if self.target.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        if self.peer.up.load(Ordering::Acquire) {
            return Ok(());
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
    /// Whether a frame with this wire name and payload size can be sent;
    /// why not otherwise.
    fn fits(&self, wire_name: &str, payload: usize) -> Result<(), String> {
        if wire_name.len() > frame::MAX_WIRE_NAME {
            return Err(format!(
                "the wire name {wire_name:?} is {} bytes long; a frame carries at most {}",
                wire_name.len(),
                frame::MAX_WIRE_NAME
            ));
        }
        if payload + wire_name.len() + 64 > self.max_frame {
            return Err(format!("{payload} bytes exceed the frame limit of {}", self.max_frame));
        }
        Ok(())
    }

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
                        node.system(),
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
                // it is back, as the same process or, for good, as a new one.)
                return self.try_reserve();
            }
            // Closed when the peer restarts or this node gives up on it.
            let permit = self.target.credit.acquire().await.map_err(|_| Refused::NodeDown)?;
            permit.forget();
            // The node may have gone down while this waited.
            self.check().inspect_err(|_| self.unreserve())
        })
    }

    fn reserve_ask(&self) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(async move {
            self.check()?;
            // An ask needs the connection it goes out on until its reply
            // comes: one to a node that is down fails now, and one waiting
            // for credit fails as soon as the connection is lost.
            let lost = self.peer.lost.notified();
            tokio::pin!(lost);
            lost.as_mut().enable();
            if !self.peer.up.load(Ordering::Acquire) {
                return Err(Refused::NodeDown);
            }
            tokio::select! {
                permit = self.target.credit.acquire() => permit.map_err(|_| Refused::NodeDown)?.forget(),
                () = &mut lost => return Err(Refused::NodeDown),
            }
            self.check().inspect_err(|_| self.unreserve())
        })
    }

    fn unreserve(&self) {
        self.target.release(1);
    }

    fn send(&self, outgoing: Outgoing) {
        let Outgoing { wire_name, message_type, payload, reply } = outgoing;
        let Some(mut reply) = reply else {
            return self.send_tell(wire_name, message_type, &payload);
        };
        if let Err(detail) = self.fits(wire_name, payload.len()) {
            return self.refuse(message_type, Some(reply), detail);
        }
        let link = self.peer.link();
        if self.target.credit.is_closed() {
            // The node restarted or was given up after this sender took its
            // credit: the ask never leaves.
            drop(link);
            reply.fail(RemoteFailure::NodeDown);
            return;
        }
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
    }

    fn send_tell(&self, wire_name: &'static str, message_type: &'static str, payload: &[u8]) {
        if let Err(detail) = self.fits(wire_name, payload.len()) {
            return self.refuse(message_type, None, detail);
        }
        let mut link = self.peer.link();
        if self.target.credit.is_closed() {
            // The node restarted or was given up after this sender took its
            // credit: the message never leaves.
            drop(link);
            let lost = Lost { target: self.id, message_type, wire_name: wire_name.to_owned(), maybe_delivered: false };
            if let Some(node) = self.peer.node() {
                self.peer.report(&*node, vec![lost], Ending::Restarted, "went away");
            }
            return;
        }
        // The writer takes the whole outbox at once: the tell that finds it
        // empty wakes it for those that join it meanwhile too. (While the
        // outbox holds frames, the writer has been woken for them, or waits
        // for what will wake it: an acknowledgement making room, or a
        // direct sender putting the write side back.)
        let wake = link.frames.is_empty();
        let Link { up, frames, tells, .. } = &mut *link;
        if *up {
            tells.tell_into(frames, self.id, wire_name, message_type, payload);
        } else {
            // While down the outbox is bounded by its entries
            // (`Limits::outbox`, in `try_reserve`): one per tell.
            frames.push_back(tells.tell(self.id, wire_name, message_type, payload));
        }
        self.target.sent();
        drop(link);
        if wake {
            self.peer.wake_writer.notify_one();
        }
    }

    fn wire_ref(&self) -> WireRef {
        let address = self.peer.advertised.lock().unwrap_or_else(PoisonError::into_inner).clone();
        WireRef { node: self.peer.name.clone(), address, id: self.id }
    }

    fn ref_codec(&self) -> &Arc<dyn RefCodec> {
        &self.codec
    }
}

impl Terminable for Endpoint {
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
}
