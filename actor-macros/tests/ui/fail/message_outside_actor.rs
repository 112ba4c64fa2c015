use actor_core::prelude::*;

struct Counter(u64);

impl Counter {
    #[message]
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {}
