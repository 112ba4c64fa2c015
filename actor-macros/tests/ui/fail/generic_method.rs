use actor_core::prelude::*;

struct Store;

#[actor]
impl Store {
    #[message]
    fn put<T: Send + 'static>(&mut self, item: T) {
        drop(item);
    }
}

fn main() {}
