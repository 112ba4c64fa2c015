//! The workloads in which actors talk to each other (after the Savina
//! suite): ping-pong, thread ring, counting, big, chameneos, and
//! fan-out/fan-in. Actor-to-actor messages use [`Framework::send`] to
//! actors spawned with unbounded mailboxes, as Savina's actors (Akka's
//! defaults) have.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::adapter::{Behavior, Framework};
use super::{Outcome, Sizes};
use crate::sum_below;

/// Where the last actor of a workload reports that it is done.
type Done = mpsc::UnboundedSender<u64>;

/// Waits for the done signal.
async fn finished(done: &mut mpsc::UnboundedReceiver<u64>) -> u64 {
    done.recv().await.expect("every done sender was dropped before the workload finished")
}

// ---------------------------------------------------------------------------
// Ping-pong.
// ---------------------------------------------------------------------------

/// Sends pings and counts pongs.
#[derive(Debug)]
pub struct Pinger<F: Framework> {
    ponger: F::Ref<Ponger<F>>,
    rounds: u64,
    pongs: u64,
    done: Done,
}

/// Answers each ping with a pong.
#[derive(Debug)]
pub struct Ponger<F: Framework> {
    pinger: Option<F::Ref<Pinger<F>>>,
    pings: u64,
}

/// What a [`Pinger`] accepts.
#[derive(Debug)]
pub enum PingerMsg {
    /// Start the rally.
    Start,
    /// A pong came back.
    Pong,
}

/// What a [`Ponger`] accepts.
#[derive(Debug)]
pub enum PongerMsg<F: Framework> {
    /// Who to answer.
    Init(F::Ref<Pinger<F>>),
    /// A ping.
    Ping,
    /// Replies with the number of pings handled.
    Count,
}

impl<F: Framework> Behavior<F> for Pinger<F> {
    type Msg = PingerMsg;

    fn handle(&mut self, msg: PingerMsg) -> u64 {
        if let PingerMsg::Pong = msg {
            self.pongs += 1;
            if self.pongs == self.rounds {
                let _ = self.done.send(self.pongs);
                return 0;
            }
        }
        F::send::<Ponger<F>>(&self.ponger, PongerMsg::Ping);
        0
    }
}

impl<F: Framework> Behavior<F> for Ponger<F> {
    type Msg = PongerMsg<F>;

    fn handle(&mut self, msg: PongerMsg<F>) -> u64 {
        match msg {
            PongerMsg::Init(pinger) => self.pinger = Some(pinger),
            PongerMsg::Ping => {
                self.pings += 1;
                F::send::<Pinger<F>>(self.pinger.as_ref().expect("ponger not initialised"), PingerMsg::Pong);
            }
            PongerMsg::Count => return self.pings,
        }
        0
    }
}

/// Ping-pong: `n` round trips between two actors.
pub(crate) async fn ping_pong<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let rounds = sizes.round_trips();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let ponger = F::spawn_unbounded(&system, Ponger::<F> { pinger: None, pings: 0 }).await;
    let pinger =
        F::spawn_unbounded(&system, Pinger::<F> { ponger: ponger.clone(), rounds, pongs: 0, done: done_tx }).await;
    F::ask(&ponger, PongerMsg::Init(pinger.clone())).await;
    let start = Instant::now();
    F::send(&pinger, PingerMsg::Start);
    let pongs = finished(&mut done).await;
    let elapsed = start.elapsed();
    assert_eq!(pongs, rounds, "{}: ping-pong lost pongs", F::NAME);
    assert_eq!(F::ask(&ponger, PongerMsg::Count).await, rounds, "{}: ping-pong lost pings", F::NAME);
    F::stop(&pinger).await;
    F::stop(&ponger).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

// ---------------------------------------------------------------------------
// Thread ring.
// ---------------------------------------------------------------------------

/// One actor of the ring: forwards the token to the next.
#[derive(Debug)]
pub struct RingNode<F: Framework> {
    next: Option<F::Ref<RingNode<F>>>,
    forwarded: u64,
    done: Done,
}

/// What a [`RingNode`] accepts.
#[derive(Debug)]
pub enum RingMsg<F: Framework> {
    /// The next node.
    Init(F::Ref<RingNode<F>>),
    /// The token with the hops still to go.
    Token(u64),
    /// Replies with the number of hops this node made.
    Count,
}

impl<F: Framework> Behavior<F> for RingNode<F> {
    type Msg = RingMsg<F>;

    fn handle(&mut self, msg: RingMsg<F>) -> u64 {
        match msg {
            RingMsg::Init(next) => self.next = Some(next),
            RingMsg::Token(0) => {
                let _ = self.done.send(0);
            }
            RingMsg::Token(left) => {
                self.forwarded += 1;
                F::send::<RingNode<F>>(
                    self.next.as_ref().expect("ring node not initialised"),
                    RingMsg::Token(left - 1),
                );
            }
            RingMsg::Count => return self.forwarded,
        }
        0
    }
}

/// Thread ring: a token passed `hops` times around a ring of `nodes`
/// actors.
pub(crate) async fn thread_ring<F: Framework>(system: F::System, sizes: Sizes, nodes: u64) -> Outcome {
    let hops = sizes.hops();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut ring = Vec::with_capacity(nodes as usize);
    for _ in 0..nodes {
        ring.push(F::spawn_unbounded(&system, RingNode::<F> { next: None, forwarded: 0, done: done_tx.clone() }).await);
    }
    drop(done_tx);
    for (i, node) in ring.iter().enumerate() {
        F::ask(node, RingMsg::Init(ring[(i + 1) % ring.len()].clone())).await;
    }
    let start = Instant::now();
    F::send(&ring[0], RingMsg::Token(hops));
    finished(&mut done).await;
    let elapsed = start.elapsed();
    let mut total = 0;
    for node in &ring {
        total += F::ask(node, RingMsg::Count).await;
    }
    assert_eq!(total, hops, "{}: thread ring lost or duplicated hops", F::NAME);
    for node in &ring {
        F::stop(node).await;
    }
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

// ---------------------------------------------------------------------------
// Counting.
// ---------------------------------------------------------------------------

/// Counts increments and reports the count on request.
#[derive(Debug, Default)]
pub struct Counter {
    count: u64,
}

/// What a [`Counter`] accepts.
#[derive(Debug)]
pub enum CounterMsg {
    /// Adds one.
    Increment,
    /// Sends the count to the done channel.
    Report(Done),
}

impl<F: Framework> Behavior<F> for Counter {
    type Msg = CounterMsg;

    fn handle(&mut self, msg: CounterMsg) -> u64 {
        match msg {
            CounterMsg::Increment => self.count += 1,
            CounterMsg::Report(done) => {
                let _ = done.send(self.count);
            }
        }
        self.count
    }
}

/// Sends increments to a counter, from inside an actor.
#[derive(Debug)]
pub struct Producer<F: Framework> {
    counter: F::Ref<Counter>,
}

impl<F: Framework> Behavior<F> for Producer<F> {
    /// How many increments to send, and where the counter reports.
    type Msg = (u64, Done);

    fn handle(&mut self, (n, done): (u64, Done)) -> u64 {
        for _ in 0..n {
            F::send::<Counter>(&self.counter, CounterMsg::Increment);
        }
        F::send::<Counter>(&self.counter, CounterMsg::Report(done));
        0
    }
}

/// Counting: a producer actor sends `n` increments to a counter actor, then
/// asks it for the count.
pub(crate) async fn counting<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let n = sizes.counts();
    let counter = F::spawn_unbounded(&system, Counter::default()).await;
    let producer = F::spawn_unbounded(&system, Producer::<F> { counter: counter.clone() }).await;
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let start = Instant::now();
    F::send(&producer, (n, done_tx));
    let count = finished(&mut done).await;
    let elapsed = start.elapsed();
    assert_eq!(count, n, "{}: counting lost or duplicated increments", F::NAME);
    F::stop(&producer).await;
    F::stop(&counter).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

// ---------------------------------------------------------------------------
// Big.
// ---------------------------------------------------------------------------

/// One actor of the big workload: pings a random peer, waits for its pong,
/// and repeats; answers every ping it gets with a pong.
// The peers' type is spelled out (not aliased) so that `derive(Debug)`
// sees the projection and bounds it.
#[allow(clippy::type_complexity)]
#[derive(Debug)]
pub struct BigNode<F: Framework> {
    id: u32,
    peers: Option<Arc<[F::Ref<BigNode<F>>]>>,
    rng: u64,
    pings_left: u64,
    pings_received: u64,
    done: Done,
}

/// What a [`BigNode`] accepts.
#[derive(Debug)]
pub enum BigMsg<F: Framework> {
    /// Every node of the workload, this one included.
    Init(Arc<[F::Ref<BigNode<F>>]>),
    /// Start pinging.
    Start,
    /// A ping from the node with this index.
    Ping(u32),
    /// The answer to this node's last ping.
    Pong,
    /// Replies with the number of pings received.
    Count,
}

impl<F: Framework> BigNode<F> {
    fn peer(&self, index: u32) -> &F::Ref<BigNode<F>> {
        &self.peers.as_ref().expect("big node not initialised")[index as usize]
    }

    fn ping_someone(&mut self) {
        // xorshift64: a fixed, cheap sequence per node.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let peers = self.peers.as_ref().expect("big node not initialised").len() as u64;
        let to = (self.rng % peers) as u32;
        F::send::<BigNode<F>>(self.peer(to), BigMsg::Ping(self.id));
    }
}

impl<F: Framework> Behavior<F> for BigNode<F> {
    type Msg = BigMsg<F>;

    fn handle(&mut self, msg: BigMsg<F>) -> u64 {
        match msg {
            BigMsg::Init(peers) => self.peers = Some(peers),
            BigMsg::Start => self.ping_someone(),
            BigMsg::Ping(from) => {
                self.pings_received += 1;
                F::send::<BigNode<F>>(self.peer(from), BigMsg::Pong);
            }
            BigMsg::Pong => {
                self.pings_left -= 1;
                if self.pings_left == 0 {
                    let _ = self.done.send(u64::from(self.id));
                } else {
                    self.ping_someone();
                }
            }
            BigMsg::Count => return self.pings_received,
        }
        0
    }
}

/// Big: `nodes` actors each send `pings` pings to random peers, one at a
/// time, each answered with a pong.
pub(crate) async fn big<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let (nodes, pings) = sizes.big();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut refs = Vec::with_capacity(nodes as usize);
    for id in 0..nodes {
        let node = BigNode::<F> {
            id: id as u32,
            peers: None,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id + 1),
            pings_left: pings,
            pings_received: 0,
            done: done_tx.clone(),
        };
        refs.push(F::spawn_unbounded(&system, node).await);
    }
    drop(done_tx);
    let peers: Arc<[F::Ref<BigNode<F>>]> = refs.into();
    for node in peers.iter() {
        F::ask(node, BigMsg::Init(peers.clone())).await;
    }
    let start = Instant::now();
    for node in peers.iter() {
        F::send(node, BigMsg::Start);
    }
    for _ in 0..nodes {
        finished(&mut done).await;
    }
    let elapsed = start.elapsed();
    let mut received = 0;
    for node in peers.iter() {
        received += F::ask(node, BigMsg::Count).await;
    }
    assert_eq!(received, nodes * pings, "{}: big lost or duplicated pings", F::NAME);
    for node in peers.iter() {
        F::stop(node).await;
    }
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

// ---------------------------------------------------------------------------
// Chameneos.
// ---------------------------------------------------------------------------

/// The meeting place: pairs creatures until the meetings run out, then
/// sends every creature that comes home.
#[derive(Debug)]
pub struct Mall<F: Framework> {
    waiting: Option<F::Ref<Creature<F>>>,
    meetings_left: u64,
    creatures: u64,
    gone_home: u64,
    done: Done,
}

/// What the [`Mall`] accepts: a creature that wants to meet, and its colour.
#[derive(Debug)]
pub struct MeetRequest<F: Framework> {
    from: F::Ref<Creature<F>>,
    colour: u8,
}

impl<F: Framework> Behavior<F> for Mall<F> {
    type Msg = MeetRequest<F>;

    fn handle(&mut self, MeetRequest { from, colour }: MeetRequest<F>) -> u64 {
        if self.meetings_left == 0 {
            F::send::<Creature<F>>(&from, CreatureMsg::GoHome);
            self.gone_home += 1;
            if self.gone_home == self.creatures {
                let _ = self.done.send(0);
            }
        } else if let Some(first) = self.waiting.take() {
            // Savina's mall: the second request is forwarded to the first
            // creature, which does the meeting.
            self.meetings_left -= 1;
            F::send::<Creature<F>>(&first, CreatureMsg::Meet { other: from, colour });
        } else {
            self.waiting = Some(from);
        }
        0
    }
}

/// A creature: goes to the mall, meets another, both take the complement
/// of their two colours, and go back.
#[derive(Debug)]
pub struct Creature<F: Framework> {
    me: Option<F::Ref<Creature<F>>>,
    mall: F::Ref<Mall<F>>,
    colour: u8,
    meetings: u64,
}

/// What a [`Creature`] accepts.
#[derive(Debug)]
pub enum CreatureMsg<F: Framework> {
    /// Its own reference, then go to the mall.
    Start(F::Ref<Creature<F>>),
    /// The mall paired it with `other`, of colour `colour`.
    Meet {
        /// The creature met.
        other: F::Ref<Creature<F>>,
        /// Its colour.
        colour: u8,
    },
    /// The creature met changed colour to this.
    Changed(u8),
    /// No meetings left.
    GoHome,
    /// Replies with the number of meetings this creature had.
    Count,
}

/// The colour two creatures of colours `a` and `b` both take after meeting.
fn complement(a: u8, b: u8) -> u8 {
    if a == b { a } else { 3 - a - b }
}

impl<F: Framework> Creature<F> {
    fn to_mall(&self) {
        let me = self.me.clone().expect("creature not started");
        F::send::<Mall<F>>(&self.mall, MeetRequest { from: me, colour: self.colour });
    }
}

impl<F: Framework> Behavior<F> for Creature<F> {
    type Msg = CreatureMsg<F>;

    fn handle(&mut self, msg: CreatureMsg<F>) -> u64 {
        match msg {
            CreatureMsg::Start(me) => {
                self.me = Some(me);
                self.to_mall();
            }
            CreatureMsg::Meet { other, colour } => {
                self.colour = complement(self.colour, colour);
                self.meetings += 1;
                F::send::<Creature<F>>(&other, CreatureMsg::Changed(self.colour));
                self.to_mall();
            }
            CreatureMsg::Changed(colour) => {
                self.colour = colour;
                self.meetings += 1;
                self.to_mall();
            }
            // Drop the reference to itself, so nothing keeps the creature.
            CreatureMsg::GoHome => self.me = None,
            CreatureMsg::Count => return self.meetings,
        }
        0
    }
}

/// Chameneos: `creatures` actors meet in pairs through a mall actor until
/// `meetings` meetings have taken place.
pub(crate) async fn chameneos<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let (creatures, meetings) = sizes.chameneos();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mall = F::spawn_unbounded(
        &system,
        Mall::<F> { waiting: None, meetings_left: meetings, creatures, gone_home: 0, done: done_tx },
    )
    .await;
    let mut herd = Vec::with_capacity(creatures as usize);
    for i in 0..creatures {
        let creature = Creature::<F> { me: None, mall: mall.clone(), colour: (i % 3) as u8, meetings: 0 };
        herd.push(F::spawn_unbounded(&system, creature).await);
    }
    let start = Instant::now();
    for creature in &herd {
        F::send(creature, CreatureMsg::Start(creature.clone()));
    }
    finished(&mut done).await;
    let elapsed = start.elapsed();
    let mut total = 0;
    for creature in &herd {
        total += F::ask(creature, CreatureMsg::Count).await;
    }
    assert_eq!(total, 2 * meetings, "{}: chameneos lost or duplicated meetings", F::NAME);
    for creature in &herd {
        F::stop(creature).await;
    }
    F::stop(&mall).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}

// ---------------------------------------------------------------------------
// Fan-out / fan-in.
// ---------------------------------------------------------------------------

/// Sends one request to every worker per round and starts the next round
/// when all have replied.
#[derive(Debug)]
pub struct Coordinator<F: Framework> {
    workers: Vec<F::Ref<Worker<F>>>,
    rounds: u64,
    round: u64,
    pending: u64,
    sum: u64,
    done: Option<Done>,
}

/// What the [`Coordinator`] accepts.
#[derive(Debug)]
pub enum CoordinatorMsg<F: Framework> {
    /// The workers.
    Init(Vec<F::Ref<Worker<F>>>),
    /// Run the rounds, then report the sum of replies.
    Start(Done),
    /// A worker's reply.
    Reply(u64),
}

impl<F: Framework> Coordinator<F> {
    fn fan_out(&mut self) {
        let width = self.workers.len() as u64;
        for (i, worker) in (0..).zip(&self.workers) {
            F::send::<Worker<F>>(worker, WorkerMsg::Request(self.round * width + i));
        }
        self.pending = width;
    }
}

impl<F: Framework> Behavior<F> for Coordinator<F> {
    type Msg = CoordinatorMsg<F>;

    fn handle(&mut self, msg: CoordinatorMsg<F>) -> u64 {
        match msg {
            CoordinatorMsg::Init(workers) => self.workers = workers,
            CoordinatorMsg::Start(done) => {
                self.done = Some(done);
                self.fan_out();
            }
            CoordinatorMsg::Reply(value) => {
                self.sum += value;
                self.pending -= 1;
                if self.pending == 0 {
                    self.round += 1;
                    if self.round == self.rounds {
                        let _ = self.done.take().expect("coordinator not started").send(self.sum);
                        // Release the workers, which hold the coordinator.
                        self.workers.clear();
                    } else {
                        self.fan_out();
                    }
                }
            }
        }
        0
    }
}

/// A worker: answers each request `x` with `2x + 1`.
#[derive(Debug)]
pub struct Worker<F: Framework> {
    coordinator: Option<F::Ref<Coordinator<F>>>,
    handled: u64,
}

/// What a [`Worker`] accepts.
#[derive(Debug)]
pub enum WorkerMsg<F: Framework> {
    /// Who to answer.
    Init(F::Ref<Coordinator<F>>),
    /// A request.
    Request(u64),
    /// Replies with the number of requests handled.
    Count,
}

impl<F: Framework> Behavior<F> for Worker<F> {
    type Msg = WorkerMsg<F>;

    fn handle(&mut self, msg: WorkerMsg<F>) -> u64 {
        match msg {
            WorkerMsg::Init(coordinator) => self.coordinator = Some(coordinator),
            WorkerMsg::Request(x) => {
                self.handled += 1;
                let coordinator = self.coordinator.as_ref().expect("worker not initialised");
                F::send::<Coordinator<F>>(coordinator, CoordinatorMsg::Reply(2 * x + 1));
            }
            WorkerMsg::Count => return self.handled,
        }
        0
    }
}

/// Fan-out / fan-in: per round, a coordinator actor sends a request to
/// each of `width` workers and waits for all their replies.
pub(crate) async fn fan_out_in<F: Framework>(system: F::System, sizes: Sizes) -> Outcome {
    let (width, rounds) = sizes.fan_out_in();
    let coordinator = F::spawn_unbounded(
        &system,
        Coordinator::<F> { workers: Vec::new(), rounds, round: 0, pending: 0, sum: 0, done: None },
    )
    .await;
    let mut workers = Vec::with_capacity(width as usize);
    for _ in 0..width {
        let worker = F::spawn_unbounded(&system, Worker::<F> { coordinator: None, handled: 0 }).await;
        F::ask(&worker, WorkerMsg::Init(coordinator.clone())).await;
        workers.push(worker);
    }
    F::ask(&coordinator, CoordinatorMsg::Init(workers.clone())).await;
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let start = Instant::now();
    F::send(&coordinator, CoordinatorMsg::Start(done_tx));
    let sum = finished(&mut done).await;
    let elapsed = start.elapsed();
    let requests = width * rounds;
    assert_eq!(sum, 2 * sum_below(requests) + requests, "{}: fan-out/fan-in got wrong replies", F::NAME);
    for worker in &workers {
        assert_eq!(F::ask(worker, WorkerMsg::Count).await, rounds, "{}: fan-out/fan-in worker count", F::NAME);
        F::stop(worker).await;
    }
    F::stop(&coordinator).await;
    F::shutdown(system).await;
    Outcome::timed(elapsed)
}
