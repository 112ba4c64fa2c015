use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message]
    fn into_total(self) -> u64 {
        self.0
    }
}

fn main() {}
