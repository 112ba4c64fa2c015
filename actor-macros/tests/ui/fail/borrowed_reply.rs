use actor_core::prelude::*;

struct Names(Vec<String>);

#[actor]
impl Names {
    #[message]
    fn first(&self) -> &str {
        &self.0[0]
    }
}

fn main() {}
