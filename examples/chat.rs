//! A chat server over TCP: every connected user and every room is an actor,
//! and a room broadcasts what is said in it through a `Topic`.
//!
//! By default the example checks itself: it starts the server on a loopback
//! port, connects `--clients` TCP clients spread over `--rooms` rooms, lets
//! each send `--messages` lines, and counts how many lines reached the other
//! members of each room. With `--serve ADDR` (such as `--serve 127.0.0.1:7000`)
//! it only runs the server; talk to it with `nc` (commands: `/nick NAME`,
//! `/join ROOM`, `/quit`).
//!
//! Run with `cargo run --example chat -- --clients 20 --messages 10`.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actor_core::Topic;
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

/// A room: its members are the subscribers of its topic. Everything said
/// goes through the room, so every member sees the same order.
struct Room(Topic<Said>);

#[actor]
impl Room {
    /// Adds a member and returns how many there are.
    #[message]
    async fn join(&mut self, inbox: Recipient<Said>, name: String) -> usize {
        let from = inbox.id();
        if self.0.subscribe(inbox) {
            self.0.publish(Said { from, line: format!("* {name} joined").into() }).await;
        }
        self.0.subscriber_count()
    }

    #[message]
    async fn leave(&mut self, from: ActorId, name: String) {
        if self.0.unsubscribe(from) {
            self.0.publish(Said { from, line: format!("* {name} left").into() }).await;
        }
    }

    #[message]
    async fn say(&mut self, from: ActorId, line: String) {
        self.0.publish(Said { from, line: line.into() }).await;
    }
}

/// Finds a room by name, opening it on first use.
#[derive(Default)]
struct Lobby(HashMap<String, ActorRef<Room>>);

#[actor]
impl Lobby {
    #[message]
    fn open(&mut self, name: String, ctx: &mut Context<Self>) -> ActorRef<Room> {
        self.0.entry(name).or_insert_with(|| ctx.spawn_child(Room(Topic::new()))).clone()
    }
}

/// One connection: its reader task sends it the `Line`s that come in, and
/// it writes to the socket itself.
struct User {
    name: String,
    out: OwnedWriteHalf,
    lobby: ActorRef<Lobby>,
    room: Option<ActorRef<Room>>,
}

impl Actor for User {
    type Error = io::Error;

    async fn on_start(&mut self, _: &mut Context<Self>) -> io::Result<()> {
        self.write(&format!("* welcome, {}; commands: /nick NAME, /join ROOM, /quit", self.name)).await
    }

    async fn on_stop(&mut self, ctx: &mut Context<Self>, _: &StopReason) {
        if let Some(room) = self.room.take() {
            let _ = room.tell_leave(ctx.id(), self.name.clone()).await;
        }
    }
}

#[actor(no_actor_impl)]
impl User {
    /// A line from the connection: a command, or something to say.
    #[message]
    async fn line(&mut self, line: String, ctx: &mut Context<Self>) {
        let reply = match line.trim().split_once(' ').unwrap_or((line.trim(), "")) {
            ("/nick", name) if !name.is_empty() => {
                self.name = name.to_owned();
                format!("* you are now {name}")
            }
            ("/join", room) if !room.is_empty() => match self.join(room, ctx).await {
                Ok(reply) => reply,
                Err(_) => {
                    ctx.stop(); // the server is shutting down
                    return;
                }
            },
            ("/quit", _) => {
                ctx.stop();
                return;
            }
            (command, _) if command.starts_with('/') => "* commands: /nick NAME, /join ROOM, /quit".into(),
            _ => match &self.room {
                Some(room) => {
                    let _ = room.tell_say(ctx.id(), format!("{}: {line}", self.name)).await;
                    return;
                }
                None => "* join a room first: /join ROOM".into(),
            },
        };
        if self.write(&reply).await.is_err() {
            ctx.stop();
        }
    }

    /// A line said in the user's room, by `from`.
    #[message(derive(Clone))]
    async fn said(&mut self, from: ActorId, line: Arc<str>, ctx: &mut Context<Self>) {
        if from != ctx.id() && self.write(&line).await.is_err() {
            ctx.stop();
        }
    }

    async fn write(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(format!("{line}\n").as_bytes()).await
    }

    async fn join(&mut self, room: &str, ctx: &mut Context<Self>) -> Result<String, actor_core::Error> {
        if let Some(old) = self.room.take() {
            old.leave(ctx.id(), self.name.clone()).await?;
        }
        let new = self.lobby.open(room.to_owned()).await?;
        let here = new.join(ctx.actor_ref().recipient(), self.name.clone()).await?;
        self.room = Some(new);
        Ok(format!("* you joined {room} as {} ({here} here)", self.name))
    }
}

/// Accepts connections forever: one `User` actor and one reader task each.
async fn serve(listener: TcpListener, system: ActorSystem) {
    let lobby = system.spawn(Lobby::default());
    for n in 1.. {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (read, out) = stream.into_split();
        let user = User { name: format!("user-{n}"), out, lobby: lobby.clone(), room: None };
        // Unbounded, so that a room never waits for one slow member.
        let user = system.spawn_with(user, SpawnOptions::new().mailbox(Mailbox::unbounded()));
        tokio::spawn(async move {
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if user.tell_line(line).await.is_err() {
                    break;
                }
            }
            user.stop();
        });
    }
}

/// One test client: joins `room`, waits for everyone, sends `messages`
/// lines and reads until it has heard `expected` lines from the others.
/// Returns how many it heard and whether each sender's came in order.
async fn client(
    addr: SocketAddr,
    room: String,
    messages: usize,
    expected: usize,
    start: Arc<Barrier>,
) -> (usize, bool) {
    let (read, mut write) = TcpStream::connect(addr).await.expect("connect").into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(format!("/join {room}\n").as_bytes()).await.expect("join");
    while !lines.next_line().await.expect("read").expect("joined").starts_with("* you joined") {}
    tokio::time::timeout(Duration::from_secs(30), start.wait()).await.expect("every client joins");
    let sender = tokio::spawn(async move {
        for k in 0..messages {
            write.write_all(format!("message {k}\n").as_bytes()).await.expect("send");
        }
        write // keep the connection open until the reading is done
    });
    let (mut heard, mut next_from) = (0, HashMap::new());
    let mut in_order = true;
    let reading = async {
        while heard < expected {
            let Ok(Some(line)) = lines.next_line().await else { break };
            let Some((from, text)) = line.split_once(": ") else { continue };
            if let Some(Ok(k)) = text.strip_prefix("message ").map(str::parse::<usize>) {
                let next = next_from.entry(from.to_owned()).or_insert(0);
                in_order &= k == *next;
                *next = k + 1;
                heard += 1;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), reading).await;
    drop(sender.await);
    (heard, in_order)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> io::Result<()> {
    let (mut clients, mut messages, mut rooms, mut serve_at) = (20, 10, 3, None);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        let number = || value.parse::<usize>().ok().filter(|&n| n > 0).expect("a positive number");
        match pair[0].as_str() {
            "--clients" => clients = number(),
            "--messages" => messages = number(),
            "--rooms" => rooms = number(),
            "--serve" => serve_at = Some(value.to_owned()),
            other => panic!("unknown option {other}; use --clients N --messages N --rooms N, or --serve ADDR"),
        }
    }
    let system = ActorSystem::new();
    let listener = TcpListener::bind(serve_at.as_deref().unwrap_or("127.0.0.1:0")).await?;
    let addr = listener.local_addr()?;
    println!("chat server listening on {addr}");
    if serve_at.is_some() {
        serve(listener, system).await;
        return Ok(());
    }
    let server = tokio::spawn(serve(listener, system.clone()));

    let start = Arc::new(Barrier::new(clients));
    let members = |room: usize| (0..clients).filter(|i| i % rooms == room).count();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let expected = (members(i % rooms) - 1) * messages;
        tasks.push(tokio::spawn(client(addr, format!("room-{}", i % rooms), messages, expected, start.clone())));
    }
    let (mut delivered, mut in_order) = (0, true);
    for task in tasks {
        let (heard, ordered) = task.await.expect("a client task does not panic");
        delivered += heard;
        in_order &= ordered;
    }
    let expected: usize = (0..rooms.min(clients)).map(|r| members(r) * (members(r) - 1) * messages).sum();
    println!("{clients} clients in {} rooms sent {messages} messages each", rooms.min(clients));
    let order = if in_order { "each sender's lines in order" } else { "SOME OUT OF ORDER" };
    println!("delivered {delivered} of {expected} expected, {order}");
    server.abort();
    system.shutdown().await;
    if delivered != expected || !in_order {
        std::process::exit(1);
    }
    Ok(())
}
