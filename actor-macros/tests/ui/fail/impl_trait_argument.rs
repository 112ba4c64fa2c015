use actor_core::prelude::*;

struct Logger;

#[actor]
impl Logger {
    #[message]
    fn log(&mut self, line: impl std::fmt::Display + Send + 'static) {
        println!("{line}");
    }
}

fn main() {}
