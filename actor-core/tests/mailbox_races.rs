//! The hand-written mailbox under real concurrency: OS-thread senders on a
//! tiny mailbox while the actor is killed or stopped mid-flood. Every
//! message must be accounted for exactly once (handled, or reported as a
//! dead letter) and per-sender order must hold for what was handled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;

/// Counts what it handles and checks each sender's order.
struct Tally {
    handled: Arc<AtomicU64>,
    next: Vec<u64>,
}
impl Actor for Tally {
    type Error = std::convert::Infallible;
}

struct Item(usize, u64);
impl Message for Item {
    type Reply = ();
}
impl Handler<Item> for Tally {
    async fn handle(&mut self, Item(sender, seq): Item, _: &mut Context<Self>) {
        assert!(seq >= self.next[sender], "sender {sender}: {seq} after {}", self.next[sender]);
        self.next[sender] = seq + 1;
        self.handled.fetch_add(1, Ordering::SeqCst);
        if seq % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

const SENDERS: usize = 4;
/// Fewer under Miri, an interpreter; the races are the same.
const PER_SENDER: u64 = if cfg!(miri) { 40 } else { 2_000 };
const ROUNDS: u64 = if cfg!(miri) { 2 } else { 10 };

fn round(kill: bool, stop_after: Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let handled = Arc::new(AtomicU64::new(0));
    let system = runtime.block_on(async { ActorSystem::new() });
    let tally = {
        let _entered = runtime.enter();
        system.spawn_with(
            Tally { handled: handled.clone(), next: vec![0; SENDERS] },
            SpawnOptions::new().mailbox(Mailbox::bounded(2)),
        )
    };
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let tally = tally.clone();
            std::thread::spawn(move || {
                let mut sent = 0;
                for seq in 0..PER_SENDER {
                    sent += 1;
                    // Alternate waiting and non-waiting sends.
                    if seq % 2 == 0 {
                        if tally.blocking_tell(Item(sender, seq)).is_err() {
                            break;
                        }
                    } else {
                        let mut item = Item(sender, seq);
                        loop {
                            match tally.try_tell(item) {
                                Ok(()) => break,
                                Err(e) if e.is_full() => {
                                    item = e.into_inner();
                                    std::thread::yield_now();
                                }
                                Err(_) => return sent,
                            }
                        }
                    }
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(stop_after);
    if kill {
        tally.kill();
    } else {
        tally.stop();
    }
    let sent: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    let reason = runtime.block_on(tally.wait_for_stop());
    assert_eq!(reason.is_normal(), !kill, "{reason}");
    let handled = handled.load(Ordering::SeqCst);
    let dead = system.dead_letter_count();
    assert!(sent >= SENDERS as u64, "every sender sent at least once");
    assert_eq!(handled + dead, sent, "handled {handled} + dead letters {dead} != sent {sent}");
    runtime.block_on(system.shutdown());
}

#[test]
fn a_kill_mid_flood_loses_and_duplicates_nothing() {
    for i in 0..ROUNDS {
        round(true, Duration::from_millis(3 * i));
    }
}

#[test]
fn a_stop_mid_flood_loses_and_duplicates_nothing() {
    for i in 0..ROUNDS {
        round(false, Duration::from_millis(3 * i));
    }
}
