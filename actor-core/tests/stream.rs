//! Streams attached to an actor: every item handled in order, with
//! backpressure, and the stream dropped when the actor stops or detaches it.

mod support;

use std::time::Duration;

use actor_core::TimerHandle;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use support::both_flavours;
use tokio::sync::oneshot;

/// Records the items it is sent.
#[derive(Default)]
struct Sink {
    items: Vec<u32>,
}
#[actor]
impl Sink {
    #[message]
    fn item(&mut self, n: u32) {
        self.items.push(n);
    }

    #[message]
    fn attach(&mut self, stream: BoxStream<'static, u32>, ctx: &mut Context<Self>) -> TimerHandle {
        ctx.attach_stream(stream.map(|n| Item { n }))
    }

    #[message]
    fn items(&self) -> Vec<u32> {
        self.items.clone()
    }
}

/// Waits until the stream's task has queued its last item.
async fn until_finished(handle: &TimerHandle) {
    let wait = async {
        while !handle.is_finished() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait).await.expect("the stream ends");
}

/// A stream that yields one item a second forever and reports, through the
/// returned receiver, when it is dropped.
fn endless() -> (BoxStream<'static, u32>, oneshot::Receiver<()>) {
    let (dropped, rx) = oneshot::channel::<()>();
    let stream = stream::unfold((0, dropped), |(n, dropped)| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((n, (n + 1, dropped)))
    });
    (stream.boxed(), rx)
}

#[test]
fn every_item_of_an_attached_stream_is_handled_in_order() {
    both_flavours(|| async {
        let sink = ActorSystem::new().spawn(Sink::default());
        let handle = sink.ask(Attach { stream: stream::iter(0..1000).boxed() }).await.unwrap();
        until_finished(&handle).await;
        assert_eq!(sink.ask(Items).await.unwrap(), (0..1000).collect::<Vec<_>>());
    });
}

#[test]
fn a_stream_waits_for_room_in_a_small_mailbox_and_loses_nothing() {
    both_flavours(|| async {
        let system = ActorSystem::new();
        let sink = system.spawn_with(Sink::default(), SpawnOptions::new().mailbox(Mailbox::bounded(4)));
        let dead = system.dead_letter_count();
        let handle = sink.ask(Attach { stream: stream::iter(0..1000).boxed() }).await.unwrap();
        until_finished(&handle).await;
        assert_eq!(sink.ask(Items).await.unwrap(), (0..1000).collect::<Vec<_>>());
        assert_eq!(system.dead_letter_count(), dead);
    });
}

#[tokio::test(start_paused = true)]
async fn a_stream_attached_to_an_actor_that_stops_is_dropped() {
    let system = ActorSystem::new();
    let sink = system.spawn(Sink::default());
    let (stream, dropped) = endless();
    let handle = sink.ask(Attach { stream }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(sink.ask(Items).await.unwrap(), vec![0, 1, 2]);

    sink.stop();
    sink.wait_for_stop().await;
    let dead = system.dead_letter_count();
    assert!(dropped.await.is_err(), "the stream was dropped");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(handle.is_finished());
    assert_eq!(system.dead_letter_count(), dead);
}

#[tokio::test(start_paused = true)]
async fn cancelling_detaches_the_stream_and_drops_it() {
    let sink = ActorSystem::new().spawn(Sink::default());
    let (stream, dropped) = endless();
    let handle = sink.ask(Attach { stream }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    handle.cancel();
    assert!(handle.is_finished());
    assert!(dropped.await.is_err(), "the stream was dropped");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(sink.ask(Items).await.unwrap(), vec![0, 1]);
    assert!(sink.is_alive());
}
