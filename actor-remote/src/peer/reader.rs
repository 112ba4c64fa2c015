//! The reader task of one connection, and the delivery of what it reads
//! to this node's actors.
//!
//! A reader starts by taking the peer's `InStream` (where this node stands
//! in the peer's stream, and the credit and parked deliveries per local
//! actor), which the previous connection's reader holds until it has
//! stopped: so one reader delivers at a time, and a connection that
//! replaces another starts where the old one stopped. It reads the peer's
//! `Resume` (passed to the writer), then its `Stream`, then numbered
//! frames: each is counted, dropped if this node already had it, handled
//! otherwise, and acknowledged by the writer.
//!
//! A message for an actor whose mailbox is full waits in that actor's
//! parked queue, which belongs to the link, not to the connection:
//! messages for the actor that come later, on any connection, queue
//! behind it, so the sender's order holds through any replacement.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use actor_core::transport::{self, AskContext, Exported, IdHasher, RefCodec, RemoteFailure, ReplySink, Undelivered};
use actor_core::{ActorId, DeadLetterReason};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use super::stream::{Gone, Outstanding, Position};
use super::{Close, Host, Peer, Pending, Queued};
use crate::channel::Records;
use crate::connection::{Abort, ReadSide};
use crate::error::NodeError;
use crate::frame::{self, Frame, FrameError, InPlace, System, WireContext, WireFailure};

/// The room made in the read buffer before each read: a whole record (at
/// most 64 KiB) fits in one.
const READ_ROOM: usize = 64 * 1024;

/// How long credit granted by an ask's delivery may wait for the ask's
/// reply to carry it, before the writer is woken to send it alone.
const CREDIT_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

/// Work for one local actor whose mailbox was full: finished in order.
enum Work {
    /// Its wire name is kept to tell the peer, should the actor stop first.
    Waiting {
        parked: transport::Parked,
        wire_name: String,
    },
    Raw {
        wire_name: String,
        payload: Bytes,
        reply: Option<Incoming>,
    },
}

/// A parked delivery, with what its credit is charged to.
struct Parked {
    work: Work,
    /// The peer's stream the message came on: its credit goes back to it.
    stream: u64,
    outstanding: Outstanding,
    /// The connection it came on, where a failure to deliver is told.
    generation: u64,
}

/// Deliveries waiting for room in one local actor's mailbox, in order:
/// at most the credit window of them per stream, since the peer may not
/// send more.
struct ParkedQueue {
    tx: mpsc::UnboundedSender<Parked>,
    /// Deliveries in the queue, not yet landed.
    queued: Arc<AtomicUsize>,
}

/// Where this node stands in the peer's stream: kept across connections,
/// and handed from one connection's reader to the next (one reader at a
/// time).
pub(super) struct InStream {
    /// The peer's stream this node tracks; 0 before the first.
    pub(super) tracking: u64,
    /// The number of its last frame this node received (and handled).
    pub(super) received: u64,
    /// Per local actor the peer sends to: the credit it used, and the
    /// deliveries waiting for room in the actor's mailbox.
    pub(super) targets: HashMap<ActorId, Inbound, IdHasher>,
}

impl InStream {
    pub(super) fn new() -> Self {
        InStream { tracking: 0, received: 0, targets: HashMap::default() }
    }
}

/// What the peer's stream brought for one local actor, on the receiving
/// side.
pub(super) struct Inbound {
    /// Messages received and not granted back yet: the part of the
    /// window the peer has used. Also decreased by the parked queue's task
    /// when it grants.
    outstanding: Outstanding,
    /// Messages delivered whose credit the reader has not granted yet (it
    /// grants in batches).
    delivered: u32,
    parked: Option<ParkedQueue>,
}

impl Inbound {
    fn new() -> Self {
        Inbound { outstanding: Arc::new(AtomicUsize::new(0)), delivered: 0, parked: None }
    }

    /// Whether deliveries to the actor wait for room in its mailbox.
    fn waiting(&self) -> bool {
        self.parked.as_ref().is_some_and(|q| q.queued.load(Ordering::Acquire) > 0)
    }

    /// Counts a message toward the window; `Err` once the peer has sent
    /// more than it was granted.
    fn charge(&mut self, target: ActorId, window: usize) -> Result<(), String> {
        let used = self.outstanding.fetch_add(1, Ordering::AcqRel) + 1;
        if used > window {
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            return Err(format!(
                "the peer sent {used} messages to actor {target} without being granted credit for more than \
                 {window}: past its credit window",
            ));
        }
        Ok(())
    }

    /// Counts a delivered message: once `grant_every` are, the credit to
    /// grant back, and whether the entry may go (the peer has no credit
    /// out toward the actor, and nothing waits for it).
    fn delivered(&mut self, grant_every: u32) -> Option<(u32, bool)> {
        self.delivered += 1;
        if self.delivered < grant_every {
            return None;
        }
        let count = std::mem::take(&mut self.delivered);
        let left = self.outstanding.fetch_sub(count as usize, Ordering::AcqRel) - count as usize;
        let parked = self.parked.as_ref().map_or(0, |q| q.queued.load(Ordering::Acquire));
        Some((count, left == 0 && parked == 0))
    }
}

/// An ask as it came in: where its answer goes, and what it carried.
type Incoming = (u64, ReplySink, AskContext);

/// An ask's reply sink and context, for delivery, and its correlation id.
fn split_reply(reply: Option<Incoming>) -> (Option<(ReplySink, AskContext)>, Option<u64>) {
    match reply {
        Some((corr, sink, context)) => (Some((sink, context)), Some(corr)),
        None => (None, None),
    }
}

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

/// Gives credit back to the peer. Credit granted by an ask's delivery is
/// queued for the ask's reply to carry (`Peer::push_quiet`), and `held` set
/// so that the read loop sends it alone if no reply has within
/// `CREDIT_DELAY`; any other credit goes now.
fn give_credit(peer: &Peer, held: &mut bool, credit: Queued, ask: bool) {
    if ask {
        peer.push_quiet(credit);
        *held = true;
    } else {
        peer.push(credit);
    }
}

/// What the reader needs per connection.
struct Reader {
    peer: Arc<Peer>,
    node: Arc<dyn Host>,
    codec: Arc<dyn RefCodec>,
    generation: u64,
    /// Where this node stands in the peer's stream; held for the reader's
    /// whole life.
    state: tokio::sync::OwnedMutexGuard<InStream>,
    /// The number of the next numbered frame on this connection; 0 until
    /// the peer's `Stream` frame.
    next: u64,
    /// Until the peer's `Resume` came: where to pass it.
    resumed: Option<oneshot::Sender<Position>>,
    /// After how many bytes of the peer's stream it wants an
    /// acknowledgement, and how many came since the last request.
    ack_every: usize,
    unacked: usize,
    /// The credit window of this connection, per target actor.
    window: usize,
    grant_every: u32,
    /// The last local actor a frame went to: runs of frames to one actor
    /// skip the table.
    ///
    /// Pinned (`Exported::pinned`) at its second frame in a row, so that a
    /// run skips finding the actor per frame and a lone frame costs no
    /// handle of its own.
    last: Option<(ActorId, Arc<dyn Exported>, bool)>,
    /// Asks from this connection not yet answered, and their limit.
    inflight_asks: Arc<AtomicUsize>,
    max_inflight_asks: usize,
    /// What an acknowledgement frees; kept empty between
    /// acknowledgements, for its room.
    gone: Gone,
    /// The last wire name found to be UTF-8 (see `Reader::take_name`).
    name: String,
    /// Credit was queued for an ask's reply to carry (`give_credit`):
    /// the read loop starts the timer that sends it alone if not.
    credit_held: bool,
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
pub(super) struct Reading {
    pub(super) read: ReadSide,
    /// What the handshake read past its end.
    pub(super) early: BytesMut,
    pub(super) records: Records,
    /// The credit window agreed on in the handshake.
    pub(super) window: u32,
    /// Where this node stands in the peer's stream, for the writer's
    /// `Resume`, once the previous reader has stopped.
    pub(super) started: oneshot::Sender<(u64, u64)>,
    /// Where the peer stands in this node's stream (its `Resume`).
    pub(super) resumed: oneshot::Sender<Position>,
}

pub(super) async fn read_loop(
    peer: Arc<Peer>,
    generation: u64,
    reading: Reading,
    close: Arc<Close>,
    limits: crate::limits::Limits,
    abort: Option<Arc<dyn Abort>>,
) {
    let closed = close.notified();
    tokio::pin!(closed);
    // Registered now, so a close before the first wait is not missed.
    closed.as_mut().enable();
    let Some(node) = peer.node() else { return };
    // One reader at a time: the previous connection's has stopped
    // delivering, and where it stopped is final.
    let state = tokio::select! {
        biased;
        () = closed.as_mut() => return,
        state = peer.reading.clone().lock_owned() => state,
    };
    if !peer.link().up_on(generation) {
        return;
    }
    let Reading { read, early, records, window, started, resumed } = reading;
    let _ = started.send((state.tracking, state.received));
    let codec: Arc<dyn RefCodec> = node.clone();
    let window = (window as usize).max(1);
    let mut reader = Reader {
        peer: peer.clone(),
        node,
        codec,
        generation,
        state,
        next: 0,
        resumed: Some(resumed),
        ack_every: usize::MAX,
        unacked: 0,
        window,
        grant_every: (window / 2).max(1) as u32,
        last: None,
        inflight_asks: Arc::new(AtomicUsize::new(0)),
        max_inflight_asks: limits.max_inflight_asks.max(1),
        gone: Gone::default(),
        name: String::new(),
        credit_held: false,
    };
    let (mut read, mut records) = (read, records);
    // Sealed bytes read and not opened yet: records are opened straight
    // from here, and the buffer keeps its allocation from read to read.
    let mut src = early;
    // One heartbeat timer for the connection, not one per frame: it ticks
    // every quarter of the timeout, and the peer is presumed dead after
    // four ticks in a row without a frame (detection within 1.25x the
    // timeout, at no cost per frame).
    const TICKS: u32 = 4;
    let tick = limits.heartbeat_timeout / TICKS;
    let deadline = tokio::time::sleep(tick);
    tokio::pin!(deadline);
    // Credit held back for a reply to carry goes alone once this fires.
    // Armed when credit is first held, taken down at the next turn that
    // finds nothing queued (a reply carried it): a timer that fires in a
    // steady stream of asks wakes the runtime for nothing, and those wakes
    // make the slowest round trips (the 99th percentile) 1.25-1.5x slower
    // (benches/README.md, "Remote").
    let mut credit_timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let (mut seen, mut seen_at_tick, mut idle_ticks) = (0u64, 0u64, 0u32);
    // The close notice is polled here once more, with this task's waker:
    // it keeps the waker and wakes the task when the connection closes.
    // From then on each turn reads the flag set before the notice (a
    // load) instead of polling the notice again (a lock, twice per round
    // trip). Ready already, the flag is set and the first turn stops.
    std::future::poll_fn(|cx| {
        let _ = closed.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
    // Ready once the flag is set; the notice wakes the task to look. No
    // close is missed: `Close::close` sets the flag, then notifies, which
    // takes the notice's lock that this task's poll above also took. A
    // close before that poll is seen here by the first turn; one after
    // it wakes the task, whose next poll of this branch sees the flag.
    // (Test: `a_closed_connections_reader_stops_at_once_on_a_silent_socket`.)
    let closing = || std::future::poll_fn(|_| if close.is_closed() { Poll::Ready(()) } else { Poll::Pending });
    let why = 'read: loop {
        // Every whole frame at hand, then the next read.
        loop {
            match records.next_len(&mut src) {
                Ok(Some(len)) => {
                    seen += 1;
                    let handled = match frame::in_place(records.peek(len)) {
                        // The frames of tells and asks, the usual ones:
                        // handled where they lie.
                        Ok(Some(parts)) => {
                            let handled = reader.in_place(records.peek(len), parts);
                            records.skip(len);
                            handled
                        }
                        Ok(None) => match frame::decode(records.take(len).freeze()) {
                            Ok(frame) => reader.handle(frame, len),
                            Err(e) => Err(format!("malformed frame: {e}")),
                        },
                        Err(e) => Err(format!("malformed frame: {e}")),
                    };
                    if let Err(why) = handled {
                        break 'read why;
                    }
                }
                Ok(None) => break,
                // What it refuses: too long, or failed to open.
                Err(e) => break 'read format!("bad frame: {e}"),
            }
        }
        if std::mem::take(&mut reader.credit_held) {
            if credit_timer.is_none() {
                credit_timer = Some(Box::pin(tokio::time::sleep(CREDIT_DELAY)));
            }
        } else if credit_timer.is_some() && peer.link().frames.is_empty() {
            // Nothing queued: what was held has gone out, carried by a
            // reply (or taken by the writer, which sends it).
            credit_timer = None;
        }
        // Room for a whole record in one read.
        src.reserve(READ_ROOM);
        // Closing first: once replaced, this reader stops delivering at
        // the next read; what it leaves unread is sent again on the next
        // connection. (Between two reads it handles what one read brought,
        // in order, as the one reader of the link: nothing it delivers then
        // is lost or delivered twice, since the next connection's reader
        // starts where this one stops.)
        let read = tokio::select! {
            biased;
            () = closing() => break "closed".to_owned(),
            read = read.read_buf(&mut src) => read,
            () = std::future::poll_fn(|cx| credit_timer.as_mut().map_or(Poll::Pending, |t| t.as_mut().poll(cx))),
                if credit_timer.is_some() => {
                // No reply has carried the credit out (its handler is
                // still at work): the writer sends what is queued now.
                credit_timer = None;
                peer.stats.credit_timeouts.fetch_add(1, Ordering::Relaxed);
                if !peer.link().frames.is_empty() {
                    peer.wake_writer.notify_one();
                }
                continue;
            }
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
        match read {
            Ok(0) => match records.finish(&src) {
                Ok(()) => break "closed by the peer".to_owned(),
                Err(e) => break format!("bad frame: {e}"),
            },
            Ok(_) => {}
            // A TLS stream reports what it refuses as `InvalidData`;
            // anything else is the socket's own error.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => break format!("bad frame: {e}"),
            Err(e) => break format!("read failed: {e}"),
        }
    };
    if why != "closed" {
        tracing::warn!(peer = %peer.name, reason = %why, "closing the connection");
        if let Some(abort) = &abort {
            abort.fail(&why);
        }
    }
    peer.connection_lost(generation, &why);
    // The state goes to the next connection's reader with `reader`.
}

impl Reader {
    /// Handles one frame of `len` bytes; `Err` (with the reason) closes the
    /// connection.
    fn handle(&mut self, frame: Frame, len: usize) -> Result<(), String> {
        if let Some(resumed) = self.resumed.take() {
            let Frame::Resume { tracking, received, ack_every } = frame else {
                return Err("the peer's first frame was not a resume".to_owned());
            };
            self.ack_every = (ack_every as usize).max(1);
            let _ = resumed.send(Position { tracking, received });
            return Ok(());
        }
        match frame {
            Frame::Resume { .. } => Err("a second resume frame on one connection".to_owned()),
            Frame::Stream { id, first } => self.stream(id, first),
            Frame::Ping => Ok(()),
            Frame::Ack { .. } => unreachable!("read in place (`frame::in_place`)"),
            numbered => {
                let Some(number) = self.count()? else { return Ok(()) };
                self.numbered(numbered)?;
                self.counted(number, len);
                Ok(())
            }
        }
    }

    /// Handles a frame read in place (`frame`, whose header is `parts`):
    /// as [`handle`](Reader::handle) does a decoded one, without taking the
    /// frame apart.
    fn in_place(&mut self, frame: &[u8], parts: InPlace) -> Result<(), String> {
        if self.resumed.is_some() {
            return Err("the peer's first frame was not a resume".to_owned());
        }
        let number = match parts {
            InPlace::Ack { stream, received } => return self.peer.acked(stream, received, &mut self.gone),
            // Numbered: counted first, and dropped if sent again.
            _ => match self.count()? {
                Some(number) => number,
                None => return Ok(()),
            },
        };
        match parts {
            InPlace::Tell(tell) => {
                let name = self.take_name(&frame[tell.wire_name])?;
                let handled = self.incoming(tell.target, &name, &frame[tell.payload_at..], None);
                self.name = name;
                handled?;
            }
            InPlace::Ask(ask) => {
                let name = self.take_name(&frame[ask.wire_name])?;
                let payload = &frame[ask.payload_at..];
                let handled = self.ask(ask.corr, ask.target, &name, ask.context, payload);
                self.name = name;
                handled?;
            }
            InPlace::Reply { corr, payload_at } => self.reply(corr, &frame[payload_at..]),
            InPlace::Ack { .. } => unreachable!("handled above"),
        }
        self.counted(number, frame.len());
        Ok(())
    }

    /// Numbers the next numbered frame: `None` if this node already had
    /// it (sent again), to be dropped; `Err` before the peer said which
    /// stream its frames belong to.
    fn count(&mut self) -> Result<Option<u64>, String> {
        if self.next == 0 {
            return Err("a numbered frame before the peer said which stream it belongs to".to_owned());
        }
        let number = self.next;
        self.next += 1;
        if number <= self.state.received {
            // Sent again, and this node had it: dropped.
            self.peer.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Ok(Some(number))
    }

    /// Frame `number`, of `len` bytes, has been handled: received, and
    /// acknowledged in time.
    fn counted(&mut self, number: u64, len: usize) {
        self.state.received = number;
        self.peer.received.store(number, Ordering::Release);
        self.unacked += len;
        if self.unacked >= self.ack_every {
            self.unacked = 0;
            self.peer.ack_wanted.store(true, Ordering::Release);
            self.peer.wake_writer.notify_one();
        }
    }

    /// The wire name `bytes` as a string, checked to be UTF-8 unless it is
    /// the last one checked (a run of tells of one kind is checked once).
    /// Taken out of `Reader::name`, to be put back.
    fn take_name(&mut self, bytes: &[u8]) -> Result<String, String> {
        let mut name = std::mem::take(&mut self.name);
        if name.as_bytes() != bytes {
            let checked = std::str::from_utf8(bytes).map_err(|_| FrameError::WireName.to_string())?;
            name.clear();
            name.push_str(checked);
        }
        Ok(name)
    }

    /// The peer's numbered frames that follow belong to stream `id` and
    /// start at `first`.
    fn stream(&mut self, id: u64, first: u64) -> Result<(), String> {
        if id == self.state.tracking {
            if first > self.state.received + 1 {
                return Err(format!(
                    "the peer resumed its stream at frame {first}, but this node received only {}",
                    self.state.received
                ));
            }
        } else {
            if first != 1 {
                return Err(format!(
                    "the peer resumed stream {id:#x}, which this node does not know, at frame {first}"
                ));
            }
            // The peer's stream starts over (it restarted, or gave up on
            // this node): so does what this node counts of it. Deliveries
            // still parked from the old stream keep their place ahead of
            // the new one's; their credit goes back to the old stream,
            // which the peer ignores.
            self.state.tracking = id;
            self.state.received = 0;
            self.peer.received.store(0, Ordering::Release);
            self.peer.tracking.store(id, Ordering::Release);
            self.state.targets.retain(|_, inbound| {
                inbound.outstanding = Arc::new(AtomicUsize::new(0));
                inbound.delivered = 0;
                inbound.parked.as_ref().is_some_and(|q| q.queued.load(Ordering::Acquire) > 0)
            });
        }
        self.next = first;
        Ok(())
    }

    /// Handles one numbered frame.
    fn numbered(&mut self, frame: Frame) -> Result<(), String> {
        match frame {
            // `decode` builds these from what `frame::in_place` reads, and
            // the read loop handles whatever that reads where it lies.
            Frame::Tell { .. } | Frame::Ask { .. } | Frame::Reply { .. } => {
                unreachable!("read in place (`frame::in_place`)")
            }
            Frame::Failure { corr, failure } => {
                if let Some((_, Pending::Ask(reply))) = self.peer.pending.remove(&corr) {
                    reply.fail(failure.into());
                }
            }
            Frame::Credit { stream, target, count } => {
                // Under the link lock: a grant for a stream that started
                // over since must not add to the new one's window.
                let link = self.peer.link();
                if stream == link.out.id
                    && let Some(t) = self.peer.targets.get(&target)
                {
                    t.grant(count as usize);
                }
                drop(link);
            }
            Frame::System(msg) => self.system(msg),
            Frame::Ping | Frame::Resume { .. } | Frame::Stream { .. } | Frame::Ack { .. } => {
                unreachable!("not numbered")
            }
        }
        Ok(())
    }

    /// An ask for a local actor, or its refusal when too many are in
    /// flight on this connection.
    fn ask(
        &mut self,
        corr: u64,
        target: ActorId,
        wire_name: &str,
        context: WireContext,
        payload: &[u8],
    ) -> Result<(), String> {
        if self.inflight_asks.load(Ordering::Acquire) >= self.max_inflight_asks {
            // Over the limit: answered at once, never dropped. Its credit
            // goes straight back.
            let detail = format!(
                "more than {} asks in flight on this connection; {} refused",
                self.max_inflight_asks, wire_name
            );
            let failure = WireFailure::Refused(detail);
            self.peer.push_on(self.generation, Queued::Failure { corr, failure });
            self.refund(target);
            return Ok(());
        }
        self.inflight_asks.fetch_add(1, Ordering::AcqRel);
        let sink = self.reply_sink(corr);
        // The asker's deadline, on this node's clock, counted from now: the
        // time the frame spent in transit is not known, so the far side's
        // deadline is never earlier than the asker's.
        let context = AskContext {
            deadline: context.time_left.map(|left| tokio::time::Instant::now() + left),
            chain: context.chain,
        };
        self.incoming(target, wire_name, payload, Some((corr, sink, context)))
    }

    /// The reply to this node's ask `corr`, to its asker (if it still
    /// waits).
    fn reply(&self, corr: u64, payload: &[u8]) {
        if let Some((_, Pending::Ask(reply))) = self.peer.pending.remove(&corr) {
            reply.complete(payload, &self.codec);
        }
    }

    fn system(&mut self, msg: System) {
        match msg {
            System::Lookup { corr, name } => {
                let result = match self.node.named(&name) {
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
            System::Watch { id } => self.peer.watch_here(&*self.node, id, self.generation),
            System::Down { id, reason } => self.peer.target_down(id, reason),
            System::Stop { id } => {
                if let Some(exported) = self.node.exported(id) {
                    exported.stop();
                }
            }
            System::Kill { id } => {
                if let Some(exported) = self.node.exported(id) {
                    exported.kill();
                }
            }
            System::Undelivered { target, wire_name, reason } => {
                self.peer.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %self.peer.name, %target, message = %wire_name, %reason, "the peer could not deliver a message");
            }
            System::Bye => {
                tracing::info!(peer = %self.peer.name, "the peer is leaving");
                self.peer.left.store(true, Ordering::Release);
            }
            System::Cluster(bytes) => self.node.cluster_message(&self.peer.name, &bytes),
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
        payload: &[u8],
        reply: Option<Incoming>,
    ) -> Result<(), String> {
        // A run of messages to one actor, the usual case: its entry is
        // looked up once for charging, delivering and granting.
        if self.last.as_ref().is_some_and(|(id, ..)| *id == target) {
            let stream = self.state.tracking;
            let inbound = self.state.targets.entry(target).or_insert_with(Inbound::new);
            if !inbound.waiting() {
                inbound.charge(target, self.window)?;
                let (reply, corr) = split_reply(reply);
                let (_, exported, pinned) = self.last.as_mut().expect("checked above");
                if !std::mem::replace(pinned, true)
                    && let Some(held) = exported.pinned()
                {
                    *exported = held;
                }
                return match deliver_to(&**exported, wire_name, payload, reply, &self.codec) {
                    Ok(()) => {
                        if let Some((count, forget)) = inbound.delivered(self.grant_every) {
                            let credit = Queued::Credit { stream, target, count };
                            give_credit(&self.peer, &mut self.credit_held, credit, corr.is_some());
                            if forget {
                                self.state.targets.remove(&target);
                            }
                        }
                        Ok(())
                    }
                    Err(undelivered) => self.undelivered(target, wire_name, undelivered, corr),
                };
            }
        }
        if let Some(inbound) = self.state.targets.get(&target)
            && inbound.waiting()
        {
            // Earlier messages to this actor still wait for room: queue
            // behind them, keeping the sender's order.
            self.charge(target)?;
            let work = Work::Raw { wire_name: wire_name.to_owned(), payload: Bytes::copy_from_slice(payload), reply };
            return self.park(target, work);
        }
        if self.last.as_ref().is_none_or(|(id, ..)| *id != target) {
            let Some(found) = self.node.exported(target) else {
                undeliverable(&*self.node, &self.peer, self.generation, target, wire_name, "no such actor", reply);
                self.refund(target);
                return Ok(());
            };
            self.last = Some((target, found, false));
        }
        self.charge(target)?;
        let (reply, corr) = split_reply(reply);
        let exported = &self.last.as_ref().expect("set just above").1;
        match deliver_to(&**exported, wire_name, payload, reply, &self.codec) {
            Ok(()) => {
                self.delivered(target, corr.is_some());
                Ok(())
            }
            Err(undelivered) => self.undelivered(target, wire_name, undelivered, corr),
        }
    }

    /// A message to `target` (the last actor delivered to), charged, that
    /// its actor did not take: parked if its mailbox is full, reported
    /// otherwise.
    fn undelivered(
        &mut self,
        target: ActorId,
        wire_name: &str,
        undelivered: Undelivered,
        corr: Option<u64>,
    ) -> Result<(), String> {
        match undelivered {
            Undelivered::Full(parked) => {
                let exported = self.last.as_ref().map(|(_, e, _)| e.clone()).expect("the actor delivered to");
                let inbound = self.state.targets.get_mut(&target).expect("charged above");
                if inbound.parked.is_none() {
                    inbound.parked = Some(start_parked_queue(
                        self.peer.clone(),
                        self.node.clone(),
                        self.codec.clone(),
                        target,
                        exported,
                    ));
                }
                self.park(target, Work::Waiting { parked, wire_name: wire_name.to_owned() })
            }
            other => {
                failed_delivery(&*self.node, &self.peer, self.generation, target, wire_name, other, corr);
                self.delivered(target, false);
                Ok(())
            }
        }
    }

    /// Counts a message toward `target` against the window; `Err` once the
    /// peer has sent more than it was granted.
    fn charge(&mut self, target: ActorId) -> Result<(), String> {
        self.state.targets.entry(target).or_insert_with(Inbound::new).charge(target, self.window)
    }

    /// Queues a delivery behind those waiting for room in `target`'s
    /// mailbox.
    fn park(&mut self, target: ActorId, work: Work) -> Result<(), String> {
        let stream = self.state.tracking;
        let inbound = self.state.targets.get(&target).expect("charged before parking");
        let queue = inbound.parked.as_ref().expect("a parked queue");
        queue.queued.fetch_add(1, Ordering::AcqRel);
        let parked = Parked { work, stream, outstanding: inbound.outstanding.clone(), generation: self.generation };
        queue.tx.send(parked).map_err(|_| {
            queue.queued.fetch_sub(1, Ordering::AcqRel);
            format!("the deliveries waiting for room in actor {target}'s mailbox stopped")
        })
    }

    /// Counts a delivered message (an ask, if `ask`); grants credit back in
    /// batches, and forgets an actor the peer has no credit out for.
    fn delivered(&mut self, target: ActorId, ask: bool) {
        let stream = self.state.tracking;
        let Some(inbound) = self.state.targets.get_mut(&target) else { return };
        if let Some((count, forget)) = inbound.delivered(self.grant_every) {
            give_credit(&self.peer, &mut self.credit_held, Queued::Credit { stream, target, count }, ask);
            if forget {
                self.state.targets.remove(&target);
            }
        }
    }

    /// Gives the credit of a message that was never counted straight back
    /// (it was refused before reaching an actor).
    fn refund(&self, target: ActorId) {
        self.peer.push(Queued::Credit { stream: self.state.tracking, target, count: 1 });
    }
}

impl Peer {
    /// The peer received this node's stream `stream` up to `received`.
    /// What leaves the resend buffer goes through `gone` (empty, and left
    /// so), to be dropped outside the lock.
    fn acked(&self, stream: u64, received: u64, gone: &mut Gone) -> Result<(), String> {
        let waiting = {
            let mut link = self.link();
            if stream != link.out.id {
                // For a stream that has started over since.
                return Ok(());
            }
            link.out.ack(received, gone)?;
            // The writer waits for room in the resend buffer only with
            // frames in the outbox; a frame queued after this is woken for
            // by whoever queues it. Waking it otherwise would cost every
            // round trip a turn of the writer (and, on a multi-thread
            // runtime, often a wake-up of another worker) for nothing.
            !link.frames.is_empty()
        };
        // The payloads are freed outside the lock.
        self.stats.acked(gone);
        // Room for what a window's worth of acknowledgements frees is
        // kept; a rare larger one is given back.
        const KEEP: usize = 1024;
        if gone.frames.capacity() > KEEP {
            gone.frames = Vec::new();
        }
        if waiting {
            self.wake_writer.notify_one();
        }
        Ok(())
    }
}

/// Says that `wire_name` from `peer` was not delivered to `target`: a
/// warning, and a dead letter on this node.
fn undelivered_here(node: &dyn Host, peer: &Peer, target: ActorId, wire_name: &str, why: &str) {
    tracing::warn!(peer = %peer.name, %target, message = wire_name, reason = why, "undeliverable remote message");
    transport::dead_letter(
        node.system(),
        Some(target),
        "<remote message>",
        DeadLetterReason::Undeliverable,
        format!("{wire_name} from node {}: {why}", peer.name),
    );
}

/// Reports a message that could not be delivered: a dead letter here, and
/// for an ask, a failure back to the asker.
fn undeliverable(
    node: &dyn Host,
    peer: &Peer,
    generation: u64,
    target: ActorId,
    wire_name: &str,
    why: &str,
    reply: Option<Incoming>,
) {
    undelivered_here(node, peer, target, wire_name, why);
    match reply {
        Some((_, sink, _)) => {
            let failure = RemoteFailure::Remote(actor_core::error::RemoteError::new(
                actor_core::error::RemoteErrorKind::UnknownActor,
                format!("no actor {target} on node {}", node.name()),
            ));
            sink(Err(failure));
        }
        None => peer.push_on(
            generation,
            Queued::System(System::Undelivered { target, wire_name: wire_name.to_owned(), reason: why.to_owned() }),
        ),
    }
}

/// Why a message to an actor that has stopped was not delivered.
const STOPPED: &str = "the actor has stopped";

/// Answers a delivery that failed for a reason other than a full mailbox.
fn failed_delivery(
    node: &dyn Host,
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
        Undelivered::Closed(sink) => (K::UnknownActor, STOPPED.to_owned(), sink),
        Undelivered::Full(_) => unreachable!("handled by the caller"),
        _ => (K::Refused, "not delivered".to_owned(), None),
    };
    undelivered_here(node, peer, target, wire_name, &why);
    match (sink, corr) {
        (Some(sink), _) => sink(Err(RemoteFailure::Remote(actor_core::error::RemoteError::new(kind, why)))),
        _ => peer.push_on(
            generation,
            Queued::System(System::Undelivered { target, wire_name: wire_name.to_owned(), reason: why }),
        ),
    }
}

/// Starts the task that finishes deliveries to one local actor in order as
/// its mailbox makes room, granting credit back as they land (to the
/// stream each came on).
fn start_parked_queue(
    peer: Arc<Peer>,
    node: Arc<dyn Host>,
    codec: Arc<dyn RefCodec>,
    target: ActorId,
    exported: Arc<dyn Exported>,
) -> ParkedQueue {
    let (tx, mut rx) = mpsc::unbounded_channel::<Parked>();
    let queued = Arc::new(AtomicUsize::new(0));
    let count = queued.clone();
    // Weak: the queue lives in the peer's state, which this task must not
    // keep alive.
    let peer = Arc::downgrade(&peer);
    tokio::spawn(async move {
        // Landed deliveries whose credit is not granted yet, of one stream.
        let mut landed: Option<(u64, Outstanding, u32)> = None;
        let grant = |landed: &mut Option<(u64, Outstanding, u32)>| {
            if let Some((stream, outstanding, count)) = landed.take() {
                outstanding.fetch_sub(count as usize, Ordering::AcqRel);
                if let Some(peer) = peer.upgrade() {
                    peer.push(Queued::Credit { stream, target, count });
                }
            }
        };
        while let Some(Parked { work, stream, outstanding, generation }) = rx.recv().await {
            // A delivery that found the actor stopped while it waited was
            // reported here by the mailbox (a dead letter); an asker is
            // failed, and for a tell the peer is told, as on the direct path.
            let (result, wire_name) = match work {
                Work::Waiting { parked, wire_name } => (parked.await, wire_name),
                Work::Raw { wire_name, payload, reply } => {
                    let corr = reply.as_ref().map(|(c, _, _)| *c);
                    let reply = reply.map(|(_, sink, context)| (sink, context));
                    let result = match deliver_to(&*exported, &wire_name, &payload, reply, &codec) {
                        Ok(()) => Ok(()),
                        Err(Undelivered::Full(parked)) => parked.await,
                        Err(other) => {
                            if let Some(peer) = peer.upgrade() {
                                failed_delivery(&*node, &peer, generation, target, &wire_name, other, corr);
                            }
                            Ok(())
                        }
                    };
                    (result, wire_name)
                }
            };
            match result {
                Ok(()) => {}
                Err(Some(sink)) => sink(Err(RemoteFailure::Remote(actor_core::error::RemoteError::new(
                    actor_core::error::RemoteErrorKind::UnknownActor,
                    STOPPED,
                )))),
                Err(None) => {
                    if let Some(peer) = peer.upgrade() {
                        let reason = STOPPED.to_owned();
                        peer.push_on(generation, Queued::System(System::Undelivered { target, wire_name, reason }));
                    }
                }
            }
            if landed.as_ref().is_some_and(|(s, _, _)| *s != stream) {
                grant(&mut landed);
            }
            let batch = landed.get_or_insert((stream, outstanding, 0));
            batch.2 += 1;
            // Grant what landed once the queue is empty (or in batches).
            if count.fetch_sub(1, Ordering::AcqRel) == 1 || batch.2 >= 64 {
                grant(&mut landed);
            }
        }
        grant(&mut landed);
    });
    ParkedQueue { tx, queued }
}
