//! Timers and streams attached to an actor: messages it gets later, every
//! period, or as a stream yields them.
//!
//! Each timer (and each attached stream) is one tokio task that queues
//! messages in the actor's mailbox, waiting for room like `tell`. The task
//! holds only a weak pointer to the actor's shared state, so it never keeps
//! the actor alive, and the context tracks it so that it is aborted when the
//! actor's incarnation ends. Its messages travel as a `Timed` payload,
//! which carries the timer's cancellation flag: a message that is already
//! queued when the timer is cancelled is discarded instead of handled.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::actor::message::{Handler, Message};
use crate::actor::shared::Shared;
use crate::envelope::Payload;

/// A handle to a timer or an attached stream, from
/// [`Context::send_after`], [`Context::send_interval`] or
/// [`Context::attach_stream`].
///
/// Dropping the handle does **not** cancel the timer: it runs on until it is
/// done or its actor stops. Keep the handle only if you may want to
/// [`cancel`](TimerHandle::cancel) it. The handle is `Send` and `Sync`, so it
/// can be kept in the actor's state or handed to another actor.
///
/// # Delivery
///
/// A timer's messages are queued in its actor's mailbox like a `tell`: on a
/// full bounded mailbox the timer waits for room, and they are handled in
/// turn with everything else. They are sent from a task of their own, so
/// the delay, the `make` closure of
/// [`send_interval`](Context::send_interval) and an attached stream all run
/// outside the actor. Timers never keep their actor alive: when every
/// reference to it is dropped, it stops as usual.
///
/// # When the actor stops
///
/// Timers and streams belong to the actor's current incarnation. When it
/// stops, or fails under a supervisor, they are aborted at the start of its
/// stop sequence, before its children stop and before `on_stop` runs; from
/// then on they send nothing, so they produce no dead letters, and a message
/// that a [`send_after`](Context::send_after) had not sent yet is dropped
/// with its task. (Start them again in `on_start` if a restarted actor needs
/// them.)
///
/// An actor that stops gracefully (`stop()`, or its last reference dropped)
/// refuses new messages while it handles those already queued, and its
/// timers are aborted only after that. A timer that fires in between has its
/// message refused and reported as a dead letter
/// ([`DeadLetterReason::Stopped`](crate::DeadLetterReason::Stopped)), like
/// any `tell` to a stopped actor, and then ends; an interval that ticks then
/// ends without making a message. A timer started while the actor refuses
/// messages (by a handler during that drain, or in the `on_stop` of an actor
/// that is stopping) does not start at all: its handle is finished at once,
/// a `send_after` message is reported as a dead letter in the same way, and
/// a stream is dropped unpolled. Avoid starting timers in `on_stop` all the
/// same: a supervised actor that failed runs `on_stop` with its mailbox
/// still open (it may be restarted), and a timer started there is not
/// aborted with that incarnation.
///
/// A message that a timer has already queued is like any other queued
/// message: if the actor is killed before handling it, it becomes a dead
/// letter
/// ([`DeadLetterReason::DroppedOnStop`](crate::DeadLetterReason::DroppedOnStop)).
///
/// # Examples
///
/// A reminder that is cancelled when the work it watches for is done:
///
/// ```
/// use std::time::Duration;
/// use actor_core::TimerHandle;
/// use actor_core::prelude::*;
///
/// #[derive(Default)]
/// struct Job {
///     deadline: Option<TimerHandle>,
///     timed_out: bool,
/// }
/// impl Actor for Job {
///     type Error = std::convert::Infallible;
/// }
///
/// struct Start;
/// impl Message for Start {
///     type Reply = ();
/// }
/// impl Handler<Start> for Job {
///     async fn handle(&mut self, _: Start, ctx: &mut Context<Self>) {
///         self.deadline = Some(ctx.send_after(Duration::from_secs(5), TimedOut));
///     }
/// }
///
/// struct Done;
/// impl Message for Done {
///     type Reply = bool;
/// }
/// impl Handler<Done> for Job {
///     async fn handle(&mut self, _: Done, _: &mut Context<Self>) -> bool {
///         if let Some(deadline) = self.deadline.take() {
///             deadline.cancel();
///         }
///         self.timed_out
///     }
/// }
///
/// struct TimedOut;
/// impl Message for TimedOut {
///     type Reply = ();
/// }
/// impl Handler<TimedOut> for Job {
///     async fn handle(&mut self, _: TimedOut, _: &mut Context<Self>) {
///         self.timed_out = true;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let job = ActorSystem::new().spawn(Job::default());
/// job.ask(Start).await.unwrap();
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert!(!job.ask(Done).await.unwrap()); // finished in time
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// assert!(!job.ask(Done).await.unwrap()); // and the reminder never came
/// # }
/// ```
pub struct TimerHandle {
    cancelled: Arc<AtomicBool>,
    /// `None` for a timer that never started (its actor had stopped).
    task: Option<AbortHandle>,
}

impl TimerHandle {
    /// Cancels the timer, or detaches the stream.
    ///
    /// Once this returns, the actor handles no further message from this
    /// timer or stream: not even one that is already in its mailbox, which is
    /// discarded when its turn comes (and is not a dead letter, since nobody
    /// lost it). A handler of one of its messages that has already started
    /// runs to the end. An attached stream is dropped.
    ///
    /// Idempotent, and harmless on a timer that has finished or whose actor
    /// has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Bell(u32);
    ///
    /// #[actor]
    /// impl Bell {
    ///     #[message]
    ///     fn ring(&mut self) -> u32 {
    ///         self.0 += 1;
    ///         self.0
    ///     }
    ///
    ///     #[message]
    ///     async fn ring_and_cancel(&mut self, ctx: &mut Context<Self>) {
    ///         let timer = ctx.send_after(Duration::ZERO, Ring);
    ///         tokio::time::sleep(Duration::from_secs(1)).await; // meanwhile, `Ring` is queued
    ///         timer.cancel();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let bell = ActorSystem::new().spawn(Bell(0));
    /// bell.ring_and_cancel().await.unwrap();
    /// assert_eq!(bell.ring().await.unwrap(), 1); // the queued `Ring` was discarded
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Whether the timer has nothing left to send: it was cancelled, its
    /// actor stopped, it sent its one message ([`send_after`]; that message
    /// may still be waiting in the mailbox), or its stream ended
    /// ([`attach_stream`]). An interval finishes only by being cancelled or
    /// with its actor.
    ///
    /// After a stop, it may take the runtime a moment to tear the task down:
    /// the timer sends nothing in the meantime, but this only turns `true`
    /// once the task is gone.
    ///
    /// [`send_after`]: Context::send_after
    /// [`attach_stream`]: Context::attach_stream
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::TimerHandle;
    /// use actor_core::prelude::*;
    /// # struct Clock;
    /// # impl Actor for Clock { type Error = std::convert::Infallible; }
    /// # struct Tick;
    /// # impl Message for Tick { type Reply = (); }
    /// # impl Handler<Tick> for Clock { async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {} }
    /// struct Later(Duration);
    /// impl Message for Later {
    ///     type Reply = TimerHandle;
    /// }
    /// impl Handler<Later> for Clock {
    ///     async fn handle(&mut self, Later(delay): Later, ctx: &mut Context<Self>) -> TimerHandle {
    ///         ctx.send_after(delay, Tick)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let clock = ActorSystem::new().spawn(Clock);
    /// let timer = clock.ask(Later(Duration::from_secs(1))).await.unwrap();
    /// assert!(!timer.is_finished());
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// assert!(timer.is_finished());
    ///
    /// let timer = clock.ask(Later(Duration::from_secs(1))).await.unwrap();
    /// timer.cancel();
    /// assert!(timer.is_finished()); // at once
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst) || self.task.as_ref().is_none_or(AbortHandle::is_finished)
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("cancelled", &self.cancelled.load(Ordering::Relaxed))
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Timers and attached streams: see [`TimerHandle`] for how they end.
impl<A: Actor> Context<A> {
    /// Sends `msg` to this actor once `delay` has passed.
    ///
    /// Returns a handle to [`cancel`](TimerHandle::cancel) it; dropping the
    /// handle does not cancel. See
    /// [`TimerHandle`](TimerHandle#when-the-actor-stops) for what happens
    /// when the actor stops first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Kettle {
    ///     whistling: bool,
    /// }
    /// impl Actor for Kettle {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// struct Boil;
    /// impl Message for Boil {
    ///     type Reply = ();
    /// }
    /// impl Handler<Boil> for Kettle {
    ///     async fn handle(&mut self, _: Boil, ctx: &mut Context<Self>) {
    ///         ctx.send_after(Duration::from_secs(180), Whistle);
    ///     }
    /// }
    ///
    /// struct Whistle;
    /// impl Message for Whistle {
    ///     type Reply = ();
    /// }
    /// impl Handler<Whistle> for Kettle {
    ///     async fn handle(&mut self, _: Whistle, _: &mut Context<Self>) {
    ///         self.whistling = true;
    ///     }
    /// }
    ///
    /// struct IsWhistling;
    /// impl Message for IsWhistling {
    ///     type Reply = bool;
    /// }
    /// impl Handler<IsWhistling> for Kettle {
    ///     async fn handle(&mut self, _: IsWhistling, _: &mut Context<Self>) -> bool {
    ///         self.whistling
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let kettle = ActorSystem::new().spawn(Kettle::default());
    /// kettle.ask(Boil).await.unwrap();
    /// tokio::time::sleep(Duration::from_secs(179)).await;
    /// assert!(!kettle.ask(IsWhistling).await.unwrap());
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// assert!(kettle.ask(IsWhistling).await.unwrap());
    /// # }
    /// ```
    pub fn send_after<M>(&mut self, delay: Duration, msg: M) -> TimerHandle
    where
        A: Handler<M>,
        M: Message,
    {
        let cancelled = Arc::new(AtomicBool::new(false));
        if !self.shared().is_accepting() {
            // Refused, and reported as a dead letter, like a tell.
            let _ = self.shared().try_send(Timed { msg, cancelled: cancelled.clone() });
            return TimerHandle { cancelled, task: None };
        }
        // Taken now, so the delay counts from the call, not from when the
        // task first runs.
        let deadline = Instant::now().checked_add(delay);
        let flag = cancelled.clone();
        self.start(cancelled, move |actor| async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                // Too far away to represent: never.
                None => std::future::pending().await,
            }
            let _ = deliver(&actor, Timed { msg, cancelled: flag }).await;
        })
    }

    /// Sends this actor a clone of `msg` every `period`, the first one
    /// period after this call, until the timer is cancelled or the actor
    /// stops: [`send_after`](Context::send_after), repeated. Each message
    /// waits for room in the mailbox; ticks missed meanwhile are skipped
    /// (see [`send_interval_with`](Context::send_interval_with), which
    /// builds each message with a closure instead).
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Heart {
    ///     beats: u32,
    /// }
    ///
    /// #[actor(no_actor_impl)]
    /// impl Heart {
    ///     #[message(derive(Clone))]
    ///     fn beat(&mut self) {
    ///         self.beats += 1;
    ///     }
    ///
    ///     #[message]
    ///     fn beats(&self) -> u32 {
    ///         self.beats
    ///     }
    /// }
    ///
    /// impl Actor for Heart {
    ///     type Error = std::convert::Infallible;
    ///
    ///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         ctx.send_interval(Duration::from_secs(1), Beat);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let heart = ActorSystem::new().spawn(Heart::default());
    /// tokio::time::sleep(Duration::from_millis(3500)).await;
    /// assert_eq!(heart.beats().await.unwrap(), 3);
    /// # }
    /// ```
    pub fn send_interval<M>(&mut self, period: Duration, msg: M) -> TimerHandle
    where
        A: Handler<M>,
        M: Message + Clone,
    {
        self.send_interval_with(period, move || msg.clone())
    }

    /// Sends this actor a message from `make` every `period`, the first one
    /// period after this call, until the timer is cancelled or the actor
    /// stops.
    ///
    /// `make` runs on the timer's task, not inside the actor, each time the
    /// timer ticks. Each message waits for room in the mailbox, so an actor
    /// that falls behind slows its ticks down instead of letting them pile
    /// up: ticks missed meanwhile are skipped, not made up in a burst, and
    /// the next one comes a full period after the late one
    /// ([`MissedTickBehavior::Delay`]). If `make` panics, the interval ends
    /// (the actor is not told).
    ///
    /// Dropping the returned handle does not cancel the interval. It does not
    /// keep the actor alive either. See
    /// [`TimerHandle`](TimerHandle#when-the-actor-stops) for what happens
    /// when the actor stops.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Heart {
    ///     beats: u32,
    /// }
    /// impl Actor for Heart {
    ///     type Error = std::convert::Infallible;
    ///
    ///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         ctx.send_interval_with(Duration::from_secs(1), || Beat);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// struct Beat;
    /// impl Message for Beat {
    ///     type Reply = ();
    /// }
    /// impl Handler<Beat> for Heart {
    ///     async fn handle(&mut self, _: Beat, _: &mut Context<Self>) {
    ///         self.beats += 1;
    ///     }
    /// }
    ///
    /// struct Beats;
    /// impl Message for Beats {
    ///     type Reply = u32;
    /// }
    /// impl Handler<Beats> for Heart {
    ///     async fn handle(&mut self, _: Beats, _: &mut Context<Self>) -> u32 {
    ///         self.beats
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let heart = ActorSystem::new().spawn(Heart::default());
    /// tokio::time::sleep(Duration::from_millis(3500)).await;
    /// assert_eq!(heart.ask(Beats).await.unwrap(), 3);
    /// # }
    /// ```
    pub fn send_interval_with<M, F>(&mut self, period: Duration, mut make: F) -> TimerHandle
    where
        A: Handler<M>,
        M: Message,
        F: FnMut() -> M + Send + 'static,
    {
        assert!(!period.is_zero(), "send_interval: the period must not be zero");
        let cancelled = Arc::new(AtomicBool::new(false));
        if !self.shared().is_accepting() {
            return TimerHandle { cancelled, task: None };
        }
        let first = Instant::now().checked_add(period);
        let flag = cancelled.clone();
        self.start(cancelled, move |actor| async move {
            let Some(first) = first else { return std::future::pending().await };
            let mut ticks = tokio::time::interval_at(first, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(shared) = actor.upgrade() else { return };
                if !shared.is_accepting() {
                    return;
                }
                if shared.send(Timed { msg: make(), cancelled: flag.clone() }).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Handles every item of `stream` as a message to this actor, in order,
    /// until the stream ends, the returned handle is cancelled, or the actor
    /// stops (which drops the stream).
    ///
    /// Each item waits for room in the mailbox before the next is taken from
    /// the stream, so a slow actor slows the stream down rather than growing
    /// its mailbox. Items are queued after whatever else is in the mailbox
    /// (other senders' messages interleave with them), and the stream is
    /// polled on its own task, not inside the actor.
    ///
    /// The actor is not told when the stream ends; if it needs to know,
    /// chain a last item onto the stream, as below. Dropping the handle does
    /// not detach the stream. See
    /// [`TimerHandle`](TimerHandle#when-the-actor-stops) for what happens
    /// when the actor stops.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use futures::StreamExt;
    ///
    /// #[derive(Default)]
    /// struct Summer {
    ///     sum: u64,
    ///     done: bool,
    /// }
    /// impl Actor for Summer {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// enum Reading {
    ///     Value(u64),
    ///     End,
    /// }
    /// impl Message for Reading {
    ///     type Reply = ();
    /// }
    /// impl Handler<Reading> for Summer {
    ///     async fn handle(&mut self, reading: Reading, _: &mut Context<Self>) {
    ///         match reading {
    ///             Reading::Value(v) => self.sum += v,
    ///             Reading::End => self.done = true,
    ///         }
    ///     }
    /// }
    ///
    /// struct Listen;
    /// impl Message for Listen {
    ///     type Reply = ();
    /// }
    /// impl Handler<Listen> for Summer {
    ///     async fn handle(&mut self, _: Listen, ctx: &mut Context<Self>) {
    ///         let readings = futures::stream::iter(1..=4).map(Reading::Value);
    ///         ctx.attach_stream(readings.chain(futures::stream::iter([Reading::End])));
    ///     }
    /// }
    ///
    /// struct Total;
    /// impl Message for Total {
    ///     type Reply = Option<u64>;
    /// }
    /// impl Handler<Total> for Summer {
    ///     async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> Option<u64> {
    ///         self.done.then_some(self.sum)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let summer = ActorSystem::new().spawn(Summer::default());
    /// summer.ask(Listen).await.unwrap();
    /// tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    /// assert_eq!(summer.ask(Total).await.unwrap(), Some(10));
    /// # }
    /// ```
    pub fn attach_stream<S, M>(&mut self, stream: S) -> TimerHandle
    where
        A: Handler<M>,
        M: Message,
        S: Stream<Item = M> + Send + 'static,
    {
        let cancelled = Arc::new(AtomicBool::new(false));
        if !self.shared().is_accepting() {
            return TimerHandle { cancelled, task: None };
        }
        let flag = cancelled.clone();
        self.start(cancelled, move |actor| async move {
            let mut stream = pin!(stream);
            while let Some(msg) = stream.next().await {
                if !deliver(&actor, Timed { msg, cancelled: flag.clone() }).await {
                    return;
                }
                // A stream that is always ready and a mailbox with room
                // never make this task wait: yield now and then so that it
                // cannot hog its worker.
                tokio::task::consume_budget().await;
            }
        })
    }

    /// Spawns a timer's task on the system's runtime, tied to this actor.
    fn start<F, Fut>(&mut self, cancelled: Arc<AtomicBool>, task: F) -> TimerHandle
    where
        F: FnOnce(Weak<Shared<A>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let actor = Arc::downgrade(self.shared());
        let join = self.system().handle().spawn(task(actor));
        self.track_task(join.abort_handle());
        TimerHandle { cancelled, task: Some(join.abort_handle()) }
    }
}

/// Queues a timer's message, waiting for room; `false` if the actor is gone
/// or refused it (which reported it as a dead letter).
async fn deliver<A: Handler<M>, M: Message>(actor: &Weak<Shared<A>>, timed: Timed<M>) -> bool {
    match actor.upgrade() {
        Some(shared) => shared.send(timed).await.is_ok(),
        None => false,
    }
}

/// A message from a timer or an attached stream, with its timer's
/// cancellation flag: handled like a tell unless the timer was cancelled
/// before the actor got to it.
struct Timed<M> {
    msg: M,
    cancelled: Arc<AtomicBool>,
}

impl<A: Handler<M>, M: Message> Payload<A> for Timed<M> {
    fn describe(&self) -> Option<String> {
        self.msg.describe()
    }

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn into_future<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>) -> impl Future<Output = ()> + Send + 'a {
        let Timed { msg, cancelled } = self;
        let fut = (!cancelled.load(Ordering::SeqCst)).then(|| actor.handle(msg, ctx));
        async move {
            if let Some(fut) = fut {
                fut.await;
            }
        }
    }
}
