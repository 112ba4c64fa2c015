//! This framework: one actor type wrapping the behaviour, one message type
//! wrapping its messages, spawned on an `ActorSystem`.

use std::convert::Infallible;
use std::future::Future;

use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;

use super::{Behavior, Framework, run_on_tokio};
use crate::savina::Flavour;

/// `actor-core`, with its defaults: a bounded mailbox of 1,024 for
/// [`Framework::spawn`], `tell(..).await` (waits for room), `ask(..).await`,
/// `try_tell` for [`Framework::send`], and `stop()` plus `wait_for_stop()`.
#[derive(Debug, Clone, Copy)]
pub struct Ours;

/// The actor that runs a behaviour.
#[derive(Debug)]
pub struct OurActor<B>(B);

impl<B: Behavior<Ours>> Actor for OurActor<B> {
    type Error = Infallible;
}

/// A behaviour's message, as a message of this framework.
#[derive(Debug)]
pub struct Envelope<M>(M);

impl<M: Send + 'static> Message for Envelope<M> {
    type Reply = u64;
}

impl<B: Behavior<Ours>> Handler<Envelope<B::Msg>> for OurActor<B> {
    async fn handle(&mut self, Envelope(msg): Envelope<B::Msg>, _ctx: &mut Context<Self>) -> u64 {
        self.0.handle(msg)
    }
}

impl Framework for Ours {
    const NAME: &'static str = "actor_core";

    type System = ActorSystem;

    type Ref<B: Behavior<Self>> = ActorRef<OurActor<B>>;

    fn run<T, Fut, W>(flavour: Flavour, work: W) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        W: FnOnce(Self::System) -> Fut + Send + 'static,
    {
        // The system takes the runtime it is created in.
        run_on_tokio(flavour, async move { work(ActorSystem::new()).await })
    }

    async fn spawn<B: Behavior<Self>>(system: &ActorSystem, behavior: B) -> Self::Ref<B> {
        system.spawn(OurActor(behavior))
    }

    async fn spawn_unbounded<B: Behavior<Self>>(system: &ActorSystem, behavior: B) -> Self::Ref<B> {
        system.spawn_with(OurActor(behavior), SpawnOptions::new().mailbox(Mailbox::unbounded()))
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.tell(Envelope(msg)).await.is_err() {
            panic!("actor_core: tell to a stopped actor");
        }
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.try_tell(Envelope(msg)).is_err() {
            panic!("actor_core: send to a stopped or full actor");
        }
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        match target.ask(Envelope(msg)).await {
            Ok(reply) => reply,
            Err(_) => panic!("actor_core: ask failed"),
        }
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        target.stop();
        assert!(target.wait_for_stop().await.is_normal(), "actor_core: abnormal stop");
    }

    async fn shutdown(system: ActorSystem) {
        system.shutdown().await;
        assert_eq!(system.actor_count(), 0, "actor_core: actors left after shutdown");
    }
}
