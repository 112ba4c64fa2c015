use actor_core::prelude::*;

struct Counter(u64);

#[actor(mailbox = 16)]
impl Counter {
    #[message]
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {
    // The rest of the expansion is still there: no follow-up errors.
    let _ = |counter: ActorRef<Counter>| async move { counter.get().await };
}
