//! The crash flight recorder: the last messages an actor handled, kept for
//! the report of its panic.

use std::collections::VecDeque;
use std::fmt;

/// One message as the flight recorder saw it: its type and, where the
/// message offers one ([`Message::describe`](crate::Message::describe)), a
/// rendering of its value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use actor_core::prelude::*;
///
/// struct Fragile(u32);
///
/// #[actor]
/// impl Fragile {
///     #[message]
///     fn poke(&mut self) {
///         self.0 += 1;
///         assert!(self.0 < 2, "poked twice");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let options = SpawnOptions::new().flight_recorder(8);
/// let fragile = ActorSystem::new().spawn_with(Fragile(0), options);
/// fragile.poke().await.unwrap();
/// let Err(AskError::Panicked(err)) = fragile.poke().timeout(Duration::from_secs(5)).await else {
///     panic!("the second poke panics");
/// };
/// let entries = err.flight_record().unwrap().entries();
/// assert_eq!(entries.len(), 2);
/// assert!(entries.iter().all(|recorded| recorded.message_type.ends_with("Poke")));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The message's type name.
    pub message_type: &'static str,
    /// The message's `Debug` rendering, if it offers one.
    pub rendering: Option<String>,
}

/// The last messages an actor started handling before it panicked, oldest
/// first; the last one is the message whose handler panicked (for a panic
/// in a handler). Attached to the
/// [`PanicError`](crate::error::PanicError) when the actor was spawned with
/// [`SpawnOptions::flight_recorder`](crate::SpawnOptions::flight_recorder).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
///
/// struct Fragile;
/// impl Actor for Fragile {
///     type Error = std::convert::Infallible;
/// }
///
/// #[derive(Debug)]
/// struct Poke(u32);
/// impl Message for Poke {
///     type Reply = ();
///     fn describe(&self) -> Option<String> {
///         Some(format!("{self:?}"))
///     }
/// }
/// impl Handler<Poke> for Fragile {
///     async fn handle(&mut self, Poke(n): Poke, _: &mut Context<Self>) {
///         assert!(n < 3, "poked too hard");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fragile = ActorSystem::new().spawn_with(Fragile, SpawnOptions::new().flight_recorder(2));
/// for n in 1..=3 {
///     let _ = fragile.ask(Poke(n)).await;
/// }
/// let StopReason::Panicked(panic) = fragile.wait_for_stop().await else { unreachable!() };
/// let record = panic.flight_record().expect("recorded");
/// let seen: Vec<_> = record.entries().iter().filter_map(|r| r.rendering.as_deref()).collect();
/// assert_eq!(seen, ["Poke(2)", "Poke(3)"]);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlightRecord {
    entries: Vec<Recorded>,
}

impl FlightRecord {
    /// The recorded messages, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::type_name;
    /// # use std::time::Duration;
    /// use actor_core::prelude::*;
    ///
    /// struct Door;
    ///
    /// #[actor]
    /// impl Door {
    ///     #[message]
    ///     fn open(&mut self) {}
    ///     #[message]
    ///     fn close(&mut self) {
    ///         panic!("stuck");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let door = ActorSystem::new().spawn_with(Door, SpawnOptions::new().flight_recorder(8));
    /// door.open().await.unwrap();
    /// let Err(AskError::Panicked(err)) = door.close().timeout(Duration::from_secs(5)).await else { unreachable!() };
    /// let seen: Vec<_> = err.flight_record().unwrap().entries().iter().map(|r| r.message_type).collect();
    /// assert_eq!(seen, [type_name::<Open>(), type_name::<Close>()]); // oldest first
    /// # }
    /// ```
    pub fn entries(&self) -> &[Recorded] {
        &self.entries
    }
}

impl fmt::Display for FlightRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match &entry.rendering {
                Some(r) => write!(f, "{}: {r}", entry.message_type)?,
                None => f.write_str(entry.message_type)?,
            }
        }
        Ok(())
    }
}

/// The ring buffer an actor with a flight recorder keeps.
#[derive(Debug)]
pub(crate) struct Recorder {
    capacity: usize,
    ring: VecDeque<Recorded>,
}

impl Recorder {
    pub(crate) fn new(capacity: usize) -> Self {
        Recorder { capacity: capacity.max(1), ring: VecDeque::with_capacity(capacity.clamp(1, 64)) }
    }

    pub(crate) fn record(&mut self, message_type: &'static str, rendering: Option<String>) {
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(Recorded { message_type, rendering });
    }

    pub(crate) fn snapshot(&self) -> FlightRecord {
        FlightRecord { entries: self.ring.iter().cloned().collect() }
    }
}
