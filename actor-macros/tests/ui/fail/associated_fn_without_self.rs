use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message]
    fn new(start: u64) -> Counter {
        Counter(start)
    }
}

fn main() {}
