// A public actor whose message methods are private: its client would be
// private too, unusable where the actor is. One error, at the impl block.
pub mod chat {
    use actor_core::prelude::*;

    #[derive(Default)]
    pub struct Room {
        members: usize,
    }

    #[actor]
    impl Room {
        #[message]
        fn join(&mut self, _name: String) -> usize {
            self.members += 1;
            self.members
        }
    }
}

fn main() {}
