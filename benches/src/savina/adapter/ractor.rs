//! ractor: one actor type whose state is the behaviour and whose message is
//! an enum of the behaviour's message, with or without an `RpcReplyPort`,
//! as ractor's docs show.

use std::future::Future;
use std::marker::PhantomData;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{Behavior, Framework, run_on_tokio};
use crate::savina::Flavour;

/// ractor with its defaults: `Actor::spawn(None, ..)` (every ractor mailbox
/// is unbounded, so [`Framework::spawn`] and
/// [`Framework::spawn_unbounded`] are the same), `cast` for tells and
/// sends, `call(.., None)` for asks, and `stop_and_wait`.
#[derive(Debug, Clone, Copy)]
pub struct Ractor;

/// The actor that runs a behaviour, which is its state.
#[derive(Debug)]
pub(super) struct RactorActor<B>(PhantomData<fn() -> B>);

/// A behaviour's message, as a ractor message.
#[derive(Debug)]
pub enum RactorMsg<M> {
    /// No reply.
    Tell(M),
    /// Reply through the port.
    Ask(M, RpcReplyPort<u64>),
}

impl<B: Behavior<Ractor>> Actor for RactorActor<B> {
    type Msg = RactorMsg<B::Msg>;
    type State = B;
    type Arguments = B;

    async fn pre_start(&self, _myself: ActorRef<Self::Msg>, behavior: B) -> Result<B, ActorProcessingErr> {
        Ok(behavior)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut B,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RactorMsg::Tell(msg) => {
                state.handle(msg);
            }
            RactorMsg::Ask(msg, reply) => {
                let _ = reply.send(state.handle(msg));
            }
        }
        Ok(())
    }
}

impl Framework for Ractor {
    const NAME: &'static str = "ractor";

    type System = ();

    type Ref<B: Behavior<Self>> = ActorRef<RactorMsg<B::Msg>>;

    run_without_system!();

    async fn spawn<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        let (actor, _task) =
            RactorActor::<B>::spawn(None, RactorActor(PhantomData), behavior).await.expect("ractor: spawn failed");
        actor
    }

    async fn spawn_unbounded<B: Behavior<Self>>(system: &(), behavior: B) -> Self::Ref<B> {
        Self::spawn(system, behavior).await
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        Self::send::<B>(target, msg);
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.cast(RactorMsg::Tell(msg)).is_err() {
            panic!("ractor: cast failed");
        }
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        match target.call(|reply| RactorMsg::Ask(msg, reply), None).await {
            Ok(CallResult::Success(reply)) => reply,
            _ => panic!("ractor: call failed"),
        }
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        target.stop_and_wait(None, None).await.expect("ractor: stop failed");
    }

    async fn shutdown(_system: ()) {}
}
