//! A TCP server for raw socket clients, such as the seed text's blocking C
//! client (`examples/seed_client.c`): every connection gets its own
//! `Session` actor, which owns the socket's write half and answers each chunk
//! of bytes the client sends. A plain task reads the socket and turns what
//! arrives into messages for the session; when the client hangs up, the
//! session is stopped after it has handled what was already queued.
//!
//! The first line printed is the bound address, so `--port 0` lets the
//! system pick a free port. Only loopback addresses are accepted.
//!
//! Run with `cargo run --example socket_server` (then
//! `gcc -o seed_client examples/seed_client.c && ./seed_client 8080`), or see
//! `cargo run --example socket_server -- --help`.

use std::net::{Ipv4Addr, SocketAddr};

use actor_core::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::OwnedWriteHalf;

const USAGE: &str = "usage: socket_server [--port N | --addr IP:PORT] [--max-connections N]
  --port N              listen on 127.0.0.1:N (0 picks a free port; default 8080)
  --addr IP:PORT        listen on this loopback address
  --max-connections N   exit once N connections have been served and closed";

/// One client connection.
struct Session {
    number: usize,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    replies: usize,
}

impl Actor for Session {
    type Error = std::convert::Infallible;

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        println!("connection {} closed, replies sent: {}", self.number, self.replies);
    }
}

/// Bytes read from the client.
struct Received(String);
impl Message for Received {
    type Reply = ();
}

impl Handler<Received> for Session {
    async fn handle(&mut self, Received(text): Received, ctx: &mut Context<Self>) {
        println!("connection {} from {} sent {text:?}", self.number, self.peer);
        let reply = format!("Hello, Client! Connection {} received {text:?}\n", self.number);
        match self.writer.write_all(reply.as_bytes()).await {
            Ok(()) => self.replies += 1,
            Err(e) => {
                eprintln!("connection {}: cannot reply: {e}", self.number);
                ctx.stop();
            }
        }
    }
}

/// The listening address and how many connections to serve (`None`: no limit).
fn parse_args() -> Result<(SocketAddr, Option<usize>), String> {
    let mut addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080));
    let mut max = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--port" => addr.set_port(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--addr" => addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--max-connections" => max = Some(value()?.parse().map_err(|e| format!("--max-connections: {e}"))?),
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address; this example listens on loopback only"));
    }
    Ok((addr, max))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> std::io::Result<()> {
    let Some((addr, max)) = examples::options_or_usage("socket_server", USAGE, parse_args()) else {
        return Ok(());
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);

    let system = ActorSystem::new();
    let mut sessions = Vec::new();
    let mut served = 0;
    while max.is_none_or(|max| served < max) {
        let (stream, peer) = listener.accept().await?;
        served += 1;
        let (mut reader, writer) = stream.into_split();
        let session = system.spawn(Session { number: served, peer, writer, replies: 0 });
        if max.is_some() {
            sessions.push(session.clone()); // to wait for it before exiting
        }
        tokio::spawn(async move {
            let mut buf = [0; 1024];
            // Until the client hangs up (or the session has stopped).
            while let Ok(n @ 1..) = reader.read(&mut buf).await {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if session.tell(Received(text)).await.is_err() {
                    break;
                }
            }
            session.stop();
        });
    }
    for session in sessions {
        session.wait_for_stop().await;
    }
    println!("connections served: {served}, exiting");
    system.shutdown().await;
    Ok(())
}
