//! One workload, a given number of times, on a current-thread runtime: for
//! counting the instructions an operation costs with callgrind, which
//! gives the same count run after run whatever else the machine is doing
//! (wall-clock benches on a shared machine drift by tens of percent).
//!
//! ```sh
//! cargo build --release -p benches --bin op_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/op_count tell 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/op_count tell 200000
//! ```
//!
//! The difference of the two totals, divided by the count, is the cost of
//! one operation: `tell` (one tell, awaited), `ask` (one tell and one ask)
//! or `lifecycle` (spawn, first ask, stop, wait for the stop). Each checks
//! its result.

use std::process::ExitCode;

use actor_core::prelude::*;
use benches::{Add, Counter, Get};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(workload), Some(Ok(count))) = (args.next(), args.next().map(|n| n.parse::<u64>())) else {
        eprintln!("usage: op_count tell|ask|lifecycle COUNT");
        return ExitCode::FAILURE;
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let system = ActorSystem::new();
        match workload.as_str() {
            "tell" => {
                let counter = system.spawn(Counter::default());
                for _ in 0..count {
                    counter.tell(Add(1)).await.expect("the counter is alive");
                }
                assert_eq!(counter.ask(Get).await.expect("the counter answers"), count);
            }
            "ask" => {
                let counter = system.spawn(Counter::default());
                for i in 0..count {
                    counter.tell(Add(1)).await.expect("the counter is alive");
                    assert_eq!(counter.ask(Get).await.expect("the counter answers"), i + 1);
                }
            }
            "lifecycle" => {
                for _ in 0..count {
                    let counter = system.spawn(Counter::default());
                    assert_eq!(counter.ask(Get).await.expect("the counter answers"), 0);
                    counter.stop();
                    counter.wait_for_stop().await;
                }
            }
            other => panic!("unknown workload {other}: tell, ask or lifecycle"),
        }
        system.shutdown().await;
    });
    ExitCode::SUCCESS
}
