//! Remote workloads: two nodes in one process over loopback, against raw
//! sockets carrying the same frames.
//!
//! Three implementations of the same conversation between a client and a
//! server:
//!
//! - `actor_remote`: node `b` holds a remote [`ActorRef<Sink>`] to a
//!   [`Sink`] actor registered on node `a`; tells and asks go through
//!   `actor-remote` (outbox, writer task, socket, reader task, the actor's
//!   mailbox; replies back the same way).
//! - [`RawClient`] (`raw_*_batched`, `raw_tcp_tasks`): the hand-written
//!   pipeline a tokio user would build for the same job: senders put frames
//!   into a bounded `mpsc`, one writer task drains it with `recv_many` and
//!   encodes every queued frame into one buffer per `write_all`
//!   (tokio-util's `LengthDelimitedCodec`), one reader task decodes the
//!   replies and completes `oneshot`s in order.
//! - [`RawPingPong`] (`raw_tcp_ping_pong`): no task at all on the client: the
//!   caller writes one frame and reads one frame. The floor of a round trip.
//!
//! Both raw clients talk to [`raw_server`], one task that decodes frames,
//! counts the tells and answers the asks, writing all the answers to the
//! frames it has at hand with one `write_all`. [`raw_server_hops`] does the
//! same work with a node's task layout (reader, handler, writer), to tell
//! the cost of the hand-offs from the cost of the framework's own work.
//!
//! Raw frames have the same bytes as ours: the same 4-byte length prefix,
//! then version, kind, (correlation id), 16-byte target id, wire name and
//! the 32-byte payload. So both sides move the same number of bytes and
//! frames, and the difference is what the framework does around them.
//!
//! Every workload checks its result and panics on a wrong one: tells carry
//! a sequence number in their first 8 bytes and both sinks sum them, so the
//! barrier at the end of a burst checks the count and the sum; every ask's
//! reply is checked.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use actor_core::RemoteMessage;
use actor_core::prelude::*;
use actor_remote::Node;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{Encoder, FramedRead, LengthDelimitedCodec};

/// Bytes of a tell's payload.
pub const PAYLOAD: usize = 32;

/// Tells sent per iteration of the remote tell-throughput workload.
pub const REMOTE_TELLS_PER_ITER: u64 = 100_000;

/// Sequential asks per iteration of the remote round-trip workload.
pub const REMOTE_ASKS_PER_ITER: u64 = 1_000;

/// Concurrent askers in the pipelined workload.
pub const PIPELINE_TASKS: u64 = 64;

/// Asks each of the [`PIPELINE_TASKS`] askers sends, one after the other.
pub const PIPELINE_ASKS_PER_TASK: u64 = 50;

/// The bound of the raw client's frame queue: the same as the credit
/// window `actor-remote` gives each remote actor by default.
pub const RAW_QUEUE: usize = 1024;

const SECRET: &str = "bench cookie";

// ---------------------------------------------------------------------------
// The actor side.
// ---------------------------------------------------------------------------

/// The server actor: counts the 32-byte messages it receives and sums
/// their sequence numbers; answers pings.
#[derive(Debug, Default)]
pub struct Sink {
    count: u64,
    sum: u64,
}

#[actor]
impl Sink {
    /// One 32-byte message; its first 8 bytes are a sequence number.
    #[message(remote)]
    pub fn data(&mut self, bytes: [u8; PAYLOAD]) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(seq_of(&bytes));
    }

    /// How many messages arrived, and the sum of their sequence numbers.
    #[message(remote)]
    pub fn totals(&self) -> (u64, u64) {
        (self.count, self.sum)
    }

    /// Replies with `n + 1`.
    #[message(remote)]
    pub fn ping(&self, n: u64) -> u64 {
        n.wrapping_add(1)
    }
}

/// The payload of the tell numbered `seq`: the number, then a filler.
pub fn payload(seq: u64) -> [u8; PAYLOAD] {
    let mut bytes = [0xA5; PAYLOAD];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes
}

fn seq_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("a payload has 8 bytes or more"))
}

/// What a sink has received: the count of tells and the sum of their
/// sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Tells received.
    pub count: u64,
    /// Sum of their sequence numbers (wrapping).
    pub sum: u64,
}

impl Received {
    /// The totals after `n` more tells numbered `0..n`.
    pub fn after(self, n: u64) -> Received {
        Received { count: self.count + n, sum: self.sum.wrapping_add(n.wrapping_mul(n.saturating_sub(1)) / 2) }
    }
}

/// Where the two nodes (or the raw pair) talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Loopback TCP, `TCP_NODELAY` on.
    Tcp,
    /// A Unix domain socket in the temporary directory.
    Unix,
}

impl Transport {
    /// `tcp` or `unix`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
    }
}

fn socket_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("actor-bench-{}-{n}.sock", std::process::id()))
}

/// Two nodes in this process: `a` serves a [`Sink`], `b` holds a remote
/// reference to it.
#[derive(Debug)]
pub struct RemotePair {
    /// The server node.
    pub a: Node,
    /// The client node.
    pub b: Node,
    /// The sink, as `a` sees it.
    pub local: ActorRef<Sink>,
    /// The sink, as `b` sees it: every message crosses the socket.
    pub remote: ActorRef<Sink>,
    socket: Option<PathBuf>,
}

impl RemotePair {
    /// Starts both nodes (on the current runtime), connects `b` to `a` and
    /// looks the sink up.
    ///
    /// # Panics
    ///
    /// If a node cannot start or connect.
    pub async fn start(transport: Transport) -> RemotePair {
        let socket = (transport == Transport::Unix).then(socket_path);
        let listen_a = socket.as_ref().map(|path| format!("unix:{}", path.display()));
        RemotePair::start_listening(listen_a, None, socket).await
    }

    /// Starts both nodes on the NATS server at `url` (`a` and `b` listen
    /// there as `a` and `b`), connects `b` to `a` through it and looks the
    /// sink up.
    ///
    /// # Panics
    ///
    /// If a node cannot start or connect.
    pub async fn start_nats(url: &str) -> RemotePair {
        RemotePair::start_listening(Some(format!("{url}/a")), Some(format!("{url}/b")), None).await
    }

    async fn start_listening(
        listen_a: Option<String>,
        listen_b: Option<String>,
        socket: Option<PathBuf>,
    ) -> RemotePair {
        let mut builder = Node::builder(ActorSystem::new()).name("a").secret(SECRET);
        if let Some(address) = &listen_a {
            builder = builder.listen(address).expect("a valid address");
        }
        let a = builder.start().await.expect("node a starts");
        let mut builder = Node::builder(ActorSystem::new()).name("b").secret(SECRET);
        if let Some(address) = &listen_b {
            builder = builder.listen(address).expect("a valid address");
        }
        let b = builder.start().await.expect("node b starts");
        let local = a.system().spawn(Sink::default());
        a.register("sink", &local).expect("the name is free");
        let peer = b.connect(&a.address().to_string()).await.expect("b connects to a");
        // The first lookup can race the end of `a`'s handshake: when `b`'s
        // last handshake frame and the lookup arrive in one read, `a` refuses
        // the connection ("frames sent before the handshake ended") and `b`
        // reconnects. Retry through that (an actor-remote bug, reported).
        let mut attempts = 0;
        let remote = loop {
            match b.lookup::<Sink>(&peer, "sink").await {
                Ok(remote) => break remote,
                Err(actor_remote::NodeError::NodeDown(_)) if attempts < 50 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("b finds the sink: {e}"),
            }
        };
        assert!(!remote.is_local(), "the looked-up reference must be remote");
        RemotePair { a, b, local, remote, socket }
    }

    /// The sink's totals, asked across the wire.
    pub async fn totals(&self) -> Received {
        let (count, sum) = self.remote.totals().await.expect("the sink answers");
        Received { count, sum }
    }

    /// Stops both nodes and their systems.
    pub async fn shutdown(self) {
        self.b.shutdown().await;
        self.a.shutdown().await;
        self.b.system().shutdown().await;
        self.a.system().shutdown().await;
        if let Some(path) = self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Opens one TCP connection to `node` and runs the dialing side of the
/// handshake on it as the node `name` would (what `Node::connect` does
/// before attaching), against `node`'s accepting side; then drops it.
///
/// # Panics
///
/// If the connection or the handshake fails.
pub async fn connect_and_handshake(node: &Node, name: &str) {
    let address = node.address().to_string();
    let socket = TcpStream::connect(address.strip_prefix("tcp://").expect("a TCP node"))
        .await
        .expect("the node accepts connections");
    socket.set_nodelay(true).expect("TCP_NODELAY");
    let (_socket, _rest) =
        actor_remote::fuzzing::dial_handshake(socket, name, SECRET.as_bytes()).await.expect("the handshake succeeds");
}

/// Opens one TCP connection to `node` and drops it: the floor under
/// [`connect_and_handshake`].
///
/// # Panics
///
/// If the connection fails.
pub async fn connect_only(node: &Node) {
    let address = node.address().to_string();
    let socket = TcpStream::connect(address.strip_prefix("tcp://").expect("a TCP node"))
        .await
        .expect("the node accepts connections");
    socket.set_nodelay(true).expect("TCP_NODELAY");
}

/// Sends `n` tells numbered `0..n` to `sink`, then asks for its totals as a
/// barrier (the ask is queued behind the tells on the same connection) and
/// checks them against `before`. Returns the new totals.
///
/// # Panics
///
/// If a send fails or the totals are not `before.after(n)`.
pub async fn remote_tell_burst(sink: &ActorRef<Sink>, n: u64, before: Received) -> Received {
    for seq in 0..n {
        if sink.tell(Data { bytes: payload(seq) }).await.is_err() {
            panic!("remote tell {seq} failed");
        }
    }
    let (count, sum) = sink.totals().await.expect("the barrier ask is answered");
    let after = Received { count, sum };
    assert_eq!(after, before.after(n), "remote sink totals after {n} tells");
    after
}

/// `n` sequential asks, each awaited before the next; checks every reply.
///
/// # Panics
///
/// On a failed ask or a wrong reply.
pub async fn remote_asks(sink: &ActorRef<Sink>, n: u64, base: u64) {
    for i in base..base + n {
        assert_eq!(sink.ping(i).await.expect("the ping is answered"), i + 1, "remote ping reply");
    }
}

/// `tasks` concurrent askers, each sending `per_task` sequential asks:
/// up to `tasks` asks in flight at once. Checks every reply.
///
/// # Panics
///
/// On a failed ask or a wrong reply.
pub async fn remote_pipelined(sink: &ActorRef<Sink>, tasks: u64, per_task: u64) {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let sink = sink.clone();
            tokio::spawn(async move { remote_asks(&sink, per_task, t * per_task).await })
        })
        .collect();
    for handle in handles {
        handle.await.expect("an asker panicked");
    }
}

/// A `nats-server` for the NATS workloads, on a free loopback port;
/// killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: std::process::Child,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
}

impl NatsServer {
    /// Starts `nats-server` (from the `PATH`, or `/usr/sbin` where Debian
    /// puts it); `None` if it is not installed or does not start.
    pub fn start() -> Option<NatsServer> {
        let binary = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([PathBuf::from("/usr/sbin/nats-server")])
            .find(|p| p.is_file())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = std::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = NatsServer { child, url: format!("nats://127.0.0.1:{port}") };
        for _ in 0..250 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The floor of a round trip through a NATS server with async-nats and
/// nothing of ours: the caller publishes 8 bytes with its inbox as the
/// reply subject and waits on its subscription; a responder task (its own
/// client, like another node) answers `n + 1`.
#[derive(Debug)]
pub struct RawNatsPingPong {
    client: actor_remote::async_nats::Client,
    inbox: String,
    replies: actor_remote::async_nats::Subscriber,
}

impl RawNatsPingPong {
    /// Connects both clients to the server at `url` and starts the
    /// responder.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached.
    pub async fn connect(url: &str) -> RawNatsPingPong {
        let responder = actor_remote::async_nats::connect(url).await.expect("the responder connects");
        let mut requests = responder.subscribe("bench.ping").await.expect("the responder subscribes");
        responder.flush().await.expect("the subscription reaches the server");
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let n = u64::from_le_bytes(request.payload[..8].try_into().expect("8 bytes"));
                if let Some(reply) = request.reply {
                    let answer = Bytes::copy_from_slice(&n.wrapping_add(1).to_le_bytes());
                    if responder.publish(reply, answer).await.is_err() {
                        return;
                    }
                }
            }
        });
        let client = actor_remote::async_nats::connect(url).await.expect("the caller connects");
        let inbox = client.new_inbox();
        let replies = client.subscribe(inbox.clone()).await.expect("the caller subscribes");
        client.flush().await.expect("the subscription reaches the server");
        RawNatsPingPong { client, inbox, replies }
    }

    /// `n` sequential round trips; checks every reply.
    ///
    /// # Panics
    ///
    /// On a lost or wrong reply.
    pub async fn pings(&mut self, n: u64, base: u64) {
        for i in base..base + n {
            let payload = Bytes::copy_from_slice(&i.to_le_bytes());
            self.client.publish_with_reply("bench.ping", self.inbox.clone(), payload).await.expect("published");
            let reply = self.replies.next().await.expect("a reply");
            let got = u64::from_le_bytes(reply.payload[..8].try_into().expect("8 bytes"));
            assert_eq!(got, i + 1, "raw NATS ping reply");
        }
    }
}

// ---------------------------------------------------------------------------
// The raw side: the same frames, by hand.
// ---------------------------------------------------------------------------

const VERSION: u8 = 1;
const TELL: u8 = 1;
const ASK: u8 = 2;
const REPLY: u8 = 3;
/// The raw sink's "actor id": any 16 bytes, checked on arrival.
const RAW_TARGET: u128 = 0x5EED_5EED_0123_4567_89AB_CDEF_0011_2233;

type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().max_frame_length(8 * 1024 * 1024).new_codec()
}

fn put_target(buf: &mut BytesMut, wire_name: &str) {
    buf.put_u128(RAW_TARGET);
    buf.put_u8(wire_name.len() as u8);
    buf.put_slice(wire_name.as_bytes());
}

fn encode_tell(buf: &mut BytesMut, payload: &[u8; PAYLOAD]) {
    let name = Data::WIRE_NAME;
    buf.reserve(2 + 16 + 1 + name.len() + 1 + PAYLOAD);
    buf.put_u8(VERSION);
    buf.put_u8(TELL);
    put_target(buf, name);
    // The payload's length, as postcard writes it for a run of bytes.
    buf.put_u8(PAYLOAD as u8);
    buf.put_slice(payload);
}

fn encode_ask(buf: &mut BytesMut, corr: u64, wire_name: &str, arg: u64) {
    buf.reserve(2 + 8 + 16 + 1 + wire_name.len() + 8);
    buf.put_u8(VERSION);
    buf.put_u8(ASK);
    buf.put_u64(corr);
    put_target(buf, wire_name);
    buf.put_u64_le(arg);
}

fn encode_reply(buf: &mut BytesMut, corr: u64, payload: &[u8]) {
    buf.reserve(2 + 8 + payload.len());
    buf.put_u8(VERSION);
    buf.put_u8(REPLY);
    buf.put_u64(corr);
    buf.put_slice(payload);
}

/// Frames one encoded body into `out` (length prefix and body).
fn frame_into(codec: &mut LengthDelimitedCodec, scratch: &mut BytesMut, out: &mut BytesMut) {
    codec.encode(scratch.split().freeze(), out).expect("a bench frame is under the limit");
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Checks the target and wire name of a tell or ask; returns the name.
fn take_target(frame: &mut Bytes) -> io::Result<Bytes> {
    if frame.remaining() < 17 || frame.get_u128() != RAW_TARGET {
        return Err(bad("unknown target"));
    }
    let len = frame.get_u8() as usize;
    if frame.remaining() < len {
        return Err(bad("truncated name"));
    }
    let name = frame.split_to(len);
    std::str::from_utf8(&name).map_err(|_| bad("name is not UTF-8"))?;
    Ok(name)
}

/// Decodes a reply frame: its correlation id and payload.
fn decode_reply(mut frame: Bytes) -> io::Result<(u64, Bytes)> {
    if frame.remaining() < 10 || frame.get_u8() != VERSION || frame.get_u8() != REPLY {
        return Err(bad("not a reply"));
    }
    Ok((frame.get_u64(), frame))
}

/// The raw server of one connection: decodes frames, counts tells (and sums
/// their sequence numbers), answers asks: `Totals` with the totals, `Ping`
/// with its argument plus one. The answers to all the frames already
/// received go out in one write. Returns when the client closes.
///
/// # Errors
///
/// On an I/O error or a malformed frame.
pub async fn raw_server(read: BoxRead, mut write: BoxWrite) -> io::Result<()> {
    let mut frames = FramedRead::new(read, codec());
    let mut codec = codec();
    let mut state = ServerState::default();
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        let Some(frame) = frames.next().await else { return Ok(()) };
        if let Some(reply) = state.handle(frame?)? {
            codec.encode(reply, &mut out)?;
        }
        // Everything already received, without waiting for more.
        while let Some(Some(frame)) = frames.next().now_or_never() {
            if let Some(reply) = state.handle(frame?)? {
                codec.encode(reply, &mut out)?;
            }
        }
        if !out.is_empty() {
            write.write_all(&out).await?;
            out.clear();
        }
    }
}

/// The raw server with the task layout of a node: a reader task hands each
/// frame to a handler task (the actor), which hands each reply to a writer
/// task that batches. Same work as [`raw_server`], two more hand-offs per
/// ask: this isolates what the hand-offs cost from what the framework adds.
///
/// # Errors
///
/// On an I/O error or a malformed frame.
pub async fn raw_server_hops(read: BoxRead, mut write: BoxWrite) -> io::Result<()> {
    let (to_handler, mut frames_rx) = mpsc::channel::<BytesMut>(RAW_QUEUE);
    let (to_writer, mut replies_rx) = mpsc::channel::<Bytes>(RAW_QUEUE);
    tokio::spawn(async move {
        let mut state = ServerState::default();
        while let Some(frame) = frames_rx.recv().await {
            match state.handle(frame) {
                Ok(Some(reply)) => {
                    if to_writer.send(reply).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => panic!("raw handler: {e}"),
            }
        }
    });
    tokio::spawn(async move {
        let mut codec = codec();
        let mut out = BytesMut::with_capacity(64 * 1024);
        let mut batch = Vec::with_capacity(RAW_QUEUE);
        while replies_rx.recv_many(&mut batch, RAW_QUEUE).await > 0 {
            for reply in batch.drain(..) {
                codec.encode(reply, &mut out).expect("a bench frame is under the limit");
            }
            if write.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    });
    let mut frames = FramedRead::new(read, codec());
    while let Some(frame) = frames.next().await {
        if to_handler.send(frame?).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// What a raw server knows: the totals of the tells so far.
#[derive(Default)]
struct ServerState {
    totals: Received,
    scratch: BytesMut,
}

impl ServerState {
    /// Handles one frame; returns the body of the reply, if it is an ask.
    fn handle(&mut self, frame: BytesMut) -> io::Result<Option<Bytes>> {
        let mut frame = frame.freeze();
        if frame.remaining() < 2 || frame.get_u8() != VERSION {
            return Err(bad("wrong version"));
        }
        match frame.get_u8() {
            TELL => {
                if take_target(&mut frame)?.as_ref() != Data::WIRE_NAME.as_bytes()
                    || frame.len() != 1 + PAYLOAD
                    || frame.get_u8() as usize != PAYLOAD
                {
                    return Err(bad("not a data tell"));
                }
                self.totals.count += 1;
                self.totals.sum = self.totals.sum.wrapping_add(seq_of(&frame));
                Ok(None)
            }
            ASK => {
                if frame.remaining() < 8 {
                    return Err(bad("truncated ask"));
                }
                let corr = frame.get_u64();
                let name = take_target(&mut frame)?;
                if frame.remaining() != 8 {
                    return Err(bad("ask argument is not 8 bytes"));
                }
                let arg = frame.get_u64_le();
                if name.as_ref() == Ping::WIRE_NAME.as_bytes() {
                    encode_reply(&mut self.scratch, corr, &arg.wrapping_add(1).to_le_bytes());
                } else if name.as_ref() == Totals::WIRE_NAME.as_bytes() {
                    let mut reply = [0u8; 16];
                    reply[..8].copy_from_slice(&self.totals.count.to_le_bytes());
                    reply[8..].copy_from_slice(&self.totals.sum.to_le_bytes());
                    encode_reply(&mut self.scratch, corr, &reply);
                } else {
                    return Err(bad("unknown ask"));
                }
                Ok(Some(self.scratch.split().freeze()))
            }
            _ => Err(bad("unknown kind")),
        }
    }
}

/// Which raw server a raw client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawServer {
    /// [`raw_server`]: one task reads, handles and answers.
    Direct,
    /// [`raw_server_hops`]: reader, handler and writer tasks, as a node.
    Hops,
}

fn spawn_server(server: RawServer, read: BoxRead, write: BoxWrite) {
    match server {
        RawServer::Direct => tokio::spawn(raw_server(read, write)),
        RawServer::Hops => tokio::spawn(raw_server_hops(read, write)),
    };
}

/// Connects a raw client to a freshly spawned raw server on the current
/// runtime, over `transport`. Returns the client's halves.
///
/// # Panics
///
/// If the sockets cannot be set up.
pub async fn raw_connect(transport: Transport, kind: RawServer) -> (BoxRead, BoxWrite) {
    match transport {
        Transport::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let address = listener.local_addr().expect("a bound address");
            let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
            let client = client.expect("connect");
            let (server, _) = accepted.expect("accept");
            client.set_nodelay(true).expect("TCP_NODELAY");
            server.set_nodelay(true).expect("TCP_NODELAY");
            let (r, w) = server.into_split();
            spawn_server(kind, Box::pin(r), Box::pin(w));
            let (r, w) = client.into_split();
            (Box::pin(r), Box::pin(w))
        }
        Transport::Unix => {
            let path = socket_path();
            let listener = UnixListener::bind(&path).expect("bind the socket");
            let (client, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
            let _ = std::fs::remove_file(&path);
            let client = client.expect("connect");
            let (server, _) = accepted.expect("accept");
            let (r, w) = server.into_split();
            spawn_server(kind, Box::pin(r), Box::pin(w));
            let (r, w) = client.into_split();
            (Box::pin(r), Box::pin(w))
        }
    }
}

/// A raw client with no task of its own: each ask writes one frame and
/// reads one frame. The floor of a round trip.
pub struct RawPingPong {
    read: FramedRead<BoxRead, LengthDelimitedCodec>,
    write: BoxWrite,
    codec: LengthDelimitedCodec,
    scratch: BytesMut,
    out: BytesMut,
    corr: u64,
}

impl std::fmt::Debug for RawPingPong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPingPong").field("corr", &self.corr).finish_non_exhaustive()
    }
}

impl RawPingPong {
    /// Connects to a fresh raw server.
    pub async fn connect(transport: Transport) -> RawPingPong {
        let (read, write) = raw_connect(transport, RawServer::Direct).await;
        RawPingPong {
            read: FramedRead::new(read, codec()),
            write,
            codec: codec(),
            scratch: BytesMut::with_capacity(256),
            out: BytesMut::with_capacity(256),
            corr: 0,
        }
    }

    /// One round trip: sends `Ping(n)`, returns the reply.
    ///
    /// # Panics
    ///
    /// On an I/O error or a reply to another request.
    pub async fn ping(&mut self, n: u64) -> u64 {
        self.corr += 1;
        encode_ask(&mut self.scratch, self.corr, Ping::WIRE_NAME, n);
        frame_into(&mut self.codec, &mut self.scratch, &mut self.out);
        self.write.write_all(&self.out).await.expect("raw write");
        self.out.clear();
        let frame = self.read.next().await.expect("the server answers").expect("raw read");
        let (corr, mut payload) = decode_reply(frame.freeze()).expect("a reply frame");
        assert_eq!(corr, self.corr, "raw reply to the wrong request");
        payload.get_u64_le()
    }

    /// `n` sequential pings; checks every reply.
    ///
    /// # Panics
    ///
    /// On a wrong reply.
    pub async fn pings(&mut self, n: u64, base: u64) {
        for i in base..base + n {
            assert_eq!(self.ping(i).await, i + 1, "raw ping reply");
        }
    }
}

/// What a [`RawClient`] sender hands its writer task.
enum Out {
    Tell([u8; PAYLOAD]),
    Ask { wire_name: &'static str, arg: u64, reply: oneshot::Sender<Bytes> },
}

type Waiting = Arc<Mutex<VecDeque<(u64, oneshot::Sender<Bytes>)>>>;

/// The hand-written batched pipeline: a bounded queue of frames, one writer
/// task that drains it into one buffer per write, one reader task that
/// completes the asks in order. Cheap to clone.
#[derive(Clone)]
pub struct RawClient {
    tx: mpsc::Sender<Out>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient").finish_non_exhaustive()
    }
}

impl RawClient {
    /// Connects to a fresh raw server of the kind `server` and starts the
    /// writer and reader tasks on the current runtime.
    pub async fn connect(transport: Transport, server: RawServer) -> RawClient {
        let (read, write) = raw_connect(transport, server).await;
        let (tx, rx) = mpsc::channel(RAW_QUEUE);
        let waiting: Waiting = Arc::default();
        tokio::spawn(raw_writer(rx, write, waiting.clone()));
        tokio::spawn(raw_reader(read, waiting));
        RawClient { tx }
    }

    async fn ask(&self, wire_name: &'static str, arg: u64) -> Bytes {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Out::Ask { wire_name, arg, reply }).await.is_err() {
            panic!("the raw writer stopped");
        }
        rx.await.expect("the raw reader answers")
    }

    /// The raw sink's totals (a barrier behind every tell sent before).
    pub async fn totals(&self) -> Received {
        let mut reply = self.ask(Totals::WIRE_NAME, 0).await;
        Received { count: reply.get_u64_le(), sum: reply.get_u64_le() }
    }

    /// As [`remote_tell_burst`], over the raw pipeline.
    ///
    /// # Panics
    ///
    /// If a send fails or the totals are wrong.
    pub async fn tell_burst(&self, n: u64, before: Received) -> Received {
        for seq in 0..n {
            if self.tx.send(Out::Tell(payload(seq))).await.is_err() {
                panic!("the raw writer stopped");
            }
        }
        let after = self.totals().await;
        assert_eq!(after, before.after(n), "raw sink totals after {n} tells");
        after
    }

    /// As [`remote_asks`], over the raw pipeline.
    ///
    /// # Panics
    ///
    /// On a wrong reply.
    pub async fn asks(&self, n: u64, base: u64) {
        for i in base..base + n {
            let mut reply = self.ask(Ping::WIRE_NAME, i).await;
            assert_eq!(reply.get_u64_le(), i + 1, "raw ping reply");
        }
    }

    /// As [`remote_pipelined`], over the raw pipeline.
    ///
    /// # Panics
    ///
    /// On a wrong reply.
    pub async fn pipelined(&self, tasks: u64, per_task: u64) {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let client = self.clone();
                tokio::spawn(async move { client.asks(per_task, t * per_task).await })
            })
            .collect();
        for handle in handles {
            handle.await.expect("an asker panicked");
        }
    }
}

async fn raw_writer(mut rx: mpsc::Receiver<Out>, mut write: BoxWrite, waiting: Waiting) {
    let mut codec = codec();
    let mut scratch = BytesMut::with_capacity(4096);
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut batch = Vec::with_capacity(RAW_QUEUE);
    let mut corr = 0u64;
    while rx.recv_many(&mut batch, RAW_QUEUE).await > 0 {
        for queued in batch.drain(..) {
            match queued {
                Out::Tell(payload) => encode_tell(&mut scratch, &payload),
                Out::Ask { wire_name, arg, reply } => {
                    corr += 1;
                    encode_ask(&mut scratch, corr, wire_name, arg);
                    waiting.lock().unwrap_or_else(PoisonError::into_inner).push_back((corr, reply));
                }
            }
            frame_into(&mut codec, &mut scratch, &mut out);
        }
        if write.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
}

async fn raw_reader(read: BoxRead, waiting: Waiting) {
    let mut frames = FramedRead::new(read, codec());
    while let Some(Ok(frame)) = frames.next().await {
        let (corr, payload) = decode_reply(frame.freeze()).expect("a reply frame");
        let (expected, reply) =
            waiting.lock().unwrap_or_else(PoisonError::into_inner).pop_front().expect("a reply to a request");
        assert_eq!(corr, expected, "raw replies arrive in order");
        let _ = reply.send(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_same_length_on_both_sides() {
        // Ours: the tell header of actor-remote's frame.rs plus the
        // [u8; 32] as a run of bytes (a one-byte length, then the bytes).
        let ours = 2 + 16 + 1 + Data::WIRE_NAME.len() + 1 + PAYLOAD;
        let mut raw = BytesMut::new();
        encode_tell(&mut raw, &payload(7));
        assert_eq!(raw.len(), ours);
        assert_eq!(seq_of(&raw[raw.len() - PAYLOAD..]), 7);
    }

    #[test]
    fn totals_after_adds_the_sequence_sum() {
        let t = Received { count: 3, sum: 10 }.after(4);
        assert_eq!(t, Received { count: 7, sum: 16 });
    }

    async fn every_path_checks_out(transport: Transport) {
        let pair = RemotePair::start(transport).await;
        let start = pair.totals().await;
        let after = remote_tell_burst(&pair.remote, 1_000, start).await;
        remote_tell_burst(&pair.remote, 3_000, after).await;
        remote_asks(&pair.remote, 100, 5).await;
        remote_pipelined(&pair.remote, 8, 10).await;
        pair.shutdown().await;

        let raw = RawClient::connect(transport, RawServer::Direct).await;
        let start = raw.totals().await;
        assert_eq!(start, Received::default());
        let after = raw.tell_burst(1_000, start).await;
        raw.tell_burst(3_000, after).await;
        raw.asks(100, 5).await;
        raw.pipelined(8, 10).await;

        let mut pp = RawPingPong::connect(transport).await;
        pp.pings(100, 5).await;

        let hops = RawClient::connect(transport, RawServer::Hops).await;
        let after = hops.tell_burst(2_000, Received::default()).await;
        assert_eq!(hops.totals().await, after);
        hops.asks(100, 5).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_paths_deliver_and_check() {
        tokio::time::timeout(std::time::Duration::from_secs(30), every_path_checks_out(Transport::Tcp))
            .await
            .expect("in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unix_paths_deliver_and_check() {
        tokio::time::timeout(std::time::Duration::from_secs(30), every_path_checks_out(Transport::Unix))
            .await
            .expect("in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_nats_pair_delivers_and_checks() {
        let Some(server) = NatsServer::start() else {
            eprintln!("*** skipped: nats-server not installed (apt-get install nats-server) ***");
            return;
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            let pair = RemotePair::start_nats(&server.url).await;
            let start = pair.totals().await;
            remote_tell_burst(&pair.remote, 3_000, start).await;
            remote_asks(&pair.remote, 100, 5).await;
            remote_pipelined(&pair.remote, 8, 10).await;
            pair.shutdown().await;
            RawNatsPingPong::connect(&server.url).await.pings(100, 5).await;
        })
        .await
        .expect("in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "raw sink totals")]
    async fn a_short_burst_is_caught() {
        let raw = RawClient::connect(Transport::Tcp, RawServer::Direct).await;
        // Claims a start of one tell more than the sink has seen.
        raw.tell_burst(10, Received { count: 1, sum: 0 }).await;
    }
}
