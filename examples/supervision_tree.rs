//! A supervisor restarts a failing worker in place: the same reference keeps
//! working, messages sent during the restart wait, and past the restart
//! intensity the supervisor gives up and reports to its parent.
//!
//! Run with `cargo run --example supervision_tree`.

use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildExit, ChildSpec, Strategy, Supervisor};

/// Parses numbers; panics on anything else ("let it crash").
#[derive(Default)]
struct Parser {
    parsed: u32,
}

impl Actor for Parser {
    type Error = std::convert::Infallible;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        println!("parser {} (re)started with a fresh state", ctx.id());
        Ok(())
    }
}

struct Parse(&'static str);
impl Message for Parse {
    type Reply = u32;
}
impl Handler<Parse> for Parser {
    async fn handle(&mut self, Parse(text): Parse, _: &mut Context<Self>) -> u32 {
        let n: u32 = text.parse().expect("not a number");
        self.parsed += 1;
        n
    }
}

/// The top of the tree: hears its supervisor's fate.
struct Root;
impl Actor for Root {
    type Error = std::convert::Infallible;

    async fn on_child_exit(&mut self, _: &mut Context<Self>, exit: &ChildExit) {
        println!("root: supervisor {} stopped: {}", exit.id, exit.reason);
    }
}

struct StartSupervisor;
impl Message for StartSupervisor {
    type Reply = ActorRef<Supervisor>;
}
impl Handler<StartSupervisor> for Root {
    async fn handle(&mut self, _: StartSupervisor, ctx: &mut Context<Self>) -> ActorRef<Supervisor> {
        ctx.spawn_child(Supervisor::new(Strategy::OneForOne).max_restarts(2, Duration::from_secs(10)))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), actor_core::Error> {
    // Panics are caught by the framework and reported through the ask's
    // error and `tracing`; keep the default hook from printing them too.
    std::panic::set_hook(Box::new(|_| {}));
    let system = ActorSystem::new();
    let root = system.spawn(Root);
    let supervisor = root.ask(StartSupervisor).await?;
    let parser = supervisor.start_child(ChildSpec::new(Parser::default)).await.expect("supervisor is up");

    println!("parsed {}", parser.ask(Parse("42")).await?);
    for bad in ["forty-two", "XLII", "0x2a"] {
        match parser.ask(Parse(bad)).await {
            Ok(n) => println!("parsed {n}"),
            Err(e) => println!("asking to parse {bad:?} failed: {e}"),
        }
        // Sent while the parser restarts: it waits in the mailbox.
        if let Ok(n) = parser.ask(Parse("7")).await {
            println!("same reference after the restart, parsed {n}");
        }
    }
    let reason = supervisor.wait_for_stop().await;
    println!("supervisor gave up: {reason}");
    system.shutdown().await;
    Ok(())
}
