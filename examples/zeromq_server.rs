//! ZeroMQ request/reply with an actor behind the REP socket: the seed
//! text's Python server (`zmq.REP`, print what arrives, answer
//! `b"Message Received"`), redone so that a `Receptionist` actor owns the
//! state and decides every reply. The REP loop only moves bytes: it hands
//! each request to the actor with `ask` and sends back the actor's answer,
//! so any ZeroMQ REQ client (the seed's Python shape:
//! `socket.send(b"Hello")`, then `socket.recv()`) can talk to it. The
//! sockets are the pure-Rust `zeromq` crate on tokio.
//!
//! The first line printed is the bound endpoint, so `--bind
//! tcp://127.0.0.1:0` lets the system pick a free port.
//!
//! Run with `cargo run --example zeromq_server -- --self-test` (a server
//! and a Rust REQ client in one process; it exits when done), or start the
//! server with `cargo run --example zeromq_server` and talk to it with
//! `python3 examples/seed_zmq_client.py tcp://127.0.0.1:5555` or
//! `cargo run --example zeromq_server -- --client tcp://127.0.0.1:5555`.
//! See `--help` for every flag.

use actor_core::prelude::*;
use tokio::sync::oneshot;
use zeromq::{RepSocket, ReqSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

const USAGE: &str = "usage: zeromq_server [--bind ENDPOINT] [--requests N]
       zeromq_server --client ENDPOINT [--requests N]
       zeromq_server --self-test [--requests N]
  --bind ENDPOINT   the REP socket's endpoint (default tcp://127.0.0.1:5555;
                    port 0 picks a free port)
  --requests N      server: exit after answering N requests;
                    client and self-test: send N requests (default 3)
  --client ENDPOINT run a REQ client against a server instead
  --self-test       run the server on a free port and a client against it";

/// The seed server's answer to every message.
const REPLY: &[u8] = b"Message Received";

/// Answers requests and remembers how many it has answered.
struct Receptionist {
    answered: u64,
}

#[actor]
impl Receptionist {
    /// One request (the frames of one ZeroMQ message) and its reply.
    #[message]
    fn request(&mut self, frames: Vec<Vec<u8>>) -> Vec<u8> {
        self.answered += 1;
        let text: Vec<_> = frames.iter().map(|f| String::from_utf8_lossy(f)).collect();
        println!("Received: {} (request {})", text.join(" | "), self.answered);
        REPLY.to_vec()
    }

    #[message]
    fn answered(&mut self) -> u64 {
        self.answered
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds `endpoint`, sends the bound endpoint through `bound`, and answers
/// `limit` requests (or forever); returns how many the actor answered.
async fn serve(endpoint: &str, limit: Option<u64>, bound: oneshot::Sender<String>) -> Result<u64, BoxError> {
    let system = ActorSystem::new();
    let receptionist = system.spawn(Receptionist { answered: 0 });
    let mut socket = RepSocket::new();
    let bound_to = socket.bind(endpoint).await?;
    let _ = bound.send(bound_to.to_string());
    let mut served = 0;
    while limit.is_none_or(|limit| served < limit) {
        let request = socket.recv().await?;
        let frames = request.into_vec().into_iter().map(|f| f.to_vec()).collect();
        // The actor decides the reply; the socket only carries it.
        let reply = receptionist.request(frames).await?;
        socket.send(ZmqMessage::from(reply)).await?;
        served += 1;
    }
    let answered = receptionist.answered().await?;
    socket.close().await;
    system.shutdown().await;
    Ok(answered)
}

/// The seed's client shape in Rust: a REQ socket that sends a greeting and
/// waits for the reply, `count` times.
async fn client(endpoint: &str, count: u64) -> Result<(), BoxError> {
    let mut socket = ReqSocket::new();
    socket.connect(endpoint).await?;
    for i in 1..=count {
        socket.send(format!("Hello {i}").into()).await?;
        let reply = socket.recv().await?;
        let reply = reply.get(0).map(|f| f.to_vec()).unwrap_or_default();
        println!("client got: {}", String::from_utf8_lossy(&reply));
        if reply != REPLY {
            return Err(format!("unexpected reply {reply:?}").into());
        }
    }
    socket.close().await;
    Ok(())
}

enum Mode {
    Serve { bind: String, requests: Option<u64> },
    Client { endpoint: String, requests: u64 },
    SelfTest { requests: u64 },
}

fn parse_args() -> Result<Mode, String> {
    let (mut bind, mut client, mut self_test, mut requests) = (None, None, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--bind" => bind = Some(value()?),
            "--client" => client = Some(value()?),
            "--self-test" => self_test = true,
            "--requests" => requests = Some(value()?.parse::<u64>().map_err(|e| format!("--requests: {e}"))?),
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    match (bind, client, self_test) {
        (bind, None, false) => Ok(Mode::Serve { bind: bind.unwrap_or("tcp://127.0.0.1:5555".into()), requests }),
        (None, Some(endpoint), false) => Ok(Mode::Client { endpoint, requests: requests.unwrap_or(3) }),
        (None, None, true) => Ok(Mode::SelfTest { requests: requests.unwrap_or(3) }),
        _ => Err("--bind, --client and --self-test do not mix".into()),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await.map_err(|e| e as Box<dyn std::error::Error>))
}

async fn run() -> Result<(), BoxError> {
    let Some(mode) = examples::options_or_usage("zeromq_server", USAGE, parse_args()) else {
        return Ok(());
    };
    match mode {
        Mode::Serve { bind, requests } => {
            let (tx, rx) = oneshot::channel();
            let server = tokio::spawn(async move { serve(&bind, requests, tx).await });
            if let Ok(endpoint) = rx.await {
                println!("listening on {endpoint}");
            }
            let answered = server.await??;
            println!("requests answered: {answered}, exiting");
        }
        Mode::Client { endpoint, requests } => client(&endpoint, requests).await?,
        Mode::SelfTest { requests } => {
            let (tx, rx) = oneshot::channel();
            let server = tokio::spawn(async move { serve("tcp://127.0.0.1:0", Some(requests), tx).await });
            let endpoint = rx.await?;
            println!("listening on {endpoint}");
            client(&endpoint, requests).await?;
            let answered = server.await??;
            println!("requests answered: {answered}, exiting");
        }
    }
    Ok(())
}
