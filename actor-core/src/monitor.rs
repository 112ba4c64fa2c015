//! Monitors and links: being told when another actor stops, and stopping
//! together.

use std::any::type_name;
use std::sync::{Arc, Weak};

use crate::actor::{Actor, StopReason};
use crate::actor_ref::ActorRef;
use crate::cell::{Lane, Notice, Shared, Signal};
use crate::context::Context;
use crate::envelope::{Envelope, Tell};
use crate::id::ActorId;
use crate::message::{Handler, Message};
use crate::system::DeadLetterReason;

/// The notice that a watched actor has stopped, delivered as a message to
/// actors that [monitor](Context::monitor) it or that
/// [trap exits](Context::trap_exits) of linked actors.
///
/// It is queued after what the watcher's mailbox already holds, but never
/// waits for room and is never refused for a full mailbox.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// #[derive(Default)]
/// struct Watcher {
///     seen: Vec<ActorId>,
/// }
/// impl Actor for Watcher {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Terminated> for Watcher {
///     async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
///         self.seen.push(notice.id);
///     }
/// }
///
/// struct Watch(ActorRef<Watcher>);
/// impl Message for Watch {
///     type Reply = ();
/// }
/// impl Handler<Watch> for Watcher {
///     async fn handle(&mut self, Watch(other): Watch, ctx: &mut Context<Self>) {
///         ctx.monitor(&other);
///     }
/// }
///
/// struct Seen;
/// impl Message for Seen {
///     type Reply = Vec<ActorId>;
/// }
/// impl Handler<Seen> for Watcher {
///     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<ActorId> {
///         self.seen.clone()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let watcher = system.spawn(Watcher::default());
/// let target = system.spawn(Watcher::default());
/// watcher.ask(Watch(target.clone())).await.unwrap();
/// target.stop();
/// target.wait_for_stop().await;
/// assert_eq!(watcher.ask(Seen).await.unwrap(), vec![target.id()]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Terminated {
    /// The actor that stopped.
    pub id: ActorId,
    /// Why it stopped.
    pub reason: StopReason,
}

impl Message for Terminated {
    type Reply = ();
}

/// Queues a `Terminated` notice for `watcher`, past its bound if need be; a
/// watcher that has stopped gets a dead letter instead.
fn deliver<A: Handler<Terminated>>(watcher: &Shared<A>, notice: Terminated) {
    if watcher.mailbox.push_notice(Envelope::new(Tell(notice))).is_err() {
        watcher.cell.dead_letter(type_name::<Terminated>(), DeadLetterReason::Stopped);
    }
}

/// How a trapping actor receives the exit of a linked one.
pub(crate) type ExitTrap<A> = fn(&Shared<A>, Terminated);

impl<A: Actor> Context<A> {
    /// Watches `other`: when it stops, this actor receives a [`Terminated`]
    /// message with its id and reason. If `other` has already stopped, the
    /// notice comes at once. Monitoring is one-way and does not keep `other`
    /// alive.
    pub fn monitor<B: Actor>(&mut self, other: &ActorRef<B>)
    where
        A: Handler<Terminated>,
    {
        let me: Weak<Shared<A>> = Arc::downgrade(self.shared());
        let notice: Notice = Box::new(move |id, reason| {
            if let Some(me) = me.upgrade() {
                deliver(&me, Terminated { id, reason: reason.clone() });
            }
        });
        match other.shared() {
            Some(shared) => shared.cell.on_terminated(notice),
            None => on_remote_termination(other, notice),
        }
    }

    /// Links this actor and `other` both ways: when either stops
    /// abnormally ([`StopReason::is_abnormal`]), the other stops too, with
    /// [`StopReason::Linked`], unless it [traps exits](Context::trap_exits),
    /// in which case it receives a [`Terminated`] message instead. Normal
    /// stops do not propagate (a trapping actor is still told of them).
    ///
    /// With an actor of another node the link works one way: this actor
    /// hears of the remote one's exit (including
    /// [`StopReason::NodeDown`]), but its own exit does not stop the remote
    /// actor. Monitor this actor from the other node for the way back.
    pub fn link<B: Actor>(&mut self, other: &ActorRef<B>) {
        let to_me: Weak<dyn Lane> = {
            let me: Arc<dyn Lane> = self.shared().clone();
            Arc::downgrade(&me)
        };
        let Some(other_shared) = other.shared() else {
            on_remote_termination(other, exit_notice(to_me));
            return;
        };
        let to_other: Weak<dyn Lane> = {
            let them: Arc<dyn Lane> = other_shared.clone();
            Arc::downgrade(&them)
        };
        other_shared.cell.on_terminated(exit_notice(to_me));
        self.shared().cell.on_terminated(exit_notice(to_other));
    }

    /// Receives the exits of linked actors as [`Terminated`] messages
    /// instead of stopping with them.
    pub fn trap_exits(&mut self)
    where
        A: Handler<Terminated>,
    {
        self.set_exit_trap(deliver::<A>);
    }
}

/// The notice that tells a linked actor about an exit.
fn exit_notice(to: Weak<dyn Lane>) -> Notice {
    Box::new(move |id, reason| {
        if let Some(lane) = to.upgrade() {
            lane.signal(Signal::LinkExit(id, reason.clone()));
        }
    })
}

/// Runs `notice` when a remote actor terminates or its node is lost.
fn on_remote_termination<B: Actor>(other: &ActorRef<B>, notice: Notice) {
    if let Some(target) = other.remote_target() {
        target.endpoint.on_terminated(notice);
    }
}
