//! Fan-out: rounds of one ask to each of many actors, all in flight at
//! once, then every reply awaited.
//!
//! Ours: the driver sends every ask of a round with
//! `AskRequest::try_send`, which queues the message at once and hands
//! back the reply's future, then awaits the replies in order. Raw: the
//! same shape by hand: it sends `(1, reply)` to every task, keeping each
//! `oneshot` receiver, then awaits the receivers in order. Neither needs a
//! combinator. No send waits: each mailbox holds at most the round's one
//! ask, and the unbounded raw side's `send` never waits either (the
//! bounded one awaits room, spending tokio's cooperative budget as our
//! `send().await` would).
//! Every actor adds the `1` to its sum and replies with it, so in round `r`
//! (from 1) every reply is `r`.

use std::time::{Duration, Instant};

use actor_core::prelude::*;
use tokio::sync::oneshot;

use super::one_actor::bumper;
use super::{Channel, stop};
use crate::{Bump, Counter};

/// `rounds` rounds of one `Bump(1)` ask to each of `width` counters.
pub(super) async fn fanout_ours(system: &ActorSystem, width: u64, rounds: u64) -> Duration {
    let workers: Vec<_> = (0..width).map(|_| system.spawn(Counter::default())).collect();
    let mut replies = Vec::with_capacity(width as usize);
    let start = Instant::now();
    for round in 1..=rounds {
        for worker in &workers {
            replies.push(worker.ask(Bump(1)).try_send().expect("fanout: the ask was not sent"));
        }
        for reply in replies.drain(..) {
            assert_eq!(reply.await.expect("fanout: no reply"), round, "fanout: wrong reply");
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
