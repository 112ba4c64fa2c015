use actor_core::prelude::*;

struct Machine;

#[actor]
impl Machine {
    #[message]
    fn stop(&mut self) {}
}

fn main() {}
