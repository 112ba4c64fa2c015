//! Long-lived actors do not collect watchers: a given-up `wait_for_stop`,
//! a `demonitor`, an `unlink`, and the end of a watcher each take theirs
//! back, counted through `ActorStats::watchers` after 100,000 cycles.
//! `demonitor` also discards a notice already queued, and `unlink` keeps
//! Erlang's rule for an exit that got there first.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Wake, Waker};
use std::time::Duration;

use actor_core::MonitorRef;
use actor_core::prelude::*;

use support::{run_bounded, run_with};

/// Bounds every test: a hang is a failure. (The long cycles need more than
/// the usual limit.)
const LIMIT: Duration = Duration::from_secs(60);

/// 100,000 cancelled waits; fewer under Miri, an interpreter (what is held
/// afterwards must still be zero).
const CYCLES: usize = if cfg!(miri) { 500 } else { 100_000 };

/// What waits for `id` to stop, as the system's stats show it.
fn watchers(system: &ActorSystem, id: ActorId) -> usize {
    system.stats().actors.iter().find(|a| a.id == id).map(|a| a.watchers).expect("a live root actor")
}

/// Has `watcher` run `cycles` (`Do::MonitorCycles` or `Do::LinkCycles`);
/// checks that every removal found what it removed and that `target` is
/// left with no watchers.
async fn cycles_leave_nothing(
    system: &ActorSystem,
    watcher: &ActorRef<Watcher>,
    cycles: Do,
    target: &ActorRef<Watcher>,
) {
    assert_eq!(watcher.ask(cycles).await.unwrap(), CYCLES, "every removal found what it removed");
    assert_eq!(watchers(system, target.id()), 0);
}

/// A waker of its own per wait, so that no two waits look like one task.
struct Counted(AtomicUsize);
impl Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Watches, links, and counts the notices it gets.
#[derive(Default)]
struct Watcher {
    notices: Vec<ActorId>,
    monitor: Option<MonitorRef>,
}
impl Actor for Watcher {
    type Error = std::convert::Infallible;
}
impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
        self.notices.push(notice.id);
    }
}

enum Do {
    /// Monitors and demonitors `n` times; replies with how many
    /// `demonitor`s found their monitor in place.
    MonitorCycles(ActorRef<Watcher>, usize),
    /// Links and unlinks `n` times; replies with how many `unlink`s
    /// removed a link.
    LinkCycles(ActorRef<Watcher>, usize),
    Monitor(ActorRef<Watcher>),
    Link(ActorRef<Watcher>),
    /// Unlinks; replies 1 if there was a link.
    Unlink(ActorRef<Watcher>),
    /// Demonitors the kept monitor; replies 1 if it was in place.
    Demonitor,
    /// Kills `target` and waits, inside this handler, until it has
    /// stopped (so its notice waits in this actor's mailbox), then
    /// demonitors (if asked) or unlinks; replies 1 if that found its
    /// monitor or link.
    OutliveThen(ActorRef<Watcher>, Then),
    Trap,
    /// Replies with the number of notices so far.
    Notices,
}

#[derive(Clone, Copy)]
enum Then {
    Demonitor,
    Unlink,
    Nothing,
}

impl Message for Do {
    type Reply = usize;
}

impl Handler<Do> for Watcher {
    async fn handle(&mut self, what: Do, ctx: &mut Context<Self>) -> usize {
        match what {
            Do::MonitorCycles(target, n) => (0..n)
                .filter(|_| {
                    let monitor = ctx.monitor(&target);
                    ctx.demonitor(monitor)
                })
                .count(),
            Do::LinkCycles(target, n) => (0..n)
                .filter(|_| {
                    ctx.link(&target);
                    ctx.unlink(&target)
                })
                .count(),
            Do::Monitor(target) => {
                self.monitor = Some(ctx.monitor(&target));
                0
            }
            Do::Link(target) => {
                ctx.link(&target);
                0
            }
            Do::Unlink(target) => usize::from(ctx.unlink(&target)),
            Do::Demonitor => usize::from(self.monitor.take().is_some_and(|m| ctx.demonitor(m))),
            Do::OutliveThen(target, then) => {
                target.kill();
                target.wait_for_stop().await;
                match then {
                    Then::Demonitor => usize::from(self.monitor.take().is_some_and(|m| ctx.demonitor(m))),
                    Then::Unlink => usize::from(ctx.unlink(&target)),
                    Then::Nothing => 0,
                }
            }
            Do::Trap => {
                ctx.trap_exits();
                0
            }
            Do::Notices => self.notices.len(),
        }
    }
}

#[test]
fn a_hundred_thousand_given_up_waits_for_stop_leave_nothing_behind() {
    run_with(LIMIT, Watcher::default, |system, [target]| async move {
        for _ in 0..CYCLES {
            let waker = Waker::from(Arc::new(Counted(AtomicUsize::new(0))));
            let mut wait = pin!(target.wait_for_stop());
            assert!(wait.as_mut().poll(&mut TaskContext::from_waker(&waker)).is_pending());
        }
        assert_eq!(watchers(&system, target.id()), 0, "every given-up wait took its waker back");

        // Waits still work, and are counted while they wait.
        let woken = Arc::new(Counted(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut kept = pin!(target.wait_for_stop());
        let mut also = pin!(target.wait_for_stop());
        assert!(kept.as_mut().poll(&mut TaskContext::from_waker(&waker)).is_pending());
        assert!(also.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())).is_pending());
        // Polled again with the same waker, a wait stays one waiter.
        assert!(kept.as_mut().poll(&mut TaskContext::from_waker(&waker)).is_pending());
        assert_eq!(watchers(&system, target.id()), 2);
        target.stop();
        target.clone().wait_for_stop().await;
        assert_eq!(woken.0.load(Ordering::Relaxed), 1, "the waiting task was woken once");
        assert!(kept.as_mut().poll(&mut TaskContext::from_waker(&waker)).is_ready());
    });
}

#[test]
fn a_hundred_thousand_monitor_demonitor_cycles_leave_nothing_behind() {
    run_with(LIMIT, Watcher::default, |system, [watcher, target]| async move {
        cycles_leave_nothing(&system, &watcher, Do::MonitorCycles(target.clone(), CYCLES), &target).await;

        // One monitor kept: it is the only one counted, and the only notice.
        watcher.ask(Do::Monitor(target.clone())).await.unwrap();
        assert_eq!(watchers(&system, target.id()), 1);
        target.stop();
        target.wait_for_stop().await;
        assert_eq!(watcher.ask(Do::Notices).await.unwrap(), 1);
        assert_eq!(watcher.ask(Do::Demonitor).await.unwrap(), 0, "a monitor whose notice was handled is gone");
    });
}

#[test]
fn a_hundred_thousand_link_unlink_cycles_leave_nothing_behind() {
    run_with(LIMIT, Watcher::default, |system, [a, b]| async move {
        cycles_leave_nothing(&system, &a, Do::LinkCycles(b.clone(), CYCLES), &b).await;
        assert_eq!(watchers(&system, a.id()), 0, "links go both ways");

        // Unlinked: b's abnormal stop leaves a alone.
        b.kill();
        b.wait_for_stop().await;
        assert_eq!(a.ask(Do::Notices).await.unwrap(), 0);
        assert!(a.is_alive());
    });
}

#[test]
fn linking_twice_is_one_link_and_one_unlink_from_either_side_removes_it() {
    run_with(LIMIT, Watcher::default, |system, [a, b]| async move {
        a.ask(Do::Link(b.clone())).await.unwrap();
        a.ask(Do::Link(b.clone())).await.unwrap();
        b.ask(Do::Link(a.clone())).await.unwrap();
        assert_eq!(watchers(&system, a.id()), 1);
        assert_eq!(watchers(&system, b.id()), 1);
        assert_eq!(b.ask(Do::Unlink(a.clone())).await.unwrap(), 1);
        assert_eq!(a.ask(Do::Unlink(b.clone())).await.unwrap(), 0, "already gone, from b's side");
        assert_eq!(watchers(&system, a.id()), 0);
        assert_eq!(watchers(&system, b.id()), 0);
        b.kill();
        b.wait_for_stop().await;
        assert!(a.is_alive());

        // Still linked: the exit goes through, once.
        let c = system.spawn(Watcher::default());
        a.ask(Do::Link(c.clone())).await.unwrap();
        c.kill();
        assert!(matches!(a.wait_for_stop().await, StopReason::Linked(exit) if exit.id == c.id()));
    });
}

#[test]
fn watchers_that_stop_take_their_monitors_and_links_with_them() {
    run_with(LIMIT, Watcher::default, |system, [target]| async move {
        for _ in 0..if cfg!(miri) { 20 } else { 1_000 } {
            let watcher = system.spawn(Watcher::default());
            watcher.ask(Do::Monitor(target.clone())).await.unwrap();
            watcher.ask(Do::Link(target.clone())).await.unwrap();
            watcher.stop();
            watcher.wait_for_stop().await;
        }
        assert_eq!(watchers(&system, target.id()), 0);
        assert!(target.is_alive(), "normal stops of linked actors do not propagate");
    });
}

#[test]
fn demonitor_discards_a_notice_already_queued() {
    run_bounded(LIMIT, |system| async move {
        for then in [Then::Demonitor, Then::Nothing] {
            let watcher = system.spawn(Watcher::default());
            let target = system.spawn(Watcher::default());
            watcher.ask(Do::Monitor(target.clone())).await.unwrap();
            // The notice is queued while the handler waits; then demonitor.
            let found = watcher.ask(Do::OutliveThen(target.clone(), then)).await.unwrap();
            let notices = watcher.ask(Do::Notices).await.unwrap();
            match then {
                Then::Demonitor => {
                    assert_eq!(found, 1, "the monitor was still in place");
                    assert_eq!(notices, 0, "no notice after demonitor");
                }
                _ => assert_eq!(notices, 1, "the queued notice is delivered without demonitor"),
            }
        }
    });
}

#[test]
fn an_exit_that_reached_the_actor_before_unlink_still_takes_effect() {
    run_bounded(LIMIT, |system| async move {
        // Not trapping: the actor stops once the handler returns.
        let a = system.spawn(Watcher::default());
        let b = system.spawn(Watcher::default());
        a.ask(Do::Link(b.clone())).await.unwrap();
        assert_eq!(a.ask(Do::OutliveThen(b.clone(), Then::Unlink)).await.unwrap(), 0, "the exit came first");
        assert!(matches!(a.wait_for_stop().await, StopReason::Linked(exit) if exit.id == b.id()));

        // Trapping: the exit is a message already queued, and stays.
        let a = system.spawn(Watcher::default());
        let b = system.spawn(Watcher::default());
        a.ask(Do::Trap).await.unwrap();
        a.ask(Do::Link(b.clone())).await.unwrap();
        assert_eq!(a.ask(Do::OutliveThen(b.clone(), Then::Unlink)).await.unwrap(), 0);
        assert_eq!(a.ask(Do::Notices).await.unwrap(), 1);
        assert!(a.is_alive());
    });
}

#[actor(no_actor_impl)]
impl Watcher {
    /// Hands out the kept monitor.
    #[message]
    fn take_monitor(&mut self) -> Option<MonitorRef> {
        self.monitor.take()
    }

    /// Demonitors the given monitor.
    #[message]
    fn demonitor_this(&mut self, monitor: MonitorRef, ctx: &mut Context<Self>) -> bool {
        ctx.demonitor(monitor)
    }
}

#[test]
fn a_monitor_ref_is_only_its_owners_to_remove() {
    run_with(LIMIT, Watcher::default, |system, [owner, other, target]| async move {
        owner.ask(Do::Monitor(target.clone())).await.unwrap();
        // `other` holds a monitor with the same number in its own table.
        other.ask(Do::Monitor(target.clone())).await.unwrap();
        let owners = owner.ask(TakeMonitor).await.unwrap().expect("kept");
        assert_eq!(owners.target(), target.id());
        assert!(!other.ask(DemonitorThis { monitor: owners }).await.unwrap(), "not other's to remove");
        assert_eq!(watchers(&system, target.id()), 2, "both monitors still in place");
        target.stop();
        target.wait_for_stop().await;
        assert_eq!(owner.ask(Do::Notices).await.unwrap(), 1);
        assert_eq!(other.ask(Do::Notices).await.unwrap(), 1);
    });
}

/// A monitor reference can be kept in an actor's state and sent along.
#[test]
fn a_monitor_ref_is_send_sync_and_unpin() {
    fn check<T: Send + Sync + Unpin + 'static>() {}
    check::<MonitorRef>();
}
