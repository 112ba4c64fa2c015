//! Monitors and links: `Terminated` notices, exit propagation, trapping.

mod support;

use actor_core::prelude::*;
use support::both_flavours_with;

/// Records the notices it receives; can watch, link and trap.
#[derive(Default)]
struct Watcher {
    notices: Vec<(ActorId, bool)>,
}
impl Actor for Watcher {
    type Error = std::convert::Infallible;
}
impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
        self.notices.push((notice.id, notice.reason.is_abnormal()));
    }
}

enum Do {
    Monitor(ActorRef<Watcher>),
    Link(ActorRef<Watcher>),
    Trap,
    Panic,
    Notices,
}
impl Message for Do {
    type Reply = Vec<(ActorId, bool)>;
}
impl Handler<Do> for Watcher {
    async fn handle(&mut self, what: Do, ctx: &mut Context<Self>) -> Vec<(ActorId, bool)> {
        match what {
            Do::Monitor(other) => {
                ctx.monitor(&other);
            }
            Do::Link(other) => ctx.link(&other),
            Do::Trap => ctx.trap_exits(),
            Do::Panic => panic!("linked failure"),
            Do::Notices => {}
        }
        self.notices.clone()
    }
}

#[test]
fn a_monitor_is_told_when_the_watched_actor_stops_and_at_once_if_it_already_has() {
    both_flavours_with(Watcher::default, |_, [watcher, live, dead]| async move {
        dead.kill();
        dead.wait_for_stop().await;

        watcher.ask(Do::Monitor(dead.clone())).await.unwrap();
        assert_eq!(watcher.ask(Do::Notices).await.unwrap(), vec![(dead.id(), true)]);

        watcher.ask(Do::Monitor(live.clone())).await.unwrap();
        live.stop();
        live.wait_for_stop().await;
        assert_eq!(watcher.ask(Do::Notices).await.unwrap(), vec![(dead.id(), true), (live.id(), false)]);
        // Monitoring is one-way: the watcher is fine.
        assert!(watcher.is_alive());
    });
}

#[test]
fn an_abnormal_stop_propagates_through_a_link_both_ways() {
    both_flavours_with(Watcher::default, |system, [a, b]| async move {
        a.ask(Do::Link(b.clone())).await.unwrap();
        assert!(b.ask(Do::Panic).await.unwrap_err().is_panic());
        match a.wait_for_stop().await {
            StopReason::Linked(exit) => {
                assert_eq!(exit.id, b.id());
                assert!(matches!(exit.reason, StopReason::Panicked(_)));
            }
            other => panic!("expected a linked stop, got {other}"),
        }

        // And the other way round.
        let c = system.spawn(Watcher::default());
        let d = system.spawn(Watcher::default());
        c.ask(Do::Link(d.clone())).await.unwrap();
        assert!(c.ask(Do::Panic).await.unwrap_err().is_panic());
        assert!(matches!(d.wait_for_stop().await, StopReason::Linked(_)));
    });
}

#[test]
fn a_normal_stop_does_not_propagate_through_a_link() {
    both_flavours_with(Watcher::default, |_, [a, b]| async move {
        a.ask(Do::Link(b.clone())).await.unwrap();
        b.stop();
        b.wait_for_stop().await;
        assert!(a.ask(Do::Notices).await.unwrap().is_empty());
        assert!(a.is_alive());
    });
}

#[test]
fn an_actor_that_traps_exits_gets_a_notice_instead_of_stopping() {
    both_flavours_with(Watcher::default, |_, [trapper, doomed]| async move {
        trapper.ask(Do::Trap).await.unwrap();
        trapper.ask(Do::Link(doomed.clone())).await.unwrap();
        assert!(doomed.ask(Do::Panic).await.unwrap_err().is_panic());
        doomed.wait_for_stop().await;
        let mut notices = Vec::new();
        for _ in 0..1000 {
            notices = trapper.ask(Do::Notices).await.unwrap();
            if !notices.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(notices, vec![(doomed.id(), true)]);
        assert!(trapper.is_alive());
    });
}
