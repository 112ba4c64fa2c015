// `vis = pub` makes the messages public, so their replies must be too.
pub mod chat {
    use actor_core::prelude::*;

    #[derive(Default)]
    pub struct Room {
        members: usize,
    }

    struct Roster {
        count: usize,
    }

    #[actor(vis = pub)]
    impl Room {
        #[message]
        fn members(&self) -> Roster {
            Roster { count: self.members }
        }
    }
}

fn main() {}
