//! Helpers for testing actors (feature `test-util`).
//!
//! A [`Probe`] stands in for the actors an actor under test talks to: hand
//! its [`recipient`](Probe::recipient) to the actor, then
//! [`expect`](Probe::expect) what the actor sends, each with a timeout. Run
//! the test on paused time (`#[tokio::test(start_paused = true)]`) and the
//! timeouts cost no real time: tokio advances the clock when every task is
//! idle, so a test of a 30-second timer runs in microseconds and the same
//! way every time.

use std::fmt;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::actor::context::Actor;
use crate::actor::context::Context;
use crate::actor::message::{Handler, Message};
use crate::reference::recipient::Recipient;
use crate::system::ActorSystem;

/// What a [`Probe`] expectation found instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_core::testkit::{Probe, ProbeError};
///
/// #[derive(Debug, PartialEq)]
/// struct Ping(u32);
/// impl Message for Ping {
///     type Reply = ();
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let mut probe = Probe::<Ping>::new(&ActorSystem::new());
/// assert_eq!(probe.expect(Duration::from_secs(1)).await, Err(ProbeError::Timeout));
/// probe.recipient().tell(Ping(1)).await.unwrap();
/// assert_eq!(probe.expect_none(Duration::from_secs(1)).await, Err(ProbeError::Unexpected(Ping(1))));
/// # }
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeError<M> {
    /// Nothing came within the timeout.
    Timeout,
    /// A message came when none was expected, or did not match.
    Unexpected(M),
}

impl<M: fmt::Debug> fmt::Display for ProbeError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Timeout => f.write_str("no message within the timeout"),
            ProbeError::Unexpected(m) => write!(f, "unexpected message {m:?}"),
        }
    }
}

impl<M: fmt::Debug> std::error::Error for ProbeError<M> {}

/// A test actor that records every `M` sent to it, for the test to expect.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
/// use actor_core::testkit::Probe;
///
/// #[derive(Debug, PartialEq)]
/// struct Tick(u32);
/// impl Message for Tick {
///     type Reply = ();
/// }
///
/// /// The actor under test: ticks its listener every second, three times.
/// struct Metronome(Recipient<Tick>);
/// impl Actor for Metronome {
///     type Error = std::convert::Infallible;
///     async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), Self::Error> {
///         let listener = self.0.clone();
///         tokio::spawn(async move {
///             for n in 1..=3 {
///                 tokio::time::sleep(Duration::from_secs(1)).await;
///                 let _ = listener.tell(Tick(n)).await;
///             }
///         });
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let system = ActorSystem::new();
/// let mut probe = Probe::<Tick>::new(&system);
/// let _metronome = system.spawn(Metronome(probe.recipient()));
/// // Paused time: these waits take no real time.
/// assert_eq!(probe.expect(Duration::from_secs(2)).await, Ok(Tick(1)));
/// assert_eq!(probe.expect(Duration::from_secs(2)).await, Ok(Tick(2)));
/// assert_eq!(probe.expect(Duration::from_secs(2)).await, Ok(Tick(3)));
/// assert!(probe.expect_none(Duration::from_secs(5)).await.is_ok());
/// # }
/// ```
pub struct Probe<M: Message> {
    recipient: Recipient<M>,
    rx: mpsc::UnboundedReceiver<M>,
}

/// The actor behind a probe.
struct ProbeActor<M>(mpsc::UnboundedSender<M>);

impl<M: Message> Actor for ProbeActor<M> {
    type Error = std::convert::Infallible;
}

impl<M: Message<Reply = ()>> Handler<M> for ProbeActor<M> {
    async fn handle(&mut self, msg: M, _: &mut Context<Self>) {
        let _ = self.0.send(msg);
    }
}

impl<M: Message<Reply = ()>> Probe<M> {
    /// A probe running in `system`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::Probe;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Ping(u32);
    /// impl Message for Ping {
    ///     type Reply = ();
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut probe = Probe::<Ping>::new(&system);
    /// assert_eq!(system.actor_count(), 1); // the probe is an actor of `system`
    /// probe.recipient().tell(Ping(1)).await.unwrap();
    /// assert_eq!(probe.expect(Duration::from_secs(1)).await, Ok(Ping(1)));
    /// # }
    /// ```
    pub fn new(system: &ActorSystem) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let recipient = system.spawn(ProbeActor(tx)).recipient();
        Probe { recipient, rx }
    }

    /// A reference to give the actor under test.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::Probe;
    /// # #[derive(Debug, PartialEq)] struct Hello(String);
    /// # impl Message for Hello { type Reply = (); }
    ///
    /// /// The actor under test: greets whoever it was given.
    /// struct Greeter(Recipient<Hello>);
    ///
    /// #[actor]
    /// impl Greeter {
    ///     #[message]
    ///     async fn greet(&mut self, name: String) {
    ///         let _ = self.0.tell(Hello(name)).await;
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut probe = Probe::<Hello>::new(&system);
    /// let greeter = system.spawn(Greeter(probe.recipient()));
    /// greeter.greet("Ada".into()).await.unwrap();
    /// assert_eq!(probe.expect(Duration::from_secs(1)).await, Ok(Hello("Ada".into())));
    /// # }
    /// ```
    pub fn recipient(&self) -> Recipient<M> {
        self.recipient.clone()
    }

    /// The next message, if one comes within `timeout`.
    ///
    /// # Errors
    ///
    /// [`ProbeError::Timeout`] if none does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::{Probe, ProbeError};
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Ping(u32);
    /// impl Message for Ping {
    ///     type Reply = ();
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mut probe = Probe::<Ping>::new(&ActorSystem::new());
    /// probe.recipient().tell(Ping(1)).await.unwrap();
    /// assert_eq!(probe.expect(Duration::from_secs(1)).await, Ok(Ping(1)));
    /// // Nothing else comes: the wait ends at the timeout (at once, on paused time).
    /// assert_eq!(probe.expect(Duration::from_secs(1)).await, Err(ProbeError::Timeout));
    /// # }
    /// ```
    pub async fn expect(&mut self, timeout: Duration) -> Result<M, ProbeError<M>> {
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(msg)) => Ok(msg),
            _ => Err(ProbeError::Timeout),
        }
    }

    /// The next message, which must satisfy `check`.
    ///
    /// # Errors
    ///
    /// [`ProbeError::Timeout`], or [`ProbeError::Unexpected`] with a message
    /// that failed the check.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::{Probe, ProbeError};
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Ping(u32);
    /// impl Message for Ping {
    ///     type Reply = ();
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mut probe = Probe::<Ping>::new(&ActorSystem::new());
    /// probe.recipient().tell(Ping(3)).await.unwrap();
    /// probe.recipient().tell(Ping(4)).await.unwrap();
    /// let odd = |ping: &Ping| ping.0 % 2 == 1;
    /// assert_eq!(probe.expect_matching(Duration::from_secs(1), odd).await, Ok(Ping(3)));
    /// assert_eq!(probe.expect_matching(Duration::from_secs(1), odd).await, Err(ProbeError::Unexpected(Ping(4))));
    /// # }
    /// ```
    pub async fn expect_matching(
        &mut self,
        timeout: Duration,
        check: impl FnOnce(&M) -> bool,
    ) -> Result<M, ProbeError<M>> {
        let msg = self.expect(timeout).await?;
        if check(&msg) { Ok(msg) } else { Err(ProbeError::Unexpected(msg)) }
    }

    /// Succeeds if no message comes within `within`.
    ///
    /// # Errors
    ///
    /// [`ProbeError::Unexpected`] with the message that came.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::{Probe, ProbeError};
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Ping(u32);
    /// impl Message for Ping {
    ///     type Reply = ();
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mut probe = Probe::<Ping>::new(&ActorSystem::new());
    /// assert_eq!(probe.expect_none(Duration::from_secs(1)).await, Ok(()));
    /// probe.recipient().tell(Ping(1)).await.unwrap();
    /// assert_eq!(probe.expect_none(Duration::from_secs(1)).await, Err(ProbeError::Unexpected(Ping(1))));
    /// # }
    /// ```
    pub async fn expect_none(&mut self, within: Duration) -> Result<(), ProbeError<M>> {
        match tokio::time::timeout(within, self.rx.recv()).await {
            Ok(Some(msg)) => Err(ProbeError::Unexpected(msg)),
            _ => Ok(()),
        }
    }

    /// Every message received so far, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_core::testkit::Probe;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Ping(u32);
    /// impl Message for Ping {
    ///     type Reply = ();
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mut probe = Probe::<Ping>::new(&ActorSystem::new());
    /// let recipient = probe.recipient();
    /// for n in 1..=3 {
    ///     recipient.tell(Ping(n)).await.unwrap();
    /// }
    /// // On paused time, a sleep ends only once no other task can run: the probe
    /// // has taken in all three.
    /// tokio::time::sleep(Duration::from_millis(1)).await;
    /// assert_eq!(probe.drain(), [Ping(1), Ping(2), Ping(3)]);
    /// assert!(probe.drain().is_empty()); // nothing new
    /// # }
    /// ```
    pub fn drain(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            out.push(msg);
        }
        out
    }
}

impl<M: Message> fmt::Debug for Probe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("recipient", &self.recipient).finish()
    }
}
