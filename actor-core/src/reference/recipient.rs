//! `Recipient<M>`: a reference to any actor that handles `M`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::actor::message::Message;
use crate::base::error::SendError;
use crate::base::id::ActorId;
use crate::base::reason::StopReason;
use crate::reference::ask::AskRequest;
use crate::reference::sink::{Sink, Telling, block_on};

/// A reference to any actor that handles `M`, whatever its type.
///
/// Use it where the sender should not know who answers: a subscriber list,
/// a callback, a pool. It keeps the actor alive like an [`ActorRef`](crate::ActorRef).
/// `try_tell`, `tell` and `ask` cost the same as through an `ActorRef`.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Log(String);
/// impl Message for Log {
///     type Reply = usize;
/// }
///
/// struct Console(usize);
/// impl Actor for Console {
///     type Error = std::convert::Infallible;
/// }
/// impl Handler<Log> for Console {
///     async fn handle(&mut self, Log(line): Log, _: &mut Context<Self>) -> usize {
///         self.0 += line.len();
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let log: Recipient<Log> = ActorSystem::new().spawn(Console(0)).recipient();
/// log.tell(Log("hello".into())).await.unwrap();
/// assert_eq!(log.ask(Log("!".into())).await.unwrap(), 6);
/// # }
/// ```
pub struct Recipient<M: Message> {
    inner: Arc<dyn Sink<M>>,
}

impl<M: Message> Recipient<M> {
    /// A recipient sending through `inner`, whose strong reference (if it
    /// counts them) has been taken already.
    pub(crate) fn new(inner: Arc<dyn Sink<M>>) -> Self {
        Recipient { inner }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.inner.id()
    }

    /// As [`ActorRef::is_alive`](crate::ActorRef::is_alive).
    pub fn is_alive(&self) -> bool {
        self.inner.is_accepting()
    }

    /// As [`ActorRef::tell`](crate::ActorRef::tell).
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with `msg` if the actor has stopped;
    /// [`SendError::Deadlock`] with `msg` as for [`ActorRef::tell`](crate::ActorRef::tell).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it waits for room drops
    /// `msg`.
    pub fn tell(&self, msg: M) -> impl Future<Output = Result<(), SendError<M>>> + Send + '_ {
        Telling::new(&*self.inner, msg)
    }

    /// As [`ActorRef::try_tell`](crate::ActorRef::try_tell).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Closed`], each with `msg`.
    pub fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.inner.try_tell(msg)
    }

    /// As [`ActorRef::blocking_tell`](crate::ActorRef::blocking_tell).
    ///
    /// # Errors
    ///
    /// As [`ActorRef::blocking_tell`](crate::ActorRef::blocking_tell).
    pub fn blocking_tell(&self, msg: M) -> Result<(), SendError<M>> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(SendError::BlockingInRuntime(msg));
        }
        block_on(&self.inner.runtime(), self.tell(msg)).unwrap_or_else(|| unreachable!("checked above"))
    }

    /// As [`ActorRef::ask`](crate::ActorRef::ask).
    ///
    /// # Errors
    ///
    /// As [`ActorRef::ask`](crate::ActorRef::ask).
    pub fn ask(&self, msg: M) -> AskRequest<'_, M> {
        AskRequest::new(&*self.inner, msg, false)
    }

    /// As [`ActorRef::stop`](crate::ActorRef::stop).
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// As [`ActorRef::wait_for_stop`](crate::ActorRef::wait_for_stop).
    pub async fn wait_for_stop(&self) -> StopReason {
        self.inner.wait_for_stop().await
    }
}

impl<M: Message> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        self.inner.retain();
        Recipient { inner: self.inner.clone() }
    }
}

impl<M: Message> Drop for Recipient<M> {
    fn drop(&mut self) {
        self.inner.release();
    }
}

crate::reference::identity_by_actor_id!(Recipient<M: Message>);

impl<M: Message> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient<{}>({})", std::any::type_name::<M>(), self.id())
    }
}
