//! Two real OS processes: this test's node and the `remote-node` binary.
//! Kill the peer mid-stream, see pending asks fail fast, restart it, see
//! the connection come back.

mod support;

use std::time::{Duration, Instant};

use actor_core::error::SendError;
use actor_core::prelude::*;
use actor_remote::Limits;
use support::remote_node::{self, Counter, CounterClient};
use support::{fast_limits, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_peer_process_fails_asks_fast_and_a_restart_reconnects() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let address = format!("tcp://127.0.0.1:{}", free_port());
        let mut child = remote_node::start(&address, "shared").await;

        let limits = Limits { reconnect_min: Duration::from_millis(50), ..fast_limits() };
        let node = support::node_with("here", "shared", limits).await;
        let peer = node.connect(&address).await.unwrap();
        assert_eq!(peer, "peer");
        let counter: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
        assert_eq!(counter.add(2).await.unwrap(), 2);

        // Mid-stream: a stream of tells and an ask that will not be answered.
        let pending = support::spawn_ask(&counter, |counter| async move { counter.slow(60_000).await });
        for _ in 0..1_000 {
            counter.tell_add(1).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;

        child.kill().await.unwrap();
        let killed = Instant::now();
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.is_node_down(), "{err:?}");
        assert!(killed.elapsed() < Duration::from_secs(5), "failed fast: {:?}", killed.elapsed());
        // Asks while the peer is down fail at once too.
        assert!(counter.add(1).await.unwrap_err().is_node_down());

        // Restarted on the same address: the node dialed it, so it reconnects.
        let _child = remote_node::start(&address, "shared").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !node.peers().contains(&peer) {
            assert!(Instant::now() < deadline, "reconnected in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A new process is a new incarnation: the old actor is gone, and
        // the reference to it says so; a fresh lookup reaches the new one.
        let err = counter.tell_add(1).await.unwrap_err();
        assert!(matches!(err, SendError::Closed(_)), "{err:?}");
        assert!(!counter.is_alive());
        let fresh: ActorRef<Counter> = node.lookup(&peer, "counter").await.unwrap();
        assert_eq!(fresh.add(5).await.unwrap(), 5, "the restarted peer starts from zero");
    })
    .await
    .expect("the test finished in time");
}
