use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message(wire_name = "counter.get")]
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {}
