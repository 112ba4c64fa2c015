//! Per-sender FIFO: messages from one sender arrive in the order sent.

mod support;

use actor_core::prelude::*;
use support::both_flavours;

/// Records (sender, sequence) pairs in arrival order.
#[derive(Default)]
struct Sink {
    next: Vec<u64>,
    out_of_order: u64,
    received: u64,
}
impl Actor for Sink {
    type Error = std::convert::Infallible;
}

struct Item {
    sender: usize,
    seq: u64,
}
impl Message for Item {
    type Reply = ();
}
impl Handler<Item> for Sink {
    async fn handle(&mut self, item: Item, _: &mut Context<Self>) {
        if self.next.len() <= item.sender {
            self.next.resize(item.sender + 1, 0);
        }
        if self.next[item.sender] != item.seq {
            self.out_of_order += 1;
        }
        self.next[item.sender] = item.seq + 1;
        self.received += 1;
    }
}

struct Report;
impl Message for Report {
    type Reply = (u64, u64, Vec<u64>);
}
impl Handler<Report> for Sink {
    async fn handle(&mut self, _: Report, _: &mut Context<Self>) -> (u64, u64, Vec<u64>) {
        (self.received, self.out_of_order, self.next.clone())
    }
}

const SENDERS: usize = 4;
/// Fewer under Miri, an interpreter.
const PER_SENDER: u64 = if cfg!(miri) { 200 } else { 10_000 };

#[test]
fn four_senders_ten_thousand_each_arrive_in_per_sender_order() {
    both_flavours(|| async {
        let system = ActorSystem::new();
        // A small mailbox so that senders really contend and wait for room.
        let sink =
            system.spawn_with(Sink::default(), SpawnOptions::new().mailbox(actor_core::mailbox::Mailbox::bounded(16)));
        let mut tasks = Vec::new();
        for sender in 0..SENDERS {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                for seq in 0..PER_SENDER {
                    // Mix the three ways of sending: ordering must hold across them.
                    match seq % 3 {
                        0 => sink.tell(Item { sender, seq }).await.unwrap(),
                        1 => {
                            let mut item = Item { sender, seq };
                            loop {
                                match sink.try_tell(item) {
                                    Ok(()) => break,
                                    Err(e) => {
                                        assert!(e.is_full());
                                        item = e.into_inner();
                                        tokio::task::yield_now().await;
                                    }
                                }
                            }
                        }
                        _ => sink.ask(Item { sender, seq }).await.unwrap(),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (received, out_of_order, next) = sink.ask(Report).await.unwrap();
        assert_eq!(received, SENDERS as u64 * PER_SENDER);
        assert_eq!(out_of_order, 0);
        assert_eq!(next, vec![PER_SENDER; SENDERS]);
        system.shutdown().await;
    });
}
