//! The writer task of one connection.
//!
//! It starts once the previous connection's writer has ended (so frames
//! that one had in hand are in the resend buffer), says where this node
//! stands in the peer's stream (`Resume`), waits to hear where the peer
//! stands in this node's, and writes again what the peer did not receive.
//! Then it drains the outbox into the socket, many frames per write,
//! keeping every numbered frame in the resend buffer until acknowledged;
//! while that buffer is full it writes nothing numbered, so senders wait
//! for credit (nothing is dropped). It carries acknowledgements of the
//! peer's stream on everything it writes, and pings when idle.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;
use tokio::sync::futures::Notified;
use tokio::sync::oneshot;

use super::stream::{self, Lost, Position, Resumption};
use super::{Close, Ending, Link, Peer, Queued, Sender, put_frame};
use crate::frame;

/// What a connection's writer starts with.
pub(super) struct Writing {
    pub(super) sender: Sender,
    /// Where this node stands in the peer's stream (tracking, received),
    /// from this connection's reader once the previous one has stopped.
    pub(super) started: oneshot::Receiver<(u64, u64)>,
    /// Where the peer stands in this node's stream (its `Resume`).
    pub(super) resumed: oneshot::Receiver<Position>,
}

/// Why the writer stops: the connection was closed (by whoever noticed
/// its loss), or this writer found it broken.
enum Stop {
    Closed,
    Broken(String),
}

pub(super) async fn write_loop(
    peer: Arc<Peer>,
    generation: u64,
    writing: Writing,
    close: Arc<Close>,
    limits: crate::limits::Limits,
) {
    let closed = close.notified();
    tokio::pin!(closed);
    // Registered now, so a close before the first wait is not missed.
    closed.as_mut().enable();
    let Writing { mut sender, started, resumed } = writing;
    // One writer at a time: the previous connection's has stopped, and
    // whatever it had in hand is in the resend buffer.
    let turn = tokio::select! {
        biased;
        () = closed.as_mut() => None,
        turn = peer.writing.clone().lock_owned() => Some(turn),
    };
    let Some(_turn) = turn else { return };
    let started = start(&peer, generation, &mut sender, closed.as_mut(), started, resumed).await;
    let outcome = match started {
        Ok(stream) => run(&peer, generation, sender, closed.as_mut(), &limits, stream).await,
        Err(stop) => {
            drop(sender);
            Err(stop)
        }
    };
    if let Err(Stop::Broken(why)) = outcome {
        peer.connection_lost(generation, &why);
    }
    // The connection is over: close our side of it.
    let sender = {
        let mut link = peer.link();
        if link.generation == generation { link.sender.take() } else { None }
    };
    if let Some(mut sender) = sender {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(100), sender.write.shutdown()).await;
    }
}

/// Writes what `sender.sealed` holds, unless the connection is closed
/// first; empties the buffers.
async fn write_out(sender: &mut Sender, closed: Pin<&mut Notified<'_>>) -> Result<(), Stop> {
    let result = tokio::select! {
        biased;
        () = closed => Err(Stop::Closed),
        written = sender.write.write_all(&sender.sealed) => written.map_err(|e| Stop::Broken(format!("write failed: {e}"))),
    };
    sender.clear();
    result
}

/// Resumes the stream on a new connection; returns its id.
async fn start(
    peer: &Arc<Peer>,
    generation: u64,
    sender: &mut Sender,
    mut closed: Pin<&mut Notified<'_>>,
    started: oneshot::Receiver<(u64, u64)>,
    resumed: oneshot::Receiver<Position>,
) -> Result<u64, Stop> {
    let (tracking, received) = tokio::select! {
        biased;
        () = closed.as_mut() => return Err(Stop::Closed),
        at = started => at.map_err(|_| Stop::Closed)?,
    };
    // Acknowledge after a quarter of what this node keeps unacknowledged,
    // so the peer's acknowledgements come long before this buffer fills.
    let ack_every = u32::try_from(peer.resend_limit / 4).unwrap_or(u32::MAX).max(1);
    put_frame(&mut sender.plain, usize::MAX, |buf| frame::resume(buf, tracking, received, ack_every));
    // The resume acknowledges what it says.
    peer.link().ack_sent = (tracking, received);
    sender.seal();
    write_out(sender, closed.as_mut()).await?;

    let position = tokio::select! {
        biased;
        () = closed.as_mut() => return Err(Stop::Closed),
        at = resumed => at.map_err(|_| Stop::Closed)?,
    };
    let mut gone = stream::Gone::default();
    let mut lost = Vec::new();
    let (id, replayed) = {
        let mut link = peer.link();
        if !link.up_on(generation) {
            return Err(Stop::Closed);
        }
        match stream::resumption(&mut link.out, position, &mut gone).map_err(Stop::Broken)? {
            Resumption::Resume { .. } | Resumption::Start => {}
            Resumption::Restart => restart_stream(peer, &mut link, &mut lost),
        }
        let first = link.out.acked + 1;
        let id = link.out.id;
        put_frame(&mut sender.plain, usize::MAX, |buf| frame::stream(buf, id, first));
        for queued in &link.out.resend {
            queued.put_again(&mut sender.plain);
        }
        link.put_ack(peer, &mut sender.plain);
        (id, link.out.frames)
    };
    peer.stats.acked(&mut gone);
    peer.stats.replayed.fetch_add(replayed, Ordering::Relaxed);
    if !lost.is_empty()
        && let Some(node) = peer.node()
    {
        peer.report(&*node, lost, Ending::Forgotten, "no longer knew this node's stream (it had forgotten this node)");
    }
    if replayed > 0 {
        tracing::debug!(peer = %peer.name, frames = replayed, "wrote again what the peer had not received");
    }
    sender.seal();
    write_out(sender, closed).await?;
    Ok(id)
}

/// The peer no longer knows this node's stream, though frames of it were
/// written (it forgot this node, which does not happen while it keeps a
/// link to it): the stream starts over. What it held unacknowledged is
/// lost; the outbox goes out on the new stream, and the peer counts credit
/// from nothing, so every unit comes back but those of what the outbox
/// holds.
fn restart_stream(peer: &Peer, link: &mut Link, lost: &mut Vec<Lost>) {
    stream::lost_tells(link.out.restart(), true, lost);
    peer.stats.restarts.fetch_add(1, Ordering::Relaxed);
    let mut queued = std::collections::HashMap::<actor_core::ActorId, usize>::new();
    for frame in &link.frames {
        match frame {
            Queued::Tells { frames, .. } => {
                for tell in stream::run_frames(frames) {
                    *queued.entry(crate::frame::tell_target(tell)).or_default() += 1;
                }
            }
            Queued::Ask { target, .. } => *queued.entry(*target).or_default() += 1,
            _ => {}
        }
    }
    for target in peer.targets.iter() {
        target.reset_to(queued.get(target.key()).copied().unwrap_or(0));
    }
}

/// What the writer found to do.
enum Take {
    /// The connection is no longer the one up.
    Gone,
    /// Nothing now.
    Nothing,
    /// The write side, and what the resend buffer held when it was taken.
    Write(Sender, usize),
}

/// Takes the write side of connection `generation` if there is something
/// to write (frames, while the resend buffer has room, or an
/// acknowledgement the reader asked for) and nobody is writing; the
/// outbox goes into `batch`.
fn take(peer: &Peer, generation: u64, batch: &mut VecDeque<Queued>, ping: bool) -> Take {
    let mut link = peer.link();
    if !link.up_on(generation) {
        return Take::Gone;
    }
    let frames = match link.frames.front() {
        None => false,
        Some(Queued::Rest { .. }) => true,
        // Only if the first frame fits: writing none would spin.
        Some(first) => {
            !first.is_numbered()
                || first.passes_the_resend_bound()
                || link.out.fits(stream::cost(first), peer.resend_limit)
        }
    };
    let ack = peer.ack_wanted.load(Ordering::Acquire);
    if !(frames || ack || ping) {
        return Take::Nothing;
    }
    // `None` while a sender writes directly: it wakes us when it puts the
    // write side back with frames queued (and carries the acknowledgement).
    let Some(sender) = link.sender.take() else { return Take::Nothing };
    peer.ack_wanted.store(false, Ordering::Release);
    if frames {
        std::mem::swap(&mut link.frames, batch);
        // The outbox's last run of tells grows no more: its room goes back.
        link.tells.take_room(batch);
    }
    let bytes = link.out.bytes;
    Take::Write(sender, bytes)
}

/// Drains the outbox into the socket until the connection ends.
async fn run(
    peer: &Arc<Peer>,
    generation: u64,
    sender: Sender,
    mut closed: Pin<&mut Notified<'_>>,
    limits: &crate::limits::Limits,
    stream: u64,
) -> Result<(), Stop> {
    // From now on senders may write directly, and the queued frames go.
    {
        let mut link = peer.link();
        if !link.up_on(generation) {
            return Err(Stop::Closed);
        }
        link.sender = Some(sender);
    }
    let mut batch = VecDeque::new();
    // One heartbeat timer for the connection: it fires once per interval,
    // and sends a ping only if nothing was written since.
    let heartbeat = tokio::time::sleep(limits.heartbeat_interval);
    tokio::pin!(heartbeat);
    let mut last_write = tokio::time::Instant::now();
    loop {
        let (sender, held, ping) = match take(peer, generation, &mut batch, false) {
            Take::Gone => return Err(Stop::Closed),
            Take::Write(sender, held) => (sender, held, false),
            Take::Nothing => {
                tokio::select! {
                    biased;
                    () = closed.as_mut() => return Err(Stop::Closed),
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
                        // no ping needed. Whatever was queued meanwhile goes
                        // out with the ping (within the resend buffer's room).
                        match take(peer, generation, &mut batch, true) {
                            Take::Gone => return Err(Stop::Closed),
                            Take::Nothing => continue,
                            Take::Write(sender, held) => (sender, held, true),
                        }
                    }
                }
            }
        };
        write_batch(peer, generation, stream, sender, &mut batch, held, ping, limits, closed.as_mut()).await?;
        last_write = tokio::time::Instant::now();
    }
}

/// Writes a batch taken from the outbox (as much of it as the resend
/// buffer has room for; the rest goes back to the front of the outbox),
/// with an acknowledgement if there is news, and a ping if asked.
#[allow(clippy::too_many_arguments)]
async fn write_batch(
    peer: &Arc<Peer>,
    generation: u64,
    stream: u64,
    mut sender: Sender,
    batch: &mut VecDeque<Queued>,
    held: usize,
    ping: bool,
    limits: &crate::limits::Limits,
    closed: Pin<&mut Notified<'_>>,
) -> Result<(), Stop> {
    // Where the resend buffer would overflow, the batch is cut: the first
    // numbered frame always goes when the buffer is empty, however large,
    // and a cluster message always goes.
    let mut bytes = held;
    let mut cut = batch.len();
    for (i, queued) in batch.iter().enumerate() {
        if queued.is_numbered() {
            let cost = stream::cost(queued);
            if bytes > 0 && bytes + cost > peer.resend_limit && !queued.passes_the_resend_bound() {
                cut = i;
                break;
            }
            bytes += cost;
        }
    }
    let mut back = (cut < batch.len()).then(|| batch.split_off(cut));
    // What the frames kept for resending add to the buffer.
    let mut kept = bytes - held;
    // Encoded outside the lock; this task holds the write side, so nobody
    // else numbers frames meanwhile.
    let mut skipped = Vec::new();
    for (i, queued) in batch.iter().enumerate() {
        if let Queued::Rest { generation: of, bytes } = queued {
            // The end of a record a sender began on this connection: out
            // first, as it is.
            if *of == generation {
                sender.seal();
                sender.sealed.extend_from_slice(bytes);
            }
            continue;
        }
        if !queued.put(&mut sender.plain, limits.max_frame) {
            tracing::warn!(peer = %peer.name, "a frame over the limit was not sent");
            kept -= stream::cost(queued);
            skipped.push(i);
        }
    }
    let mut lost = Vec::new();
    let same_stream = {
        let mut link = peer.link();
        let same = link.out.id == stream;
        if same {
            if skipped.is_empty() {
                link.out.keep_all(batch.drain(..).filter(Queued::is_numbered), kept);
            } else {
                let numbered = batch.drain(..).enumerate().filter(|(i, q)| q.is_numbered() && !skipped.contains(i));
                link.out.keep_all(numbered.map(|(_, q)| q), kept);
            }
            peer.stats.peak(link.out.bytes);
            link.put_ack(peer, &mut sender.plain);
            if let Some(back) = back.take() {
                for queued in back.into_iter().rev() {
                    link.frames.push_front(queued);
                }
            }
        }
        same
    };
    if !same_stream {
        // The link ended while these were in hand (the peer restarted or
        // was given up, and its stream with it): they never leave.
        stream::lost_tells(batch.drain(..).chain(back.into_iter().flatten()), false, &mut lost);
        if let Some(node) = peer.node() {
            peer.report(&*node, lost, Ending::Restarted, "went away");
        }
        sender.clear();
        return Err(Stop::Closed);
    }
    if ping {
        put_frame(&mut sender.plain, limits.max_frame, frame::ping);
    }
    sender.seal();
    let written = write_out(&mut sender, closed).await;
    put_sender(peer, generation, sender);
    written
}

/// Puts the write side back after a write (dropping it if its connection
/// has been replaced meanwhile).
fn put_sender(peer: &Peer, generation: u64, sender: Sender) {
    let mut link = peer.link();
    if link.generation == generation {
        link.sender = Some(sender);
    }
}
