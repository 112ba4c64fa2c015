//! The debugging aids, one after the other, each printing what it saw:
//!
//! 1. **Ask cycles fail at once.** Two actors that ask each other (on one
//!    node, then across two nodes) get `AskError::Deadlock` naming the
//!    cycle, instead of waiting for their timeouts.
//! 2. **Asks carry their deadline.** An ask that gave up before its actor
//!    got to it is skipped, not handled, and reported as an `Expired`
//!    dead letter.
//! 3. **The flight recorder.** A panicking actor's last messages come back
//!    with the panic, to the asker (and to monitors and supervisors).
//! 4. **A simulated lossy network.** Two nodes on a `SimNet` that loses
//!    frames: asks fail with `NodeDown` where a frame is lost, the nodes
//!    reconnect, and the same seed replays the same faults and outcomes.
//!
//! Everything runs in one process on tokio's paused clock (no sockets, no
//! waiting: timeouts pass in virtual time).
//!
//! Run with `cargo run --example debugging`.

use std::time::Duration;

use actor_core::error::AskError;
use actor_core::prelude::*;
use actor_core::{DeadLetterReason, SpawnOptions};
use actor_remote::Limits;
use actor_remote::testkit::{FaultEvent, SimNet};

/// Passes an ask on to its partner, which may live on another node, and
/// says how that went.
#[derive(Default)]
struct Relay {
    partner: Option<ActorRef<Relay>>,
}

#[actor]
impl Relay {
    #[message(remote)]
    fn pair_with(&mut self, partner: ActorRef<Relay>) {
        self.partner = Some(partner);
    }

    /// Asks the partner to pass it on: with two relays paired both ways,
    /// the second ask would close a cycle.
    #[message(remote)]
    async fn pass(&mut self) -> String {
        let Some(partner) = self.partner.clone() else { return "reached the end".to_owned() };
        match partner.pass().timeout(Duration::from_secs(30)).await {
            Ok(answer) => answer,
            Err(AskError::Deadlock(_, cycle)) => format!("deadlock: a cycle of {} actors", cycle.actors().len() - 1),
            Err(e) => format!("failed: {e}"),
        }
    }
}

/// Works slowly, and panics on request, remembering its last messages.
#[derive(Default)]
struct Worker {
    done: u64,
}

#[actor]
impl Worker {
    #[message]
    async fn work(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.done += 1;
        self.done
    }

    #[message]
    fn crash(&mut self, why: String) {
        panic!("{why}");
    }
}

/// An echo for the lossy network.
struct Echoer;

#[actor]
impl Echoer {
    #[message(remote)]
    fn echo(&mut self, n: u64) -> u64 {
        n
    }
}

async fn ask_cycles() {
    // On one node.
    let system = ActorSystem::new();
    let (a, b) = (system.spawn(Relay::default()), system.spawn(Relay::default()));
    a.pair_with(b.clone()).await.unwrap();
    b.pair_with(a.clone()).await.unwrap();
    println!("ask cycle on one node: {}", a.pass().await.unwrap());

    // Across two nodes: the chain of waits travels with each remote ask.
    let net = SimNet::new(1);
    let one = net.node("one", ActorSystem::new()).start().await.unwrap();
    let two = net.node("two", ActorSystem::new()).start().await.unwrap();
    let here = one.system().spawn(Relay::default());
    let there = two.system().spawn(Relay::default());
    two.register("relay", &there).unwrap();
    one.connect(&two.address().to_string()).await.unwrap();
    let there: ActorRef<Relay> = one.lookup("two", "relay").await.unwrap();
    here.pair_with(there.clone()).await.unwrap();
    there.pair_with(here.clone()).await.unwrap();
    println!("ask cycle across two nodes: {}", here.pass().await.unwrap());
    one.shutdown().await;
    two.shutdown().await;
}

async fn deadlines() {
    let system = ActorSystem::new();
    let mut dead = system.dead_letters();
    let worker = system.spawn(Worker::default());
    // The worker is busy for 200 ms; the second ask gives up after 50.
    let busy = tokio::spawn({
        let worker = worker.clone();
        async move { worker.work(200).await }
    });
    tokio::task::yield_now().await;
    let impatient = worker.work(1).timeout(Duration::from_millis(50)).await;
    println!("impatient ask: {}", impatient.unwrap_err());
    busy.await.unwrap().unwrap();
    let letter = dead.recv().await.unwrap();
    assert_eq!(letter.reason, DeadLetterReason::Expired);
    println!("its message was skipped, not handled: dead letter {:?} for {}", letter.reason, letter.message_type);
    println!("messages the worker handled: {}", worker.work(0).await.unwrap());
}

async fn flight_recorder() {
    // The panic reaches us with its record; keep the default hook's own
    // report of it off the terminal.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let system = ActorSystem::new();
    let worker = system.spawn_with(Worker::default(), SpawnOptions::new().flight_recorder(3));
    for millis in [1, 2, 3] {
        worker.work(millis).await.unwrap();
    }
    match worker.crash("the disk is full".to_owned()).await {
        Err(AskError::Panicked(panic)) => {
            println!("the crash: {panic}");
            if let Some(record) = panic.flight_record() {
                println!("what led to it:\n{record}");
            }
        }
        other => println!("unexpected: {other:?}"),
    }
    std::panic::set_hook(hook);
}

/// Forty asks through a network that loses 3% of frames; returns the
/// fault log and what each ask got.
async fn lossy_run(seed: u64) -> (Vec<FaultEvent>, Vec<&'static str>) {
    let limits = Limits {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(400),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..Limits::default()
    };
    let net = SimNet::new(seed);
    let server = net.node("server", ActorSystem::new()).limits(limits.clone()).start().await.unwrap();
    let client = net.node("client", ActorSystem::new()).limits(limits).start().await.unwrap();
    let echo = server.system().spawn(Echoer);
    server.register("echo", &echo).unwrap();
    client.connect(&server.address().to_string()).await.unwrap();
    let remote: ActorRef<Echoer> = client.lookup("server", "echo").await.unwrap();
    net.drop_frames(0.03);
    let mut outcomes = Vec::new();
    for n in 0..40u64 {
        outcomes.push(match remote.echo(n).timeout(Duration::from_secs(1)).await {
            Ok(answer) if answer == n => "answered",
            Ok(_) => "wrong answer",
            Err(e) if e.is_node_down() => "node down",
            Err(AskError::Timeout) => "timed out",
            Err(_) => "other error",
        });
        // Let a broken connection come back before the next ask.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    net.calm();
    let log = net.log();
    client.shutdown().await;
    server.shutdown().await;
    (log, outcomes)
}

async fn lossy_network() {
    let seed = 7;
    let (log, outcomes) = lossy_run(seed).await;
    let count = |what| outcomes.iter().filter(|o| **o == what).count();
    println!(
        "lossy network, seed {seed}: {} faults logged; of 40 asks {} answered, {} failed with NodeDown, {} timed out",
        log.len(),
        count("answered"),
        count("node down"),
        count("timed out"),
    );
    for event in log.iter().take(3) {
        println!("  {event}");
    }
    let (again, outcomes_again) = lossy_run(seed).await;
    println!("same seed, same faults and outcomes: {}", again == log && outcomes_again == outcomes);
}

fn main() {
    // Paused time: every timeout and backoff passes at once, and the
    // simulated network's run is the same every time.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("a tokio runtime");
    runtime.block_on(async {
        ask_cycles().await;
        deadlines().await;
        flight_recorder().await;
        lossy_network().await;
    });
}
