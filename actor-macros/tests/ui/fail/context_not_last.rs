use actor_core::prelude::*;

struct Counter(u64);

#[actor]
impl Counter {
    #[message]
    fn add(&mut self, ctx: &mut Context<Self>, by: u64) {
        self.0 += by;
        let _ = ctx.id();
    }
}

fn main() {}
