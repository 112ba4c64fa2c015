//! The link's numbered stream of frames, on both sides: what this node
//! sent and the peer has not acknowledged (the resend buffer), and the
//! positions both sides exchange to resume on a new connection (where this
//! node stands in the peer's stream is the reader's `InStream`).
//!
//! Every tell, ask, reply, failure, control and credit frame is numbered
//! in the order it is written, 1, 2, 3, ... within a *stream* (a random
//! 64-bit id, new whenever the numbering starts over). The numbers are not
//! written in each frame: a connection carries one stream, in order, so a
//! `Stream { id, first }` frame before the first numbered frame of a
//! connection is enough for the reader to count. A numbered frame stays in
//! the sender's resend buffer until the peer acknowledges it (cumulative
//! `Ack` frames, carried on whatever the peer writes, or on a heartbeat);
//! the next connection starts with both sides saying where they stand
//! (`Resume`), and the sender writes again what the peer did not receive.
//!
//! A stream starts over only when the link ends: the peer restarted (a new
//! incarnation), this node gave up on it, or the peer no longer knows the
//! stream (it forgot this node). What the old stream held unacknowledged
//! is then reported (`DeadLetterReason::NodeLost`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use actor_core::ActorId;
use bytes::Buf;

use super::Queued;

/// Bytes a resend buffer entry costs besides its payload and wire name:
/// the entry itself (a `Queued` in the buffer's ring) and the allocator's
/// share of the payload. A run of tells is one entry.
pub(super) const ENTRY_OVERHEAD: usize = std::mem::size_of::<Queued>() + 16;

/// The bytes an entry of the resend buffer holds, as counted against
/// `Limits::resend_buffer`.
pub(super) fn cost(queued: &Queued) -> usize {
    ENTRY_OVERHEAD
        + match queued {
            Queued::Tells { frames, .. } => frames.len(),
            Queued::Ask { payload, .. } | Queued::Reply { payload, .. } => payload.capacity(),
            Queued::Failure { .. } | Queued::System(_) => 64,
            Queued::Credit { .. } | Queued::Rest { .. } => 0,
        }
}

/// A stream id nobody used before in this process. Zero means "none".
pub(super) fn fresh_id() -> u64 {
    loop {
        let id = random_u64();
        if id != 0 {
            return id;
        }
    }
}

/// 64 random bits from the operating system (through getrandom, which
/// also makes the hello nonces); a counter mixed with the time if it fails.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ FALLBACK.fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed)
}

/// The frames of a run of tells (`Queued::Tells`), each without its
/// length prefix.
pub(super) fn run_frames(mut frames: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let len = u32::from_be_bytes(frames.get(..4)?.try_into().ok()?) as usize;
        let frame = frames.get(4..4 + len)?;
        frames = &frames[4 + len..];
        Some(frame)
    })
}

/// The bytes the first `n` frames of a run of tells take, length prefixes
/// included.
fn run_prefix(frames: &[u8], n: u64) -> usize {
    run_frames(frames).take(n as usize).map(|frame| 4 + frame.len()).sum()
}

/// This node's stream toward one peer.
pub(super) struct OutStream {
    pub(super) id: u64,
    /// The number of the last frame the peer acknowledged.
    pub(super) acked: u64,
    /// Frames written (or being written) and not acknowledged, in order,
    /// from number `acked + 1`: an entry takes as many numbers as it holds
    /// frames (`Queued::frames`; a run of tells, one per tell).
    pub(super) resend: VecDeque<Queued>,
    /// The frames `resend` holds.
    pub(super) frames: u64,
    /// What `resend` holds, counted by [`cost`].
    pub(super) bytes: usize,
}

impl OutStream {
    pub(super) fn new() -> Self {
        OutStream { id: fresh_id(), acked: 0, resend: VecDeque::new(), frames: 0, bytes: 0 }
    }

    /// The number the next frame written gets.
    pub(super) fn next(&self) -> u64 {
        self.acked + self.frames + 1
    }

    /// Whether any frame of this stream was ever written.
    pub(super) fn written(&self) -> bool {
        self.acked > 0 || self.frames > 0
    }

    /// Whether a frame of `cost` bytes may join the buffer, which holds at
    /// most `limit` bytes: one frame always may when the buffer is empty,
    /// however large, so that nothing is ever stuck.
    pub(super) fn fits(&self, cost: usize, limit: usize) -> bool {
        self.bytes == 0 || self.bytes + cost <= limit
    }

    /// Keeps a frame being written until the peer acknowledges it.
    pub(super) fn push(&mut self, queued: Queued, stats: &Stats) {
        self.keep(queued);
        stats.peak(self.bytes);
    }

    /// As [`push`](OutStream::push), for the numbered frames of a batch,
    /// in order, which cost `cost` bytes together (by [`cost`]): the caller
    /// records the peak ([`Stats::peak`]) once they are in.
    pub(super) fn keep_all(&mut self, frames: impl IntoIterator<Item = Queued>, cost: usize) {
        let before = self.resend.len();
        for queued in frames {
            self.frames += queued.frames();
            self.resend.push_back(queued);
        }
        debug_assert_eq!(self.resend.range(before..).map(self::cost).sum::<usize>(), cost, "the batch's cost");
        self.bytes += cost;
    }

    /// Keeps one frame (see [`keep_all`](OutStream::keep_all)).
    fn keep(&mut self, queued: Queued) {
        self.bytes += cost(&queued);
        self.frames += queued.frames();
        self.resend.push_back(queued);
    }

    /// The peer received up to `received`: the frames up to it leave the
    /// buffer (into `gone`). `Err` if the peer claims frames never written.
    pub(super) fn ack(&mut self, received: u64, gone: &mut Gone) -> Result<(), String> {
        if received <= self.acked {
            return Ok(());
        }
        let mut newly = received - self.acked;
        if newly > self.frames {
            return Err(format!(
                "the peer acknowledged frame {received} of stream {:#x}, but only {} were written",
                self.id,
                self.next() - 1
            ));
        }
        self.frames -= newly;
        self.acked = received;
        while newly > 0 {
            let Some(front) = self.resend.front_mut() else { unreachable!("`frames` counts what `resend` holds") };
            let held = front.frames();
            if held <= newly {
                newly -= held;
                let queued = self.resend.pop_front().expect("looked at above");
                self.bytes -= cost(&queued);
                gone.take(queued);
                continue;
            }
            // The acknowledgement ends inside a run of tells: its first
            // `newly` frames go, the rest stay.
            let Queued::Tells { frames, count, .. } = front else { unreachable!("only a run holds several frames") };
            let at = run_prefix(frames, newly);
            frames.advance(at);
            *count -= newly;
            self.bytes -= at;
            gone.tells += newly;
            newly = 0;
        }
        Ok(())
    }

    /// Starts the stream over under a new id, handing back what the old
    /// one held unacknowledged.
    pub(super) fn restart(&mut self) -> VecDeque<Queued> {
        let unacked = std::mem::take(&mut self.resend);
        *self = OutStream::new();
        unacked
    }
}

/// Counters of one peer's link, for tests and figures.
#[derive(Default)]
pub(super) struct Stats {
    /// The most bytes the resend buffer held.
    pub(super) peak_bytes: AtomicUsize,
    /// Numbered frames written again on a later connection.
    pub(super) replayed: AtomicU64,
    /// Numbered frames the peer sent again that this node already had.
    pub(super) duplicates: AtomicU64,
    /// Times the stream started over (restart, give-up, forgotten).
    pub(super) restarts: AtomicU64,
    /// Tells the peer acknowledged.
    pub(super) acked_tells: AtomicU64,
    /// Messages the peer said it could not deliver.
    pub(super) undelivered: AtomicU64,
    /// Times the held-credit timer fired (`LinkStats::credit_timeouts`).
    pub(super) credit_timeouts: AtomicU64,
}

impl Stats {
    /// The resend buffer holds `bytes`.
    pub(super) fn peak(&self, bytes: usize) {
        self.peak_bytes.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Counts the tells among frames the peer acknowledged, and empties
    /// `gone` (to be called outside the link lock).
    pub(super) fn acked(&self, gone: &mut Gone) {
        self.acked_tells.fetch_add(std::mem::take(&mut gone.tells), Ordering::Relaxed);
        gone.frames.clear();
    }
}

/// What an acknowledgement frees, taken out of the resend buffer under the
/// link lock. A tell is dropped there and counted: it holds a view into a
/// chunk of the link's tell buffer, and dropping one takes a count back
/// (and at most frees a chunk the buffer no longer keeps). The other frames
/// own their payloads: they are kept, to be dropped outside the lock.
#[derive(Default)]
pub(super) struct Gone {
    /// Tells acknowledged.
    pub(super) tells: u64,
    /// The other frames acknowledged.
    pub(super) frames: Vec<Queued>,
}

impl Gone {
    fn take(&mut self, queued: Queued) {
        match queued {
            Queued::Tells { count, .. } => self.tells += count,
            other => self.frames.push(other),
        }
    }
}

/// A tell that will not be delivered by the link, to report once the
/// link's lock is released.
pub(super) struct Lost {
    pub(super) target: ActorId,
    pub(super) message_type: &'static str,
    pub(super) wire_name: String,
    /// It had been written to a connection.
    pub(super) maybe_delivered: bool,
}

/// The tells among `frames`, as lost, each `maybe_delivered` or not.
pub(super) fn lost_tells(frames: impl IntoIterator<Item = Queued>, maybe_delivered: bool, into: &mut Vec<Lost>) {
    for queued in frames {
        if let Queued::Tells { message_type, frames, .. } = queued {
            for frame in run_frames(&frames) {
                let target = crate::frame::tell_target(frame);
                let wire_name = crate::frame::tell_wire_name(frame).to_owned();
                into.push(Lost { target, message_type, wire_name, maybe_delivered });
            }
        }
    }
}

/// The peer's position in this node's stream, as its `Resume` frame says.
#[derive(Clone, Copy, Debug)]
pub(super) struct Position {
    pub(super) tracking: u64,
    pub(super) received: u64,
}

/// What a connection does with this node's stream, once the peer said
/// where it stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Resumption {
    /// The peer knows the stream: write again from `first`.
    Resume { first: u64 },
    /// The peer has not seen the stream yet: start it at 1.
    Start,
    /// The peer no longer knows the stream although frames of it were
    /// written: it starts over, and what was unacknowledged is lost.
    Restart,
}

/// Decides how the stream goes on (acknowledging what the peer says it
/// received); `Err` if the peer claims what cannot be.
pub(super) fn resumption(out: &mut OutStream, peer: Position, gone: &mut Gone) -> Result<Resumption, String> {
    if peer.tracking == out.id {
        if peer.received < out.acked {
            return Err(format!(
                "the peer says it received {} frames of stream {:#x}, after acknowledging {}",
                peer.received, out.id, out.acked
            ));
        }
        out.ack(peer.received, gone)?;
        Ok(Resumption::Resume { first: out.acked + 1 })
    } else if !out.written() {
        Ok(Resumption::Start)
    } else {
        Ok(Resumption::Restart)
    }
}

/// Counts kept per target by the receiving side and shared with the
/// parked queue's task.
pub(super) type Outstanding = Arc<AtomicUsize>;

#[cfg(test)]
mod tests {
    use super::*;

    fn tell(n: u8) -> Queued {
        let target = ActorId::from_uuid(uuid::Uuid::from_u128(1));
        Queued::tell(target, "T::tell", "Tell", &[n; 10])
    }

    #[test]
    fn acknowledgements_free_the_buffer_in_order_and_refuse_the_impossible() {
        let stats = Stats::default();
        let mut out = OutStream::new();
        assert!(!out.written());
        for n in 0..5 {
            out.push(tell(n), &stats);
        }
        assert_eq!(out.next(), 6);
        let full = out.bytes;
        let mut gone = Gone::default();
        out.ack(3, &mut gone).unwrap();
        assert_eq!(gone.tells, 3);
        assert_eq!(out.bytes, full / 5 * 2);
        assert_eq!(out.resend.len(), 2);
        // Again, or older: nothing changes.
        out.ack(2, &mut gone).unwrap();
        assert_eq!(out.acked, 3);
        assert!(out.ack(9, &mut gone).is_err(), "frames never written");
        assert_eq!(stats.peak_bytes.load(Ordering::Relaxed), full);
    }

    /// The resend buffer's memory per frame in flight, besides its payload:
    /// the budget `Limits::resend_buffer` counts, and ARCHITECTURE.md quotes.
    #[test]
    fn a_resend_buffer_entry_costs_at_most_96_bytes_besides_its_payload() {
        println!("resend buffer entry: {} bytes, counted as {ENTRY_OVERHEAD}", std::mem::size_of::<Queued>());
        const { assert!(ENTRY_OVERHEAD <= 96) };
    }

    #[test]
    fn an_empty_buffer_takes_any_frame_and_a_full_one_none() {
        let stats = Stats::default();
        let mut out = OutStream::new();
        let big = cost(&tell(0)) * 10;
        assert!(out.fits(big, 1), "alone, a frame larger than the buffer goes");
        out.push(tell(0), &stats);
        let one = cost(&tell(1));
        assert!(out.fits(one, 2 * one));
        assert!(!out.fits(one, 2 * one - 1));
    }

    #[test]
    fn a_peer_that_knows_the_stream_resumes_it_where_it_stopped() {
        let stats = Stats::default();
        let mut out = OutStream::new();
        for n in 0..5 {
            out.push(tell(n), &stats);
        }
        out.ack(1, &mut Gone::default()).unwrap();
        let mut gone = Gone::default();
        let at = Position { tracking: out.id, received: 3 };
        assert_eq!(resumption(&mut out, at, &mut gone).unwrap(), Resumption::Resume { first: 4 });
        assert_eq!(gone.tells, 2);
        assert_eq!(out.resend.len(), 2);
        let back = Position { tracking: out.id, received: 2 };
        assert!(resumption(&mut out, back, &mut gone).is_err(), "a peer cannot unreceive");
    }

    /// A run of `n` tells of one type, each to its own target, with the
    /// payload `[i; 10]` for tell `i`.
    fn run(n: u8) -> Queued {
        let mut tells = super::super::TellBuffer::default();
        let mut outbox = VecDeque::new();
        for i in 0..n {
            let target = ActorId::from_uuid(uuid::Uuid::from_u128(100 + u128::from(i)));
            tells.tell_into(&mut outbox, target, "T::tell", "Tell", &[i; 10]);
        }
        assert_eq!(outbox.len(), 1, "one run");
        outbox.pop_front().unwrap()
    }

    #[test]
    fn an_acknowledgement_that_ends_inside_a_run_frees_only_its_first_frames() {
        let stats = Stats::default();
        let mut out = OutStream::new();
        out.push(tell(0), &stats);
        out.push(run(5), &stats);
        assert_eq!(out.next(), 7, "a run takes a number per tell");
        assert_eq!(out.resend.len(), 2);
        let one_frame = 4 + crate::frame::tell_len("T::tell", &[0; 10]);
        let before = out.bytes;
        let mut gone = Gone::default();
        // The lone tell and the run's first two.
        out.ack(3, &mut gone).unwrap();
        assert_eq!(gone.tells, 3);
        assert_eq!(out.resend.len(), 1, "the run stays, cut");
        assert_eq!(out.bytes, before - cost(&tell(0)) - 2 * one_frame);
        assert_eq!(out.next(), 7, "numbers do not move");
        let Queued::Tells { frames, count, .. } = &out.resend[0] else { panic!("the run") };
        assert_eq!(*count, 3);
        let left: Vec<u8> = run_frames(frames).map(|frame| frame[frame.len() - 1]).collect();
        assert_eq!(left, [2, 3, 4], "what is left starts at the first frame not acknowledged");
        // Resumed on a new connection: what is written again is exactly
        // the frames after the peer's position, each whole.
        let mut again = bytes::BytesMut::new();
        out.resend[0].put_again(&mut again);
        assert_eq!(run_frames(&again).count(), 3);
        assert_eq!(again.len(), 3 * one_frame);
        assert!(out.ack(7, &mut gone).is_err(), "frames never written");
        out.ack(6, &mut gone).unwrap();
        assert_eq!(gone.tells, 6);
        assert!(out.resend.is_empty());
        assert_eq!(out.bytes, 0);
    }

    #[test]
    fn a_lost_run_reports_each_tell_with_its_own_target() {
        let mut lost = Vec::new();
        lost_tells([run(4)], false, &mut lost);
        assert_eq!(lost.len(), 4);
        for (i, tell) in lost.iter().enumerate() {
            assert_eq!(tell.target, ActorId::from_uuid(uuid::Uuid::from_u128(100 + i as u128)));
            assert_eq!(tell.wire_name, "T::tell");
            assert_eq!(tell.message_type, "Tell");
            assert!(!tell.maybe_delivered);
        }
    }

    #[test]
    fn a_peer_that_does_not_know_a_written_stream_restarts_it() {
        let stats = Stats::default();
        let mut fresh = OutStream::new();
        let other = Position { tracking: 42, received: 7 };
        assert_eq!(resumption(&mut fresh, other, &mut Gone::default()).unwrap(), Resumption::Start);
        let mut out = OutStream::new();
        out.push(tell(1), &stats);
        assert_eq!(resumption(&mut out, other, &mut Gone::default()).unwrap(), Resumption::Restart);
        let old = out.id;
        let mut lost = Vec::new();
        lost_tells(out.restart(), true, &mut lost);
        assert_eq!(lost.len(), 1);
        assert!(lost[0].maybe_delivered);
        assert_eq!(lost[0].wire_name, "T::tell", "the wire name is read back from the frame");
        assert_ne!(out.id, old);
        assert!(!out.written());
    }
}
