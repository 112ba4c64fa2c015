use actor_core::prelude::*;

#[derive(Actor)]
#[actor(mailbox = 16)]
struct Worker;

fn main() {}
