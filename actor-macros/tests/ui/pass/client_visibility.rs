//! An actor in a "library" module, used from outside it: `vis = pub` makes
//! its client and messages public although its methods are private, as the
//! split of a program into lib.rs and a binary needs.
#![deny(warnings, missing_docs, unreachable_pub)]

/// The "library".
pub mod chat {
    use actor_core::prelude::*;

    /// A chat room.
    #[derive(Debug, Default)]
    pub struct Room {
        members: Vec<String>,
    }

    /// What a room says about itself.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Roster {
        /// Members, in joining order.
        pub members: Vec<String>,
    }

    #[actor(vis = pub)]
    impl Room {
        /// Adds a member; returns how many there are.
        #[message]
        fn join(&mut self, name: String) -> usize {
            self.members.push(name);
            self.members.len()
        }

        #[message]
        fn summary(&self) -> Roster {
            Roster { members: self.members.clone() }
        }

        /// Crate-internal, whatever the block says.
        #[message(vis = pub(crate))]
        fn reset(&mut self) {
            self.members.clear();
        }
    }
}

use chat::{Join, Room, RoomClient, Roster};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let room = actor_core::ActorSystem::new().spawn(Room::default());
    assert_eq!(room.join("ann".into()).await.unwrap(), 1);
    assert_eq!(room.ask(Join { name: "bob".into() }).await.unwrap(), 2);
    assert_eq!(room.summary().await.unwrap(), Roster { members: vec!["ann".into(), "bob".into()] });
    room.tell_reset().await.unwrap();
    assert_eq!(room.ask(chat::Summary).await.unwrap().members.len(), 0);
}
