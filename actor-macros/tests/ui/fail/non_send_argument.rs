use std::rc::Rc;

use actor_core::prelude::*;

struct Counter(u8);

#[actor]
impl Counter {
    #[message]
    fn set(&mut self, value: Rc<u8>) {
        self.0 = *value;
    }
}

fn main() {}
