//! Event-sourced actors: journal, snapshots, recovery, refusals and
//! idempotency keys.

use actor_core::prelude::*;
use actor_durable::{CommandError, EventSourced, Store, StoreError, spawn_event_sourced};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct Account {
    balance: i64,
    history: Vec<i64>,
}

enum Command {
    Deposit(i64),
    Withdraw(i64),
    /// Two events from one command.
    Transfer {
        fee: i64,
        amount: i64,
    },
}

#[derive(Serialize, Deserialize)]
enum Event {
    Changed(i64),
}

impl EventSourced for Account {
    type Command = Command;
    type Event = Event;
    type Error = String;

    fn handle(&self, command: Command) -> Result<Vec<Event>, String> {
        match command {
            Command::Deposit(n) => Ok(vec![Event::Changed(n)]),
            Command::Withdraw(n) if n > self.balance => Err(format!("balance {} is less than {n}", self.balance)),
            Command::Withdraw(n) => Ok(vec![Event::Changed(-n)]),
            Command::Transfer { fee, amount } => Ok(vec![Event::Changed(-fee), Event::Changed(-amount)]),
        }
    }

    fn apply(&mut self, Event::Changed(n): &Event) {
        self.balance += n;
        self.history.push(*n);
    }
}

async fn stop(account: &actor_durable::EventSourcedRef<Account>) {
    account.actor_ref().stop();
    account.actor_ref().wait_for_stop().await;
}

#[tokio::test]
async fn state_is_rebuilt_from_the_last_snapshot_and_the_events_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.redb");
    let system = ActorSystem::new();
    let expected: Vec<i64>;
    {
        let store = Store::open(&path).unwrap();
        let account = spawn_event_sourced::<Account>(&system, &store, "acc-1", 5).await.unwrap();
        assert_eq!(account.recovery().last_seq, 0);
        for n in 1..=11 {
            account.execute(Command::Deposit(n)).await.unwrap();
        }
        // 11 events, then a command with two: 13.
        assert_eq!(account.execute(Command::Transfer { fee: 1, amount: 10 }).await.unwrap(), 13);
        expected = account.inspect(|a| a.history.clone()).await.unwrap();
        stop(&account).await;
    }
    let store = Store::open(&path).unwrap();
    let account = spawn_event_sourced::<Account>(&system, &store, "acc-1", 5).await.unwrap();
    let recovery = account.recovery();
    // Snapshots after events 5 and 10; events 11 to 13 come from the journal.
    assert_eq!(recovery.snapshot, Some(10), "{recovery:?}");
    assert_eq!(recovery.replayed, 3);
    assert_eq!(recovery.last_seq, 13);
    assert_eq!(account.inspect(|a| a.history.clone()).await.unwrap(), expected);
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 66 - 11);
    system.shutdown().await;
}

#[tokio::test]
async fn without_snapshots_every_event_is_replayed_and_streams_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.redb");
    let system = ActorSystem::new();
    {
        let store = Store::open(&path).unwrap();
        let a = spawn_event_sourced::<Account>(&system, &store, "a", 0).await.unwrap();
        let b = spawn_event_sourced::<Account>(&system, &store, "b", 0).await.unwrap();
        for n in 1..=20 {
            a.execute(Command::Deposit(n)).await.unwrap();
        }
        b.execute(Command::Deposit(7)).await.unwrap();
        stop(&a).await;
        stop(&b).await;
    }
    let store = Store::open(&path).unwrap();
    let a = spawn_event_sourced::<Account>(&system, &store, "a", 0).await.unwrap();
    let b = spawn_event_sourced::<Account>(&system, &store, "b", 0).await.unwrap();
    assert_eq!(a.recovery().snapshot, None);
    assert_eq!(a.recovery().replayed, 20);
    assert_eq!(a.inspect(|s| s.balance).await.unwrap(), 210);
    assert_eq!(b.recovery().replayed, 1);
    assert_eq!(b.inspect(|s| s.balance).await.unwrap(), 7);
    system.shutdown().await;
}

#[tokio::test]
async fn a_refused_command_journals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.redb");
    let system = ActorSystem::new();
    let store = Store::open(&path).unwrap();
    let account = spawn_event_sourced::<Account>(&system, &store, "acc", 100).await.unwrap();
    account.execute(Command::Deposit(5)).await.unwrap();
    match account.execute(Command::Withdraw(9)).await {
        Err(CommandError::Rejected(reason)) => assert_eq!(reason, "balance 5 is less than 9"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    stop(&account).await;
    let account = spawn_event_sourced::<Account>(&system, &store, "acc", 100).await.unwrap();
    assert_eq!(account.recovery().last_seq, 1);
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 5);
    system.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_applies_a_command_once_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.redb");
    let system = ActorSystem::new();
    let store = Store::open(&path).unwrap();
    let account = spawn_event_sourced::<Account>(&system, &store, "acc", 100).await.unwrap();
    account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await.unwrap();
    assert!(matches!(
        account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await,
        Err(CommandError::Duplicate)
    ));
    stop(&account).await;

    let account = spawn_event_sourced::<Account>(&system, &store, "acc", 100).await.unwrap();
    assert!(matches!(
        account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await,
        Err(CommandError::Duplicate)
    ));
    account.execute_once(b"deposit-2".to_vec(), Command::Deposit(1)).await.unwrap();
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 11);
    system.shutdown().await;
}

#[tokio::test]
async fn one_actor_per_stream_and_an_event_that_no_longer_reads_fails_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("acc.redb")).unwrap();
    let system = ActorSystem::new();
    let account = spawn_event_sourced::<Account>(&system, &store, "acc", 0).await.unwrap();
    assert!(matches!(spawn_event_sourced::<Account>(&system, &store, "acc", 0).await, Err(StoreError::InUse(_))));
    account.execute(Command::Deposit(3)).await.unwrap();
    stop(&account).await;

    /// A state whose events are strings: the stored ones do not read as such.
    #[derive(Default, Serialize, Deserialize)]
    struct Renamed(String);
    impl EventSourced for Renamed {
        type Command = ();
        type Event = String;
        type Error = ();
        fn handle(&self, _: ()) -> Result<Vec<String>, ()> {
            Ok(vec![])
        }
        fn apply(&mut self, e: &String) {
            self.0.push_str(e);
        }
    }
    match spawn_event_sourced::<Renamed>(&system, &store, "acc", 0).await {
        Err(StoreError::Codec(reason)) => assert!(reason.starts_with("event 1 of acc: "), "{reason}"),
        other => panic!("expected a codec error, got {:?}", other.map(|_| ())),
    }
    system.shutdown().await;
}
