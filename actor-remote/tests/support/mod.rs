//! Helpers shared by the reliability and security tests.
#![allow(dead_code)]

pub(crate) mod counter;
pub(crate) mod events;
pub(crate) mod logs;
pub(crate) mod mitm;
pub(crate) mod nats;
pub(crate) mod proxy;
pub(crate) mod recorder;
pub(crate) mod remote_node;
pub(crate) mod sharding;

use std::time::Duration;

/// Whether the full-size figures were asked for (`RELIABILITY_FULL=1`);
/// the normal suite runs smaller versions of the same checks.
pub(crate) fn full() -> bool {
    std::env::var("RELIABILITY_FULL").is_ok_and(|v| v == "1")
}

/// `quick` in the normal suite, `full` under `RELIABILITY_FULL=1`.
pub(crate) fn scale(quick: usize, full: usize) -> usize {
    if self::full() { full } else { quick }
}

/// Bounds a test: a hang is a failure, not a stuck CI job.
pub(crate) async fn bounded<F: std::future::Future>(limit: Duration, f: F) -> F::Output {
    tokio::time::timeout(limit, f).await.expect("the test finished within its time limit")
}

/// Node limits with fast failure detection and reconnection: heartbeats
/// every 100 ms, a silent peer presumed dead after a second, redials
/// from 20 to 200 ms apart.
pub(crate) fn fast_limits() -> actor_remote::Limits {
    actor_remote::Limits {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(1000),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..actor_remote::Limits::default()
    }
}

/// Cluster settings with fast failure detection: about a second from a
/// crash to `NodeDown`, for tests of membership and what builds on it.
pub(crate) fn fast_cluster() -> actor_remote::ClusterConfig {
    actor_remote::ClusterConfig {
        probe_period: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        suspicion_timeout: Duration::from_millis(600),
        gossip_interval: Duration::from_millis(50),
        sync_interval: Duration::from_millis(500),
        remember_down: Duration::from_secs(2),
        ..actor_remote::ClusterConfig::default()
    }
}

/// The resident set size of process `pid` (or this one), in KiB.
pub(crate) fn rss_kib(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The p-th percentile (0..=100) of `samples`, which it sorts.
pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// Spawns `ask` on a clone of `target`: an ask left pending, to await
/// later.
pub(crate) fn spawn_ask<A, F, Fut>(target: &actor_core::ActorRef<A>, ask: F) -> tokio::task::JoinHandle<Fut::Output>
where
    A: actor_core::Actor,
    F: FnOnce(actor_core::ActorRef<A>) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    tokio::spawn(ask(target.clone()))
}

/// A node named `name` that admits peers with `secret`, with `limits`,
/// listening on a free loopback port.
pub(crate) async fn node_with(name: &str, secret: &str, limits: actor_remote::Limits) -> actor_remote::Node {
    actor_remote::Node::builder(actor_core::ActorSystem::new())
        .name(name)
        .secret(secret)
        .limits(limits)
        .start()
        .await
        .unwrap()
}

/// A node named `name` that admits peers with `secret`, listening on
/// `address` (a Unix socket, a NATS server...), or why it could not start.
pub(crate) async fn node_listening(
    name: &str,
    secret: &str,
    address: &str,
) -> Result<actor_remote::Node, actor_remote::NodeError> {
    actor_remote::Node::builder(actor_core::ActorSystem::new())
        .name(name)
        .secret(secret)
        .listen(address)
        .unwrap()
        .start()
        .await
}

/// Spawns `actor` on `node` and registers it there as `name`, for other
/// nodes to look up.
pub(crate) fn spawn_named<A: actor_core::RemoteActor>(
    node: &actor_remote::Node,
    name: &str,
    actor: A,
) -> actor_core::ActorRef<A> {
    let actor = node.system().spawn(actor);
    node.register(name, &actor).unwrap();
    actor
}

/// A free loopback port (bound and released; a child process binds it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A small seeded generator: the same faults on every run.
#[derive(Clone, Debug)]
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `lo..hi` (`lo` if the range is empty).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.next() % (hi - lo) }
    }
}

/// Forwards the `Terminated` notice of the actor it monitors.
struct Watcher(Option<tokio::sync::oneshot::Sender<actor_core::Terminated>>);

impl actor_core::Actor for Watcher {
    type Error = std::convert::Infallible;
}

struct Watch<A: actor_core::Actor>(actor_core::ActorRef<A>);

impl<A: actor_core::Actor> actor_core::Message for Watch<A> {
    type Reply = ();
}

impl<A: actor_core::Actor> actor_core::Handler<Watch<A>> for Watcher {
    async fn handle(&mut self, Watch(target): Watch<A>, ctx: &mut actor_core::Context<Self>) {
        ctx.monitor(&target);
    }
}

impl actor_core::Handler<actor_core::Terminated> for Watcher {
    async fn handle(&mut self, notice: actor_core::Terminated, _: &mut actor_core::Context<Self>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(notice);
        }
    }
}

/// A monitor set by [`watch`]; the watching actor lives as long as this.
pub(crate) struct Watching {
    _watcher: actor_core::ActorRef<Watcher>,
    rx: tokio::sync::oneshot::Receiver<actor_core::Terminated>,
}

impl Watching {
    /// The watched actor's `Terminated` notice, once it comes.
    pub(crate) async fn terminated(self) -> actor_core::Terminated {
        self.rx.await.expect("the watcher lives until its notice comes")
    }
}

/// Monitors `target` from a fresh actor of `system`. The monitor is in
/// place when this returns.
pub(crate) async fn watch<A: actor_core::Actor>(
    system: &actor_core::ActorSystem,
    target: &actor_core::ActorRef<A>,
) -> Watching {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watcher = system.spawn(Watcher(Some(tx)));
    watcher.ask(Watch(target.clone())).await.unwrap();
    Watching { _watcher: watcher, rx }
}
