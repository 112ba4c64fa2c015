//! Pub/sub topics: fan-out, ordering, stopped and full subscribers.

mod support;

use std::time::Duration;

use actor_core::Topic;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use support::{LIMIT, both_flavours_bounded, run_bounded};

/// Records the notes it receives.
#[derive(Default)]
struct Listener {
    notes: Vec<u32>,
}

#[actor]
impl Listener {
    /// A published message.
    #[message(derive(Clone, Debug))]
    fn note(&mut self, n: u32) {
        self.notes.push(n);
    }

    #[message]
    fn notes(&self) -> Vec<u32> {
        self.notes.clone()
    }

    /// Holds up the listener's mailbox until released.
    #[message]
    async fn hold(&mut self, rx: tokio::sync::oneshot::Receiver<()>) {
        let _ = rx.await;
    }
}

fn small_mailbox(capacity: usize) -> SpawnOptions {
    SpawnOptions::new().mailbox(Mailbox::bounded(capacity))
}

#[test]
fn three_subscribers_receive_every_published_message_in_order() {
    both_flavours_bounded(|system| async move {
        let topic = Topic::new();
        // One of them has a tiny mailbox, so publishing must wait for room.
        let listeners = [
            system.spawn(Listener::default()),
            system.spawn_with(Listener::default(), small_mailbox(2)),
            system.spawn_with(Listener::default(), small_mailbox(64)),
        ];
        for listener in &listeners {
            assert!(topic.subscribe(listener.recipient()));
        }
        assert_eq!(topic.subscriber_count(), 3);

        for n in 0..500 {
            assert_eq!(topic.publish(Note { n }).await, 3);
        }
        let expected: Vec<u32> = (0..500).collect();
        for listener in &listeners {
            assert_eq!(listener.ask(Notes).await.unwrap(), expected);
        }
    });
}

#[test]
fn each_publisher_reaches_each_subscriber_in_its_own_order() {
    both_flavours_bounded(|system| async move {
        let topic = Topic::new();
        let listeners = [system.spawn_with(Listener::default(), small_mailbox(4)), system.spawn(Listener::default())];
        for listener in &listeners {
            topic.subscribe(listener.recipient());
        }
        // Two publishers on clones of the topic: 0.. and 1000.. interleave,
        // but each run stays in order.
        let publishers: Vec<_> = [0, 1000]
            .into_iter()
            .map(|base| {
                let topic = topic.clone();
                tokio::spawn(async move {
                    for n in base..base + 200 {
                        assert_eq!(topic.publish(Note { n }).await, 2);
                    }
                })
            })
            .collect();
        for publisher in publishers {
            publisher.await.unwrap();
        }
        for listener in &listeners {
            let notes = listener.ask(Notes).await.unwrap();
            assert_eq!(notes.len(), 400);
            let low: Vec<u32> = notes.iter().copied().filter(|&n| n < 1000).collect();
            let high: Vec<u32> = notes.iter().copied().filter(|&n| n >= 1000).collect();
            assert_eq!(low, (0..200).collect::<Vec<_>>());
            assert_eq!(high, (1000..1200).collect::<Vec<_>>());
        }
    });
}

#[test]
fn a_stopped_subscriber_is_dropped_and_the_others_still_receive() {
    both_flavours_bounded(|system| async move {
        let mut dead_letters = system.dead_letters();
        let topic = Topic::new();
        let listeners: Vec<_> = (0..3).map(|_| system.spawn(Listener::default())).collect();
        for listener in &listeners {
            topic.subscribe(listener.recipient());
        }
        assert_eq!(topic.publish(Note { n: 1 }).await, 3);

        let gone = &listeners[1];
        gone.stop();
        gone.wait_for_stop().await;

        // A publish finds it closed: the note for it is a dead letter, and
        // the subscriber is dropped.
        assert_eq!(topic.publish(Note { n: 2 }).await, 2);
        let letter = dead_letters.recv().await.unwrap();
        assert_eq!(letter.recipient, Some(gone.id()));
        assert_eq!(topic.subscriber_count(), 2);
        assert_eq!(topic.publish(Note { n: 3 }).await, 2);

        assert_eq!(listeners[0].ask(Notes).await.unwrap(), [1, 2, 3]);
        assert_eq!(listeners[2].ask(Notes).await.unwrap(), [1, 2, 3]);
        // Only the one note was lost to the stop, and it was reported.
        assert_eq!(system.dead_letter_count(), 1);
    });
}

#[test]
fn subscriber_count_drops_stopped_subscribers_without_a_publish() {
    both_flavours_bounded(|system| async move {
        let topic = Topic::<Note>::new();
        let stays = system.spawn(Listener::default());
        let leaves = system.spawn(Listener::default());
        topic.subscribe(stays.recipient());
        topic.subscribe(leaves.recipient());
        assert_eq!(topic.subscriber_count(), 2);

        leaves.kill();
        leaves.wait_for_stop().await;
        assert_eq!(topic.subscriber_count(), 1);
        // A stopped actor cannot subscribe again.
        assert!(!topic.subscribe(leaves.recipient()));
        assert_eq!(topic.subscriber_count(), 1);
    });
}

#[test]
fn a_topic_keeps_its_subscribers_alive_until_they_unsubscribe() {
    both_flavours_bounded(|system| async move {
        let topic = Topic::new();
        let listener = system.spawn(Listener::default());
        let weak = listener.downgrade();
        topic.subscribe(listener.recipient());
        drop(listener);

        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(topic.publish(Note { n: 7 }).await, 1);
        let listener = weak.upgrade().expect("the topic holds it");
        assert_eq!(listener.ask(Notes).await.unwrap(), [7]);

        assert!(topic.unsubscribe(listener.id()));
        drop(listener);
        assert!(weak.upgrade().is_none());
    });
}

// On one thread the listeners do not run between the sends below, so which
// mailbox is full is certain.
#[test]
fn try_publish_skips_a_full_subscriber_and_reports_it() {
    run_bounded(LIMIT, |system| async move {
        let topic = Topic::new();
        let roomy = system.spawn(Listener::default());
        let tiny = system.spawn_with(Listener::default(), small_mailbox(1));
        topic.subscribe(roomy.recipient());
        topic.subscribe(tiny.recipient());

        let first = topic.try_publish(Note { n: 1 });
        assert_eq!(first.delivered, 2);
        assert!(first.is_complete());

        let second = topic.try_publish(Note { n: 2 });
        assert_eq!(second.delivered, 1);
        assert_eq!(second.full, [tiny.id()]);
        assert_eq!(second.stopped, 0);
        assert!(!second.is_complete());
        // Skipping is not leaving: the full subscriber stays subscribed.
        assert_eq!(topic.subscriber_count(), 2);

        assert_eq!(roomy.ask(Notes).await.unwrap(), [1, 2]);
        assert_eq!(tiny.ask(Notes).await.unwrap(), [1]);
    });
}

#[test]
fn try_publish_reports_a_full_subscriber_while_its_handler_is_busy() {
    both_flavours_bounded(|system| async move {
        let topic = Topic::new();
        let busy = system.spawn_with(Listener::default(), small_mailbox(1));
        let idle = system.spawn(Listener::default());
        topic.subscribe(busy.recipient());
        topic.subscribe(idle.recipient());

        // `busy` takes the hold and waits in its handler; then one note
        // fills its mailbox.
        let (release, held) = tokio::sync::oneshot::channel();
        busy.tell(Hold { rx: held }).await.unwrap();
        busy.tell(Note { n: 0 }).await.unwrap();

        let report = topic.try_publish(Note { n: 1 });
        assert_eq!(report.delivered, 1);
        assert_eq!(report.full, [busy.id()]);

        release.send(()).unwrap();
        assert_eq!(busy.ask(Notes).await.unwrap(), [0]);
        assert_eq!(idle.ask(Notes).await.unwrap(), [1]);
    });
}

#[test]
fn try_publish_counts_and_drops_stopped_subscribers() {
    run_bounded(LIMIT, |system| async move {
        let topic = Topic::new();
        let live = system.spawn(Listener::default());
        let gone = system.spawn(Listener::default());
        topic.subscribe(live.recipient());
        topic.subscribe(gone.recipient());
        gone.stop();
        gone.wait_for_stop().await;

        let report = topic.try_publish(Note { n: 1 });
        assert_eq!(report.delivered, 1);
        assert_eq!(report.stopped, 1);
        assert!(report.full.is_empty());
        assert_eq!(topic.subscriber_count(), 1);
        assert_eq!(system.dead_letter_count(), 1);
    });
}

#[test]
fn subscribing_twice_is_refused_and_unsubscribing_stops_delivery() {
    run_bounded(LIMIT, |system| async move {
        let topic = Topic::new();
        let listener = system.spawn(Listener::default());
        assert!(topic.subscribe(listener.recipient()));
        assert!(!topic.subscribe(listener.recipient()));
        assert_eq!(topic.publish(Note { n: 1 }).await, 1);

        assert!(topic.unsubscribe(listener.id()));
        assert!(!topic.unsubscribe(listener.id()));
        assert_eq!(topic.publish(Note { n: 2 }).await, 0);
        assert_eq!(topic.try_publish(Note { n: 3 }).delivered, 0);
        assert_eq!(listener.ask(Notes).await.unwrap(), [1]);
        // Still alive: the caller's reference holds it.
        assert!(listener.is_alive());
    });
}

#[test]
fn clones_of_a_topic_share_their_subscribers() {
    run_bounded(LIMIT, |system| async move {
        let topic = Topic::new();
        let clone = topic.clone();
        let listener = system.spawn(Listener::default());
        clone.subscribe(listener.recipient());
        assert_eq!(topic.subscriber_count(), 1);
        assert_eq!(topic.publish(Note { n: 4 }).await, 1);
        assert_eq!(listener.ask(Notes).await.unwrap(), [4]);
        assert!(format!("{topic:?}").contains("subscribers: 1"));
    });
}

#[test]
fn publishing_can_run_on_another_task() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let topic = Topic::<Note>::new();
        let publish = topic.publish(Note { n: 0 });
        assert_send(&publish);
        assert_eq!(publish.await, 0);
    });
}
