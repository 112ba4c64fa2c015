//! A test helper, not a tool: the crash tests in `tests/crash.rs` run it as
//! a child process, read what it reports on stdout, and kill it with
//! SIGKILL in the middle of its work.
//!
//! `durable-crash-child queue STORE`: eight producers tell `(producer, i)`
//! to a durable queue without end (four await each tell, four keep up to
//! 16 in flight) while a slow consumer handles them.
//! Prints `committed SEQ PRODUCER I` when a tell has returned,
//! `handled SEQ` from the handler, and `acked SEQ` when every message up to
//! `SEQ` is acknowledged on disk.
//!
//! `durable-crash-child journal STORE`: executes `Add(n)` for n = 1, 2, ...
//! on an event-sourced counter (snapshot every 7 events) and prints
//! `applied SEQ TOTAL` when a command has returned.

use std::time::Duration;

use actor_core::prelude::*;
use actor_durable::{Delivery, Store, spawn_durable, spawn_event_sourced};

#[path = "crash_child/total.rs"]
mod total;

use total::Total;

/// Handles each message slowly, so that messages pile up unacknowledged.
struct Slow;

impl Actor for Slow {
    type Error = std::convert::Infallible;
}

impl Handler<Delivery<(u32, u64)>> for Slow {
    async fn handle(&mut self, d: Delivery<(u32, u64)>, _: &mut Context<Self>) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        println!("handled {}", d.seq);
    }
}

async fn queue(store: Store) {
    let system = ActorSystem::new();
    let slow = spawn_durable(&system, Slow, &store, "stream").expect("spawn_durable");
    let queue = slow.queue().clone();
    tokio::spawn(async move {
        let mut seen = queue.acked_through();
        loop {
            let next = seen + 1;
            if !queue.wait_acked(next).await {
                return;
            }
            seen = queue.acked_through();
            println!("acked {seen}");
        }
    });
    // Producers 0-3 await each tell; 4-7 keep up to 16 in flight.
    let producers: Vec<_> = (0..8u32)
        .map(|p| {
            let slow = slow.clone();
            tokio::spawn(async move {
                let mut in_flight = std::collections::VecDeque::new();
                for i in 0.. {
                    if p < 4 {
                        let seq = slow.tell((p, i)).await.expect("tell");
                        println!("committed {seq} {p} {i}");
                        continue;
                    }
                    if in_flight.len() == 16 {
                        let (i, receipt): (u64, actor_durable::Receipt<_>) = in_flight.pop_front().unwrap();
                        let seq = receipt.await.expect("tell");
                        println!("committed {seq} {p} {i}");
                    }
                    in_flight.push_back((i, slow.send((p, i)).await.expect("send")));
                }
            })
        })
        .collect();
    for p in producers {
        let _ = p.await;
    }
}

async fn journal(store: Store) {
    let system = ActorSystem::new();
    let total = spawn_event_sourced::<Total>(&system, &store, "total", 7).await.expect("spawn_event_sourced");
    for n in 1.. {
        let seq = total.execute(n).await.expect("execute");
        let sum = total.inspect(|t| t.0).await.expect("inspect");
        println!("applied {seq} {sum}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, path] = args.as_slice() else {
        eprintln!("usage: durable-crash-child (queue|journal) STORE");
        std::process::exit(2);
    };
    let store = Store::open(path).expect("open the store");
    match mode.as_str() {
        "queue" => queue(store).await,
        "journal" => journal(store).await,
        _ => {
            eprintln!("unknown mode {mode}");
            std::process::exit(2);
        }
    }
}
