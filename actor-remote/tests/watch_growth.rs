//! Watches across nodes leave nothing behind: a given-up `wait_for_stop`
//! on a remote reference, a `demonitor` and an `unlink` take their notice
//! back (counted after 100,000 cycles), and however many `Watch` frames a
//! peer sends for one actor, the node holds one watch for it, answers with
//! one `Down`, and takes it back when the connection goes.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Wake, Waker};
use std::time::Duration;

use actor_core::prelude::*;
use actor_core::{ActorStats, MonitorRef};
use actor_remote::{Node, fuzzing};
use support::bounded;
use support::counter::Counter;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SECRET: &str = "watch cookie";
const CYCLES: usize = 100_000;
const LIMIT: Duration = Duration::from_secs(60);

async fn node(name: &str) -> Node {
    Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await.unwrap()
}

/// Node `a` with a counter registered as `counter`.
async fn counter_node() -> (Node, ActorRef<Counter>) {
    let a = node("a").await;
    let counter = support::spawn_named(&a, "counter", Counter::default());
    (a, counter)
}

/// `a` with a registered counter, and `b` holding a remote reference to it.
async fn pair() -> (Node, Node, ActorRef<Counter>, ActorRef<Counter>) {
    let (a, counter) = counter_node().await;
    let b = node("b").await;
    let peer = b.connect(&a.address().to_string()).await.unwrap();
    let remote = b.lookup(&peer, "counter").await.unwrap();
    (a, b, counter, remote)
}

fn stats_of(system: &ActorSystem, id: ActorId) -> ActorStats {
    system.stats().actors.into_iter().find(|a| a.id == id).expect("a live root actor")
}

/// Polls until `check` holds (the far node handles frames in its own time).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

/// A waker of its own per wait, so that no two waits look like one task.
struct Fresh;
impl Wake for Fresh {
    fn wake(self: Arc<Self>) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_given_up_remote_waits_leave_nothing_behind() {
    bounded(LIMIT, async {
        let (a, b, counter, remote) = pair().await;
        let base = stats_of(a.system(), counter.id()).watchers;
        for _ in 0..CYCLES {
            let waker = Waker::from(Arc::new(Fresh));
            let mut wait = pin!(remote.wait_for_stop());
            assert!(wait.as_mut().poll(&mut TaskContext::from_waker(&waker)).is_pending());
        }
        assert_eq!(b.watch_counts().0, 0, "every given-up wait took its notice back");
        // The far node holds one watch for b, however many waits came and went.
        eventually("the watch reached a", || a.watch_counts().1 == 1).await;
        assert_eq!(stats_of(a.system(), counter.id()).watchers, base + 1);

        // A wait still works, and its stop clears both sides.
        let waiting = tokio::spawn({
            let remote = remote.clone();
            async move { remote.wait_for_stop().await }
        });
        eventually("the wait is in place", || b.watch_counts().0 == 1).await;
        counter.stop();
        assert!(waiting.await.unwrap().is_normal());
        assert_eq!(b.watch_counts().0, 0);
        eventually("a let go of b's watch", || a.watch_counts().1 == 0).await;
    })
    .await;
}

/// Monitors, links and counts the notices it gets.
#[derive(Default)]
struct Watcher {
    notices: usize,
    monitor: Option<MonitorRef>,
}

#[actor]
impl Watcher {
    /// Monitors and demonitors, then links and unlinks, `n` times each;
    /// replies with how many of the `2n` removals found what they removed.
    #[message]
    fn cycles(&mut self, target: ActorRef<Counter>, n: usize, ctx: &mut Context<Self>) -> usize {
        let mut removed = 0;
        for _ in 0..n {
            let monitor = ctx.monitor(&target);
            removed += usize::from(ctx.demonitor(monitor));
            ctx.link(&target);
            removed += usize::from(ctx.unlink(&target));
        }
        removed
    }

    /// Monitors `target`, keeping the monitor.
    #[message]
    fn keep_monitor(&mut self, target: ActorRef<Counter>, ctx: &mut Context<Self>) {
        self.monitor = Some(ctx.monitor(&target));
    }

    /// The number of notices so far.
    #[message]
    fn notices(&self) -> usize {
        self.notices
    }
}

impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, _: Terminated, _: &mut Context<Self>) {
        self.notices += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_remote_monitor_and_link_cycles_leave_nothing_behind() {
    bounded(LIMIT, async {
        let (a, b, counter, remote) = pair().await;
        let watcher = b.system().spawn(Watcher::default());
        let removed = watcher.cycles(remote.clone(), CYCLES).await.unwrap();
        assert_eq!(removed, 2 * CYCLES, "every demonitor and unlink found its monitor or link");
        assert_eq!(b.watch_counts().0, 0, "no notice left for the remote actor");
        assert_eq!(stats_of(b.system(), watcher.id()).watchers, 0, "no link left on the watcher");
        eventually("the watch reached a", || a.watch_counts().1 == 1).await;

        // One monitor kept: one notice when the actor stops.
        watcher.keep_monitor(remote.clone()).await.unwrap();
        assert_eq!(b.watch_counts().0, 1);
        counter.stop();
        let mut notices = 0;
        for _ in 0..2_000 {
            notices = watcher.notices().await.unwrap();
            if notices > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(notices, 1, "one notice, from the one monitor left");
        assert_eq!(b.watch_counts().0, 0);
        eventually("a let go of b's watch", || a.watch_counts().1 == 0).await;
    })
    .await;
}

/// A raw peer that has passed the handshake, speaking through the sealed
/// channel like a node.
async fn raw_peer(node: &Node) -> (TcpStream, fuzzing::Session) {
    let address = node.address().to_string();
    let socket = TcpStream::connect(address.strip_prefix("tcp://").unwrap_or(&address)).await.unwrap();
    fuzzing::dial_handshake(socket, "raw", SECRET.as_bytes()).await.unwrap()
}

/// Sends `watches` Watch frames for `id`, then a lookup, and reads until
/// its answer: every Watch has been handled then. Returns the `Down`
/// frames for `id` seen meanwhile.
async fn watch_many(
    socket: &mut TcpStream,
    session: &mut fuzzing::Session,
    id: ActorId,
    watches: usize,
    corr: u64,
) -> usize {
    let mut frames: Vec<Vec<u8>> = (0..watches).map(|_| fuzzing::watch_frame(id)).collect();
    frames.push(fuzzing::lookup_frame(corr, "counter"));
    socket.write_all(&session.seal_frames(&frames)).await.unwrap();
    let mut downs = 0;
    loop {
        let body = session.read_frame(socket).await.expect("the node answers");
        if fuzzing::down_of(&body) == Some(id) {
            downs += 1;
        }
        if fuzzing::found_of(&body) == Some(corr) {
            return downs;
        }
    }
}

#[tokio::test]
async fn a_thousand_watch_frames_hold_one_watch_that_the_lost_connection_takes_back() {
    bounded(LIMIT, async {
        let (a, counter) = counter_node().await;
        let base = stats_of(a.system(), counter.id()).watchers;
        let (mut socket, mut session) = raw_peer(&a).await;
        assert_eq!(watch_many(&mut socket, &mut session, counter.id(), 1_000, 1).await, 0);
        assert_eq!(a.watch_counts().1, 1, "one watch for the peer");
        assert_eq!(stats_of(a.system(), counter.id()).watchers, base + 1, "one notice on the actor");

        drop(socket);
        eventually("the lost connection's watch was taken back", || {
            a.watch_counts().1 == 0 && stats_of(a.system(), counter.id()).watchers == base
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_thousand_watch_frames_get_one_down() {
    bounded(LIMIT, async {
        let (a, counter) = counter_node().await;
        let (mut socket, mut session) = raw_peer(&a).await;
        assert_eq!(watch_many(&mut socket, &mut session, counter.id(), 1_000, 1).await, 0);
        counter.stop();
        counter.wait_for_stop().await;
        // Everything the stop sent is queued before the next answer.
        let downs = watch_many(&mut socket, &mut session, counter.id(), 0, 2).await;
        assert_eq!(downs, 1, "one Down for one watch");
        assert_eq!(a.watch_counts().1, 0);
        // A watch of an actor that has stopped is answered at once.
        assert_eq!(watch_many(&mut socket, &mut session, counter.id(), 1, 3).await, 1);
    })
    .await;
}
