use actor_core::prelude::*;

struct Payload {
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Store;

#[actor]
impl Store {
    #[message(remote)]
    fn put(&mut self, msg: Payload) -> usize {
        msg.bytes.len()
    }
}

fn main() {}
