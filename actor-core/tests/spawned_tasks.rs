//! Tasks a handler starts and awaits: with `Context::spawn_task` a cycle
//! of asks through them fails at once, as one between handlers does; with
//! plain `tokio::spawn` it is not seen, and the asks end at their timeouts.

mod support;

use std::time::Duration;

use actor_core::error::{AskError, SendError, TaskError};
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use support::{LIMIT, both_flavours_bounded, both_flavours_with, bounded, run_bounded, run_with};

/// Relays an ask to its peer from a task its handler awaits.
#[derive(Default)]
struct Node {
    peer: Option<ActorRef<Node>>,
    handled: u64,
    /// A task's handle, kept without awaiting it.
    kept: Option<actor_core::TaskHandle<bool>>,
}

/// How the task is started, and the asks' timeout.
#[derive(Clone, Copy)]
enum Spawn {
    /// `Context::spawn_task`.
    Context,
    /// Plain `tokio::spawn`.
    Tokio,
}

#[actor]
impl Node {
    #[message]
    fn peer(&mut self, peer: ActorRef<Node>) {
        self.peer = Some(peer);
    }

    /// Asks the peer to relay, from a task this handler awaits; the reply
    /// is the outcome, as text.
    #[message]
    async fn relay(&mut self, how: Spawn, timeout: Duration, ctx: &mut Context<Self>) -> String {
        self.handled += 1;
        let peer = self.peer.clone().unwrap_or_else(|| ctx.actor_ref());
        let work = async move {
            match peer.ask(Relay { how, timeout }).timeout(timeout).await {
                Ok(inner) => inner,
                Err(AskError::Deadlock(_, cycle)) => format!("deadlock of {}", cycle.actors().len() - 1),
                Err(e) => format!("failed: {e}"),
            }
        };
        match how {
            Spawn::Context => ctx.spawn_task(work).await.unwrap_or_else(|e| format!("task: {e}")),
            Spawn::Tokio => tokio::spawn(work).await.unwrap_or_else(|e| format!("task: {e}")),
        }
    }

    #[message]
    fn handled(&self) -> u64 {
        self.handled
    }

    /// Starts a task that asks this actor, lets it run until its ask is
    /// queued, then awaits it.
    #[message]
    async fn await_late(&mut self, ctx: &mut Context<Self>) -> Option<Vec<ActorId>> {
        let me = ctx.actor_ref();
        let task = ctx.spawn_task(async move { me.ask(Handled).await.is_ok() });
        // Let the task start and queue its ask.
        while me_is_idle(ctx) {
            tokio::task::yield_now().await;
        }
        match task.await {
            Err(TaskError::Deadlock(cycle)) => Some(cycle.actors().to_vec()),
            _ => None,
        }
    }

    /// Starts a task that asks the peer, and returns without awaiting it
    /// (keeping its handle).
    #[message]
    fn detach(&mut self, ctx: &mut Context<Self>) {
        let peer = self.peer.clone().expect("a peer");
        self.kept = Some(ctx.spawn_task(async move { peer.ask(Handled).await.is_ok() }));
    }

    /// Says it has started, waits to be told, then asks the peer.
    #[message]
    async fn ask_peer_when_told(
        &mut self,
        started: tokio::sync::oneshot::Sender<()>,
        go: tokio::sync::oneshot::Receiver<()>,
    ) -> Result<u64, String> {
        let _ = started.send(());
        let _ = go.await;
        let peer = self.peer.clone().expect("a peer");
        peer.ask(Handled).await.map_err(|e| e.to_string())
    }

    #[message]
    async fn panicky(&mut self, ctx: &mut Context<Self>) -> String {
        let task = ctx.spawn_task(async {
            if true {
                panic!("task went wrong");
            }
        });
        match task.await {
            Err(e) => e.to_string(),
            Ok(()) => "no panic".to_owned(),
        }
    }

    /// Tells its own actor from a task it awaits, past a full mailbox.
    #[message]
    async fn flood_from_task(&mut self, ctx: &mut Context<Self>) -> Result<u64, String> {
        let me = ctx.actor_ref();
        let task = ctx.spawn_task(async move {
            for sent in 0..100 {
                if let Err(e @ SendError::Deadlock(..)) = me.tell(Peer { peer: me.clone() }).await {
                    return Err(format!("{sent}: {}", e.into_inner().peer.id() == me.id()));
                }
            }
            Ok(100)
        });
        task.await.map_err(|e| e.to_string())?
    }

    /// Checks that tasks die with their actor.
    #[message]
    fn forever(&mut self, dropped: tokio::sync::oneshot::Sender<()>, ctx: &mut Context<Self>) {
        drop(ctx.spawn_task(async move {
            let _held = dropped;
            std::future::pending::<()>().await;
        }));
    }
}

async fn pair(system: &ActorSystem) -> (ActorRef<Node>, ActorRef<Node>) {
    let a = system.spawn(Node::default());
    let b = system.spawn(Node::default());
    a.ask(Peer { peer: b.clone() }).await.unwrap();
    b.ask(Peer { peer: a.clone() }).await.unwrap();
    (a, b)
}

/// Whether `outcome` reports the cycle: from the ask that closed it, or
/// (on a multi-threaded runtime, when a task ran its ask before its
/// handler awaited it) from the handle that closed it.
fn reports_cycle(outcome: &str, ask_cycle_len: usize) -> bool {
    outcome == format!("deadlock of {ask_cycle_len}") || outcome.starts_with("task: awaiting the task would never end")
}

#[test]
fn a_cycle_through_tasks_started_by_the_context_fails_at_once() {
    both_flavours_bounded(|system| async move {
        let (a, b) = pair(&system).await;
        // a's handler awaits a task that asks b; b's handler awaits a
        // task that asks a: a -> task -> b -> task -> a. No timeout
        // would end it (an hour, never reached).
        let outcome = a.ask(Relay { how: Spawn::Context, timeout: Duration::from_secs(3600) }).await.unwrap();
        assert!(reports_cycle(&outcome, 4), "two actors and two tasks: {outcome}");
        // Both actors are free again.
        assert!(b.ask(Handled).await.unwrap() >= 1);
        assert!(a.ask(Handled).await.unwrap() >= 1);
    });
}

#[test]
fn on_one_thread_the_ask_that_closes_the_cycle_names_it() {
    run_bounded(LIMIT, |system| async move {
        let (a, b) = pair(&system).await;
        let outcome = a.ask(Relay { how: Spawn::Context, timeout: Duration::from_secs(3600) }).await.unwrap();
        assert_eq!(outcome, "deadlock of 4");
        assert_eq!(b.ask(Handled).await.unwrap(), 1);
        assert_eq!(a.ask(Handled).await.unwrap(), 1);
    });
}

#[test]
fn a_task_asking_its_own_awaiting_actor_fails_at_once() {
    both_flavours_with(Node::default, |_, [alone]| async move {
        let outcome = alone.ask(Relay { how: Spawn::Context, timeout: Duration::from_secs(3600) }).await.unwrap();
        assert!(reports_cycle(&outcome, 2), "the actor and its task: {outcome}");
    });
}

/// With plain `tokio::spawn` the cycle is not seen: the asks carry no
/// asker. They end at their timeouts; without one they would wait forever.
#[tokio::test(start_paused = true)]
async fn a_cycle_through_plain_tokio_tasks_ends_at_the_asks_timeouts() {
    bounded(async {
        let system = ActorSystem::new();
        let (a, b) = pair(&system).await;
        let started = tokio::time::Instant::now();
        let outcome = a.ask(Relay { how: Spawn::Tokio, timeout: Duration::from_secs(5) }).await.unwrap();
        assert_eq!(outcome, "failed: ask timed out");
        assert!(started.elapsed() >= Duration::from_secs(5), "only the timeouts ended it");
        // Both actors go on.
        assert!(b.ask(Handled).await.unwrap() >= 1);
        assert!(a.ask(Handled).await.unwrap() >= 1);
    })
    .await;
}

/// Whether nothing waits in this actor's mailbox yet.
fn me_is_idle(ctx: &Context<Node>) -> bool {
    ctx.actor_ref().mailbox_len() == 0
}

#[test]
fn awaiting_a_task_that_already_waits_on_the_awaiter_fails_at_once() {
    both_flavours_with(Node::default, |_, [node]| async move {
        let cycle = node.ask(AwaitLate).await.unwrap().expect("the handle reports the cycle");
        assert_eq!(cycle.len(), 3, "the actor, its task, the actor: {cycle:?}");
        assert_eq!(cycle[0], node.id());
        assert_eq!(cycle[2], node.id());
        // The task's ask is handled once the handler returns.
        assert_eq!(node.ask(Handled).await.unwrap(), 0);
    });
}

#[test]
fn a_task_nobody_awaits_does_not_make_its_actor_wait() {
    both_flavours_bounded(|system| async move {
        let (a, b) = pair(&system).await;
        // b is held in a handler; a's detached task queues an ask to b
        // (the task waits for b); then b asks a, which waits for
        // nobody: no cycle, whatever a's task does.
        let (started, has_started) = tokio::sync::oneshot::channel();
        let (go, told) = tokio::sync::oneshot::channel();
        let held = b.clone();
        let asked = tokio::spawn(async move { held.ask(AskPeerWhenTold { started, go: told }).await.unwrap() });
        has_started.await.unwrap();
        a.ask(Detach).await.unwrap();
        while b.mailbox_len() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        go.send(()).unwrap();
        assert_eq!(asked.await.unwrap(), Ok(0));
    });
}

#[test]
fn a_panicking_task_is_an_error_for_its_awaiter_not_a_crash() {
    run_with(LIMIT, Node::default, |_, [node]| async move {
        assert_eq!(node.ask(Panicky).await.unwrap(), "task panicked: task went wrong");
        assert!(node.is_alive());
    });
}

/// On one thread the handler awaits its task before the task runs, as it
/// does in the usual `spawn_task(..).await`. (A task that is already
/// waiting for room when its actor starts to await it is not found: a
/// wait for room is not recorded in the graph; see ARCHITECTURE.md.)
#[test]
fn a_task_telling_its_awaiting_actor_past_a_full_mailbox_gets_the_message_back() {
    run_bounded(LIMIT, |system| async move {
        let node = system.spawn_with(Node::default(), SpawnOptions::new().mailbox(Mailbox::bounded(3)));
        assert_eq!(node.ask(FloodFromTask).await.unwrap(), Err("3: true".to_owned()));
    });
}

#[test]
fn a_task_is_aborted_when_its_actor_stops() {
    run_with(LIMIT, Node::default, |_, [node]| async move {
        let (tx, rx) = tokio::sync::oneshot::channel();
        node.ask(Forever { dropped: tx }).await.unwrap();
        node.stop();
        node.wait_for_stop().await;
        // The task's future (and the sender it held) was dropped.
        assert!(rx.await.is_err());
    });
}

/// A task handle can be kept in an actor's state, sent, and awaited from
/// any task; its error travels too.
#[test]
fn a_task_handle_and_its_error_are_send_sync_and_unpin() {
    fn check<T: Send + Sync + Unpin + 'static>() {}
    check::<actor_core::TaskHandle<u64>>();
    check::<TaskError>();
}
