//! The test kit's probe: expectations, their failures, and paused time.

use std::time::Duration;

use actor_core::prelude::*;
use actor_core::testkit::{Probe, ProbeError};

#[derive(Debug, PartialEq)]
struct Event(&'static str);
impl Message for Event {
    type Reply = ();
}

/// Reports each word it is told to its listener, after `delay`.
struct Announcer {
    listener: Recipient<Event>,
    delay: Duration,
}

#[actor]
impl Announcer {
    #[message]
    async fn announce(&mut self, word: &'static str) {
        tokio::time::sleep(self.delay).await;
        let _ = self.listener.tell(Event(word)).await;
    }
}

/// An `Announcer` with `delay`, reporting to a probe; hands back the
/// system (kept alive for the test), the probe and the announcer.
fn announcer_with_probe(delay: Duration) -> (ActorSystem, Probe<Event>, ActorRef<Announcer>) {
    let system = ActorSystem::new();
    let probe = Probe::new(&system);
    let announcer = system.spawn(Announcer { listener: probe.recipient(), delay });
    (system, probe, announcer)
}

#[tokio::test(start_paused = true)]
async fn a_probe_sees_what_the_actor_sends_on_paused_time() {
    let (_system, mut probe, announcer) = announcer_with_probe(Duration::from_secs(3600));
    announcer.tell_announce("hello").await.unwrap();
    announcer.tell_announce("world").await.unwrap();
    let started = std::time::Instant::now();
    // An hour each, on paused time.
    assert_eq!(probe.expect(Duration::from_secs(3601)).await, Ok(Event("hello")));
    assert!(probe.expect_matching(Duration::from_secs(3601), |e| e.0 == "world").await.is_ok());
    assert!(started.elapsed() < Duration::from_secs(5), "no real hour went by");
}

#[tokio::test(start_paused = true)]
async fn expectations_fail_with_what_happened() {
    let (_system, mut probe, announcer) = announcer_with_probe(Duration::from_secs(10));
    announcer.tell_announce("early").await.unwrap();
    assert_eq!(probe.expect(Duration::from_secs(1)).await, Err(ProbeError::Timeout), "too soon");
    assert_eq!(probe.expect_none(Duration::from_secs(20)).await, Err(ProbeError::Unexpected(Event("early"))));
    announcer.tell_announce("other").await.unwrap();
    assert_eq!(
        probe.expect_matching(Duration::from_secs(20), |e| e.0 == "expected").await,
        Err(ProbeError::Unexpected(Event("other")))
    );
    announcer.announce("a").await.unwrap();
    announcer.announce("b").await.unwrap();
    assert_eq!(probe.expect(Duration::from_secs(1)).await, Ok(Event("a")));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(probe.drain(), vec![Event("b")], "what came, without waiting");
    assert!(probe.drain().is_empty());
}
