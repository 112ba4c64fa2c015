use actor_core::prelude::*;

#[derive(Default)]
struct Counter(u64);

#[actor]
impl Counter {
    #[message]
    fn inc(&mut self, by: u64) -> u64 {
        self.0 += by;
        self.0
    }
}

struct Greet;

impl Message for Greet {
    type Reply = String;
}

async fn run(counter: ActorRef<Counter>) {
    let _ = counter.ask(Greet).await;
    let _ = counter.tell(Greet).await;
}

fn main() {
    let _ = run;
}
