//! What the observer shows: a snapshot of the system with message rates and
//! the most recent dead letters, and the state that computes them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actor_core::{ActorId, ActorState, ActorStats, ActorSystem, DeadLetter, SystemStats};
use serde::{Deserialize, Serialize};

/// One snapshot of a running system, as `GET /stats.json` serves it.
///
/// Mailbox depths, counts and states are read when the snapshot is taken;
/// rates are those of the sampler's last window (see
/// [`Observer::sample_every`](crate::Observer::sample_every)).
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
    /// The actor tree, depth first: every actor follows its parent, and
    /// siblings come in spawn order.
    pub actors: Vec<ActorView>,
    /// The most recent dead letters, oldest first.
    pub recent_dead_letters: Vec<DeadLetterView>,
}

/// One actor in a [`Snapshot`].
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
    /// `"running"` or `"stopping"`.
    pub state: String,
}

/// One dead letter in a [`Snapshot`].
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

/// Rates from the sampler's last window.
#[derive(Debug, Default)]
struct Rates {
    per_actor: HashMap<ActorId, f64>,
    total: f64,
    window: Duration,
}

/// The bounded ring of recent dead letters.
#[derive(Debug)]
struct Letters {
    ring: VecDeque<DeadLetterView>,
    capacity: usize,
    seen: u64,
    missed: u64,
}

/// What the sampler, the dead-letter task and the HTTP handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    system: ActorSystem,
    started: Instant,
    rates: Mutex<Rates>,
    letters: Mutex<Letters>,
}

impl Shared {
    pub(crate) fn new(system: ActorSystem, dead_letter_capacity: usize) -> Self {
        Shared {
            system,
            started: Instant::now(),
            rates: Mutex::new(Rates::default()),
            letters: Mutex::new(Letters {
                ring: VecDeque::with_capacity(dead_letter_capacity),
                capacity: dead_letter_capacity,
                seen: 0,
                missed: 0,
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

    /// Stores the rates between two samples of the counters.
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
        *self.rates.lock().unwrap_or_else(PoisonError::into_inner) = Rates { per_actor, total, window };
    }

    /// A fresh snapshot.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let stats = self.system.stats();
        let (rates, total_rate, window) = {
            let rates = self.rates.lock().unwrap_or_else(PoisonError::into_inner);
            let per_actor: HashMap<ActorId, f64> =
                stats.actors.iter().filter_map(|a| rates.per_actor.get(&a.id).map(|r| (a.id, *r))).collect();
            (per_actor, rates.total, rates.window)
        };
        let (recent, missed) = {
            let letters = self.letters.lock().unwrap_or_else(PoisonError::into_inner);
            (letters.ring.iter().cloned().collect(), letters.missed)
        };
        let actors = tree_order(&stats.actors)
            .into_iter()
            .map(|(depth, a)| view(a, depth, rates.get(&a.id).copied().unwrap_or(0.0)))
            .collect();
        Snapshot {
            uptime_ms: self.elapsed_ms(),
            live: stats.live,
            dead_letters: stats.dead_letters,
            dead_letters_missed: missed,
            rate_window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            total_rate,
            actors,
            recent_dead_letters: recent,
        }
    }
}

/// The counters of a sample, by actor.
pub(crate) fn processed_by_id(stats: &SystemStats) -> HashMap<ActorId, u64> {
    stats.actors.iter().map(|a| (a.id, a.processed)).collect()
}

fn view(a: &ActorStats, depth: usize, rate: f64) -> ActorView {
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
        state: match a.state {
            ActorState::Running => "running",
            ActorState::Stopping => "stopping",
            _ => "other",
        }
        .to_owned(),
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
