use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message]
    fn get(&self) -> u64 {
        self.0
    }

    #[message(name = "Get")]
    fn fetch(&self) -> u64 {
        self.0
    }
}

fn main() {}
