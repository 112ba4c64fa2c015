//! What a link delivers across the loss of a peer process: the `remote-node`
//! binary killed with SIGKILL and restarted on the same address, or frozen
//! with SIGSTOP and resumed while its actor is busy. Every tell that
//! returned `Ok` is handled or reported as a dead letter (nothing vanishes),
//! handled at most once and in the order sent, and no call is left waiting
//! once the peer is back.
//!
//! `RELIABILITY_FULL=1` runs the larger versions recorded in RELIABILITY.md.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::DeadLetterReason;
use actor_core::error::SendError;
use actor_core::prelude::*;
use actor_remote::{Limits, Node};
use support::remote_node::{self, Counter, CounterClient, signal};
use support::{bounded, fast_limits, free_port, scale};

const SECRET: &str = "delivery cookie";

/// Redials at most 100 ms apart.
fn limits() -> Limits {
    Limits { reconnect_max: Duration::from_millis(100), ..fast_limits() }
}

/// Dead letters of `system`, by reason.
#[derive(Default, Debug)]
struct Letters {
    /// `NodeLost`: tells the link will not deliver.
    not_sent: u64,
    maybe_delivered: u64,
    /// `NodeDown`: messages refused at the sender (which got the error).
    refused: u64,
    other: Vec<String>,
}

fn collect(system: &ActorSystem) -> Arc<Mutex<Letters>> {
    let letters = Arc::new(Mutex::new(Letters::default()));
    let mut rx = system.dead_letters();
    let seen = letters.clone();
    tokio::spawn(async move {
        loop {
            let letter = rx.recv().await.expect("the test keeps up with the dead letters");
            let mut seen = seen.lock().unwrap();
            match letter.reason {
                DeadLetterReason::NodeLost { maybe_delivered: true } => seen.maybe_delivered += 1,
                DeadLetterReason::NodeLost { maybe_delivered: false } => seen.not_sent += 1,
                DeadLetterReason::NodeDown => seen.refused += 1,
                other => seen.other.push(format!("{other:?}: {:?}", letter.detail)),
            }
        }
    });
    letters
}

/// A temporary file name for a peer's log of what it handled.
fn log_path(tag: &str) -> std::path::PathBuf {
    let nonce: u64 = rand::random();
    std::env::temp_dir().join(format!("actor-remote-{tag}-{}-{nonce:x}.log", std::process::id()))
}

/// The `(sender, seq)` lines a peer logged, in the order it handled them.
fn handled(path: &std::path::Path) -> Vec<(u32, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (sender, seq) = line.split_once(' ')?;
            Some((sender.parse().ok()?, seq.parse().ok()?))
        })
        .collect()
}

/// One run: tells stream from several senders to the peer process; it is
/// killed mid-stream and restarted on the same address. Returns what the
/// figure needs.
async fn kill_and_restart(run: usize) -> String {
    let address = format!("tcp://127.0.0.1:{}", free_port());
    let first_log = log_path("killed");
    let second_log = log_path("restarted");
    let mut child = remote_node::start_with(&address, SECRET, &["--log", first_log.to_str().unwrap()]).await;
    let system = ActorSystem::builder().dead_letter_capacity(1 << 20).build();
    let letters = collect(&system);
    let node = Node::builder(system).name("here").secret(SECRET).limits(limits()).start().await.unwrap();
    let peer = node.connect(&address).await.unwrap();
    let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();

    // Senders tell without pause; each stops at its first refusal (the
    // old incarnation's actor is gone once the new one connects).
    const SENDERS: u32 = 4;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    // Why each sender stopped, and when.
    let refused_at: Arc<Mutex<Vec<(String, bool, Instant)>>> = Arc::default();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (counter, sent, refused_at) = (counter.clone(), sent.clone(), refused_at.clone());
            tokio::spawn(async move {
                for seq in 0.. {
                    match counter.tell_record(sender, seq).await {
                        Ok(()) => sent[sender as usize].store(seq + 1, Ordering::Release),
                        Err(e) => {
                            let expected = matches!(e, SendError::Closed(_) | SendError::NodeDown(_));
                            refused_at.lock().unwrap().push((format!("{e:?}"), expected, Instant::now()));
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    let total = |sent: &[AtomicU64]| sent.iter().map(|s| s.load(Ordering::Acquire)).sum::<u64>();
    while total(&sent) < 20_000 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    signal(&child, "-KILL");
    let _ = child.wait().await;

    // While the peer is down: an ask fails at once, and the senders soon
    // wait for credit (the window's worth is queued).
    let asked = Instant::now();
    let err = counter.report().await.unwrap_err();
    assert!(err.is_node_down(), "{err:?}");
    assert!(asked.elapsed() < Duration::from_millis(200), "an ask to a down peer failed at once");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let _child = remote_node::start_with(&address, SECRET, &["--log", second_log.to_str().unwrap()]).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !node.peers().contains(&peer) {
        assert!(Instant::now() < deadline, "reconnected in time");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let connected = Instant::now();
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(5), sender).await.expect("a sender was left waiting").unwrap();
    }
    let waited = refused_at.lock().unwrap().iter().map(|(_, _, at)| at.saturating_duration_since(connected)).max();
    let waited = waited.unwrap_or_default();
    for (e, expected, _) in refused_at.lock().unwrap().iter() {
        assert!(expected, "a sender stopped with {e}");
    }
    assert!(waited < Duration::from_secs(1), "a call waited {waited:?} after the new incarnation connected");

    // The reports come with the new connection; give them a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = handled(&first_log);
    let mut last = vec![None::<u64>; SENDERS as usize];
    for &(sender, seq) in &log {
        let expected = last[sender as usize].map_or(0, |l| l + 1);
        assert_eq!(seq, expected, "sender {sender}: handled {seq} after {:?} (reordered, doubled or skipped)", last);
        last[sender as usize] = Some(seq);
    }
    let handled_count = log.len() as u64;
    let sent = total(&sent);
    let letters = std::mem::take(&mut *letters.lock().unwrap());
    assert!(letters.other.is_empty(), "unexpected dead letters: {:?}", letters.other);
    // The senders' last tells, and the ask while the peer was down, were
    // refused: the callers got the error (and a dead letter says so).
    assert!(letters.refused <= u64::from(SENDERS) + 1, "{letters:?}");
    let reported = letters.not_sent + letters.maybe_delivered;
    // Exact at the link: each tell sent was acknowledged by the peer node
    // (it reached the actor's mailbox there) or reported.
    let acked = node.link_stats(&peer).unwrap().acked_tells;
    assert_eq!(sent, acked + reported, "sent {sent}, acknowledged {acked}, reported {letters:?}");
    // What the killed process handled: what it acknowledged, less what
    // died in its actor's mailbox, plus perhaps some it received but had
    // not acknowledged yet (reported as maybe delivered).
    let handled_unacked = handled_count.saturating_sub(acked);
    assert!(handled_unacked <= letters.maybe_delivered, "handled {handled_count}, acknowledged {acked}, {letters:?}");
    let died_in_mailbox = acked.saturating_sub(handled_count);

    // The new incarnation: a fresh reference, and a clean stream.
    let fresh: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
    for seq in 0..1_000 {
        fresh.tell_record(9, seq).await.unwrap();
    }
    assert_eq!(fresh.report().await.unwrap(), (1_000, 0));
    let _ = std::fs::remove_file(&first_log);
    let _ = std::fs::remove_file(&second_log);
    format!(
        "run {run}: sent {sent} = acknowledged {acked} + dead letters {reported} ({} not sent, {} maybe \
         delivered); the killed process handled {handled_count} in order ({handled_unacked} of them unacknowledged, \
         {died_in_mailbox} acknowledged ones died in its mailbox); last call ended {waited:?} after the new \
         incarnation connected",
        letters.not_sent, letters.maybe_delivered
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_killed_and_restarted_mid_stream_loses_nothing_unreported_and_leaves_nobody_waiting() {
    bounded(Duration::from_secs(300), async {
        let runs = scale(1, 5);
        for run in 0..runs {
            let figure = kill_and_restart(run).await;
            println!("figure sigkill-restart: {figure}");
        }
    })
    .await;
}

/// One run: senders stream tells to a peer process whose actor is busy
/// (deliveries wait for room in its mailbox); the process is stopped for
/// longer than the heartbeat timeout, so this node gives the connection up
/// and dials again, then resumed: the old connection's reader and the new
/// one's meet. Returns (sent, handled, violations, replayed frames).
async fn freeze_and_resume(per_sender: u64) -> (u64, u64, u64, u64) {
    let address = format!("tcp://127.0.0.1:{}", free_port());
    let mut child = remote_node::start_with(&address, SECRET, &["--busy-ms", "2"]).await;
    let node = Node::builder(ActorSystem::new()).name("here").secret(SECRET).limits(limits()).start().await.unwrap();
    let letters = collect(node.system());
    let peer = node.connect(&address).await.unwrap();
    let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
    const SENDERS: u32 = 4;
    let progress = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (counter, progress) = (counter.clone(), progress.clone());
            tokio::spawn(async move {
                for seq in 0..per_sender {
                    counter.tell_record(sender, seq).await.expect("the peer's process lives: no refusal");
                    progress.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while progress.load(Ordering::Relaxed) < u64::from(SENDERS) * per_sender / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    signal(&child, "-STOP");
    // Past the heartbeat timeout (1 s): the connection is given up and
    // dialed again; the new one waits in the frozen process's backlog.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    signal(&child, "-CONT");
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender).await.expect("the senders finish").unwrap();
    }
    let sent = u64::from(SENDERS) * per_sender;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (handled, violations) = loop {
        match counter.report().timeout(Duration::from_secs(2)).await {
            Ok((handled, violations)) if handled >= sent || Instant::now() > deadline => break (handled, violations),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let letters = std::mem::take(&mut *letters.lock().unwrap());
    assert!(
        letters.other.is_empty() && letters.not_sent + letters.maybe_delivered + letters.refused == 0,
        "{letters:?}"
    );
    let stats = node.link_stats(&peer).unwrap();
    assert!(stats.connections >= 2, "the frozen connection was given up: {stats:?}");
    let replayed = stats.replayed;
    let _ = child.kill().await;
    (sent, handled, violations, replayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_peer_resumed_while_its_actor_is_busy_keeps_every_senders_order() {
    bounded(Duration::from_secs(600), async {
        let runs = scale(2, 20);
        let per_sender = scale(3_000, 10_000) as u64;
        let mut replayed_total = 0;
        for run in 0..runs {
            let (sent, handled, violations, replayed) = freeze_and_resume(per_sender).await;
            assert_eq!(violations, 0, "run {run}: a sender's order broke ({violations} violations)");
            assert_eq!(handled, sent, "run {run}: the peer lived, so every tell is handled exactly once");
            replayed_total += replayed;
        }
        println!(
            "figure sigstop-sigcont: {runs} runs of 4 x {per_sender} tells, the peer frozen 1.6 s mid-stream with \
             a busy actor: 0 reorders, 0 lost, 0 duplicated; {replayed_total} frames written again in all"
        );
    })
    .await;
}
