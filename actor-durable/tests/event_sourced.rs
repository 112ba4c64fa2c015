//! Event-sourced actors: journal, snapshots, recovery, refusals and
//! idempotency keys.

mod support;

use actor_durable::{CommandError, EventSourced, EventSourcedRef, Store, StoreError, spawn_event_sourced};
use serde::{Deserialize, Serialize};
use support::Scratch;

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

/// Starts the account of `stream`, recovered from `store`, with a snapshot
/// every `snapshot_every` events (0: none).
async fn open_account(scratch: &Scratch, store: &Store, stream: &str, snapshot_every: u64) -> EventSourcedRef<Account> {
    spawn_event_sourced::<Account>(&scratch.system, store, stream, snapshot_every).await.unwrap()
}

/// The set-up of the tests on one stream: a fresh store with the account
/// "acc" in it.
async fn fresh_account(snapshot_every: u64) -> (Scratch, Store, EventSourcedRef<Account>) {
    let scratch = Scratch::new();
    let store = scratch.open();
    let account = open_account(&scratch, &store, "acc", snapshot_every).await;
    (scratch, store, account)
}

async fn stop(account: &EventSourcedRef<Account>) {
    account.actor_ref().stop();
    account.actor_ref().wait_for_stop().await;
}

/// Stops the account "acc" and starts it again from `store` (with the
/// snapshot interval of the tests that restart it, 100).
async fn restart(scratch: &Scratch, store: &Store, account: EventSourcedRef<Account>) -> EventSourcedRef<Account> {
    stop(&account).await;
    open_account(scratch, store, "acc", 100).await
}

#[tokio::test]
async fn state_is_rebuilt_from_the_last_snapshot_and_the_events_after_it() {
    let scratch = Scratch::new();
    let expected: Vec<i64>;
    {
        let store = scratch.open();
        let account = open_account(&scratch, &store, "acc-1", 5).await;
        assert_eq!(account.recovery().last_seq, 0);
        for n in 1..=11 {
            account.execute(Command::Deposit(n)).await.unwrap();
        }
        // 11 events, then a command with two: 13.
        assert_eq!(account.execute(Command::Transfer { fee: 1, amount: 10 }).await.unwrap(), 13);
        expected = account.inspect(|a| a.history.clone()).await.unwrap();
        stop(&account).await;
    }
    let store = scratch.open();
    let account = open_account(&scratch, &store, "acc-1", 5).await;
    let recovery = account.recovery();
    // Snapshots after events 5 and 10; events 11 to 13 come from the journal.
    assert_eq!(recovery.snapshot, Some(10), "{recovery:?}");
    assert_eq!(recovery.replayed, 3);
    assert_eq!(recovery.last_seq, 13);
    assert_eq!(account.inspect(|a| a.history.clone()).await.unwrap(), expected);
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 66 - 11);
    scratch.shutdown().await;
}

#[tokio::test]
async fn without_snapshots_every_event_is_replayed_and_streams_are_separate() {
    let scratch = Scratch::new();
    {
        let store = scratch.open();
        let a = open_account(&scratch, &store, "a", 0).await;
        let b = open_account(&scratch, &store, "b", 0).await;
        for n in 1..=20 {
            a.execute(Command::Deposit(n)).await.unwrap();
        }
        b.execute(Command::Deposit(7)).await.unwrap();
        stop(&a).await;
        stop(&b).await;
    }
    let store = scratch.open();
    let a = open_account(&scratch, &store, "a", 0).await;
    let b = open_account(&scratch, &store, "b", 0).await;
    for (account, replayed, balance) in [(&a, 20, 210), (&b, 1, 7)] {
        assert_eq!(account.recovery().snapshot, None);
        assert_eq!(account.recovery().replayed, replayed);
        assert_eq!(account.inspect(|s| s.balance).await.unwrap(), balance);
    }
    scratch.shutdown().await;
}

#[tokio::test]
async fn a_refused_command_journals_nothing() {
    let (scratch, store, account) = fresh_account(100).await;
    account.execute(Command::Deposit(5)).await.unwrap();
    match account.execute(Command::Withdraw(9)).await {
        Err(CommandError::Rejected(reason)) => assert_eq!(reason, "balance 5 is less than 9"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let account = restart(&scratch, &store, account).await;
    assert_eq!(account.recovery().last_seq, 1);
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 5);
    scratch.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_applies_a_command_once_even_across_restarts() {
    let (scratch, store, account) = fresh_account(100).await;
    account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await.unwrap();
    assert!(matches!(
        account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await,
        Err(CommandError::Duplicate)
    ));

    let account = restart(&scratch, &store, account).await;
    assert!(matches!(
        account.execute_once(b"deposit-1".to_vec(), Command::Deposit(10)).await,
        Err(CommandError::Duplicate)
    ));
    account.execute_once(b"deposit-2".to_vec(), Command::Deposit(1)).await.unwrap();
    assert_eq!(account.inspect(|a| a.balance).await.unwrap(), 11);
    scratch.shutdown().await;
}

#[tokio::test]
async fn one_actor_per_stream_and_an_event_that_no_longer_reads_fails_recovery() {
    let (scratch, store, account) = fresh_account(0).await;
    assert!(matches!(
        spawn_event_sourced::<Account>(&scratch.system, &store, "acc", 0).await,
        Err(StoreError::InUse(_))
    ));
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
    match spawn_event_sourced::<Renamed>(&scratch.system, &store, "acc", 0).await {
        Err(StoreError::Codec(reason)) => assert!(reason.starts_with("event 1 of acc: "), "{reason}"),
        other => panic!("expected a codec error, got {:?}", other.map(|_| ())),
    }
    scratch.shutdown().await;
}
