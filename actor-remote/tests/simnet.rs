//! The simulated network of the test kit (`testkit::SimNet`): nodes on
//! in-memory connections with seeded frame loss, delay and partitions, on
//! tokio's paused clock. The same seed replays the same faults and the same
//! outcome; a lost frame fails pending asks with `NodeDown` and reports
//! tells, then the link recovers; a partition is `NodeDown` within the
//! heartbeat timeout and heals; delays keep FIFO.

mod support;

use std::time::Duration;

use actor_core::error::AskError;
use actor_core::prelude::*;
use actor_core::{DeadLetterReason, StopReason};
use actor_remote::testkit::{Fault, FaultEvent, SimNet};
use actor_remote::{Limits, Node};
use support::recorder::{Recorder, RecorderClient};
use tokio::time::Instant;

const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(400);

fn limits() -> Limits {
    Limits {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..Limits::default()
    }
}

/// A simulated network seeded with `seed`, and on it node `a` with a
/// `Recorder` registered as "recorder", node `b` connected to it, and
/// `b`'s reference to the recorder.
async fn two_nodes(seed: u64, limits: Limits) -> (SimNet, Node, Node, ActorRef<Recorder>) {
    let net = SimNet::new(seed);
    let a = net.node("a", ActorSystem::new()).limits(limits.clone()).start().await.unwrap();
    let b = net.node("b", ActorSystem::new()).limits(limits).start().await.unwrap();
    let recorder = a.system().spawn(Recorder::default());
    a.register("recorder", &recorder).unwrap();
    b.connect(&a.address().to_string()).await.unwrap();
    let remote = b.lookup("a", "recorder").await.unwrap();
    (net, a, b, remote)
}

/// A second recorder on `a`, registered as "sleeper", as `b` sees it: kept
/// busy by a long ask, while the first one goes on answering.
async fn sleeper(a: &Node, b: &Node) -> ActorRef<Recorder> {
    let sleeper = a.system().spawn(Recorder::default());
    a.register("sleeper", &sleeper).unwrap();
    b.lookup("a", "sleeper").await.unwrap()
}

/// Waits until an ask through `remote` is answered again.
async fn until_answered(remote: &ActorRef<Recorder>) {
    loop {
        if let Ok(7) = remote.echo(7).timeout(Duration::from_millis(500)).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The report of `remote`, retried while the link recovers.
async fn report(remote: &ActorRef<Recorder>) -> (u64, u64) {
    loop {
        match remote.report().timeout(Duration::from_secs(1)).await {
            Ok(report) => return report,
            Err(_) => until_answered(remote).await,
        }
    }
}

/// Bounds a test in virtual time: a hang is a failure.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(600), f).await.expect("the test finished within its (virtual) time limit")
}

/// What a faulty run did, as the test sees it.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Per ask: answered, `NodeDown`, or timed out.
    asks: Vec<&'static str>,
    tells_refused: u64,
    received: u64,
    violations: u64,
    dead_letters: u64,
}

/// Tells and asks through a lossy, slow link, then a calm one.
async fn lossy_run(seed: u64) -> (Vec<FaultEvent>, Outcome) {
    let (net, a, b, remote) = two_nodes(seed, limits()).await;
    net.delay(Duration::from_millis(1)..Duration::from_millis(10));
    net.drop_frames(0.02);
    let mut asks = Vec::new();
    let mut tells_refused = 0;
    for seq in 0..400u64 {
        // Paced, so that the run spans several connections.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if remote.tell_record(0, seq).await.is_err() {
            tells_refused += 1;
        }
        if seq % 10 == 0 {
            asks.push(match remote.echo(seq).timeout(Duration::from_secs(1)).await {
                Ok(n) => {
                    assert_eq!(n, seq);
                    "answered"
                }
                Err(e) if e.is_node_down() => "node down",
                Err(AskError::Timeout) => "timed out",
                Err(e) => panic!("an ask failed with {e:?} (seed {seed})"),
            });
        }
    }
    net.calm();
    let (received, violations) = report(&remote).await;
    let log = net.log();
    let outcome = Outcome { asks, tells_refused, received, violations, dead_letters: b.system().dead_letter_count() };
    a.crash();
    b.crash();
    (log, outcome)
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_replays_the_same_faults_and_the_same_outcome() {
    bounded(async {
        let (log, outcome) = lossy_run(0x5EED).await;
        let dropped = log.iter().filter(|e| e.fault == Fault::Dropped).count();
        assert!(dropped >= 2, "the run lost frames (seed 0x5EED): {dropped}");
        assert!(log.iter().any(|e| matches!(e.fault, Fault::Delayed(_))));
        assert_eq!(outcome.violations, 0, "per-sender FIFO holds, nothing twice: {outcome:?}");
        assert!(outcome.asks.contains(&"answered"), "{outcome:?}");
        assert!(outcome.asks.iter().any(|a| *a != "answered"), "some asks met a fault: {outcome:?}");

        let (again, same) = lossy_run(0x5EED).await;
        if again != log {
            for (i, (x, y)) in log.iter().zip(&again).enumerate() {
                if x != y {
                    panic!("the logs part at event {i}: {x} vs {y}");
                }
            }
            panic!("the logs differ in length: {} vs {}", log.len(), again.len());
        }
        assert_eq!(same, outcome, "the same seed, the same outcome");

        let (other, _) = lossy_run(0xD1CE).await;
        assert_ne!(other, log, "another seed, other faults");
        let connections =
            log.iter().map(|e| (&e.link.from, &e.link.to, e.link.connection)).collect::<std::collections::HashSet<_>>();
        let count = |what| outcome.asks.iter().filter(|a| **a == what).count();
        println!(
            "figure simnet-replay: seed 0x5EED, {} fault events on {} links, {dropped} frames lost; asks: {} answered, \
             {} NodeDown, {} timed out; tells: {} delivered, {} refused, {} dead letters; replayed identically",
            log.len(),
            connections.len(),
            count("answered"),
            count("node down"),
            count("timed out"),
            outcome.received,
            outcome.tells_refused,
            outcome.dead_letters,
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_frame_fails_pending_asks_reports_tells_and_the_link_recovers() {
    bounded(async {
        // A small outbox, and a slow redial: tells sent while down overflow.
        let limits = Limits { outbox: 4, reconnect_min: Duration::from_secs(1), ..limits() };
        let (net, a, b, remote) = two_nodes(1, limits).await;
        let sleeper = sleeper(&a, &b).await;
        let mut letters = b.system().dead_letters();
        let pending = tokio::spawn(async move { sleeper.nap(60_000).await });
        tokio::time::sleep(Duration::from_millis(10)).await;

        // Every frame is lost from now: the next one breaks the connection.
        net.drop_frames(1.0);
        let mut refused = 0;
        for seq in 0..20 {
            if remote.tell_record(0, seq).await.is_err() {
                refused += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        assert!(refused > 0, "tells past the outbox are refused while down");
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.reason, DeadLetterReason::NodeDown, "{letter:?}");
        let log = net.log();
        assert!(log.iter().any(|e| e.fault == Fault::Dropped), "{log:?}");

        // The network recovers: b redials, the outbox drains, asks work.
        net.drop_frames(0.0);
        until_answered(&remote).await;
        let (received, violations) = report(&remote).await;
        assert_eq!(violations, 0);
        assert!(received <= 20 - refused, "nothing refused arrived: {received} of {}", 20 - refused);
        assert!(received >= 1, "the outbox was delivered after the reconnection");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_partition_is_node_down_within_the_heartbeat_timeout_and_heals() {
    bounded(async {
        let (net, a, b, remote) = two_nodes(2, limits()).await;
        let sleeper = sleeper(&a, &b).await;
        let pending = tokio::spawn(async move { sleeper.nap(60_000).await });
        let monitor = tokio::spawn({
            let remote = remote.clone();
            async move { remote.wait_for_stop().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;

        let partitioned = Instant::now();
        net.partition(&["a"], &["b"]);
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        let detected = partitioned.elapsed();
        // The reader checks four times per timeout: within 1.25 x.
        assert!(detected <= HEARTBEAT_TIMEOUT * 5 / 4 + Duration::from_millis(50), "{detected:?}");
        assert!(detected >= HEARTBEAT_TIMEOUT / 2, "not before the peer fell silent: {detected:?}");
        println!("figure simnet-partition: NodeDown {detected:?} (virtual) after the partition, timeout {HEARTBEAT_TIMEOUT:?}");
        let reason = monitor.await.unwrap();
        assert!(matches!(reason, StopReason::NodeDown), "monitors fire: {reason:?}");
        assert!(remote.echo(1).timeout(Duration::from_secs(2)).await.is_err(), "no traffic across the partition");
        assert!(net.log().iter().any(|e| e.fault == Fault::Held));

        let healed = Instant::now();
        net.heal();
        until_answered(&remote).await;
        // b redials with backoff (at most reconnect_max), and a handshake
        // cut short by the partition ends within its timeout.
        assert!(healed.elapsed() < Duration::from_secs(7), "{:?}", healed.elapsed());
        println!("figure simnet-heal: answered again {:?} (virtual) after the heal", healed.elapsed());
        assert_eq!(remote.echo(42).await.unwrap(), 42);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn delayed_frames_keep_fifo_and_asks_succeed() {
    bounded(async {
        let (net, _a, _b, remote) = two_nodes(3, limits()).await;
        net.delay(Duration::from_millis(5)..Duration::from_millis(50));
        let started = Instant::now();
        for seq in 0..1_000u64 {
            remote.tell_record(0, seq).await.unwrap();
            if seq % 100 == 0 {
                let asked = Instant::now();
                assert_eq!(remote.echo(seq).await.unwrap(), seq);
                assert!(asked.elapsed() >= Duration::from_millis(10), "there and back, each at least 5 ms");
            }
        }
        assert_eq!(remote.report().await.unwrap(), (1_000, 0), "every tell, in order");
        assert!(started.elapsed() >= Duration::from_millis(100));
        let log = net.log();
        assert!(!log.is_empty());
        for event in &log {
            match event.fault {
                Fault::Delayed(d) => assert!((Duration::from_millis(5)..Duration::from_millis(50)).contains(&d)),
                other => panic!("only delays here, got {other:?} at {event}"),
            }
        }
    })
    .await;
}
