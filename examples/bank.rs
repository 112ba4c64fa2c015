//! A bank where every account is an actor: 10,000 concurrent transfers are
//! made by `ask`, a few of them carry a poisoned deposit that crashes the
//! receiving account, and an audit shows that no money was created or lost.
//!
//! What does a restart mean for money? A supervisor restarts a crashed
//! account in place (the same reference, queued requests kept), but with a
//! fresh state from its factory, and whatever the crashed incarnation held
//! in memory is gone. So an account writes every new balance to the
//! `Ledger` actor *before* acknowledging the operation, and reads its
//! balance back from the ledger in `on_start`. An operation that crashed
//! before it was recorded was never acknowledged: the transfer sees the
//! failed ask and refunds the sender.
//!
//! Run with `cargo run --example bank`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use tokio::task::JoinSet;

const ACCOUNTS: usize = 10;
const OPENING_BALANCE: i64 = 50_000;
const TRANSFERS: u64 = 10_000;
/// One transfer in this many carries a poisoned deposit.
const POISON_EVERY: u64 = 1_000;
const POISON: &str = "poisoned deposit";

/// The durable record of every balance, as of its last acknowledged change.
struct Ledger(Vec<i64>);

#[actor]
impl Ledger {
    #[message]
    fn record(&mut self, account: usize, balance: i64) {
        self.0[account] = balance;
    }

    #[message]
    fn recorded(&self, account: usize) -> i64 {
        self.0[account]
    }

    #[message]
    fn total(&self) -> i64 {
        self.0.iter().sum()
    }
}

/// One account: its balance, written through to the ledger.
struct Account {
    no: usize,
    balance: i64,
    ledger: ActorRef<Ledger>,
    /// How many times this account has started, across restarts.
    starts: Arc<AtomicU32>,
}

impl Actor for Account {
    type Error = actor_core::Error;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.balance = self.ledger.recorded(self.no).await?;
        if self.starts.fetch_add(1, Ordering::Relaxed) > 0 {
            println!("account {} restarted, balance {} restored from the ledger", self.no, self.balance);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct InsufficientFunds;

#[actor(no_actor_impl)]
impl Account {
    #[message]
    async fn withdraw(&mut self, amount: i64) -> Result<(), InsufficientFunds> {
        if self.balance < amount {
            return Err(InsufficientFunds);
        }
        self.set_balance(self.balance - amount).await;
        Ok(())
    }

    #[message]
    async fn deposit(&mut self, amount: i64, poisoned: bool) {
        if poisoned {
            // Crash halfway through: the change reaches memory, not the ledger.
            self.balance += amount;
            std::panic::panic_any(POISON);
        }
        self.set_balance(self.balance + amount).await;
    }

    #[message]
    fn balance(&self) -> i64 {
        self.balance
    }

    /// Records `balance` in the ledger, then adopts it.
    async fn set_balance(&mut self, balance: i64) {
        self.ledger.record(self.no, balance).await.expect("the ledger is up");
        self.balance = balance;
    }
}

enum Outcome {
    Done,
    Declined,
    Refunded,
}

/// Moves `amount` from one account to another: a withdrawal, then a deposit,
/// and a refund if the deposit crashed (it was then never recorded).
async fn transfer(from: &ActorRef<Account>, to: &ActorRef<Account>, amount: i64, poisoned: bool) -> Outcome {
    if from.withdraw(amount).await.expect("a withdrawal gets an answer").is_err() {
        return Outcome::Declined;
    }
    match to.deposit(amount, poisoned).await {
        Ok(()) => Outcome::Done,
        Err(e) if e.is_panic() => {
            from.deposit(amount, false).await.expect("the refund is recorded");
            Outcome::Refunded
        }
        Err(e) => panic!("deposit lost: {e}"),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), actor_core::Error> {
    // Keep the expected crashes quiet; any other panic is still printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&POISON) {
            default_hook(info);
        }
    }));

    let system = ActorSystem::new();
    let ledger = system.spawn(Ledger(vec![OPENING_BALANCE; ACCOUNTS]));
    let bank = system.spawn(Supervisor::new(Strategy::OneForOne).max_restarts(100, Duration::from_secs(1)));
    let mut accounts = Vec::new();
    for no in 0..ACCOUNTS {
        let (ledger, starts) = (ledger.clone(), Arc::new(AtomicU32::new(0)));
        let spec = ChildSpec::new(move || Account { no, balance: 0, ledger: ledger.clone(), starts: starts.clone() });
        accounts.push(bank.start_child(spec).await.expect("the supervisor is up"));
    }
    let before = ledger.total().await?;
    println!("{ACCOUNTS} accounts opened with {OPENING_BALANCE} each: total {before}");

    let accounts = Arc::new(accounts);
    let mut transfers = JoinSet::new();
    // A small xorshift generator picks the accounts and the amounts.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 1..=TRANSFERS {
        let from = next() as usize % ACCOUNTS;
        let to = (from + 1 + next() as usize % (ACCOUNTS - 1)) % ACCOUNTS;
        let amount = 1 + (next() % 100) as i64;
        let accounts = accounts.clone();
        let poisoned = i % POISON_EVERY == 0;
        transfers.spawn(async move { transfer(&accounts[from], &accounts[to], amount, poisoned).await });
    }
    let (mut done, mut declined, mut refunded) = (0, 0, 0);
    while let Some(outcome) = transfers.join_next().await {
        match outcome.expect("a transfer task does not panic") {
            Outcome::Done => done += 1,
            Outcome::Declined => declined += 1,
            Outcome::Refunded => refunded += 1,
        }
    }
    println!("{TRANSFERS} concurrent transfers: {done} done, {declined} declined, {refunded} refunded after a crash");

    let mut after = 0;
    for account in accounts.iter() {
        after += account.balance().await?;
    }
    let recorded = ledger.total().await?;
    println!("audit: total before {before}, total after {after}, ledger {recorded}");
    system.shutdown().await;
    if before == after && after == recorded {
        println!("audit passed: no money lost or created");
        Ok(())
    } else {
        println!("audit FAILED: the totals differ");
        std::process::exit(1);
    }
}
