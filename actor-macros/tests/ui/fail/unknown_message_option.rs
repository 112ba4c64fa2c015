use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message(rename = "Fetch")]
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {}
