//! The NATS transport (feature `nats`): nodes reach each other through a
//! NATS server instead of dialing sockets.
//!
//! NATS is one more kind of byte stream under the node, not a second
//! protocol stack: a *virtual connection* ([`stream::NatsStream`]) carries
//! the same handshake and frames as a TCP connection, so everything above
//! it (authentication, framing, the coalescing writer, per-actor credit,
//! heartbeats, `NodeDown`, reconnection, dead letters) works unchanged.
//!
//! Subjects, under a prefix (`actors` unless [`NatsOptions::prefix`] says
//! otherwise):
//!
//! | subject | what |
//! | --- | --- |
//! | `<prefix>.node.<name>.connect` | a listening node's door: a NATS request opens a virtual connection |
//! | two `_INBOX.<random>` subjects | one virtual connection, one subject per direction, exchanged in the connect request and its reply |
//! | `<prefix>.discover` | every listening node answers a request with its name and address ([`Node::discover`](crate::Node::discover)) |
//! | `<prefix>.group.<name>` | a queue group of actors serving one name ([`Node::serve_group`](crate::Node::serve_group), [`Node::group`](crate::Node::group)) |
//!
//! Dialing `nats://server/name` subscribes to a fresh inbox, then sends a
//! request to the node's door naming that inbox; the node subscribes to an
//! inbox of its own and replies with it. "No responders" means no node of
//! that name is there: the dial fails at once with a refused connection,
//! never a hang.

mod group;
pub(crate) mod stream;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use async_nats::{Client, Event, Subject, Subscriber};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::address::is_subject_token;
use crate::connection::Connection;
use crate::error::NodeError;

use self::stream::NatsStream;

/// The version of the connect request and reply.
const CONNECT_VERSION: u8 = 1;

/// How a node uses NATS: the subject prefix, the credentials and TLS for
/// the server, and the flow-control window of virtual connections. Given
/// to [`NodeBuilder::nats`](crate::NodeBuilder::nats); the defaults work
/// with a local server without authentication.
///
/// The NATS credentials only let the node onto the server. What crosses a
/// virtual connection is still authenticated by the nodes' own handshake
/// (the shared secret), and group messages are signed with it.
///
/// # Examples
///
/// ```
/// use actor_remote::NatsOptions;
///
/// let options = NatsOptions::new()
///     .prefix("shop")?
///     .user_and_password("orders", "s3cret")
///     .require_tls(true)
///     .window(4 * 1024 * 1024);
/// assert_eq!(options.subject_prefix(), "shop");
/// assert!(NatsOptions::new().prefix("two.tokens").is_err());
/// # Ok::<(), actor_remote::NodeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NatsOptions {
    prefix: String,
    window: u64,
    connect: async_nats::ConnectOptions,
    credentials_file: Option<PathBuf>,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            prefix: "actors".to_owned(),
            window: 2 * 1024 * 1024,
            connect: async_nats::ConnectOptions::new(),
            credentials_file: None,
        }
    }
}

impl NatsOptions {
    /// The defaults: prefix `actors`, a 2 MiB window, no credentials.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::NatsOptions;
    ///
    /// assert_eq!(NatsOptions::new().subject_prefix(), "actors");
    /// ```
    pub fn new() -> Self {
        NatsOptions::default()
    }

    /// The first token of every subject the node uses, so that several
    /// clusters can share a server.
    ///
    /// # Errors
    ///
    /// [`NodeError::Nats`] unless `prefix` is one subject token (ASCII
    /// letters, digits, `-`, `_`).
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::{NatsOptions, NodeError};
    ///
    /// let options = NatsOptions::new().prefix("staging")?;
    /// assert_eq!(options.subject_prefix(), "staging");
    /// for bad in ["", "a.b", "a*", "with space"] {
    ///     assert!(matches!(NatsOptions::new().prefix(bad), Err(NodeError::Nats(_))), "{bad:?}");
    /// }
    /// # Ok::<(), NodeError>(())
    /// ```
    pub fn prefix(mut self, prefix: &str) -> Result<Self, NodeError> {
        if !is_subject_token(prefix) {
            return Err(NodeError::Nats(format!(
                "the subject prefix {prefix:?} must be one token of ASCII letters, digits, '-' or '_'"
            )));
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// The subject prefix in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use actor_remote::NatsOptions;
    ///
    /// assert_eq!(NatsOptions::new().subject_prefix(), "actors");
    /// assert_eq!(NatsOptions::new().prefix("shop")?.subject_prefix(), "shop");
    /// # Ok::<(), actor_remote::NodeError>(())
    /// ```
    pub fn subject_prefix(&self) -> &str {
        &self.prefix
    }

    /// Logs onto the server with a user name and password.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222 that knows this user.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().user_and_password("orders", "s3cret");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn user_and_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.connect = self.connect.user_and_password(user.into(), password.into());
        self
    }

    /// Logs onto the server with a token.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222 that asks for this token.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().token("s3cret-token");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.connect = self.connect.token(token.into());
        self
    }

    /// Logs onto the server with a credentials file (a user JWT and its
    /// NKey seed), read when the node connects.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222 that trusts this user, and the file.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().credentials_file("/etc/actors/worker.creds");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials_file = Some(path.into());
        self
    }

    /// Refuses a server connection without TLS.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on nats.internal:4222 with TLS.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().require_tls(true).root_certificates("/etc/actors/ca.pem");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://nats.internal:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn require_tls(mut self, required: bool) -> Self {
        self.connect = self.connect.require_tls(required);
        self
    }

    /// Trusts the CA certificates in this PEM file for the server's TLS
    /// certificate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on nats.internal:4222 with a certificate from this CA.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().root_certificates("/etc/actors/ca.pem");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://nats.internal:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.connect = self.connect.add_root_certificates(path.into());
        self
    }

    /// Presents this client certificate and key (PEM files) to the server.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on nats.internal:4222 that verifies client certificates.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new()
    ///     .root_certificates("/etc/actors/ca.pem")
    ///     .client_certificate("/etc/actors/worker.pem", "/etc/actors/worker.key");
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://nats.internal:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.connect = self.connect.add_client_certificate(cert.into(), key.into());
        self
    }

    /// Starts from these async-nats options, for anything not offered
    /// above. The node still sets the client's name, its subscription
    /// capacity (from the window) and its event callback (how it learns of
    /// lost server connections and slow consumers), replacing any set here.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222.
    /// use std::time::Duration;
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let client = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2));
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(NatsOptions::new().connect_options(client).token("s3cret-token"))
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn connect_options(mut self, options: async_nats::ConnectOptions) -> Self {
        self.connect = options;
        self
    }

    /// Bytes a virtual connection may have in flight, unread by the peer,
    /// before its writer waits (each NATS message counts 256 bytes more).
    /// At least about 257 KiB. A NATS client's connections together stay
    /// within the server's slow-consumer limit (`max_pending`, 64 MiB by
    /// default) while `window x connections` does.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222.
    /// use actor_core::prelude::*;
    /// use actor_remote::{NatsOptions, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actor_remote::NodeError> {
    /// let options = NatsOptions::new().window(8 * 1024 * 1024);
    /// let node = Node::builder(ActorSystem::new())
    ///     .nats(options)
    ///     .listen("nats://127.0.0.1:4222/worker-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// assert_eq!(node.name(), "worker-1");
    /// # Ok(()) }
    /// ```
    pub fn window(mut self, bytes: usize) -> Self {
        self.window = (bytes as u64).max(stream::MIN_WINDOW);
        self
    }
}

/// A node seen on the NATS server by [`Node::discover`](crate::Node::discover).
///
/// # Examples
///
/// With a NATS server on its default port:
///
/// ```no_run
/// use std::time::Duration;
///
/// use actor_core::prelude::*;
/// use actor_remote::{NatsPeer, Node};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let start = |name: &str| {
///     let builder = Node::builder(ActorSystem::new()).secret("cookie");
///     let address = format!("nats://127.0.0.1:4222/{name}");
///     async move { builder.listen(&address)?.start().await }
/// };
/// let (one, _two) = (start("worker-1").await?, start("worker-2").await?);
///
/// let peers: Vec<NatsPeer> = one.discover(Duration::from_millis(200)).await?;
/// let two = peers.iter().find(|p| p.name == "worker-2").expect("worker-2 answers");
/// assert_eq!(two.address, "nats://127.0.0.1:4222/worker-2");
/// one.connect(&two.address).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NatsPeer {
    /// The node's name.
    pub name: String,
    /// Its address, to give to [`Node::connect`](crate::Node::connect).
    pub address: String,
}

/// What the NATS client of one server reported, and the virtual
/// connections riding on it.
pub(crate) struct Events {
    url: String,
    streams: Mutex<Vec<Weak<stream::Shared>>>,
    note: Mutex<Option<(Instant, String)>>,
}

impl Events {
    fn new(url: &str) -> Self {
        Events { url: url.to_owned(), streams: Mutex::new(Vec::new()), note: Mutex::new(None) }
    }

    /// Follows a new virtual connection, to fail it if the server
    /// connection is lost.
    pub(crate) fn track(&self, stream: &Arc<stream::Shared>) {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if streams.len() >= 32 && streams.len().is_power_of_two() {
            streams.retain(|s| s.upgrade().is_some_and(|s| !s.is_done()));
        }
        streams.push(Arc::downgrade(stream));
    }

    /// What the client reported in the last minute, to append to a loss's
    /// reason.
    pub(crate) fn note(&self) -> String {
        match &*self.note.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((at, what)) if at.elapsed() < Duration::from_secs(60) => format!("; the NATS client reported: {what}"),
            _ => String::new(),
        }
    }

    fn remember(&self, what: String) {
        *self.note.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), what));
    }

    fn fail_all(&self, why: &str) {
        let streams: Vec<_> = std::mem::take(&mut *self.streams.lock().unwrap_or_else(PoisonError::into_inner));
        for stream in streams.iter().filter_map(Weak::upgrade) {
            stream.fail(why);
        }
    }

    fn handle(&self, event: Event) {
        match event {
            Event::Disconnected => {
                tracing::warn!(server = %self.url, "lost the connection to the NATS server");
                self.remember(format!("disconnected from {}", self.url));
                // Whatever was in flight is gone: core NATS does not resend.
                self.fail_all(&format!(
                    "lost the connection to the NATS server {}: messages in flight were dropped",
                    self.url
                ));
            }
            Event::Closed => {
                self.remember("the client was closed".to_owned());
                self.fail_all(&format!("the NATS client of {} was closed", self.url));
            }
            Event::SlowConsumer(sid) => {
                tracing::warn!(server = %self.url, sid, "the NATS client dropped messages of a slow consumer");
                self.remember(format!("slow consumer: subscription {sid} dropped messages"));
            }
            Event::ServerError(e) => {
                tracing::warn!(server = %self.url, error = %e, "the NATS server reported an error");
                self.remember(format!("server error: {e}"));
            }
            Event::ClientError(e) => {
                tracing::warn!(server = %self.url, error = %e, "NATS client error");
                self.remember(format!("client error: {e}"));
            }
            other => tracing::debug!(server = %self.url, event = %other, "NATS client event"),
        }
    }
}

/// One client connection to one NATS server.
pub(crate) struct Server {
    pub(crate) client: Client,
    pub(crate) events: Arc<Events>,
    pub(crate) url: String,
}

/// A node's NATS side: its options and one client per server it uses.
pub(crate) struct Hub {
    pub(crate) options: NatsOptions,
    node: String,
    servers: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<Server>>>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("prefix", &self.options.prefix).finish()
    }
}

/// Returns once the server has applied everything `client` sent before,
/// its subscriptions included.
///
/// `Client::flush` only writes the socket: a subscription flushed that way
/// may still be unknown to the server when another connection publishes
/// to it, which then finds "no responders". The server handles one
/// connection's commands in order, so the answer to a request on a subject
/// nobody serves (its "no responders" status) comes back only after the
/// earlier commands took effect. This works whether or not the client
/// echoes its own messages.
pub(crate) async fn settled(client: &Client) -> Result<(), String> {
    use async_nats::client::RequestErrorKind as K;
    let nobody = client.new_inbox();
    let probe = async_nats::Request::new().timeout(Some(Duration::from_secs(10)));
    match client.send_request(nobody, probe).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == K::NoResponders => Ok(()),
        Err(e) => Err(format!("the server did not confirm the subscription: {e}")),
    }
}

impl Hub {
    pub(crate) fn new(options: NatsOptions, node: &str) -> Self {
        Hub { options, node: node.to_owned(), servers: Mutex::new(HashMap::new()) }
    }

    fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.options.prefix)
    }

    /// The subject of the queue group `group`.
    pub(crate) fn group_subject(&self, group: &str) -> String {
        self.subject(&format!("group.{group}"))
    }

    /// The client for `url`, connecting on first use.
    pub(crate) async fn server(&self, url: &str) -> Result<Arc<Server>, NodeError> {
        let cell =
            self.servers.lock().unwrap_or_else(PoisonError::into_inner).entry(url.to_owned()).or_default().clone();
        cell.get_or_try_init(|| self.connect(url)).await.cloned()
    }

    async fn connect(&self, url: &str) -> Result<Arc<Server>, NodeError> {
        let events = Arc::new(Events::new(url));
        let mut options = self.options.connect.clone();
        if let Some(path) = &self.options.credentials_file {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| NodeError::Nats(format!("cannot read the credentials file {}: {e}", path.display())))?;
        }
        // Room for every message a full window can hold, twice over.
        let capacity = (2 * self.options.window / stream::CHUNK_COST).max(64 * 1024) as usize;
        let handler = events.clone();
        let client = options
            .name(format!("actor-remote node {}", self.node))
            .subscription_capacity(capacity)
            .event_callback(move |event| {
                let handler = handler.clone();
                async move { handler.handle(event) }
            })
            .connect(url)
            .await
            .map_err(|e| NodeError::Nats(format!("cannot connect to the NATS server {url}: {e}")))?;
        tracing::info!(server = url, "connected to the NATS server");
        Ok(Arc::new(Server { client, events, url: url.to_owned() }))
    }

    /// Opens a virtual connection to the node `node` on `url`.
    pub(crate) async fn dial(&self, url: &str, node: &str, timeout: Duration) -> Result<Connection, NodeError> {
        let server = self.server(url).await?;
        let client = &server.client;
        let read_from = client.new_inbox();
        let incoming = client
            .subscribe(read_from.clone())
            .await
            .map_err(|e| NodeError::Nats(format!("cannot subscribe on {url}: {e}")))?;
        let request = async_nats::Request::new().payload(connect_message(&read_from)).timeout(Some(timeout));
        let door = self.subject(&format!("node.{node}.connect"));
        let answer = client.send_request(door, request).await.map_err(|e| {
            use async_nats::client::RequestErrorKind as K;
            match e.kind() {
                K::NoResponders => NodeError::Io(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("no node named {node:?} on the NATS server {url} (no responders)"),
                )),
                K::TimedOut => NodeError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("node {node:?} did not answer on the NATS server {url} within {timeout:?}"),
                )),
                _ => NodeError::Nats(format!("the connect request to {node:?} on {url} failed: {e}")),
            }
        })?;
        let accepter = parse_connect(&answer.payload)
            .ok_or_else(|| NodeError::Nats(format!("node {node:?} sent a malformed connect answer")))?;
        let stream =
            NatsStream::new(client.clone(), &server.events, incoming, &read_from, accepter, self.options.window);
        let shared = stream.shared().clone();
        Ok(Connection { stream: Box::pin(stream), abort: Some(shared.clone()), seal: Some(shared) })
    }

    /// Starts answering connect requests for `node` on `url`.
    pub(crate) async fn listen(&self, url: &str, node: &str) -> Result<Acceptor, NodeError> {
        let server = self.server(url).await?;
        let door = self.subject(&format!("node.{node}.connect"));
        let requests = server
            .client
            .subscribe(door.clone())
            .await
            .map_err(|e| NodeError::Nats(format!("cannot subscribe to {door}: {e}")))?;
        // Once the node has started, the server knows its door.
        settled(&server.client).await.map_err(|e| NodeError::Nats(format!("cannot subscribe to {door}: {e}")))?;
        Ok(Acceptor { server, requests: tokio::sync::Mutex::new(requests), window: self.options.window })
    }

    /// Answers discovery requests with `me` as long as `alive` says the
    /// node is.
    pub(crate) async fn announce(&self, url: &str, me: NatsPeer, alive: impl Fn() -> bool + Send + 'static) {
        let Ok(server) = self.server(url).await else { return };
        let subject = self.subject("discover");
        let mut requests = match server.client.subscribe(subject.clone()).await {
            Ok(requests) => requests,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "cannot answer discovery requests");
                return;
            }
        };
        let _ = settled(&server.client).await;
        let answer: bytes::Bytes = postcard::to_allocvec(&me).expect("a peer description encodes").into();
        let client = server.client.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                if !alive() {
                    break;
                }
                if let Some(reply) = request.reply {
                    let _ = client.publish(reply, answer.clone()).await;
                }
            }
        });
    }

    /// The nodes that answer a discovery request on `url` within `wait`.
    pub(crate) async fn discover(&self, url: &str, wait: Duration) -> Result<Vec<NatsPeer>, NodeError> {
        let server = self.server(url).await?;
        let inbox = server.client.new_inbox();
        let mut answers = server
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| NodeError::Nats(format!("cannot subscribe on {url}: {e}")))?;
        server
            .client
            .publish_with_reply(self.subject("discover"), inbox, bytes::Bytes::new())
            .await
            .map_err(|e| NodeError::Nats(format!("cannot publish on {url}: {e}")))?;
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, answers.next()).await {
            match postcard::from_bytes::<NatsPeer>(&answer.payload) {
                Ok(peer) if !seen.contains(&peer) => seen.push(peer),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "an undecodable discovery answer was ignored"),
            }
        }
        seen.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(seen)
    }
}

/// A connect request or its answer: the version, then the subject the
/// sender reads.
fn connect_message(read_from: &str) -> bytes::Bytes {
    let mut message = Vec::with_capacity(1 + read_from.len());
    message.push(CONNECT_VERSION);
    message.extend_from_slice(read_from.as_bytes());
    message.into()
}

/// The subject in a connect request or answer, if it is one a peer may
/// name: printable ASCII, no wildcard, at most 256 bytes.
fn parse_connect(message: &[u8]) -> Option<Subject> {
    let (&version, subject) = message.split_first()?;
    let subject = std::str::from_utf8(subject).ok()?;
    let valid = version == CONNECT_VERSION
        && (1..=256).contains(&subject.len())
        && subject.bytes().all(|b| b.is_ascii_graphic())
        && subject.split('.').all(|t| !t.is_empty() && t != "*" && t != ">");
    valid.then(|| Subject::from(subject.to_owned()))
}

/// A node's door on a NATS server: each connect request becomes a virtual
/// connection.
pub(crate) struct Acceptor {
    server: Arc<Server>,
    requests: tokio::sync::Mutex<Subscriber>,
    window: u64,
}

impl Acceptor {
    pub(crate) async fn accept(&self) -> io::Result<(Connection, String)> {
        let mut requests = self.requests.lock().await;
        loop {
            let Some(request) = requests.next().await else {
                // The client is closed for good; do not let the accept loop
                // spin on it.
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Err(io::Error::new(io::ErrorKind::NotConnected, "the NATS subscription for connections ended"));
            };
            let (Some(reply), Some(dialer)) = (request.reply, parse_connect(&request.payload)) else {
                tracing::warn!(server = %self.server.url, "a malformed connect request was ignored");
                continue;
            };
            let client = &self.server.client;
            let read_from = client.new_inbox();
            let incoming = match client.subscribe(read_from.clone()).await {
                Ok(incoming) => incoming,
                Err(e) => {
                    tracing::warn!(server = %self.server.url, error = %e, "cannot subscribe for a new connection");
                    continue;
                }
            };
            let stream =
                NatsStream::new(client.clone(), &self.server.events, incoming, &read_from, dialer, self.window);
            // Subscribed before answering: the dialer's first chunk cannot
            // arrive before the subscription.
            if let Err(e) = client.publish(reply, connect_message(&read_from)).await {
                tracing::warn!(server = %self.server.url, error = %e, "cannot answer a connect request");
                continue;
            }
            let shared = stream.shared().clone();
            let from = format!("nats:{}", self.server.url);
            return Ok((
                Connection { stream: Box::pin(stream), abort: Some(shared.clone()), seal: Some(shared) },
                from,
            ));
        }
    }
}
