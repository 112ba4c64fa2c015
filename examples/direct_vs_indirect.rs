//! Three ways to reach an actor. Direct: the sender holds a reference to the
//! receiver. Indirect through a named mailbox: the sender knows only a name,
//! resolved by the system's registry (`tell_named`, `lookup`). Indirect
//! through a topic: the sender publishes and does not know who listens.
//! A message sent to a name nobody holds comes back to the sender and is
//! reported as a dead letter.
//!
//! Run with `cargo run --example direct_vs_indirect`.

use actor_core::Topic;
use actor_core::prelude::*;

/// A note and the way it travelled.
#[derive(Clone, Debug)]
struct Note {
    via: &'static str,
    text: &'static str,
}
impl Message for Note {
    type Reply = ();
}

/// Prints each note it gets.
struct Member {
    name: &'static str,
}
impl Actor for Member {
    type Error = std::convert::Infallible;
}
impl Handler<Note> for Member {
    async fn handle(&mut self, note: Note, _: &mut Context<Self>) {
        println!("{} got {:?} via {}", self.name, note.text, note.via);
    }
}

/// Answered once every note sent before it by the same sender is handled.
struct Flush;
impl Message for Flush {
    type Reply = ();
}
impl Handler<Flush> for Member {
    async fn handle(&mut self, _: Flush, _: &mut Context<Self>) {}
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let mut dead_letters = system.dead_letters();
    let ann = system.spawn(Member { name: "ann" });
    let bob = system.spawn(Member { name: "bob" });
    let cid = system.spawn(Member { name: "cid" });

    // 1. Direct: the sender names the receiver by its reference.
    ann.tell(Note { via: "a direct reference", text: "hi ann" }).await?;
    ann.ask(Flush).await?;

    // 2. Named mailbox: only the registry knows which actor "help-desk" is.
    system.register("help-desk", &bob)?;
    system.tell_named::<Member, _>("help-desk", Note { via: "the name help-desk", text: "my printer" }).await?;
    if let Some(desk) = system.lookup::<Member>("help-desk") {
        desk.tell(Note { via: "a lookup of help-desk", text: "still broken" }).await?;
    }
    bob.ask(Flush).await?;

    // 3. Topic: the publisher sees only the topic; every subscriber gets a copy.
    let news = Topic::new();
    for member in [&ann, &bob, &cid] {
        news.subscribe(member.recipient());
    }
    let reached = news.publish(Note { via: "the topic news", text: "lunch at noon" }).await;
    for member in [&ann, &bob, &cid] {
        member.ask(Flush).await?;
    }
    println!("the topic reached {reached} subscribers");

    // 4. An unknown name: the message is handed back and a dead letter published.
    let lost = Note { via: "the name nobody", text: "anyone there?" };
    match system.tell_named::<Member, _>("nobody", lost).await {
        Ok(()) => println!("unexpected: someone holds the name nobody"),
        Err(err) => {
            println!("tell_named(\"nobody\") failed: {err}");
            println!("the sender got its message back: {:?}", err.into_inner().text);
        }
    }
    if let Ok(letter) = dead_letters.recv().await {
        let name = letter.name.as_deref().unwrap_or("-");
        println!("dead letter: {:?} to name {name:?}, a {}", letter.reason, letter.message_type);
    }
    println!("dead letters counted: {}", system.dead_letter_count());

    system.shutdown().await;
    Ok(())
}
