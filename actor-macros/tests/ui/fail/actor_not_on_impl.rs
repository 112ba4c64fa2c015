use actor_core::prelude::*;

#[actor]
struct Counter(u64);

fn main() {
    // The struct is still defined.
    let _ = Counter(1).0;
}
