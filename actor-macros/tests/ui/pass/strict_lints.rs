//! A library-like crate with strict lints: the expansions add no warnings,
//! and full attribute paths work without the prelude.
#![deny(warnings, missing_docs, missing_debug_implementations, unreachable_pub, private_interfaces)]

/// Public API of this "library".
pub mod api {
    use actor_core::{ActorRef, ActorSystem, Context};

    /// A bank account.
    #[derive(Debug, Default)]
    pub struct Account {
        balance: i64,
    }

    /// Not enough money.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Insufficient;

    #[actor_core::actor]
    impl Account {
        /// Deposits `amount` and returns the balance.
        #[actor_core::message(derive(Debug))]
        pub fn deposit(&mut self, amount: i64) -> i64 {
            self.balance += amount;
            self.balance
        }

        /// Withdraws, or fails.
        #[actor_core::message(derive(Debug))]
        pub async fn withdraw(&mut self, amount: i64, ctx: &mut Context<Self>) -> Result<i64, Insufficient> {
            let _ = ctx.id();
            if amount > self.balance {
                return Err(Insufficient);
            }
            self.balance -= amount;
            Ok(self.balance)
        }

        /// Crate-internal.
        #[actor_core::message(derive(Debug))]
        pub(crate) fn audit(&self) -> i64 {
            self.balance
        }

        #[actor_core::message(derive(Debug))]
        fn secret(&self) {}
    }

    /// Spawns an account.
    pub async fn open() -> ActorRef<Account> {
        let account = ActorSystem::new().spawn(Account::default());
        // A private message's client method is callable where its type is.
        account.secret().await.unwrap();
        account
    }
}

use api::{AccountClient, Deposit};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let account = api::open().await;
    assert_eq!(account.deposit(10).await.unwrap(), 10);
    assert_eq!(account.ask(Deposit { amount: 5 }).await.unwrap(), 15);
    assert_eq!(account.withdraw(100).await.unwrap(), Err(api::Insufficient));
    account.tell_withdraw(5).await.unwrap();
    assert_eq!(account.audit().await.unwrap(), 10);
}
