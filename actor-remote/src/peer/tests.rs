//! A peer driven by hand: this module plays the far node on an in-memory
//! pipe, with the channel's keys, to check the write path byte by byte.

use super::*;
use crate::channel::{Opener, Sealer};
use crate::frame::Frame;
use crate::node::Node;
use actor_core::ActorSystem;
use futures::StreamExt;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio_util::codec::FramedRead;

/// The far end of one connection: reads what the node writes, and writes
/// to it, sealed with the connection's keys.
struct Far {
    frames: FramedRead<tokio::io::ReadHalf<DuplexStream>, Records>,
    write: tokio::io::WriteHalf<DuplexStream>,
    sealer: Sealer,
}

impl Far {
    async fn next(&mut self) -> Frame {
        let bytes = tokio::time::timeout(Duration::from_secs(5), self.frames.next())
            .await
            .expect("the node writes in time")
            .expect("the connection is open")
            .expect("every record opens");
        frame::decode(bytes.freeze()).unwrap()
    }

    /// Seals and writes frames (bodies) to the node.
    async fn send(&mut self, bodies: &[Vec<u8>]) {
        let mut plain = BytesMut::new();
        for body in bodies {
            put_frame(&mut plain, usize::MAX, |buf| buf.extend_from_slice(body));
        }
        let mut sealed = BytesMut::new();
        self.sealer.seal(&plain, &mut sealed);
        self.write.write_all(&sealed).await.unwrap();
    }
}

/// Attaches a connection over a pipe of `capacity` bytes to `peer`, and
/// returns its far end, once the node has said where it stands.
async fn connect(node: &Node, peer: &Arc<Peer>, capacity: usize) -> (Far, u64) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    let ((sealer, opener), (far_sealer, far_opener)) = crate::channel::tests::pair();
    let info = info(sealer, opener);
    let wire = Wire { direct: true, abort: None };
    assert!(peer.attach(&*node.inner, Box::pin(ours), info, BytesMut::new(), false, wire));
    let generation = peer.link().generation;
    let (read, write) = tokio::io::split(theirs);
    let far = Far { frames: FramedRead::new(read, Records::new(far_opener, 1 << 20)), write, sealer: far_sealer };
    (far, generation)
}

fn info(sealer: Sealer, opener: Opener) -> PeerInfo {
    let keys = crate::connection::SessionKeys { send: [0; 32], receive: [0; 32] };
    PeerInfo { node: "far".into(), incarnation: 1, address: String::new(), credit_window: 64, sealer, opener, keys }
}

fn target() -> ActorId {
    actor_core::ActorId::from_uuid(uuid::Uuid::from_u128(5))
}

fn resume(tracking: u64, received: u64) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame::resume(&mut buf, tracking, received, 1 << 20);
    buf.to_vec()
}

/// Waits until the writer has resumed the stream and handed the write
/// side to the link.
async fn until_direct(peer: &Peer) {
    for _ in 0..500 {
        if peer.link().sender.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the writer never handed the write side over");
}

async fn node() -> Node {
    Node::builder(ActorSystem::new()).secret("s").start().await.unwrap()
}

/// The node as its peers hold it.
fn host(node: &Node) -> Weak<dyn Host> {
    Arc::downgrade(&node.inner) as Weak<dyn Host>
}

fn new_peer(node: &Node) -> Arc<Peer> {
    Arc::new(Peer::new("far".into(), host(node), String::new(), 64, 1 << 20))
}

/// A direct write that the socket takes only in part leaves the rest of
/// its record at the front of the outbox: the writer sends it before
/// anything queued later, so the records on the wire stay whole and in
/// nonce order.
#[tokio::test]
async fn a_direct_write_that_the_socket_takes_in_part_is_finished_first_by_the_writer() {
    let node = node().await;
    let peer = new_peer(&node);
    let (mut far, _) = connect(&node, &peer, 16).await;
    assert!(matches!(far.next().await, Frame::Resume { tracking: 0, received: 0, .. }));
    far.send(&[resume(0, 0)]).await;
    let Frame::Stream { id, first: 1 } = far.next().await else { panic!("a new stream opens at 1") };
    until_direct(&peer).await;
    // A pipe that holds 16 bytes: an ask's record does not fit at once.
    let payload = vec![9u8; 100];
    let ask = Queued::Ask { corr: 1, target: target(), wire_name: "T::ask", payload: payload.clone(), context: None };
    peer.send_now(peer.link(), ask);
    // The socket took 16 bytes; the rest waits at the front, ahead of
    // this tell.
    assert!(matches!(peer.link().frames.front(), Some(Queued::Rest { .. })));
    peer.push(Queued::tell(target(), "T::tell", "Tell", &[1]));
    match far.next().await {
        Frame::Ask { corr: 1, target: t, payload: p, .. } => {
            assert_eq!(t, target());
            assert_eq!(&p[..], &payload[..]);
        }
        other => panic!("expected the ask first, got {other:?}"),
    }
    assert!(matches!(far.next().await, Frame::Tell { .. }));
    // Both are numbered frames of the stream, kept until acknowledged.
    assert_eq!(peer.link().out.resend.len(), 2);
    assert_eq!(peer.link().out.id, id);
    peer.close();
}

/// Credit queued quietly (granted by an ask's delivery) goes out ahead of
/// the reply, in the reply's own direct write: the outbox is empty once
/// `send_now` returns, without the writer, and both frames are numbered.
#[tokio::test]
async fn quiet_credit_goes_out_in_the_replys_direct_write() {
    let node = node().await;
    let peer = new_peer(&node);
    let (mut far, _) = connect(&node, &peer, 1 << 16).await;
    assert!(matches!(far.next().await, Frame::Resume { tracking: 0, received: 0, .. }));
    far.send(&[resume(0, 0)]).await;
    let Frame::Stream { id, first: 1 } = far.next().await else { panic!("a new stream opens at 1") };
    until_direct(&peer).await;
    peer.push_quiet(Queued::Credit { stream: 3, target: target(), count: 32 });
    assert_eq!(peer.link().frames.len(), 1, "queued, for the next write");
    peer.send_now(peer.link(), Queued::Reply { corr: 7, payload: vec![1, 2, 3] });
    assert!(peer.link().frames.is_empty(), "the direct write took the credit along");
    match far.next().await {
        Frame::Credit { stream: 3, target: t, count: 32 } => assert_eq!(t, target()),
        other => panic!("expected the credit first, got {other:?}"),
    }
    match far.next().await {
        Frame::Reply { corr: 7, payload } => assert_eq!(&payload[..], &[1, 2, 3]),
        other => panic!("expected the reply, got {other:?}"),
    }
    assert_eq!(peer.link().out.resend.len(), 2);
    assert_eq!(peer.link().out.id, id);
    peer.close();
}

/// The torn-frame case: a direct write that the socket took in part, whose
/// connection is replaced before the writing task puts the rest back. The
/// rest belonged to the old connection's records: it must not reach the
/// new one (its keys would not open it, and the stream would break); the
/// whole frame goes again from the resend buffer instead, once, in its
/// place.
#[tokio::test]
async fn the_rest_of_a_direct_write_never_goes_to_the_next_connection() {
    let node = node().await;
    let peer = new_peer(&node);
    let (mut far, old) = connect(&node, &peer, 16).await;
    assert!(matches!(far.next().await, Frame::Resume { .. }));
    far.send(&[resume(0, 0)]).await;
    let Frame::Stream { id, first: 1 } = far.next().await else { panic!("a new stream opens at 1") };
    until_direct(&peer).await;

    // What `send_now` does, stopped before the write side is put back.
    let mut sender = {
        let mut link = peer.link();
        let mut sender = link.sender.take().unwrap();
        let ask = Queued::Ask { corr: 7, target: target(), wire_name: "T::ask", payload: vec![3; 200], context: None };
        assert!(ask.put(&mut sender.plain, link.max_frame));
        link.out.push(ask, &peer.stats);
        sender
    };
    sender.seal();
    let (rest, failed) = write_now(&mut sender);
    assert!(failed.is_none());
    let rest = rest.expect("the pipe took 16 bytes of the record, not all");

    // Meanwhile the connection is lost and another replaces it.
    peer.connection_lost(old, "cut for the test");
    drop(far);
    let (mut far, _) = connect(&node, &peer, 1 << 16).await;
    // Now the writing task of the old connection gets to put things back.
    peer.finish_direct(old, sender, Some(rest), None);
    assert!(
        !peer.link().frames.iter().any(|f| matches!(f, Queued::Rest { .. })),
        "the rest of an old connection's record was queued for the new one"
    );

    // The far side received nothing whole of the old stream: it says so.
    assert!(matches!(far.next().await, Frame::Resume { .. }));
    far.send(&[resume(id, 0)]).await;
    assert!(matches!(far.next().await, Frame::Stream { id: i, first: 1 } if i == id));
    // The ask again, whole, once, as expired (its asker was failed with
    // the old connection), then what is queued after it.
    match far.next().await {
        Frame::Ask { corr: 7, context, payload, .. } => {
            assert_eq!(context.time_left, Some(Duration::ZERO));
            assert_eq!(payload.len(), 200);
        }
        other => panic!("expected the ask again, got {other:?}"),
    }
    peer.push(Queued::tell(target(), "T::tell", "Tell", &[1]));
    assert!(matches!(far.next().await, Frame::Tell { .. }));
    assert_eq!(peer.stats.replayed.load(Ordering::Relaxed), 1);
    peer.close();
}

/// A peer whose resend buffer holds `limit` bytes, connected, with its
/// stream open (`id`, numbered from 1).
async fn with_resend_limit(limit: usize) -> (Node, Arc<Peer>, Far, u64) {
    let node = node().await;
    let peer = Arc::new(Peer::new("far".into(), host(&node), String::new(), 64, limit));
    let (mut far, _) = connect(&node, &peer, 1 << 20).await;
    assert!(matches!(far.next().await, Frame::Resume { .. }));
    far.send(&[resume(0, 0)]).await;
    let Frame::Stream { id, first: 1 } = far.next().await else { panic!("a new stream opens at 1") };
    (node, peer, far, id)
}

/// What the resend buffer holds is bounded: past `resend_limit`, the
/// writer leaves numbered frames in the outbox until the peer
/// acknowledges, and never drops one.
#[tokio::test]
async fn a_full_resend_buffer_holds_frames_back_until_acknowledged() {
    let (_node, peer, mut far, id) = with_resend_limit(4096).await;
    for n in 0..20u8 {
        peer.push(Queued::tell(target(), "T::tell", "Tell", &[n; 1000]));
    }
    // About four fit; the rest wait.
    let mut got = 0u8;
    while let Ok(Some(Ok(bytes))) = tokio::time::timeout(Duration::from_millis(300), far.frames.next()).await {
        if let Frame::Tell { payload, .. } = frame::decode(bytes.freeze()).unwrap() {
            assert_eq!(payload[0], got);
            got += 1;
        }
    }
    assert!((1..20).contains(&got), "{got} of 20 written before any acknowledgement");
    assert!(peer.link().out.bytes <= 4096 + stream::cost(&Queued::Credit { stream: 0, target: target(), count: 0 }));
    assert_eq!(peer.link().frames.len() as u8, 20 - got);
    // Acknowledged: the rest go, in order.
    let mut ack = BytesMut::new();
    frame::ack(&mut ack, id, u64::from(got));
    far.send(&[ack.to_vec()]).await;
    while got < 20 {
        if let Frame::Tell { payload, .. } = far.next().await {
            assert_eq!(payload[0], got);
            got += 1;
            if got.is_multiple_of(3) {
                let mut ack = BytesMut::new();
                frame::ack(&mut ack, id, u64::from(got));
                far.send(&[ack.to_vec()]).await;
            }
        }
    }
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
fn a_restarted_stream_gives_back_all_credit_but_that_of_what_is_still_queued() {
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
    // An ask dropped with its connection gives its unit back once.
    send_one(&target);
    target.unsent();
    target.unsent();
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

#[tokio::test]
async fn a_closed_target_wakes_its_waiting_senders() {
    let target = Arc::new(Target::new(1));
    send_one(&target);
    let waiting = tokio::spawn({
        let target = target.clone();
        async move { target.credit.acquire().await.is_err() }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    target.close();
    assert!(tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap().unwrap());
}

/// Membership's probes go ahead of queued data, even when the resend
/// buffer is full and the data must wait for an acknowledgement: a busy
/// link does not get its node declared down. Cluster messages that must
/// keep their order with data (registry state, a notice of leaving) wait
/// their turn.
#[tokio::test]
async fn probes_overtake_data_held_by_a_full_resend_buffer_and_other_cluster_messages_do_not() {
    let (_node, peer, mut far, id) = with_resend_limit(4096).await;
    let tell = |n: u8| Queued::tell(target(), "T::tell", "Tell", &[n; 4000]);
    for n in 0..20u8 {
        peer.push(tell(n));
    }
    // The resend buffer fills; the rest of the tells wait for an
    // acknowledgement that does not come. Cluster messages are numbered
    // too: the acknowledgements below count them.
    let mut written = 0u8;
    while let Ok(Some(Ok(bytes))) = tokio::time::timeout(Duration::from_millis(300), far.frames.next()).await {
        match frame::decode(bytes.freeze()).unwrap() {
            Frame::Tell { .. } => written += 1,
            Frame::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((1..20).contains(&written), "{written} of 20 written before any acknowledgement");
    // Not even room for a small frame.
    let small = Queued::System(System::Cluster(Vec::new()));
    assert!(!peer.link().out.fits(stream::cost(&small), 4096), "the resend buffer is full");

    // Two probes and, between them, a registry update.
    assert!(peer.send_cluster(b"probe 1".to_vec(), Lane::Ahead));
    assert!(peer.send_cluster(b"state".to_vec(), Lane::Behind));
    assert!(peer.send_cluster(b"probe 2".to_vec(), Lane::Ahead));
    for expected in [&b"probe 1"[..], b"probe 2"] {
        match far.next().await {
            Frame::System(System::Cluster(bytes)) => assert_eq!(bytes, expected),
            Frame::Ping => {}
            other => panic!("expected a probe while the tells wait, got {other:?}"),
        }
    }
    while let Ok(Some(Ok(bytes))) = tokio::time::timeout(Duration::from_millis(200), far.frames.next()).await {
        let frame = frame::decode(bytes.freeze()).unwrap();
        assert!(matches!(frame, Frame::Ping), "nothing but a ping leaves before the acknowledgement: {frame:?}");
    }

    // Acknowledged: every tell, in order, then the update behind them.
    let mut received = u64::from(written) + 2;
    let mut ack = BytesMut::new();
    frame::ack(&mut ack, id, received);
    far.send(&[ack.to_vec()]).await;
    let mut next_tell = written;
    loop {
        match far.next().await {
            Frame::Tell { payload, .. } => {
                assert_eq!(payload[0], next_tell);
                next_tell += 1;
                // Each tell fills the buffer alone: acknowledged one by one.
                received += 1;
                let mut ack = BytesMut::new();
                frame::ack(&mut ack, id, received);
                far.send(&[ack.to_vec()]).await;
            }
            Frame::System(System::Cluster(bytes)) => {
                assert_eq!(bytes, b"state", "the update comes after every tell queued before it");
                assert_eq!(next_tell, 20);
                break;
            }
            Frame::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    peer.close();
}

/// The frames of a run of tells `TellBuffer` made.
fn frame_of(tell: &Queued) -> &[u8] {
    let Queued::Tells { frames, .. } = tell else { panic!("a run of tells") };
    frames
}

/// A tell kept for resending is never written over, however many tells
/// follow it: its chunk is taken again only once nothing holds a frame of
/// it. And once nothing does, the link goes round its chunks instead of
/// allocating new ones.
#[test]
fn tells_share_chunks_that_are_reused_only_once_every_frame_of_them_is_gone() {
    let mut tells = TellBuffer::default();
    let mut tell = |n: u32| tells.tell(target(), "T::tell", "Tell", &n.to_le_bytes());
    let kept = tell(0);
    let expected = frame_of(&kept).to_vec();
    let chunk = frame_of(&kept).as_ptr() as usize;
    let in_first_chunk = |t: &Queued| (chunk..chunk + TellBuffer::CHUNK).contains(&(frame_of(t).as_ptr() as usize));
    // Many chunks' worth, each tell dropped at once (acknowledged): the
    // first chunk is never taken again while `kept` holds a frame of it.
    for n in 1..20_000 {
        let t = tell(n);
        assert_eq!(&frame_of(&t)[frame_of(&t).len() - 4..], &n.to_le_bytes());
        assert!(!in_first_chunk(&t) || n < 1000, "tell {n} landed in a chunk still held");
    }
    assert_eq!(frame_of(&kept), &expected[..], "the kept frame is intact");
    drop(kept);
    // Now free: the buffer goes round the chunks it has.
    let (mut chunks, mut next) = (std::collections::HashSet::new(), 0);
    for n in 0..20_000 {
        let t = tell(n);
        let at = frame_of(&t).as_ptr() as usize;
        if at != next {
            chunks.insert(at);
        }
        next = at + frame_of(&t).len();
    }
    assert!(chunks.len() <= TellBuffer::SPARE + 2, "{} chunks for tells acknowledged at once", chunks.len());
}

/// Consecutive tells of one message type join one run, written back to
/// back in one chunk; a tell of another type starts a run of its own, and
/// a run the writer took grows no more, its room going to the next run.
#[test]
fn tells_of_one_type_join_one_run_until_another_type_or_the_writer_cuts_it() {
    let mut tells = TellBuffer::default();
    let mut outbox = VecDeque::new();
    for n in 0..100u32 {
        tells.tell_into(&mut outbox, target(), "T::tell", "Tell", &n.to_le_bytes());
    }
    assert_eq!(outbox.len(), 1);
    let Some(Queued::Tells { frames, count: 100, .. }) = outbox.back() else { panic!("one run of 100") };
    let told: Vec<u32> =
        stream::run_frames(frames).map(|f| u32::from_le_bytes(f[f.len() - 4..].try_into().unwrap())).collect();
    assert_eq!(told, (0..100).collect::<Vec<_>>(), "every frame, in order");
    assert!(stream::run_frames(frames).all(|f| frame::tell_target(f) == target()));
    // Another type, then the first again: three runs, in sending order.
    tells.tell_into(&mut outbox, target(), "T::other", "Other", &[1]);
    tells.tell_into(&mut outbox, target(), "T::tell", "Tell", &[2]);
    let counts: Vec<u64> = outbox.iter().map(Queued::frames).collect();
    assert_eq!(counts, [100, 1, 1]);
    // The writer takes the outbox: its last run keeps no room, and the
    // next tell starts a run right after it in the same chunk.
    let mut batch = std::mem::take(&mut outbox);
    tells.take_room(&mut batch);
    let Some(Queued::Tells { frames: last, .. }) = batch.back() else { panic!("a run") };
    assert_eq!(last.capacity(), last.len(), "no room left in a taken run");
    let end = last.as_ptr() as usize + last.len();
    tells.tell_into(&mut outbox, target(), "T::tell", "Tell", &[3]);
    assert_eq!(outbox.len(), 1);
    assert_eq!(frame_of(&outbox[0]).as_ptr() as usize, end, "the room went on to the next run");
    let written: usize = batch.iter().map(|q| frame_of(q).len()).sum();
    let frame_len = |name, payload: &[u8]| 4 + frame::tell_len(name, payload);
    assert_eq!(written, 100 * frame_len("T::tell", &[0; 4]) + frame_len("T::other", &[1]) + frame_len("T::tell", &[2]));
}

/// A run grows to a quarter of the resend buffer at most, so that the
/// buffer's bound is passed only as a lone frame would pass it.
#[test]
fn a_run_stays_within_a_quarter_of_the_resend_buffer() {
    let mut tells = TellBuffer::new(1000);
    let mut outbox = VecDeque::new();
    for n in 0..50u8 {
        tells.tell_into(&mut outbox, target(), "T::tell", "Tell", &[n; 10]);
    }
    assert!(outbox.len() > 1);
    assert!(outbox.iter().all(|q| frame_of(q).len() <= 250), "every run within 250 bytes");
    assert_eq!(outbox.iter().map(Queued::frames).sum::<u64>(), 50);
}

/// Told to close, a connection's reader stops at once, though nothing
/// arrives on its socket and its heartbeat is far off: the next
/// connection's reader waits for it to stop.
#[tokio::test]
async fn a_closed_connections_reader_stops_at_once_on_a_silent_socket() {
    let limits = crate::limits::Limits { heartbeat_timeout: Duration::from_secs(60), ..Default::default() };
    let node = Node::builder(ActorSystem::new()).secret("s").limits(limits).start().await.unwrap();
    let peer = new_peer(&node);
    let (mut far, generation) = connect(&node, &peer, 1 << 16).await;
    assert!(matches!(far.next().await, Frame::Resume { .. }));
    far.send(&[resume(0, 0)]).await;
    assert!(matches!(far.next().await, Frame::Stream { .. }));
    until_direct(&peer).await;
    assert!(peer.reading.try_lock().is_err(), "the reader holds its place in the peer's stream");
    peer.connection_lost(generation, "closed by the test");
    let stopped = async {
        while peer.reading.try_lock().is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("the reader stopped when told, not at its heartbeat");
    drop(far);
}
