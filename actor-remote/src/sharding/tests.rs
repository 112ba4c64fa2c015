//! A region's state forced into an interleaving that real timing produces
//! only now and then, and what the region does with it, seen through the
//! public API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::prelude::*;

use super::core::{Held, Mode};
use super::{ShardRegion, Sharding, ShardingOptions};
use crate::testkit::SimNet;
use crate::{Cluster, ClusterConfig, Node};

/// Every number it was told, in order.
struct Journal {
    seen: Arc<Mutex<Vec<u64>>>,
}

#[actor]
impl Journal {
    #[message(remote)]
    fn note(&mut self, n: u64) {
        self.seen.lock().unwrap().push(n);
    }

    #[message(remote)]
    fn seen(&self) -> Vec<u64> {
        self.seen.lock().unwrap().clone()
    }
}

async fn cluster(net: &SimNet, name: &str) -> (Node, Cluster) {
    let node = net.node(name, ActorSystem::new()).start().await.unwrap();
    let config = ClusterConfig {
        probe_period: Duration::from_millis(500),
        probe_timeout: Duration::from_millis(400),
        gossip_interval: Duration::from_millis(100),
        ..ClusterConfig::default()
    };
    let cluster = Cluster::start(&node, config).await.unwrap();
    (node, cluster)
}

/// A region that hosts nothing (a proxy, or a node that left) keeps back
/// what came from the owner in its view while that owner sees it as the
/// owner (`Shard::returned`). No claim and no change of its own view will
/// ever release that once the views agree: it must send it on by itself,
/// in order and ahead of what it is sent later.
#[tokio::test(start_paused = true)]
async fn a_region_that_hosts_nothing_sends_on_what_it_kept_back() {
    let net = SimNet::new(7);
    let options = ShardingOptions::default().shards(16).handoff_timeout(Duration::from_secs(2));
    let (host, host_cluster) = cluster(&net, "host").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _hosted: ShardRegion<Journal> =
        Sharding::start_with(&host_cluster, options.clone(), move |_: &str| Journal { seen: log.clone() })
            .await
            .unwrap();
    let (_proxy_node, proxy_cluster) = cluster(&net, "proxy").await;
    let proxy: ShardRegion<Journal> = Sharding::proxy(&proxy_cluster, options).await.unwrap();
    proxy_cluster.join(&[&host.address().to_string()]).await.unwrap();

    let id = "e";
    let shard = proxy.shard_of(id);
    let settled = tokio::time::Instant::now();
    while proxy.placement()[shard as usize].as_deref() != Some("host") || !proxy.stats().is_settled() {
        assert!(settled.elapsed() < Duration::from_secs(60), "the proxy never saw the host: {:?}", proxy.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // What the proxy would hold after the host, seeing the proxy as the
    // owner for a moment, sent it the shard's messages: here a stop for
    // another entity of the shard (sent on, it stops nothing).
    let other = (0..).map(|i| format!("other-{i}")).find(|o| proxy.shard_of(o) == shard).unwrap();
    {
        let mut st = proxy.core.lock();
        assert!(!st.hosting);
        let kept = &mut st.shards[shard as usize];
        assert!(matches!(&kept.mode, Mode::Remote(owner) if &**owner == "host"));
        kept.returned.push_back(Held::Stop { entity: other.into(), shard, kill: false });
    }
    // Sent now, they queue behind what was kept.
    let entity = proxy.entity(id);
    for n in 0..3 {
        entity.tell(Note { n }).await.unwrap();
    }
    assert_eq!(proxy.stats().held, 4, "kept, then queued behind it");

    // Within a few ticks everything reaches the host, in order.
    let seen_there = entity.ask(Seen).timeout(Duration::from_secs(30)).await;
    assert_eq!(seen_there.expect("the kept messages went on to the owner"), vec![0, 1, 2]);
    assert_eq!(proxy.stats().held, 0);
    assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2]);
}
