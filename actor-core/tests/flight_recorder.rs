//! The crash flight recorder: the last messages before a panic reach the
//! asker, monitors and supervisors, with renderings where messages offer
//! them.

use std::time::Duration;

use actor_core::error::AskError;
use actor_core::prelude::*;

struct Parser {
    parsed: u32,
}

#[actor]
impl Parser {
    /// Panics on input it cannot read.
    #[message(derive(Debug))]
    fn parse(&mut self, input: String) -> u32 {
        let n: u32 = input.parse().expect("a number");
        self.parsed += n;
        self.parsed
    }

    /// No `Debug`: only its type is recorded.
    #[message]
    fn reset(&mut self) {
        self.parsed = 0;
    }
}

#[tokio::test]
async fn the_asker_of_the_fatal_message_sees_the_record() {
    let parser = ActorSystem::new().spawn_with(Parser { parsed: 0 }, SpawnOptions::new().flight_recorder(3));
    assert_eq!(parser.parse("1".into()).await.unwrap(), 1);
    parser.reset().await.unwrap();
    assert_eq!(parser.parse("2".into()).await.unwrap(), 2);
    let err = parser.parse("two".into()).await.unwrap_err();
    let AskError::Panicked(panic) = err else { panic!("expected a panic, got {err:?}") };
    let record = panic.flight_record().expect("the actor keeps a flight record");
    let entries = record.entries();
    assert_eq!(entries.len(), 3, "the last 3 of 4 messages: {record}");
    assert!(entries[0].message_type.ends_with("Reset") && entries[0].rendering.is_none());
    assert_eq!(entries[1].rendering.as_deref(), Some(r#"Parse { input: "2" }"#));
    assert_eq!(entries[2].rendering.as_deref(), Some(r#"Parse { input: "two" }"#), "the fatal one is last");
    assert!(record.to_string().contains(r#"Parse { input: "two" }"#));
}

#[tokio::test]
async fn a_supervisor_sees_the_record_in_the_stop_reason() {
    use actor_core::supervision::{ChildSpec, Supervisor};
    let system = ActorSystem::new();
    let supervisor = system.spawn(Supervisor::new(actor_core::supervision::Strategy::OneForOne));
    let parser = supervisor
        .start_child(
            ChildSpec::new(|| Parser { parsed: 0 })
                .options(SpawnOptions::new().flight_recorder(8))
                .restart(actor_core::supervision::Restart::Temporary),
        )
        .await
        .unwrap();
    let _ = parser.parse("oops".into()).await;
    let reason = tokio::time::timeout(Duration::from_secs(5), parser.wait_for_stop()).await.unwrap();
    let StopReason::Panicked(panic) = reason else { panic!("expected a panic, got {reason:?}") };
    let record = panic.flight_record().expect("recorded");
    assert_eq!(record.entries().last().and_then(|e| e.rendering.as_deref()), Some(r#"Parse { input: "oops" }"#));
}

#[tokio::test]
async fn without_the_option_nothing_is_recorded() {
    let parser = ActorSystem::new().spawn(Parser { parsed: 0 });
    let err = parser.parse("x".into()).await.unwrap_err();
    let AskError::Panicked(panic) = err else { panic!("expected a panic") };
    assert!(panic.flight_record().is_none());
}
