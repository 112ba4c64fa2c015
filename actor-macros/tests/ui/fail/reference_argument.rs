use actor_core::prelude::*;

struct Logger;

#[actor]
impl Logger {
    #[message]
    fn log(&mut self, line: &str) {
        println!("{line}");
    }
}

fn main() {}
