//! The yardstick: what a tokio user writes without a framework. A task owns
//! the behaviour and loops over an `mpsc` channel of envelopes; asks carry a
//! `oneshot` sender.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{Behavior, Framework, run_on_tokio};
use crate::CAPACITY;
use crate::savina::Flavour;

/// Raw tokio: a task, a `tokio::sync::mpsc` channel (bounded to 1,024 like
/// our default mailbox, or unbounded) and `oneshot` replies. This is the
/// physical limit of a tokio actor.
#[derive(Debug, Clone, Copy)]
pub struct Raw;

/// What travels on a raw actor's channel.
#[derive(Debug)]
pub enum RawEnvelope<M> {
    /// A message without reply.
    Tell(M),
    /// A message and where to send the reply.
    Ask(M, oneshot::Sender<u64>),
    /// Stop the loop, drop the state, then signal.
    Stop(oneshot::Sender<()>),
}

/// The sending half of a raw actor's channel.
#[derive(Debug)]
pub enum RawRef<M> {
    /// The default: a bounded channel.
    Bounded(mpsc::Sender<RawEnvelope<M>>),
    /// For actors that other actors send to from their handlers.
    Unbounded(mpsc::UnboundedSender<RawEnvelope<M>>),
}

impl<M> Clone for RawRef<M> {
    fn clone(&self) -> Self {
        match self {
            RawRef::Bounded(tx) => RawRef::Bounded(tx.clone()),
            RawRef::Unbounded(tx) => RawRef::Unbounded(tx.clone()),
        }
    }
}

/// Handles one envelope; returns the stop signal if it was a stop.
fn serve<B: Behavior<Raw>>(state: &mut B, envelope: RawEnvelope<B::Msg>) -> Option<oneshot::Sender<()>> {
    match envelope {
        RawEnvelope::Tell(msg) => {
            state.handle(msg);
            None
        }
        RawEnvelope::Ask(msg, reply) => {
            let _ = reply.send(state.handle(msg));
            None
        }
        RawEnvelope::Stop(done) => Some(done),
    }
}

/// The receiving half of a raw actor's channel, bounded or not.
trait Inbox<M>: Send + 'static {
    fn next(&mut self) -> impl Future<Output = Option<M>> + Send;
}

impl<M: Send + 'static> Inbox<M> for mpsc::Receiver<M> {
    fn next(&mut self) -> impl Future<Output = Option<M>> + Send {
        self.recv()
    }
}

impl<M: Send + 'static> Inbox<M> for mpsc::UnboundedReceiver<M> {
    fn next(&mut self) -> impl Future<Output = Option<M>> + Send {
        self.recv()
    }
}

/// The actor's task: serves envelopes until a stop, then drops the state
/// and signals.
async fn serve_loop<B: Behavior<Raw>>(mut state: B, mut rx: impl Inbox<RawEnvelope<B::Msg>>) {
    while let Some(envelope) = rx.next().await {
        if let Some(done) = serve(&mut state, envelope) {
            drop(state);
            let _ = done.send(());
            return;
        }
    }
}

impl<M: Send + 'static> RawRef<M> {
    async fn push(&self, envelope: RawEnvelope<M>) {
        let sent = match self {
            RawRef::Bounded(tx) => tx.send(envelope).await.is_ok(),
            RawRef::Unbounded(tx) => tx.send(envelope).is_ok(),
        };
        assert!(sent, "raw_tokio: send to a stopped task");
    }
}

impl Framework for Raw {
    const NAME: &'static str = "raw_tokio";

    type System = ();

    type Ref<B: Behavior<Self>> = RawRef<B::Msg>;

    run_without_system!();

    async fn spawn<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(serve_loop(behavior, rx));
        RawRef::Bounded(tx)
    }

    async fn spawn_unbounded<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(serve_loop(behavior, rx));
        RawRef::Unbounded(tx)
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        target.push(RawEnvelope::Tell(msg)).await;
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        let sent = match target {
            RawRef::Bounded(tx) => tx.try_send(RawEnvelope::Tell(msg)).is_ok(),
            RawRef::Unbounded(tx) => tx.send(RawEnvelope::Tell(msg)).is_ok(),
        };
        assert!(sent, "raw_tokio: send to a stopped or full task");
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        let (reply, rx) = oneshot::channel();
        target.push(RawEnvelope::Ask(msg, reply)).await;
        rx.await.expect("raw_tokio: no reply")
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        let (done, rx) = oneshot::channel();
        target.push(RawEnvelope::Stop(done)).await;
        rx.await.expect("raw_tokio: task ended without stopping");
    }

    async fn shutdown(_system: ()) {}
}
