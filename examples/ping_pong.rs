//! Two actors bounce a counter until it reaches 10.
//!
//! `Ping` and `Pong` know each other only as `Recipient<Ball>`, the
//! framework's "direct messaging without naming the type". The last hit is
//! reported to `main` through a deferred reply (`ask_with` + `ReplyTo`).
//!
//! Run with `cargo run --example ping_pong`.

use actor_core::prelude::*;

/// The ball: how many hits so far, and who to tell when the rally ends.
struct Ball {
    hits: u32,
    done: ReplyTo<u32>,
}
impl Message for Ball {
    type Reply = ();
}

/// Hands a player the opponent it returns the ball to.
struct Opponent(Recipient<Ball>);
impl Message for Opponent {
    type Reply = ();
}

/// A player returns the ball to its opponent until the rally reaches `limit`.
struct Player {
    name: &'static str,
    limit: u32,
    opponent: Option<Recipient<Ball>>,
}

impl Actor for Player {
    type Error = std::convert::Infallible;
}

impl Handler<Opponent> for Player {
    async fn handle(&mut self, Opponent(other): Opponent, _: &mut Context<Self>) {
        self.opponent = Some(other);
    }
}

impl Handler<Ball> for Player {
    async fn handle(&mut self, ball: Ball, _: &mut Context<Self>) {
        let hits = ball.hits + 1;
        println!("{} hits the ball ({hits})", self.name);
        if hits >= self.limit {
            let _ = ball.done.send(hits);
            return;
        }
        let opponent = self.opponent.as_ref().expect("opponent is set before serving");
        // A tell from inside a handler: the player is free again at once.
        if let Err(e) = opponent.tell(Ball { hits, done: ball.done }).await {
            eprintln!("{}: the opponent has left ({e})", self.name);
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), actor_core::Error> {
    let system = ActorSystem::new();
    let ping = system.spawn(Player { name: "ping", limit: 10, opponent: None });
    let pong = system.spawn(Player { name: "pong", limit: 10, opponent: None });
    ping.ask(Opponent(pong.recipient())).await?;
    pong.ask(Opponent(ping.recipient())).await?;

    let hits = ping.ask_with(|done| Ball { hits: 0, done }).await?;
    println!("rally over after {hits} hits");
    system.shutdown().await;
    Ok(())
}
