//! actix: one actor type wrapping the behaviour (with actix's default
//! `Context`), one message type wrapping its messages, run on actix's own
//! `System`.
//!
//! actix does not run on a plain tokio runtime: each arbiter is a thread
//! with its own single-threaded runtime. So the flavours map as follows.
//!
//! - `current`: one `System`; the workload and every actor run on its
//!   thread.
//! - `multi`: the `System` plus one more `Arbiter`, so two threads, as the
//!   other frameworks get two workers. Actors are started alternately on
//!   the extra arbiter and on the system's (`Actor::start_in_arbiter`, the
//!   way actix's docs spread actors over threads), the first one on the
//!   extra arbiter; the workload's driver runs on the system's thread. Unlike
//!   tokio's work-stealing workers, an actor never moves between threads.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context, Handler};

use super::{Behavior, Framework};
use crate::savina::Flavour;

/// actix with its defaults: `Actor::start` (or `start_in_arbiter`, see
/// above), `do_send` for tells and sends (it ignores the mailbox capacity
/// of 16, as actix documents), `send(..).await` for asks, and a stop
/// message whose handler calls `ctx.stop()`.
#[derive(Debug, Clone, Copy)]
pub struct Actix;

/// Where actix actors are started: nowhere special (`current`) or
/// alternately on two arbiters (`multi`).
#[derive(Debug, Clone)]
pub struct ActixSystem {
    arbiters: Arc<Vec<ArbiterHandle>>,
    next: Arc<AtomicUsize>,
}

/// The actor that runs a behaviour.
#[derive(Debug)]
pub struct ActixActor<B>(B);

impl<B: Behavior<Actix>> Actor for ActixActor<B> {
    type Context = Context<Self>;
}

/// A behaviour's message, as an actix message.
#[derive(Debug)]
pub struct Envelope<M>(M);

impl<M: Send + 'static> actix::Message for Envelope<M> {
    type Result = u64;
}

impl<B: Behavior<Actix>> Handler<Envelope<B::Msg>> for ActixActor<B> {
    type Result = u64;

    fn handle(&mut self, Envelope(msg): Envelope<B::Msg>, _ctx: &mut Context<Self>) -> u64 {
        self.0.handle(msg)
    }
}

/// Stops the actor that handles it.
#[derive(Debug)]
pub struct Stop;

impl actix::Message for Stop {
    type Result = ();
}

impl<B: Behavior<Actix>> Handler<Stop> for ActixActor<B> {
    type Result = ();

    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        actix::ActorContext::stop(ctx);
    }
}

impl Framework for Actix {
    const NAME: &'static str = "actix";

    type System = ActixSystem;

    type Ref<B: Behavior<Self>> = Addr<ActixActor<B>>;

    fn run<T, Fut, W>(flavour: Flavour, work: W) -> T
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        W: FnOnce(Self::System) -> Fut + Send + 'static,
    {
        let runner = actix::System::new();
        let extra = match flavour {
            Flavour::Multi => Some(Arbiter::new()),
            Flavour::Current => None,
        };
        let arbiters = match &extra {
            Some(extra) => vec![extra.handle(), runner.block_on(async { Arbiter::current() })],
            None => Vec::new(),
        };
        let system = ActixSystem { arbiters: Arc::new(arbiters), next: Arc::new(AtomicUsize::new(0)) };
        let output = runner.block_on(work(system));
        if let Some(extra) = extra {
            extra.stop();
            extra.join().expect("actix: arbiter thread panicked");
        }
        actix::System::current().stop();
        runner.run().expect("actix: system failed");
        output
    }

    async fn spawn<B: Behavior<Self>>(system: &ActixSystem, behavior: B) -> Self::Ref<B> {
        if system.arbiters.is_empty() {
            ActixActor(behavior).start()
        } else {
            let i = system.next.fetch_add(1, Ordering::Relaxed) % system.arbiters.len();
            ActixActor::start_in_arbiter(&system.arbiters[i], move |_| ActixActor(behavior))
        }
    }

    async fn spawn_unbounded<B: Behavior<Self>>(system: &ActixSystem, behavior: B) -> Self::Ref<B> {
        Self::spawn(system, behavior).await
    }

    async fn tell<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        target.do_send(Envelope(msg));
    }

    fn send<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) {
        target.do_send(Envelope(msg));
    }

    async fn ask<B: Behavior<Self>>(target: &Self::Ref<B>, msg: B::Msg) -> u64 {
        target.send(Envelope(msg)).await.expect("actix: ask failed")
    }

    async fn stop<B: Behavior<Self>>(target: &Self::Ref<B>) {
        target.send(Stop).await.expect("actix: stop failed");
        // The actor stops after its stop handler returns; it is gone when
        // its mailbox is closed.
        while target.connected() {
            tokio::task::yield_now().await;
        }
    }

    async fn shutdown(_system: ActixSystem) {}
}
