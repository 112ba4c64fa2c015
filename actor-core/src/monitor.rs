//! Monitors and links: being told when another actor stops, and stopping
//! together.

use std::any::type_name;
use std::future::Future;
use std::sync::{Arc, Weak};

use futures::future::Either;

use crate::actor::context::Actor;
use crate::actor::context::{Context, Monitored};
use crate::actor::message::Tell;
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::base::dead_letter::DeadLetterReason;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::cell::{AddedLink, Lane, LinkBack, Notice, link_exit};
#[cfg(feature = "serde")]
use crate::endpoint::RemoteTarget;
use crate::envelope::{Envelope, Payload};
use crate::reference::actor_ref::{ActorRef, Inner};

/// The notice that a watched actor has stopped, delivered as a message to
/// actors that [monitor](Context::monitor) it or that
/// [trap exits](Context::trap_exits) of linked actors.
///
/// It is queued after what the watcher's mailbox already holds, but never
/// waits for room and is never refused for a full mailbox. A monitor
/// removed with [`Context::demonitor`] delivers none, even if the watched
/// actor had stopped and its notice was already queued.
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

/// A monitor set by [`Context::monitor`]; hand it to
/// [`Context::demonitor`] to remove that monitor (Erlang's monitor
/// reference).
///
/// Dropping it leaves the monitor in place. It belongs to the actor that
/// set the monitor: another actor's `demonitor` does nothing with it.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::MonitorRef;
///
/// #[derive(Default)]
/// struct Watcher {
///     monitor: Option<MonitorRef>,
///     seen: usize,
/// }
/// impl Actor for Watcher {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Terminated> for Watcher {
///     async fn handle(&mut self, _: Terminated, _: &mut Context<Self>) {
///         self.seen += 1;
///     }
/// }
///
/// struct Watch(ActorRef<Watcher>);
/// impl Message for Watch {
///     type Reply = ();
/// }
/// impl Handler<Watch> for Watcher {
///     async fn handle(&mut self, Watch(other): Watch, ctx: &mut Context<Self>) {
///         self.monitor = Some(ctx.monitor(&other));
///     }
/// }
///
/// struct Unwatch;
/// impl Message for Unwatch {
///     type Reply = bool;
/// }
/// impl Handler<Unwatch> for Watcher {
///     async fn handle(&mut self, _: Unwatch, ctx: &mut Context<Self>) -> bool {
///         self.monitor.take().is_some_and(|m| ctx.demonitor(m))
///     }
/// }
///
/// struct Seen;
/// impl Message for Seen {
///     type Reply = usize;
/// }
/// impl Handler<Seen> for Watcher {
///     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> usize {
///         self.seen
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = ActorSystem::new();
/// let watcher = system.spawn(Watcher::default());
/// let target = system.spawn(Watcher::default());
/// watcher.ask(Watch(target.clone())).await.unwrap();
/// assert!(watcher.ask(Unwatch).await.unwrap(), "the monitor was in place");
/// target.stop();
/// target.wait_for_stop().await;
/// assert_eq!(watcher.ask(Seen).await.unwrap(), 0, "no notice after demonitor");
/// # }
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MonitorRef {
    owner: ActorId,
    id: u64,
    target: ActorId,
}

impl MonitorRef {
    /// The watched actor.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::{MonitorRef, prelude::*};
    ///
    /// struct Watcher;
    ///
    /// #[actor]
    /// impl Watcher {
    ///     #[message]
    ///     fn watch(&mut self, other: ActorRef<Watcher>, ctx: &mut Context<Self>) -> MonitorRef {
    ///         ctx.monitor(&other)
    ///     }
    /// }
    ///
    /// impl Handler<Terminated> for Watcher {
    ///     async fn handle(&mut self, _: Terminated, _: &mut Context<Self>) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let (watcher, target) = (system.spawn(Watcher), system.spawn(Watcher));
    /// let monitor = watcher.watch(target.clone()).await.unwrap();
    /// assert_eq!(monitor.target(), target.id());
    /// # }
    /// ```
    pub fn target(&self) -> ActorId {
        self.target
    }
}

/// A monitor's notice on its way to the watcher: delivered to the
/// watcher's `Handler<Terminated>` only if the monitor is still in place
/// when the watcher takes it (`demonitor` discards one already queued).
struct Notified {
    monitor: u64,
    notice: Terminated,
}

impl<A: Handler<Terminated>> Payload<A> for Notified {
    fn message_type() -> &'static str {
        type_name::<Terminated>()
    }

    fn describe(&self) -> Option<String> {
        self.notice.describe()
    }

    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>) -> impl Future<Output = ()> + Send + 'a {
        // The monitor has fired: it is no longer this actor's to take back.
        match ctx.take_monitor(self.monitor) {
            Some(_) => Either::Right(<Tell<Terminated> as Payload<A>>::into_future(Tell(self.notice), actor, ctx)),
            None => Either::Left(std::future::ready(())),
        }
    }
}

/// Queues a payload for `watcher`, past its bound if need be; a watcher
/// that has stopped gets a dead letter instead.
fn deliver<A: Actor, P: Payload<A>>(watcher: &Shared<A>, payload: P) {
    if watcher.mailbox.push_notice(Envelope::new(payload)).is_err() {
        watcher.dead_letter(type_name::<Terminated>(), DeadLetterReason::Stopped);
    }
}

/// Queues a trapped exit as a `Terminated` message.
fn deliver_exit<A: Handler<Terminated>>(watcher: &Shared<A>, id: ActorId, reason: StopReason) {
    deliver(watcher, Tell(Terminated { id, reason }));
}

impl<A: Actor> Context<A> {
    /// Watches `other`: when it stops, this actor receives a [`Terminated`]
    /// message with its id and reason. If `other` has already stopped, the
    /// notice comes at once. Monitoring is one-way and does not keep `other`
    /// alive.
    ///
    /// Each call sets one more monitor, with one notice of its own (as
    /// Erlang's `monitor/2`). The returned [`MonitorRef`] removes it with
    /// [`demonitor`](Context::demonitor); when this actor stops, the
    /// monitors it still holds are removed with it, so a long-lived actor
    /// watched by many short-lived ones does not collect their monitors.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Watcher(Vec<Terminated>);
    ///
    /// #[actor]
    /// impl Watcher {
    ///     #[message]
    ///     fn watch(&mut self, other: ActorRef<Watcher>, ctx: &mut Context<Self>) {
    ///         ctx.monitor(&other);
    ///     }
    /// #
    /// #     #[message]
    /// #     fn seen(&self) -> Vec<Terminated> {
    /// #         self.0.clone()
    /// #     }
    /// }
    ///
    /// impl Handler<Terminated> for Watcher {
    ///     async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
    ///         self.0.push(notice);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let (watcher, target) = (system.spawn(Watcher(Vec::new())), system.spawn(Watcher(Vec::new())));
    /// watcher.watch(target.clone()).await.unwrap();
    /// target.kill();
    /// target.wait_for_stop().await;
    /// watcher.watch(target.clone()).await.unwrap(); // a second monitor; stopped already: told at once
    /// let seen = watcher.seen().await.unwrap(); // the notices `watcher` handled
    /// assert_eq!(seen.len(), 2);
    /// assert!(seen.iter().all(|n| n.id == target.id() && matches!(n.reason, StopReason::Killed)));
    /// # }
    /// ```
    pub fn monitor<B: Actor>(&mut self, other: &ActorRef<B>) -> MonitorRef
    where
        A: Handler<Terminated>,
    {
        let id = self.next_monitor_id();
        let me: Weak<Shared<A>> = Arc::downgrade(self.shared());
        let notice: Notice = Box::new(move |target, reason| {
            if let Some(me) = me.upgrade() {
                deliver(&me, Notified { monitor: id, notice: Terminated { id: target, reason: reason.clone() } });
            }
        });
        let monitored = match other.place() {
            Inner::Local(shared) => {
                let key = shared.cell.on_terminated(notice);
                let lane: Arc<dyn Lane> = shared.clone();
                Monitored::Local(Arc::downgrade(&lane), key)
            }
            #[cfg(feature = "serde")]
            Inner::Remote(target) => {
                let key = target.endpoint.watch(notice);
                Monitored::Remote(target.endpoint.clone(), key)
            }
        };
        // Kept even if the notice is already queued (`other` had stopped):
        // the notice finds it, or `demonitor` discards the notice.
        self.insert_monitor(id, monitored);
        MonitorRef { owner: self.id(), id, target: other.id() }
    }

    /// Removes a monitor set by [`monitor`](Context::monitor): no
    /// [`Terminated`] notice comes from it afterwards, not even one already
    /// queued because the watched actor had stopped (Erlang's
    /// `demonitor(Ref, [flush])`).
    ///
    /// Returns whether the monitor was still in place: `false` if its
    /// notice has already been handled, it was removed before, or it
    /// belongs to another actor. With a remote actor, the watch this node
    /// keeps for it is taken back at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Watcher(Vec<Terminated>);
    ///
    /// #[actor]
    /// impl Watcher {
    ///     #[message]
    ///     fn glance(&mut self, other: ActorRef<Watcher>, ctx: &mut Context<Self>) -> bool {
    ///         let monitor = ctx.monitor(&other);
    ///         ctx.demonitor(monitor)
    ///     }
    /// #
    /// #     #[message]
    /// #     fn seen(&self) -> usize {
    /// #         self.0.len()
    /// #     }
    /// }
    ///
    /// impl Handler<Terminated> for Watcher {
    ///     async fn handle(&mut self, notice: Terminated, _: &mut Context<Self>) {
    ///         self.0.push(notice);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let (watcher, target) = (system.spawn(Watcher(Vec::new())), system.spawn(Watcher(Vec::new())));
    /// target.stop();
    /// target.wait_for_stop().await;
    /// // The target had stopped: the notice was queued at once, then discarded.
    /// assert!(watcher.glance(target.clone()).await.unwrap());
    /// assert_eq!(watcher.seen().await.unwrap(), 0); // how many notices `watcher` handled
    /// # }
    /// ```
    pub fn demonitor(&mut self, monitor: MonitorRef) -> bool {
        if monitor.owner != self.id() {
            return false;
        }
        match self.take_monitor(monitor.id) {
            Some(monitored) => {
                monitored.take_back();
                true
            }
            None => false,
        }
    }

    /// Links this actor and `other` both ways: when either stops
    /// abnormally ([`StopReason::is_abnormal`]), the other stops too, with
    /// [`StopReason::Linked`], unless it [traps exits](Context::trap_exits),
    /// in which case it receives a [`Terminated`] message instead. Normal
    /// stops do not propagate (a trapping actor is still told of them).
    ///
    /// There is at most one link between two actors (Erlang's `link/1`):
    /// linking again, from either side, changes nothing, and one
    /// [`unlink`](Context::unlink) removes it. Linking an actor to itself
    /// does nothing. If `other` has already stopped, its exit comes at once.
    ///
    /// With an actor of another node the link works one way: this actor
    /// hears of the remote one's exit (including
    /// [`StopReason::NodeDown`]), but its own exit does not stop the remote
    /// actor. Monitor this actor from the other node for the way back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message]
    ///     fn link_to(&mut self, other: ActorRef<Worker>, ctx: &mut Context<Self>) {
    ///         ctx.link(&other);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let (a, b) = (system.spawn(Worker), system.spawn(Worker));
    /// a.link_to(b.clone()).await.unwrap();
    /// b.kill(); // an abnormal stop
    /// let stopped = tokio::time::timeout(Duration::from_secs(5), a.wait_for_stop()).await;
    /// let StopReason::Linked(exit) = stopped.expect("a stops with b") else { panic!("not linked") };
    /// assert!(exit.id == b.id() && matches!(exit.reason, StopReason::Killed));
    /// # }
    /// ```
    pub fn link<B: Actor>(&mut self, other: &ActorRef<B>) {
        let me: Arc<dyn Lane> = self.shared().clone();
        let my_id = self.id();
        let other_id = other.id();
        if other_id == my_id {
            return;
        }
        match other.place() {
            Inner::Local(other) => self.link_local(other_id, other, &me),
            #[cfg(feature = "serde")]
            Inner::Remote(other) => self.link_remote(other_id, other, &me),
        }
    }

    /// The two-way link to an actor of this node: each side holds its half.
    fn link_local<B: Actor>(&mut self, other_id: ActorId, other: &Arc<Shared<B>>, me: &Arc<dyn Lane>) {
        let them: Arc<dyn Lane> = other.clone();
        match self.shared().cell.add_link(other_id, LinkBack::Local(Arc::downgrade(&them))) {
            AddedLink::Added => {}
            AddedLink::Already | AddedLink::Ended(_) => return,
        }
        match other.cell.add_link(self.id(), LinkBack::Local(Arc::downgrade(me))) {
            AddedLink::Added | AddedLink::Already => {}
            // `other` ended before its side was in place: its exit reaches
            // this actor as it would have.
            AddedLink::Ended(reason) => link_exit(&**me, other_id, &reason),
        }
    }

    /// The one-way link to an actor of another node: a watch on it whose
    /// notice is this actor's link exit.
    #[cfg(feature = "serde")]
    fn link_remote(&mut self, other_id: ActorId, other: &RemoteTarget, me: &Arc<dyn Lane>) {
        let endpoint = &other.endpoint;
        // This side first: the notice may run at once (the node is down),
        // and an exit only reaches an actor that holds its side of the link.
        match self.shared().cell.add_link(other_id, LinkBack::Remote(None)) {
            AddedLink::Added => {}
            AddedLink::Already | AddedLink::Ended(_) => return,
        }
        let to_me = Arc::downgrade(me);
        let notice: Notice = Box::new(move |id, reason| {
            if let Some(me) = to_me.upgrade() {
                link_exit(&*me, id, reason);
            }
        });
        if let Some(key) = endpoint.watch(notice) {
            let endpoint = endpoint.clone();
            // Handed back if the exit already came (the watch is gone).
            let _ = self.shared().cell.set_link_unwatch(other_id, Box::new(move || endpoint.unwatch(key)));
        }
    }

    /// Removes the link between this actor and `other`, on both sides
    /// (Erlang's `unlink/1`): from then on neither actor's exit affects the
    /// other. With an actor of another node, the watch this node keeps for
    /// the link is taken back.
    ///
    /// Returns whether there was a link to remove. `false` also when
    /// `other`'s exit reached this actor first: it then takes effect as if
    /// the unlink had come after it (this actor stops once the handler
    /// returns, or, trapping exits, receives the [`Terminated`] message),
    /// as in Erlang, where the exit would have been received before the
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// enum Link {
    ///     To(ActorRef<Worker>),
    ///     Undo(ActorRef<Worker>),
    /// }
    /// impl Message for Link {
    ///     type Reply = bool;
    /// }
    /// impl Handler<Link> for Worker {
    ///     async fn handle(&mut self, what: Link, ctx: &mut Context<Self>) -> bool {
    ///         match what {
    ///             Link::To(other) => {
    ///                 ctx.link(&other);
    ///                 true
    ///             }
    ///             Link::Undo(other) => ctx.unlink(&other),
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let a = system.spawn(Worker);
    /// let b = system.spawn(Worker);
    /// a.ask(Link::To(b.clone())).await.unwrap();
    /// assert!(a.ask(Link::Undo(b.clone())).await.unwrap());
    /// b.kill();
    /// b.wait_for_stop().await;
    /// // Unlinked: b's abnormal stop does not take a with it.
    /// assert!(a.is_alive());
    /// # }
    /// ```
    pub fn unlink<B: Actor>(&mut self, other: &ActorRef<B>) -> bool {
        self.shared().cell.unlink(other.id())
    }

    /// Receives the exits of linked actors as [`Terminated`] messages
    /// instead of stopping with them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    ///
    /// struct Guard(UnboundedSender<Terminated>);
    ///
    /// #[actor]
    /// impl Guard {
    ///     #[message]
    ///     fn watch_over(&mut self, worker: ActorRef<Worker>, ctx: &mut Context<Self>) {
    ///         ctx.trap_exits();
    ///         ctx.link(&worker);
    ///     }
    /// }
    ///
    /// impl Handler<Terminated> for Guard {
    ///     async fn handle(&mut self, exit: Terminated, _: &mut Context<Self>) {
    ///         self.0.send(exit).unwrap();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (system, (tx, mut exits)) = (ActorSystem::new(), unbounded_channel());
    /// let (guard, worker) = (system.spawn(Guard(tx)), system.spawn(Worker));
    /// guard.watch_over(worker.clone()).await.unwrap();
    /// worker.kill();
    /// let exit = tokio::time::timeout(Duration::from_secs(5), exits.recv()).await.unwrap().unwrap();
    /// assert!(exit.id == worker.id() && matches!(exit.reason, StopReason::Killed));
    /// assert!(guard.is_alive()); // it did not stop with the worker
    /// # }
    /// ```
    pub fn trap_exits(&mut self)
    where
        A: Handler<Terminated>,
    {
        self.set_exit_trap(deliver_exit::<A>);
    }
}
