//! What the observer shows: a snapshot of the system with message rates and
//! their recent history, each actor's last panic and restarts, and the dead
//! letters (recent ones, and all of them grouped), and the state that
//! computes them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actor_core::{ActorId, ActorState, ActorStats, ActorSystem, DeadLetter, PanicRecord, SystemStats};
use serde::{Deserialize, Serialize};

/// How many dead-letter groups are kept; past it, the group seen least
/// recently is dropped.
pub(crate) const MAX_DEAD_LETTER_GROUPS: usize = 200;

/// One snapshot of a running system, as `GET /stats.json` serves it.
///
/// Mailbox depths, counts and states are read when the snapshot is taken;
/// rates are those of the sampler's last window (see
/// [`Observer::sample_every`](crate::Observer::sample_every)).
///
/// # Examples
///
/// The JSON the page reads is this type, serialized with serde:
///
/// ```
/// use actor_core::ActorSystem;
/// use actor_observer::{Observer, Snapshot};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// let snapshot = observer.snapshot();
/// let json = serde_json::to_string(&snapshot)?;
/// let back: Snapshot = serde_json::from_str(&json)?;
/// assert_eq!(back, snapshot);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Milliseconds since the observer started.
    pub uptime_ms: u64,
    /// How many actors are alive.
    pub live: usize,
    /// Dead letters the system has seen in all, before the observer started
    /// too.
    pub dead_letters: u64,
    /// Dead letters the observer's subscription fell behind on and so does
    /// not list (they are still counted in `dead_letters`).
    pub dead_letters_missed: u64,
    /// The window the rates were measured over, in milliseconds; 0 before
    /// the first full window.
    pub rate_window_ms: u64,
    /// Messages handled per second by all listed actors together.
    pub total_rate: f64,
    /// `total_rate` over the last windows, oldest first (at most
    /// [`Observer::rate_history`](crate::Observer::rate_history) of them).
    pub rate_history: Vec<f64>,
    /// The wall-clock time of the snapshot, in milliseconds since the Unix
    /// epoch: the reference for the `*_unix_ms` times in it.
    pub now_unix_ms: u64,
    /// The actor tree, depth first: every actor follows its parent, and
    /// siblings come in spawn order.
    pub actors: Vec<ActorView>,
    /// The most recent dead letters, oldest first.
    pub recent_dead_letters: Vec<DeadLetterView>,
    /// Every dead letter the observer has seen, grouped by reason, target
    /// and message type, the group seen most recently first.
    pub dead_letter_groups: Vec<DeadLetterGroup>,
}

/// One actor in a [`Snapshot`].
///
/// # Examples
///
/// A supervised child is listed after its supervisor, one level deeper:
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::{prelude::*, supervision::Strategy};
/// use actor_observer::{ActorView, Observer};
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn work(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// let sup = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
/// let spec = ChildSpec::new(|| Worker).options(SpawnOptions::new().name("worker"));
/// let worker = sup.start_child(spec).await.unwrap();
/// worker.work().await.unwrap();
///
/// // The count follows the reply: wait for it.
/// let views: Vec<ActorView> = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         let actors = observer.snapshot().actors;
///         if actors.iter().any(|a| a.processed == 1) {
///             return actors;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("the work is counted");
/// assert_eq!(views[0].name.as_deref(), Some("sup"));
/// let child = &views[1];
/// assert_eq!(child.name.as_deref(), Some("worker"));
/// assert_eq!(child.parent, Some(sup.id().to_string()));
/// assert_eq!((child.depth, child.processed, child.restarts), (1, 1, 0));
/// assert_eq!(child.state, "running");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActorView {
    /// The actor's id ([`ActorId`]'s `Display` form).
    pub id: String,
    /// The name given at spawn, if any.
    pub name: Option<String>,
    /// The actor's type name.
    pub actor_type: String,
    /// Its parent's id, for a child actor.
    pub parent: Option<String>,
    /// How deep it sits in the tree: 0 for a root actor (or one whose
    /// parent has already gone).
    pub depth: usize,
    /// Messages waiting in its mailbox.
    pub mailbox_len: usize,
    /// Messages it has handled (across restarts).
    pub processed: u64,
    /// Messages handled per second over the last sampling window.
    pub rate: f64,
    /// Times its supervisor restarted it in place.
    pub restarts: u32,
    /// When the last restarts happened (at most
    /// [`RECENT_RESTARTS`](actor_core::RECENT_RESTARTS)), in milliseconds
    /// since the Unix epoch, oldest first.
    pub restarts_unix_ms: Vec<u64>,
    /// Its last panic, if it has panicked.
    pub last_panic: Option<PanicView>,
    /// `"running"` or `"stopping"`.
    pub state: String,
    /// `rate` over the last windows, oldest first (it may be shorter than
    /// [`Snapshot::rate_history`] for an actor spawned since).
    pub rate_history: Vec<f64>,
}

/// An actor's last panic in a [`Snapshot`]: what it said, what it was
/// handling, and the messages before it.
///
/// # Examples
///
/// A stopped actor is not listed, so the panic shows on a supervised
/// actor that was restarted:
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::{prelude::*, supervision::Strategy};
/// use actor_observer::{Observer, PanicView};
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn work(&mut self) {}
///     #[message]
///     fn fail(&mut self) {
///         panic!("failed on purpose");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// let sup = system.spawn(Supervisor::new(Strategy::OneForOne));
/// let options = SpawnOptions::new().name("worker").flight_recorder(2);
/// let worker = sup.start_child(ChildSpec::new(|| Worker).options(options)).await.unwrap();
/// worker.work().await.unwrap();
/// assert!(worker.fail().await.is_err());
///
/// let panic: PanicView = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         let snapshot = observer.snapshot();
///         let view = snapshot.actors.iter().find(|a| a.name.as_deref() == Some("worker"));
///         if let Some(panic) = view.and_then(|a| a.last_panic.clone()) {
///             return panic;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("the panic is shown");
/// assert_eq!(panic.message, "failed on purpose");
/// assert!(panic.message_type.is_some_and(|t| t.ends_with("Fail")));
/// assert_eq!(panic.flight_record.len(), 2); // `Work`, then `Fail`
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PanicView {
    /// When it panicked, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The panic's message.
    pub message: String,
    /// The type of the message being handled, or `None` for a panic in a
    /// lifecycle hook or the actor's factory.
    pub message_type: Option<String>,
    /// The last messages it handled, oldest first, the one that panicked
    /// last: its flight record, empty unless it was spawned with
    /// [`SpawnOptions::flight_recorder`](actor_core::SpawnOptions::flight_recorder).
    pub flight_record: Vec<RecordedView>,
}

/// One message of a flight record.
///
/// # Examples
///
/// A message that implements [`Message::describe`](actor_core::Message::describe)
/// is recorded with its rendering:
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::{prelude::*, supervision::Strategy};
/// use actor_observer::{Observer, RecordedView};
///
/// #[derive(Default)]
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
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// let sup = system.spawn(Supervisor::new(Strategy::OneForOne));
/// let spec = ChildSpec::new(|| Fragile).options(SpawnOptions::new().flight_recorder(2));
/// let fragile = sup.start_child(spec).await.unwrap();
/// for n in 1..=3 {
///     let _ = fragile.ask(Poke(n)).await;
/// }
///
/// let record: Vec<RecordedView> = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         let panic = observer.snapshot().actors.into_iter().find_map(|a| a.last_panic);
///         if let Some(panic) = panic {
///             return panic.flight_record;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("the panic is shown");
/// assert!(record.iter().all(|r| r.message_type.ends_with("Poke")));
/// let rendered: Vec<_> = record.iter().map(|r| r.rendering.as_deref()).collect();
/// assert_eq!(rendered, [Some("Poke(2)"), Some("Poke(3)")]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedView {
    /// The message's type name.
    pub message_type: String,
    /// Its `Debug` rendering, if the message offers one.
    pub rendering: Option<String>,
}

/// Dead letters of one kind in a [`Snapshot`]: same reason, same target,
/// same message type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::prelude::*;
/// use actor_observer::{DeadLetterGroup, Observer};
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn work(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// for _ in 0..3 {
///     assert!(system.tell_named::<Worker, _>("nobody", Work).await.is_err());
/// }
///
/// let groups: Vec<DeadLetterGroup> = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         let snapshot = observer.snapshot();
///         if snapshot.dead_letter_groups.first().is_some_and(|g| g.count == 3) {
///             return snapshot.dead_letter_groups;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("three letters in one group");
/// assert_eq!(groups.len(), 1);
/// assert_eq!((groups[0].reason.as_str(), groups[0].name.as_deref()), ("UnknownName", Some("nobody")));
/// assert!(groups[0].message_type.ends_with("Work"));
/// assert_eq!(groups[0].last_seq, 3);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetterGroup {
    /// Why they were not delivered, e.g. `"Stopped"` or `"UnknownName"`.
    pub reason: String,
    /// The name they were sent to, if they were sent by name.
    pub name: Option<String>,
    /// The actor they were for ([`ActorId`]'s `Display` form), if known.
    pub recipient: Option<String>,
    /// The recipient's type name.
    pub actor_type: String,
    /// The messages' type name.
    pub message_type: String,
    /// How many the observer has seen.
    pub count: u64,
    /// When it saw the first, in milliseconds since it started.
    pub first_at_ms: u64,
    /// When it saw the last, in milliseconds since it started.
    pub last_at_ms: u64,
    /// The last one's [`DeadLetterView::seq`]: groups are listed by it,
    /// most recent first.
    pub last_seq: u64,
    /// The last one's detail, where there is one.
    pub detail: Option<String>,
}

/// One dead letter in a [`Snapshot`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use actor_core::prelude::*;
/// use actor_observer::{DeadLetterView, Observer};
///
/// struct Worker;
///
/// #[actor]
/// impl Worker {
///     #[message]
///     fn work(&mut self) {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
/// let worker = system.spawn(Worker);
/// worker.stop();
/// worker.wait_for_stop().await;
/// assert!(worker.tell_work().await.is_err());
///
/// let letter: DeadLetterView = tokio::time::timeout(Duration::from_secs(10), async {
///     loop {
///         if let Some(letter) = observer.snapshot().recent_dead_letters.pop() {
///             return letter;
///         }
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// })
/// .await
/// .expect("the letter reaches the observer");
/// assert_eq!(letter.seq, 1);
/// assert_eq!(letter.reason, "Stopped");
/// assert_eq!(letter.recipient, Some(worker.id().to_string()));
/// assert!(letter.message_type.ends_with("Work"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetterView {
    /// Counts up from 1 for each letter the observer has seen.
    pub seq: u64,
    /// When the observer saw it, in milliseconds since it started.
    pub at_ms: u64,
    /// The actor it was for ([`ActorId`]'s `Display` form), if known.
    pub recipient: Option<String>,
    /// The name it was sent to, if it was sent by name.
    pub name: Option<String>,
    /// The recipient's type name.
    pub actor_type: String,
    /// The message's type name.
    pub message_type: String,
    /// Why it was not delivered, e.g. `"Stopped"` or `"UnknownName"`.
    pub reason: String,
    /// More about it, where there is more.
    pub detail: Option<String>,
}

/// Rates from the sampler's last window, and their history.
#[derive(Debug, Default)]
struct Rates {
    per_actor: HashMap<ActorId, f64>,
    total: f64,
    window: Duration,
    /// How many windows each history keeps.
    history_len: usize,
    total_history: VecDeque<f64>,
    per_actor_history: HashMap<ActorId, VecDeque<f64>>,
}

/// The bounded ring of recent dead letters, and the groups of all of them.
#[derive(Debug)]
struct Letters {
    ring: VecDeque<DeadLetterView>,
    capacity: usize,
    seen: u64,
    missed: u64,
    groups: HashMap<GroupKey, DeadLetterGroup>,
}

/// What makes two dead letters one group: reason, target (name and
/// recipient) and message type.
type GroupKey = (String, Option<String>, Option<String>, &'static str);

/// What the sampler, the dead-letter task and the HTTP handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    system: ActorSystem,
    started: Instant,
    rates: Mutex<Rates>,
    letters: Mutex<Letters>,
}

impl Shared {
    pub(crate) fn new(system: ActorSystem, dead_letter_capacity: usize, history_len: usize) -> Self {
        Shared {
            system,
            started: Instant::now(),
            rates: Mutex::new(Rates { history_len, ..Rates::default() }),
            letters: Mutex::new(Letters {
                ring: VecDeque::with_capacity(dead_letter_capacity),
                capacity: dead_letter_capacity,
                seen: 0,
                missed: 0,
                groups: HashMap::new(),
            }),
        }
    }

    pub(crate) fn system(&self) -> &ActorSystem {
        &self.system
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records one dead letter, dropping the oldest when the ring is full.
    pub(crate) fn record_dead_letter(&self, letter: &DeadLetter) {
        let at_ms = self.elapsed_ms();
        let mut letters = self.letters.lock().unwrap_or_else(PoisonError::into_inner);
        letters.seen += 1;
        let view = DeadLetterView {
            seq: letters.seen,
            at_ms,
            recipient: letter.recipient.map(|id| id.to_string()),
            name: letter.name.as_deref().map(str::to_owned),
            actor_type: letter.actor_type.to_owned(),
            message_type: letter.message_type.to_owned(),
            reason: format!("{:?}", letter.reason),
            detail: letter.detail.as_deref().map(str::to_owned),
        };
        letters.group(&view, letter.message_type);
        if letters.capacity == 0 {
            return;
        }
        if letters.ring.len() == letters.capacity {
            letters.ring.pop_front();
        }
        letters.ring.push_back(view);
    }

    /// Notes that the dead-letter subscription skipped `n` letters.
    pub(crate) fn record_missed(&self, n: u64) {
        let mut letters = self.letters.lock().unwrap_or_else(PoisonError::into_inner);
        letters.seen += n;
        letters.missed += n;
    }

    /// Stores the rates between two samples of the counters, and adds them
    /// to the histories (dropping those of actors that are gone).
    pub(crate) fn record_rates(&self, before: &HashMap<ActorId, u64>, now: &SystemStats, window: Duration) {
        let secs = window.as_secs_f64();
        let mut per_actor = HashMap::with_capacity(now.actors.len());
        let mut total = 0.0;
        for actor in &now.actors {
            // An actor spawned within the window handled all its messages in it.
            let base = before.get(&actor.id).copied().unwrap_or(0);
            let rate = if secs > 0.0 { actor.processed.saturating_sub(base) as f64 / secs } else { 0.0 };
            total += rate;
            per_actor.insert(actor.id, rate);
        }
        let mut rates = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = rates.history_len;
        push_bounded(&mut rates.total_history, total, keep);
        let mut histories = std::mem::take(&mut rates.per_actor_history);
        histories.retain(|id, _| per_actor.contains_key(id));
        for (id, rate) in &per_actor {
            push_bounded(histories.entry(*id).or_default(), *rate, keep);
        }
        rates.per_actor_history = histories;
        rates.per_actor = per_actor;
        rates.total = total;
        rates.window = window;
    }

    /// A fresh snapshot.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let stats = self.system.stats();
        let (mut rates, total_rate, window, rate_history) = {
            let rates = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
            let per_actor: HashMap<ActorId, (f64, Vec<f64>)> = stats
                .actors
                .iter()
                .filter_map(|a| {
                    let rate = *rates.per_actor.get(&a.id)?;
                    let history = rates.per_actor_history.get(&a.id).map(|h| h.iter().copied().collect());
                    Some((a.id, (rate, history.unwrap_or_default())))
                })
                .collect();
            (per_actor, rates.total, rates.window, rates.total_history.iter().copied().collect())
        };
        let (recent, missed, mut groups) = {
            let letters = self.letters.lock().unwrap_or_else(PoisonError::into_inner);
            let groups: Vec<DeadLetterGroup> = letters.groups.values().cloned().collect();
            (letters.ring.iter().cloned().collect(), letters.missed, groups)
        };
        groups.sort_by_key(|g| std::cmp::Reverse(g.last_seq));
        let actors = tree_order(&stats.actors)
            .into_iter()
            .map(|(depth, a)| view(a, depth, rates.remove(&a.id).unwrap_or_default()))
            .collect();
        Snapshot {
            uptime_ms: self.elapsed_ms(),
            live: stats.live,
            dead_letters: stats.dead_letters,
            dead_letters_missed: missed,
            rate_window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            total_rate,
            rate_history,
            now_unix_ms: unix_ms(SystemTime::now()),
            actors,
            recent_dead_letters: recent,
            dead_letter_groups: groups,
        }
    }
}

impl Letters {
    /// Counts `view` in its group, dropping the group seen least recently
    /// when there are too many.
    fn group(&mut self, view: &DeadLetterView, message_type: &'static str) {
        let key: GroupKey = (view.reason.clone(), view.name.clone(), view.recipient.clone(), message_type);
        if let Some(group) = self.groups.get_mut(&key) {
            group.count += 1;
            group.last_at_ms = view.at_ms;
            group.last_seq = view.seq;
            group.detail.clone_from(&view.detail);
            return;
        }
        if self.groups.len() >= MAX_DEAD_LETTER_GROUPS
            && let Some(oldest) = self.groups.iter().min_by_key(|(_, g)| g.last_seq).map(|(k, _)| k.clone())
        {
            self.groups.remove(&oldest);
        }
        let group = DeadLetterGroup {
            reason: view.reason.clone(),
            name: view.name.clone(),
            recipient: view.recipient.clone(),
            actor_type: view.actor_type.clone(),
            message_type: view.message_type.clone(),
            count: 1,
            first_at_ms: view.at_ms,
            last_at_ms: view.at_ms,
            last_seq: view.seq,
            detail: view.detail.clone(),
        };
        self.groups.insert(key, group);
    }
}

fn push_bounded(history: &mut VecDeque<f64>, value: f64, keep: usize) {
    if keep == 0 {
        return;
    }
    while history.len() >= keep {
        history.pop_front();
    }
    history.push_back(value);
}

/// Milliseconds since the Unix epoch (0 for a time before it).
fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn panic_view(record: &PanicRecord) -> PanicView {
    let error = &record.error;
    PanicView {
        at_unix_ms: unix_ms(record.at),
        message: error.message().to_owned(),
        message_type: error.message_type().map(str::to_owned),
        flight_record: error
            .flight_record()
            .map(|r| {
                r.entries()
                    .iter()
                    .map(|e| RecordedView { message_type: e.message_type.to_owned(), rendering: e.rendering.clone() })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The counters of a sample, by actor.
pub(crate) fn processed_by_id(stats: &SystemStats) -> HashMap<ActorId, u64> {
    stats.actors.iter().map(|a| (a.id, a.processed)).collect()
}

fn view(a: &ActorStats, depth: usize, (rate, rate_history): (f64, Vec<f64>)) -> ActorView {
    ActorView {
        id: a.id.to_string(),
        name: a.name.as_deref().map(str::to_owned),
        actor_type: a.actor_type.to_owned(),
        parent: a.parent.map(|p| p.to_string()),
        depth,
        mailbox_len: a.mailbox_len,
        processed: a.processed,
        rate,
        restarts: a.restarts,
        restarts_unix_ms: a.recent_restarts.iter().copied().map(unix_ms).collect(),
        last_panic: a.last_panic.as_ref().map(panic_view),
        state: match a.state {
            ActorState::Running => "running",
            ActorState::Stopping => "stopping",
            _ => "other",
        }
        .to_owned(),
        rate_history,
    }
}

/// The actors depth first, each after its parent, siblings by id (ids count
/// up, so that is spawn order). An actor whose parent is not listed (it has
/// just terminated) is shown as a root.
fn tree_order(actors: &[ActorStats]) -> Vec<(usize, &ActorStats)> {
    let listed: HashMap<ActorId, &ActorStats> = actors.iter().map(|a| (a.id, a)).collect();
    let mut children: HashMap<ActorId, Vec<&ActorStats>> = HashMap::new();
    let mut roots = Vec::new();
    for a in actors {
        match a.parent {
            Some(p) if listed.contains_key(&p) => children.entry(p).or_default().push(a),
            _ => roots.push(a),
        }
    }
    let mut out = Vec::with_capacity(actors.len());
    // A stack of (depth, actor), pushed in reverse so the lowest id pops first.
    roots.sort_by_key(|a| std::cmp::Reverse(a.id));
    let mut stack: Vec<(usize, &ActorStats)> = roots.into_iter().map(|a| (0, a)).collect();
    while let Some((depth, a)) = stack.pop() {
        out.push((depth, a));
        if let Some(mut kids) = children.remove(&a.id) {
            kids.sort_by_key(|k| std::cmp::Reverse(k.id));
            stack.extend(kids.into_iter().map(|k| (depth + 1, k)));
        }
    }
    out
}
