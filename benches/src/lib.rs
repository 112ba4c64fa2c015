//! Shared workloads for the benchmarks.
//!
//! - [`local`]: the workloads of the `core` bench (tell, ask, ping-pong,
//!   ring, spawn, lifecycle, contended, fan-out), each written twice: with
//!   this framework's actors, and as a hand-written tokio program that uses
//!   the workload's own message type over `mpsc` channels (bounded and
//!   unbounded) with `oneshot` replies. The hand-written program is the
//!   yardstick.
//! - [`savina`]: the Savina-derived suite, which runs one adapter-based
//!   version of its workloads on this framework, raw tokio and (feature
//!   `peers`) kameo, ractor, xtra and actix.
//! - [`remote`]: two nodes over sockets against raw sockets.
//! - [`sharding`]: sharded entities on three nodes against one plain
//!   remote actor.
//!
//! Every workload checks its result and panics on a wrong one, so that an
//! implementation that skips work cannot post a fast time.
//!
//! The [`Counter`] actor and its messages are shared by several benches
//! and probes.

use std::convert::Infallible;

use actor_core::prelude::*;
use tokio::runtime::{Builder, Runtime};

pub mod chart;
pub mod local;
pub mod remote;
pub mod savina;
pub mod sharding;

/// The mailbox capacity used on both sides: the framework's default
/// ([`actor_core::mailbox::DEFAULT_CAPACITY`]), and the raw channel's bound.
pub const CAPACITY: usize = actor_core::mailbox::DEFAULT_CAPACITY;

/// The runtime flavours every workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A multi-thread runtime with two workers (actix: two arbiters).
    Multi,
    /// A current-thread runtime (actix: one `System`).
    Current,
}

impl Flavour {
    /// Both flavours, in report order.
    pub const ALL: [Flavour; 2] = [Flavour::Multi, Flavour::Current];

    /// The name used in group names, tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Multi => "multi",
            Flavour::Current => "current",
        }
    }

    /// Looks a flavour up by [`name`](Flavour::name).
    pub fn from_name(name: &str) -> Option<Flavour> {
        Flavour::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A fresh tokio runtime of this flavour, with time and I/O enabled.
    pub fn tokio_runtime(self) -> Runtime {
        let mut builder = match self {
            Flavour::Multi => {
                let mut builder = Builder::new_multi_thread();
                builder.worker_threads(2);
                builder
            }
            Flavour::Current => Builder::new_current_thread(),
        };
        builder.enable_all().build().expect("failed to build the tokio runtime")
    }
}

// ---------------------------------------------------------------------------
// The actor side.
// ---------------------------------------------------------------------------

/// A counter actor: holds a running sum.
#[derive(Debug, Default)]
pub struct Counter {
    sum: u64,
}

impl Counter {
    /// A counter starting at `sum`.
    pub fn new(sum: u64) -> Self {
        Counter { sum }
    }
}

impl Actor for Counter {
    type Error = Infallible;
}

/// Adds a number to the sum; sent with `tell`.
#[derive(Debug, Clone, Copy)]
pub struct Add(pub u64);

impl Message for Add {
    type Reply = ();
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, Add(n): Add, _ctx: &mut Context<Self>) {
        self.sum += n;
    }
}

/// Reads the sum.
#[derive(Debug, Clone, Copy)]
pub struct Get;

impl Message for Get {
    type Reply = u64;
}

impl Handler<Get> for Counter {
    async fn handle(&mut self, _msg: Get, _ctx: &mut Context<Self>) -> u64 {
        self.sum
    }
}

/// Adds a number to the sum and replies with the new sum, so that every
/// reply of a run of asks is different and can be checked.
#[derive(Debug, Clone, Copy)]
pub struct Bump(pub u64);

impl Message for Bump {
    type Reply = u64;
}

impl Handler<Bump> for Counter {
    async fn handle(&mut self, Bump(n): Bump, _ctx: &mut Context<Self>) -> u64 {
        self.sum += n;
        self.sum
    }
}

/// The sum of `0..n`.
pub const fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}
