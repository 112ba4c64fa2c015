use actor_core::prelude::*;

struct Plotter;

#[actor]
impl Plotter {
    #[message]
    fn plot(&mut self, (x, y): (i32, i32)) {
        println!("{x} {y}");
    }
}

fn main() {}
