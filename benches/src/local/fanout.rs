//! Fan-out: rounds of one ask to each of many actors, all in flight at
//! once, then every reply awaited.
//!
//! Ours: our `ask` queues its message when its future is first polled, so
//! the asks of a round are put in flight together with
//! `futures::future::join_all`, as a user of the framework would. Raw: the
//! driver sends `(1, reply)` to every task, keeping each `oneshot`
//! receiver, then awaits the receivers in order; it needs no combinator.
//! Every actor adds the `1` to its sum and replies with it, so in round `r`
//! (from 1) every reply is `r`.

use std::time::{Duration, Instant};

use actor_core::prelude::*;
use futures::future::join_all;
use tokio::sync::oneshot;

use super::one_actor::bumper;
use super::{Channel, stop};
use crate::{Bump, Counter};

/// `rounds` rounds of one `Bump(1)` ask to each of `width` counters.
pub(super) async fn fanout_ours(system: &ActorSystem, width: u64, rounds: u64) -> Duration {
    let workers: Vec<_> = (0..width).map(|_| system.spawn(Counter::default())).collect();
    let start = Instant::now();
    for round in 1..=rounds {
        let replies = join_all(workers.iter().map(|w| w.ask(Bump(1)).into_future())).await;
        for reply in replies {
            assert_eq!(reply.expect("fanout: no reply"), round, "fanout: wrong reply");
        }
    }
    let elapsed = start.elapsed();
    for worker in &workers {
        stop(worker).await;
    }
    elapsed
}

/// `rounds` rounds of one request `(1, reply)` to each of `width` tasks.
pub(super) async fn fanout_raw<C: Channel>(width: u64, rounds: u64) -> Duration {
    let (senders, tasks): (Vec<_>, Vec<_>) = (0..width)
        .map(|_| {
            let (tx, rx) = C::channel();
            (tx, tokio::spawn(bumper::<C>(rx)))
        })
        .unzip();
    let mut answers = Vec::with_capacity(width as usize);
    let start = Instant::now();
    for round in 1..=rounds {
        for tx in &senders {
            let (reply, answer) = oneshot::channel();
            C::send(tx, (1, reply)).await;
            answers.push(answer);
        }
        for answer in answers.drain(..) {
            assert_eq!(answer.await.expect("fanout: no reply"), round, "fanout: wrong reply");
        }
    }
    let elapsed = start.elapsed();
    drop(senders);
    for task in tasks {
        assert_eq!(task.await.expect("fanout: a task panicked"), rounds);
    }
    elapsed
}
