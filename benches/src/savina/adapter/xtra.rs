//! xtra: one actor type wrapping the behaviour, handling a two-case command
//! (the behaviour's message, or stop), spawned on tokio with
//! `xtra::spawn_tokio`, as xtra's README shows.

use futures::FutureExt;
use xtra::{Address, Context, Handler, Mailbox};

use super::{Behavior, Framework, run_on_tokio};
use crate::savina::Flavour;

/// xtra 0.6 as its README writes it: `spawn_tokio(actor,
/// Mailbox::unbounded())` (xtra has no default capacity, and its README
/// spawns with an unbounded mailbox), `send(..).detach().await` for a tell
/// (returns once queued), `send(..).await` for an ask, and a stop command whose handler
/// calls `Context::stop_self` followed by `Address::join`: xtra stops an
/// actor from inside, and its mailbox is first in, first out, so the stop
/// comes after what was queued before it.
#[derive(Debug, Clone, Copy)]
pub struct Xtra;

/// What the actor is sent: a message of the behaviour, or stop.
#[derive(Debug)]
pub enum Command<M> {
    /// A message of the behaviour.
    Msg(M),
    /// Stop once this is handled.
    Stop,
}

/// The actor that runs a behaviour.
#[derive(Debug)]
pub struct XtraActor<B>(B);

impl<B: Behavior<Xtra>> xtra::Actor for XtraActor<B> {
    type Stop = ();

    async fn stopped(self) {}
}

impl<B: Behavior<Xtra>> Handler<Command<B::Msg>> for XtraActor<B> {
    type Return = u64;

    async fn handle(&mut self, command: Command<B::Msg>, ctx: &mut Context<Self>) -> u64 {
        match command {
            Command::Msg(msg) => self.0.handle(msg),
            Command::Stop => {
                ctx.stop_self();
                0
            }
        }
    }
}

impl Framework for Xtra {
    const NAME: &'static str = "xtra";

    /// xtra 0.6 keeps a mailbox's messages in a binary heap ordered by
    /// priority alone, so messages of equal priority (every message sent
    /// without `priority(..)`) can be handled in any order: a barrier ask
    /// can overtake the tells sent before it.
    const KEEPS_ORDER: bool = false;

    type System = ();

    type Ref<B: Behavior<Self>> = Address<XtraActor<B>>;

    run_without_system!();

    async fn spawn<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        xtra::spawn_tokio(XtraActor(behavior), Mailbox::unbounded())
    }

    async fn spawn_unbounded<B: Behavior<Self>>(_system: &(), behavior: B) -> Self::Ref<B> {
        xtra::spawn_tokio(XtraActor(behavior), Mailbox::unbounded())
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        if target.send(Command::Msg(msg)).detach().await.is_err() {
            panic!("xtra: tell failed");
        }
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        // On an unbounded mailbox a detached send is queued on its first poll.
        match target.send(Command::Msg(msg)).detach().now_or_never() {
            Some(Ok(_)) => {}
            _ => panic!("xtra: send failed"),
        }
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        match target.send(Command::Msg(msg)).await {
            Ok(reply) => reply,
            Err(_) => panic!("xtra: ask failed"),
        }
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        // Detached: the stop's reply is dropped with the actor, so awaiting it
        // would report the actor gone; `join` waits for the stop itself.
        if target.send(Command::Stop).detach().await.is_err() {
            panic!("xtra: stop failed");
        }
        target.join().await;
    }

    async fn shutdown(_system: ()) {}
}
