//! Crash recovery with a real child process killed by SIGKILL mid-stream.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_durable::{Delivery, Store, spawn_durable, spawn_event_sourced};
use tokio::sync::mpsc as tokio_mpsc;

/// The same running total as the child's: its very file.
#[path = "../src/bin/crash_child/total.rs"]
mod total;

use total::Total;

const CHILD: &str = env!("CARGO_BIN_EXE_durable-crash-child");

/// Starts the child, forwards its stdout lines, and SIGKILLs it as soon as
/// `enough` says so (or after 20 s). Returns every line it printed.
fn run_and_kill(mode: &str, path: &Path, mut enough: impl FnMut(&str) -> bool) -> Vec<String> {
    let mut child: Child = Command::new(CHILD)
        .args([mode, path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let stop = enough(&line);
                lines.push(line);
                if stop {
                    break;
                }
            }
            Err(_) => panic!("the child did not get far enough in 20 s; it printed {} lines", lines.len()),
        }
    }
    child.kill().expect("SIGKILL the child"); // Child::kill is SIGKILL on Unix.
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    // Whatever it printed before it died.
    lines.extend(rx.iter());
    reader.join().unwrap();
    lines
}

/// Collects what a restarted consumer is given.
struct Collector {
    out: tokio_mpsc::UnboundedSender<Delivery<(u32, u64)>>,
}

impl Actor for Collector {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<(u32, u64)>> for Collector {
    async fn handle(&mut self, d: Delivery<(u32, u64)>, _: &mut Context<Self>) {
        let _ = self.out.send(d);
    }
}

/// Kills in the normal run; `RELIABILITY_FULL=1` makes 60.
fn kills() -> u64 {
    if std::env::var_os("RELIABILITY_FULL").is_some() { 60 } else { 1 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_redelivers_every_unacked_message_in_order_and_no_acked_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let (mut acknowledged, mut redelivered) = (0, 0);
    let kills = kills();
    for kill in 0..kills {
        // Kill at a different depth each time: after 150 to 550 tells
        // returned, once the consumer has acknowledged something.
        let target = 150 + (kill * 7_919) % 400;
        let (a, r) = kill_once(&path, target).await;
        acknowledged += a;
        redelivered += r;
    }
    println!(
        "figure kill_9: {kills} kills, {acknowledged} tells acknowledged before a kill, none lost; \
         {redelivered} messages redelivered after a kill, all flagged, in order"
    );
}

/// Runs the child until `target` tells have returned, kills it, checks the
/// store it left and drains it. Returns (tells acknowledged, redeliveries).
async fn kill_once(path: &Path, target: u64) -> (u64, u64) {
    // Messages acknowledged by this run's consumer: its first report is at
    // least one past where the earlier runs left off.
    let (mut committed_n, mut first_acked, mut acked) = (0, None, 0u64);
    let lines = run_and_kill("queue", path, |line| {
        if line.starts_with("committed ") {
            committed_n += 1;
        }
        if let Some(n) = line.strip_prefix("acked ") {
            acked = n.parse().unwrap();
            first_acked.get_or_insert(acked);
        }
        committed_n >= target && first_acked.is_some_and(|first| acked >= first + 20)
    });
    let first_acked = first_acked.unwrap();

    let mut committed: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
    let mut handled = Vec::new();
    let mut acked_through = 0;
    for line in &lines {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["committed", seq, p, i] => {
                committed.insert(seq.parse().unwrap(), (p.parse().unwrap(), i.parse().unwrap()));
            }
            ["handled", seq] => handled.push(seq.parse::<u64>().unwrap()),
            ["acked", seq] => acked_through = acked_through.max(seq.parse().unwrap()),
            _ => panic!("unexpected line from the child: {line}"),
        }
    }
    assert!(acked_through >= first_acked + 20);

    // Reopen the store the dead process left behind.
    let store = Store::open(path).expect("reopen after SIGKILL");
    let queue = store.queue::<(u32, u64)>("stream").unwrap();
    let pending = queue.pending_seqs().unwrap();
    assert!(!pending.is_empty(), "the kill came while messages were waiting");
    let first = pending[0];
    assert!(first > acked_through, "message {first} was acknowledged (through {acked_through}) but is pending again");
    assert!(pending.windows(2).all(|w| w[1] == w[0] + 1), "pending messages are not one contiguous run");
    for &seq in committed.keys() {
        assert!(
            pending.contains(&seq) || (seq < first && handled.contains(&seq)),
            "committed message {seq} is neither pending nor handled"
        );
    }

    // A consumer in this process gets exactly the pending messages, in order.
    let system = ActorSystem::new();
    let (tx, mut rx) = tokio_mpsc::unbounded_channel();
    let collector = spawn_durable(&system, Collector { out: tx }, &store, "stream").unwrap();
    let last = *pending.last().unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(10), collector.wait_acked(last)).await.unwrap());
    let mut delivered = Vec::new();
    while let Ok(d) = rx.try_recv() {
        delivered.push(d);
    }
    let seqs: Vec<u64> = delivered.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, pending, "redelivery is not exactly the pending messages in order");
    assert!(delivered.iter().all(|d| d.redelivered));
    // Messages match what was committed, and each producer's are in its order.
    let mut next_of: HashMap<u32, u64> = HashMap::new();
    for d in &delivered {
        if let Some(sent) = committed.get(&d.seq) {
            assert_eq!(*sent, d.message, "message {} changed on disk", d.seq);
        }
        let (p, i) = d.message;
        if let Some(prev) = next_of.insert(p, i) {
            assert!(i > prev, "producer {p}: {i} delivered after {prev}");
        }
    }
    assert!(queue.is_empty().unwrap());
    system.shutdown().await;
    drop((collector, queue));
    store.close().await; // the next child opens the file
    (committed.len() as u64, delivered.len() as u64)
}

#[tokio::test]
async fn an_event_sourced_actor_recovers_the_same_state_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.redb");
    let lines = run_and_kill("journal", &path, |line| line.starts_with("applied 60 "));

    // Every command the child saw return is in the recovered state.
    let (last_seq, last_total) = lines
        .iter()
        .filter_map(|l| {
            let mut words = l.strip_prefix("applied ")?.split(' ');
            Some((words.next()?.parse::<u64>().ok()?, words.next()?.parse::<u64>().ok()?))
        })
        .next_back()
        .expect("the child applied commands");
    assert!(last_seq >= 60);
    assert_eq!(last_total, last_seq * (last_seq + 1) / 2);

    let store = Store::open(&path).expect("reopen after SIGKILL");
    let system = ActorSystem::new();
    let total = spawn_event_sourced::<Total>(&system, &store, "total", 7).await.unwrap();
    let recovery = total.recovery();
    // A command may have been journaled after the last line was printed.
    assert!(recovery.last_seq >= last_seq);
    let n = recovery.last_seq;
    assert_eq!(total.inspect(|t| t.0).await.unwrap(), n * (n + 1) / 2, "state differs from the journal's");
    // Recovery started from a snapshot and replayed at most 7 events.
    let snapshot = recovery.snapshot.expect("snapshots every 7 events");
    assert!(snapshot >= n - 7 && recovery.replayed <= 7, "{recovery:?}");
    assert_eq!(snapshot + recovery.replayed, n);

    // And it goes on from there.
    assert_eq!(total.execute(n + 1).await.unwrap(), n + 1);
    let m = n + 1;
    assert_eq!(total.inspect(|t| t.0).await.unwrap(), m * (m + 1) / 2);
    system.shutdown().await;
}
