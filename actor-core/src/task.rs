//! Tasks a handler starts and awaits: [`Context::spawn_task`].
//!
//! A handler that awaits a task is blocked until the task ends, as it is
//! while it awaits an ask. A task started with plain `tokio::spawn` is
//! invisible to the graph of waits (`base/deadlock.rs`): its asks come from
//! nobody, so a cycle through it (A's handler awaits a task that asks B,
//! whose handler awaits a task that asks A) is not seen, and the asks wait
//! until their timeouts. A task started here is a node of the graph under
//! an id of its own: its polls run as that node ([`reply::in_task`]), so
//! what it waits for enters the graph as its waits, and awaiting its
//! handle from a handler (or from another such task) enters the wait on
//! the task, exactly as an ask's future does. Only the handle being
//! awaited makes the awaiter wait: a task left to run alone never blocks
//! its actor, and is never counted as if it did.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::base::deadlock::{self, Waiting};
use crate::base::error::TaskError;
use crate::base::id::ActorId;
use crate::base::reply::{self, Me};

pin_project! {
    /// A task's future, polled as its node of the graph of waits.
    struct Carried<F> {
        task: Me,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        reply::in_task(*this.task, || fut.poll(cx))
    }
}

/// A task started with [`Context::spawn_task`]: await it for the task's
/// output.
///
/// Dropping the handle lets the task run on by itself (as with
/// `tokio::task::JoinHandle`); it is aborted when its actor stops or
/// restarts, like the actor's timers.
///
/// # Examples
///
/// ```
/// use actor_core::TaskHandle;
/// use actor_core::prelude::*;
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     async fn square(&mut self, n: u64, ctx: &mut Context<Self>) -> u64 {
///         // Runs beside the actor; awaiting the handle gives its output.
///         let handle: TaskHandle<u64> = ctx.spawn_task(async move { n * n });
///         handle.await.unwrap()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let worker = ActorSystem::new().spawn(Worker);
/// assert_eq!(worker.square(7).await.unwrap(), 49);
/// # }
/// ```
///
/// See also [`Context::spawn_task`].
pub struct TaskHandle<T> {
    /// The task's node in the graph of waits.
    task: ActorId,
    join: JoinHandle<T>,
    /// Whether the wait on the task has been checked (at the first poll).
    checked: bool,
    /// The awaiter's wait on the task, while it lasts.
    waiting: Option<Waiting>,
}

impl<T> TaskHandle<T> {
    /// Aborts the task; awaiting the handle then gives
    /// [`TaskError::Aborted`], unless the task had finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{error::TaskError, prelude::*};
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message]
    ///     async fn start_and_abort(&mut self, ctx: &mut Context<Self>) -> Result<(), TaskError> {
    ///         let task = ctx.spawn_task(std::future::pending::<()>());
    ///         task.abort();
    ///         task.await
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let worker = ActorSystem::new().spawn(Worker);
    /// let result = worker.start_and_abort().timeout(Duration::from_secs(5)).await.unwrap();
    /// assert!(matches!(result, Err(TaskError::Aborted)));
    /// # }
    /// ```
    pub fn abort(&self) {
        self.join.abort();
    }

    /// Whether the task has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::{TaskHandle, prelude::*};
    ///
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[message]
    ///     fn start(&mut self, ctx: &mut Context<Self>) -> TaskHandle<()> {
    ///         ctx.spawn_task(tokio::time::sleep(Duration::from_secs(1)))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let worker = ActorSystem::new().spawn(Worker);
    /// let task = worker.start().await.unwrap();
    /// assert!(!task.is_finished());
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// assert!(task.is_finished());
    /// assert!(task.await.is_ok());
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.checked {
            this.checked = true;
            // Awaited by a handler (or another such task): that one now
            // waits for the task, unless the task waits for it already.
            if let Some(me) = reply::current_waiter() {
                match deadlock::wait(me, this.task) {
                    Ok(waiting) => this.waiting = Some(waiting),
                    Err(cycle) => return Poll::Ready(Err(TaskError::Deadlock(cycle))),
                }
            }
        }
        let joined = ready!(Pin::new(&mut this.join).poll(cx));
        this.waiting = None;
        Poll::Ready(joined.map_err(|e| match e.try_into_panic() {
            Ok(payload) => TaskError::Panicked(panic_message(&*payload)),
            Err(_) => TaskError::Aborted,
        }))
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("task", &self.task).field("finished", &self.is_finished()).finish()
    }
}

impl<A: Actor> Context<A> {
    /// Starts `fut` as a task of its own, on the actor's runtime, for a
    /// handler to await: for work in parallel, or off the actor's task.
    /// The task is aborted when the actor stops or restarts.
    ///
    /// Unlike a task from plain `tokio::spawn`, it takes part in ask-cycle
    /// detection: its asks, and its waits for room in a full mailbox, are
    /// its waits, and a handler awaiting its handle waits for it. So a
    /// cycle through such tasks fails at once, as one of asks between
    /// handlers does: the ask that would close it gets
    /// [`AskError::Deadlock`](crate::error::AskError::Deadlock), and a
    /// handle awaited when its task already waits on the awaiter gets
    /// [`TaskError::Deadlock`]. In a reported
    /// [`Cycle`](crate::error::Cycle), the task appears under an id of its
    /// own.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_core::error::AskError;
    /// use actor_core::prelude::*;
    ///
    /// struct Node {
    ///     peer: Option<ActorRef<Node>>,
    /// }
    /// impl Actor for Node {
    ///     type Error = std::convert::Infallible;
    /// }
    ///
    /// struct Peer(ActorRef<Node>);
    /// impl Message for Peer {
    ///     type Reply = ();
    /// }
    /// impl Handler<Peer> for Node {
    ///     async fn handle(&mut self, Peer(peer): Peer, _: &mut Context<Self>) {
    ///         self.peer = Some(peer);
    ///     }
    /// }
    ///
    /// /// Asks the peer, from a task this handler awaits.
    /// struct Relay;
    /// impl Message for Relay {
    ///     type Reply = Result<(), String>;
    /// }
    /// impl Handler<Relay> for Node {
    ///     async fn handle(&mut self, _: Relay, ctx: &mut Context<Self>) -> Result<(), String> {
    ///         let peer = self.peer.clone().expect("a peer");
    ///         let task = ctx.spawn_task(async move {
    ///             match peer.ask(Relay).await {
    ///                 // The peer's task asks us back while we wait for it.
    ///                 Err(AskError::Deadlock(..)) => Err("cycle".to_owned()),
    ///                 Err(e) => Err(e.to_string()),
    ///                 Ok(inner) => inner,
    ///             }
    ///         });
    ///         task.await.map_err(|e| e.to_string())?
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = ActorSystem::new();
    /// let a = system.spawn(Node { peer: None });
    /// let b = system.spawn(Node { peer: None });
    /// a.ask(Peer(b.clone())).await.unwrap();
    /// b.ask(Peer(a.clone())).await.unwrap();
    /// // a's task asks b, whose task asks a: found at once, not a hang.
    /// assert_eq!(a.ask(Relay).await.unwrap(), Err("cycle".to_owned()));
    /// # }
    /// ```
    pub fn spawn_task<F>(&mut self, fut: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = Me { id: ActorId::next(), scope: self.system().id() };
        let join = self.system().handle().spawn(Carried { task, fut });
        self.track_task(join.abort_handle());
        TaskHandle { task: task.id, join, checked: false, waiting: None }
    }
}
