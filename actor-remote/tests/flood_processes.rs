//! Failure detection across two real processes while one floods the other.
//!
//! This test's node and a `remote-node` process form a cluster with fast
//! failure detection (probe every 200 ms, 100 ms to answer, 600 ms to
//! refute a suspicion). Two senders flood the peer's counter with 64 KiB
//! tells for four detection times while the test starves the peer of CPU:
//! SIGSTOP for 240 ms, SIGCONT for 60 ms, over and over, each stop well
//! under the detection time. The peer's reader falls behind: the resend
//! buffer and the socket stay full, and with a credit window of 8,192
//! tells up to 512 MiB more queue on the link, so that an ask sent behind
//! the tells waits longer than the suspicion timeout (checked, so that the
//! set-up cannot quietly stop testing anything).
//! Membership's probes and answers travel on that same link, ahead of the
//! queued data (`Peer::send_cluster`, `Lane::Ahead`).
//!
//! Checked: neither side declares the other down nor loses the connection
//! during the flood; every tell arrives exactly once and in order; and
//! afterwards a SIGSTOP held past the detection time is reported
//! `NodeDown` within three detection times, so that the first check cannot
//! pass with detection simply broken. With the probes queued behind the
//! data instead, the test fails: this node declares the peer down about a
//! second into the flood, its probes having reached the peer 0.7 s late or
//! not at all.
//!
//! What it does not show: the probes still wait behind what the resend
//! buffer lets into the socket (4 MiB here), which the starved reader
//! gets through within a run slice; a slower reader, or a stop longer
//! than the suspicion timeout, gets its node declared down, as it should.
//! Only one direction is flooded, on loopback, between two members (no
//! indirect probes).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::{Cluster, ClusterConfig, ClusterEvent, Limits, Node};
use support::events::{Events, EventsClient};
use support::remote_node::{self, Counter, CounterClient, signal};
use support::{bounded, fast_limits, free_port};

const SECRET: &str = "flood cookie";

/// The size of each tell's payload.
const BLOB: usize = 64 * 1024;

/// Concurrent senders of tells.
const SENDERS: u32 = 2;

/// Tells in flight toward the peer's counter, on both sides: with 64 KiB
/// each, up to 512 MiB may queue on the link, about twice what the
/// starved peer reads in a suspicion timeout on a shared two-core machine.
const CREDIT_WINDOW: usize = 8192;

/// The starvation: the peer is stopped this long... (Four fifths of the
/// time: at two thirds, a debug build's sender could barely outpace the
/// peer, and too little data queued for the test to mean anything.)
const STOPPED: Duration = Duration::from_millis(240);
/// ...then runs this long, over and over.
const RUNNING: Duration = Duration::from_millis(60);

/// Failure detection at its fastest test setting: probe every 200 ms,
/// 100 ms for an answer, 600 ms to refute a suspicion (0.9 s in all).
fn config() -> ClusterConfig {
    ClusterConfig {
        probe_period: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        suspicion_timeout: Duration::from_millis(600),
        ..ClusterConfig::default()
    }
}

/// The same timings as the binary's `--cluster` option takes them.
fn timings(config: &ClusterConfig) -> String {
    let ms = |d: Duration| d.as_millis().to_string();
    [ms(config.probe_period), ms(config.probe_timeout), ms(config.suspicion_timeout)].join(",")
}

/// Stops and continues a process in slices from a thread of its own (so
/// that the test's busy runtime does not stretch a stop), until dropped;
/// a drop leaves the process running.
struct Starver {
    done: Arc<AtomicBool>,
    slices: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Starver {
    fn start(pid: u32, stopped: Duration, running: Duration) -> Starver {
        let done = Arc::new(AtomicBool::new(false));
        let slices = Arc::new(AtomicU64::new(0));
        let thread = {
            let (done, slices) = (done.clone(), slices.clone());
            std::thread::spawn(move || {
                let pid = pid.to_string();
                let kill = |signal: &str| {
                    let status = std::process::Command::new("kill").args([signal, &pid]).status();
                    assert!(status.is_ok_and(|s| s.success()), "kill {signal} {pid}");
                };
                while !done.load(Ordering::Acquire) {
                    kill("-STOP");
                    std::thread::sleep(stopped);
                    kill("-CONT");
                    slices.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(running);
                }
            })
        };
        Starver { done, slices, thread: Some(thread) }
    }

    /// Ends the slicing, the process left running; returns how many
    /// stops it made. Waits for the current slice off the runtime.
    async fn finish(mut self) -> u64 {
        tokio::task::spawn_blocking(move || {
            self.end();
            self.slices.load(Ordering::Relaxed)
        })
        .await
        .unwrap()
    }

    fn end(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // A panic there (a failed `kill`) is the test's failure too,
            // unless the test is already failing.
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the starving thread failed");
            }
        }
    }
}

impl Drop for Starver {
    fn drop(&mut self) {
        self.end();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_starved_peer_flooded_with_tells_stays_up_and_loses_none_and_a_real_stop_is_detected() {
    bounded(Duration::from_secs(60), async {
        let config = config();
        let detection = config.detection_time();
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let cluster_option = timings(&config);
        let window = CREDIT_WINDOW.to_string();
        let options = ["--cluster", &cluster_option, "--credit-window", &window];
        // Killed when dropped, on every path out of this test.
        let (child, mut lines) = remote_node::start_reading(&address, SECRET, &options).await;
        let pid = child.id().expect("the child runs");
        // The peer's own view: its `cluster <event>` lines, read as they
        // come so that its output never blocks it.
        let peer_saw: Arc<Mutex<Vec<String>>> = Arc::default();
        {
            let peer_saw = peer_saw.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    peer_saw.lock().unwrap().push(line);
                }
            });
        }

        let limits = Limits { credit_window: CREDIT_WINDOW, ..fast_limits() };
        let node = Node::builder(ActorSystem::new())
            .name("here")
            .secret(SECRET)
            .limits(limits.clone())
            .start()
            .await
            .unwrap();
        let cluster = Cluster::start(&node, config.clone()).await.unwrap();
        let events = node.system().spawn(Events::default());
        cluster.subscribe(events.recipient());
        cluster.join(&[&address]).await.unwrap();
        let start = Instant::now();
        while cluster.members().len() != 1 || !peer_saw.lock().unwrap().iter().any(|l| l.contains("NodeUp")) {
            assert!(start.elapsed() < Duration::from_secs(10), "the two nodes did not see each other");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let peer = cluster.members()[0].name.clone();
        let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();

        // The flood, for four detection times, the peer starved.
        let flood_for = detection * 4;
        let starver = Starver::start(pid, STOPPED, RUNNING);
        let started = Instant::now();
        let blob = "x".repeat(BLOB);
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let (counter, blob) = (counter.clone(), blob.clone());
                tokio::spawn(async move {
                    let mut seq = 0;
                    while started.elapsed() < flood_for {
                        counter.tell_take(sender, seq, blob.clone()).await.expect("the peer is up");
                        // A tell that finds credit returns at once; sends
                        // spend the task's cooperative budget, so a loop of
                        // them yields every 128, but 128 tells of 64 KiB
                        // are too long a turn in a debug build: the node's
                        // own reader and timers would stop, and the peer
                        // rightly declare it down.
                        tokio::task::yield_now().await;
                        seq += 1;
                    }
                    seq
                })
            })
            .collect();
        // Asks queue behind the tells, as probes would without their lane:
        // how long they wait is how long the data ahead of them takes.
        let behind_data = {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                while started.elapsed() < flood_for {
                    let asked = Instant::now();
                    counter.taken().await.expect("the peer is up");
                    slowest = slowest.max(asked.elapsed());
                    tokio::time::sleep(STOPPED + RUNNING).await;
                }
                slowest
            })
        };
        // Watched as it runs: a node declared down stalls the senders (a
        // tell waits for credit until the link gives up), so this fails
        // at the first `NodeDown` rather than at the test's time limit.
        // When the time is up the peer runs freely again, so that the
        // last tells find credit soon: with a full window the starved peer
        // would take seconds to grant it.
        let down = |here: &[ClusterEvent], there: &[String]| {
            here.iter().any(|e| matches!(e, ClusterEvent::NodeDown(_))) || there.iter().any(|l| l.contains("NodeDown"))
        };
        let mut starving = Some(starver);
        let mut stops = 0;
        while !senders.iter().all(|s| s.is_finished()) {
            let here_saw = events.seen().await.unwrap();
            let peer_saw_now = peer_saw.lock().unwrap().clone();
            assert!(
                !down(&here_saw, &peer_saw_now),
                "a node was declared down {:?} into the flood: this node saw {here_saw:?}, the peer saw {peer_saw_now:?}",
                started.elapsed()
            );
            if started.elapsed() >= flood_for
                && let Some(starver) = starving.take()
            {
                stops = starver.finish().await;
            }
            assert!(started.elapsed() < flood_for + Duration::from_secs(10), "the flood's tells stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(starver) = starving {
            stops = starver.finish().await;
        }
        let mut sent = 0;
        for sender in senders {
            sent += sender.await.unwrap();
        }
        let flooded = started.elapsed();
        let slowest_ask = behind_data.await.unwrap();
        let (blobs, breaks, bytes) =
            counter.taken().timeout(Duration::from_secs(10)).await.expect("the peer handled the flood and answered");
        let drained = started.elapsed();
        // A probe round more, for a suspicion raised at the end of the
        // flood to become a `NodeDown`.
        tokio::time::sleep(detection).await;
        let here_saw = events.seen().await.unwrap();
        let peer_saw_now = peer_saw.lock().unwrap().clone();
        let stats = node.link_stats(&peer).unwrap();
        println!(
            "figure flood-processes: {sent} tells of 64 KiB ({} MiB) in {flooded:?}, the peer stopped {stops} times \
             ({STOPPED:?} of every {:?}); an ask behind the tells answered after {slowest_ask:?} at worst; all \
             handled {drained:?} after the start; link {stats:?}; this node saw {here_saw:?}; the peer saw \
             {peer_saw_now:?}",
            (sent as usize * BLOB) >> 20,
            STOPPED + RUNNING,
        );
        assert!(
            !here_saw.iter().any(|e| matches!(e, ClusterEvent::NodeDown(_))),
            "this node declared the flooded peer down: {here_saw:?}"
        );
        assert!(
            !peer_saw_now.iter().any(|l| l.contains("NodeDown")),
            "the flooded peer declared this node down: {peer_saw_now:?}"
        );
        assert_eq!(cluster.members().len(), 1, "the peer is still a member");
        assert_eq!(stats.connections, 1, "the connection was never lost");
        assert_eq!(breaks, 0, "tells lost, doubled or out of order");
        assert_eq!((blobs, bytes), (sent, sent * BLOB as u64), "every tell arrived exactly once");
        // The flood did back the link up: the peer's reader fell behind
        // enough to fill the resend buffer, many times over the run.
        let periods = flood_for.as_millis() / (STOPPED + RUNNING).as_millis();
        assert!(stops as u128 >= periods / 2, "the peer was stopped only {stops} times");
        assert!(
            stats.resend_peak >= limits.resend_buffer / 2,
            "the link never backed up: {stats:?}"
        );
        assert!(sent as usize * BLOB > 8 * stats.resend_peak, "only {sent} tells sent");
        // What this test is about: data queued on the link held what went
        // behind it for longer than a suspicion lasts, so that a probe, or
        // the news of a suspicion, queued there would have come too late.
        assert!(
            slowest_ask > config.suspicion_timeout,
            "the queue on the link never held an ask for a suspicion timeout ({slowest_ask:?}): the flood did not \
             test the probes' lane"
        );

        // A real stop, held past the detection time, is detected.
        signal(&child, "-STOP");
        let stopped = Instant::now();
        loop {
            let seen = events.seen().await.unwrap();
            if seen.iter().any(|e| matches!(e, ClusterEvent::NodeDown(m) if m.name == peer)) {
                break;
            }
            assert!(stopped.elapsed() < detection * 3, "a peer stopped for {:?} is not down: {seen:?}", detection * 3);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = stopped.elapsed();
        signal(&child, "-CONT");
        println!("figure flood-processes: a real stop detected after {took:?} (detection time {detection:?})");
    })
    .await;
}
