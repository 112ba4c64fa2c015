//! kameo: one actor type wrapping the behaviour, with `Message<M>`
//! implemented for the behaviour's message type, as kameo's README shows.

use std::future::Future;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::mailbox;
use kameo::message::{Context, Message};

use super::{Behavior, Framework, run_on_tokio};
use crate::savina::Flavour;

/// kameo with its defaults: `Actor::spawn` (a bounded mailbox of 64),
/// `tell(..).await` (waits for room), `ask(..).await`, `tell(..).try_send()`
/// for [`Framework::send`] (on `mailbox::unbounded()`), and
/// `stop_gracefully()` plus `wait_for_shutdown()`.
#[derive(Debug, Clone, Copy)]
pub struct Kameo;

/// The actor that runs a behaviour.
#[derive(Debug)]
pub struct KameoActor<B>(B);

impl<B: Behavior<Kameo>> Actor for KameoActor<B> {
    type Args = B;
    type Error = Infallible;

    async fn on_start(behavior: B, _actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(KameoActor(behavior))
    }
}

impl<B: Behavior<Kameo>> Message<B::Msg> for KameoActor<B> {
    type Reply = u64;

    async fn handle(&mut self, msg: B::Msg, _ctx: &mut Context<Self, u64>) -> u64 {
        self.0.handle(msg)
    }
}

impl Framework for Kameo {
    const NAME: &'static str = "kameo";

    type System = ();

    type Ref<B: Behavior<Self>> = ActorRef<KameoActor<B>>;

    run_without_system!();

    async fn spawn<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        KameoActor::spawn(behavior)
    }

    async fn spawn_unbounded<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        KameoActor::spawn_with_mailbox(behavior, mailbox::unbounded())
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.tell(msg).await.is_err() {
            panic!("kameo: tell failed");
        }
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.tell(msg).try_send().is_err() {
            panic!("kameo: send failed");
        }
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        match target.ask(msg).await {
            Ok(reply) => reply,
            Err(_) => panic!("kameo: ask failed"),
        }
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        target.stop_gracefully().await.expect("kameo: stop failed");
        target.wait_for_shutdown().await;
    }

    async fn shutdown(_system: ()) {}
}
