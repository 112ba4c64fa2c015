//! Cluster sharding on six nodes in one process, on loopback, through
//! churn: a join, a graceful leave and a crash while five nodes send.
//!
//! Figures printed (and bounded by assertions): the balance of shards over
//! the nodes, the time to settle after each change, the share of shards a
//! join moves, and an exact account of every message sent while nodes
//! joined and left. The membership here probes every 500 ms: faster
//! probing made members flap on a loaded machine.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actor_core::prelude::*;
use actor_remote::{ClusterConfig, Node, ShardingOptions};
use support::sharding::{Log, Member, Record, Tally, leave, moved, owned, spread};
use tokio::time::Instant;

/// Nodes at the start (one more joins, then one leaves, then one crashes).
const NODES: usize = 6;
/// Entities the traffic goes to, and nodes that send it.
const ENTITIES: usize = 100;
const SENDERS: usize = 5;

fn config() -> ClusterConfig {
    ClusterConfig {
        probe_period: Duration::from_millis(500),
        probe_timeout: Duration::from_millis(400),
        suspicion_timeout: Duration::from_millis(1500),
        gossip_interval: Duration::from_millis(50),
        sync_interval: Duration::from_millis(500),
        remember_down: Duration::from_secs(2),
        ..ClusterConfig::default()
    }
}

async fn member(name: &str, log: &Log, seed: Option<&str>) -> Member {
    let node = Node::builder(ActorSystem::new()).name(name).secret("sharding cookie").start().await.unwrap();
    support::sharding::member(node, config(), ShardingOptions::default(), log, seed).await
}

async fn settle<M: std::borrow::Borrow<Member>>(members: &[M], hosts: usize) -> Duration {
    support::sharding::settle(members, hosts, Duration::from_secs(60), Duration::from_millis(10)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_nodes_balance_settle_and_account_for_every_message_through_churn() {
    let log = Log::default();
    let (mut members, _) =
        support::sharding::form(NODES, Duration::from_secs(60), Duration::from_millis(10), |i, seed| {
            let log = log.clone();
            async move { member(&format!("m{i:02}"), &log, seed.as_deref()).await }
        })
        .await;
    let seed = members[0].node.address().to_string();
    let formed = settle(&members, NODES).await;

    // Balance.
    let placement = members[0].tallies.placement();
    let (owners, min, max) = spread(&placement);
    let mean = 256.0 / NODES as f64;
    println!(
        "figure: {NODES} nodes, 256 shards: {min}..{max} per node (mean {mean:.2}); settled {formed:?} after the last join"
    );
    assert_eq!(owners, NODES, "every node owns shards");
    assert!(max as f64 <= (1.2 * mean).max(mean.ceil()), "{max} shards on one node");

    // Traffic from a few nodes to many entities, through the churn below.
    let entities: Vec<String> = (0..ENTITIES).map(|i| format!("e-{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for m in &members[..SENDERS] {
        let (region, sender, entities, stop) = (m.tallies.clone(), m.name.clone(), entities.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let refs: Vec<ActorRef<Tally>> = entities.iter().map(|e| region.entity(e)).collect();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                for entity in &refs {
                    entity.tell(Record { sender: sender.clone(), seq: round }).await.unwrap();
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (sender, round)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A join: about 1/(N+1) of the shards move, all to the new node.
    members.push(member("m06", &log, Some(&seed)).await);
    let joined = settle(&members, NODES + 1).await;
    let after_join = members[0].tallies.placement();
    let moved_on_join = moved(&placement, &after_join);
    let to_joiner = owned(&after_join)["m06"];
    println!(
        "figure: a join moved {moved_on_join}/256 shards ({to_joiner} to the new node; ideal {:.1}); settled in {joined:?}",
        256.0 / (NODES + 1) as f64
    );
    assert!(moved_on_join <= 2 * 256 / (NODES + 1) + 2, "{moved_on_join} shards moved on a join");

    // A graceful leave of a host that does not send.
    let leaver = members.len() - 2;
    let left = leave(&members, leaver, Duration::from_secs(30), settle(&members, NODES)).await;
    println!(
        "figure: a graceful leave handed off {} shards in {:?}; settled in {:?}",
        left.moved, left.handed_off, left.settled
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = HashMap::new();
    for sender in senders {
        let (name, rounds) = sender.await.unwrap();
        sent.insert(name, rounds);
    }
    let total: u64 = sent.values().sum::<u64>() * ENTITIES as u64;
    let start = Instant::now();
    loop {
        let handled: usize = log.lock().unwrap().values().map(Vec::len).sum();
        if handled as u64 >= total {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{handled} of {total} messages handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The exact account: every message handled once, in the order sent,
    // and none reported undeliverable.
    {
        let log = log.lock().unwrap();
        for entity in &entities {
            for (sender, &rounds) in &sent {
                let seen = log.get(&(entity.clone(), sender.clone())).map(Vec::as_slice).unwrap_or(&[]);
                assert_eq!(seen, (0..rounds).collect::<Vec<_>>().as_slice(), "entity {entity}, sender {sender}");
            }
        }
    }
    let dead: u64 = members.iter().map(|m| m.tallies.stats().dead_letters).sum();
    assert_eq!(dead, 0);
    let forwarded: u64 = members.iter().map(|m| m.tallies.stats().forwarded).sum();
    println!(
        "figure: {total} messages sent during a join and a leave: {total} handled once in order, 0 dead letters ({forwarded} forwards)"
    );

    // A crash: the crashed node's shards are placed on the others once it
    // is declared down.
    let crashed = members.len() - 3;
    members[crashed].node.crash();
    let crash = Instant::now();
    let survivors: Vec<&Member> =
        members.iter().enumerate().filter(|(i, _)| *i != crashed && *i != leaver).map(|(_, m)| m).collect();
    settle(&survivors, NODES - 1).await;
    println!("figure: after a crash the survivors settled in {:?} (failure detection included)", crash.elapsed());
    assert!(crash.elapsed() < Duration::from_secs(10));
    // Every entity answers again.
    for entity in &entities {
        members[0].tallies.entity(entity).tell(Record { sender: "after".into(), seq: 0 }).await.unwrap();
    }
    let start = Instant::now();
    while log.lock().unwrap().keys().filter(|(_, s)| s == "after").count() < ENTITIES {
        assert!(start.elapsed() < Duration::from_secs(30), "not every entity answered after the crash");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
