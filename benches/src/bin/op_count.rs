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
//! or `lifecycle` (spawn, first ask, stop, wait for the stop), `remote_tell`
//! (one 32-byte tell from node `b` to an actor on node `a` over a Unix
//! socket, both nodes in this process, instructions of both sides
//! counted) or `raw_remote_tell` (the same frames through the hand-written
//! batched pipeline of `benches::remote`), `remote_ask` (one sequential
//! ask round trip between the same two nodes) or `raw_remote_ask` (the
//! same round trip through the hand-written client against a server laid
//! out like a node: reader, handler and writer tasks). Each checks its
//! result.
//!
//! With a side before the count, it runs a workload of the `core` bench
//! instead ([`benches::local`]), on that side, `COUNT` operations of it
//! (a multiple of 1,000 for `fanout`, of 4 for `contended`), so that ours
//! and the hand-written program can be compared in instructions too:
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/op_count ring actor_core 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/op_count ring actor_core 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/op_count ring raw_unbounded 100000
//! ```
//!
//! Workloads: tell, ask, pingpong, ring, spawn, lifecycle, contended,
//! fanout; sides: actor_core, raw_bounded, raw_unbounded. The set-up (a
//! ring's 1,000 actors, say) is the same for every count and cancels out in
//! the difference. It prints the measured part's time per operation
//! (`fanout actor_core: 812.4 ns/op`), the figure the core bench takes.
//!
//! `OP_COUNT_WORKERS=2` runs a workload on a multi-thread
//! runtime with that many workers instead, for timing two builds against
//! each other as whole processes (`/usr/bin/time`, or any tool that
//! alternates the two): instruction counts are only meaningful on one
//! thread.

use std::process::ExitCode;

use actor_core::prelude::*;
use benches::local::{Side, Workload};
use benches::remote::{RawClient, RawServer, RemotePair, Transport, remote_asks, remote_tell_burst};
use benches::{Add, Counter, Get};

const USAGE: &str = "usage: op_count tell|ask|lifecycle|remote_tell|raw_remote_tell|remote_ask|raw_remote_ask COUNT\n       op_count WORKLOAD SIDE COUNT";

/// A workload of the core bench: `count` operations on `side`.
fn local(workload: &str, side: &str, count: &str) -> ExitCode {
    let (Some(workload), Some(side), Ok(count)) = (Workload::from_name(workload), Side::from_name(side), count.parse())
    else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    if !workload.accepts(count) {
        eprintln!("op_count: {} cannot run {count} operations", workload.name());
        return ExitCode::FAILURE;
    }
    // Spawned, as the core bench runs it: on a multi-thread runtime the
    // driver then shares the workers with the actors.
    let runtime = runtime();
    let elapsed = runtime.block_on(runtime.spawn(workload.run(side, count))).expect("the workload panicked");
    if count > 0 {
        println!("{} {}: {:.1} ns/op", workload.name(), side.name(), elapsed.as_nanos() as f64 / count as f64);
    }
    ExitCode::SUCCESS
}

/// A current-thread runtime, or a multi-thread one with `OP_COUNT_WORKERS`
/// workers when that variable is set.
fn runtime() -> tokio::runtime::Runtime {
    let workers = std::env::var("OP_COUNT_WORKERS").ok().and_then(|n| n.parse::<usize>().ok()).filter(|&n| n > 0);
    let runtime = match workers {
        Some(workers) => tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build(),
        None => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    };
    runtime.expect("a runtime")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (workload, count) = match args.as_slice() {
        [workload, side, count] => return local(workload, side, count),
        [workload, count] => match count.parse::<u64>() {
            Ok(count) => (workload.clone(), count),
            Err(_) => {
                eprintln!("{USAGE}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    // Spawned onto the runtime, as the benches run their workloads: with
    // `OP_COUNT_WORKERS` set, the driver then runs on a worker, not on
    // the thread that blocks.
    let runtime = runtime();
    let driver = runtime.spawn(async move {
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
            "remote_tell" => {
                let pair = RemotePair::start(Transport::Unix).await;
                let before = pair.totals().await;
                remote_tell_burst(&pair.remote, count, before).await;
                pair.shutdown().await;
            }
            "raw_remote_tell" => {
                let raw = RawClient::connect(Transport::Unix, RawServer::Direct).await;
                let before = raw.totals().await;
                raw.tell_burst(count, before).await;
            }
            "remote_ask" => {
                let pair = RemotePair::start(Transport::Unix).await;
                remote_asks(&pair.remote, count, 0).await;
                pair.shutdown().await;
            }
            "raw_remote_ask" => {
                let raw = RawClient::connect(Transport::Unix, RawServer::Hops).await;
                raw.asks(count, 0).await;
            }
            other => panic!(
                "unknown workload {other}: tell, ask, lifecycle, remote_tell, raw_remote_tell, remote_ask or raw_remote_ask"
            ),
        }
        system.shutdown().await;
    });
    runtime.block_on(driver).expect("the workload panicked");
    ExitCode::SUCCESS
}
