//! Queue groups: one name served by actors on any number of nodes; NATS
//! hands each message to one of them.
//!
//! [`Node::serve_group`] subscribes an actor to `<prefix>.group.<name>`
//! in the NATS queue group `<name>`; [`Node::group`] returns an ordinary
//! `ActorRef<A>` whose messages are NATS requests to that subject:
//!
//! - a **tell** is answered once the message is in a member's mailbox
//!   (after waiting for room, if it was full), so it is acknowledged, not
//!   fire-and-forget: no member ("no responders") or no answer in time is
//!   a dead letter saying so, and while the group has had no member for
//!   the last second, a tell fails at once with `NodeDown`;
//! - an **ask** is answered with the reply, or with the failure;
//! - at most [`Limits::credit_window`](crate::limits::Limits::credit_window)
//!   requests per reference are in flight: senders wait beyond it.
//!
//! Every request is signed with HMAC-SHA256 of the node's shared secret
//! over the subject, a timestamp, a nonce, the kind, the wire name and the
//! payload; a member refuses (and logs) one that is unsigned, badly signed
//! or older than [`FRESHNESS`]. Answers are signed too, bound to the
//! request's nonce. A group gives no FIFO order: requests travel
//! concurrently and NATS picks a member for each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actor_core::transport::{
    self, Outgoing, RefCodec, Refused, RemoteEndpoint, RemoteFailure, Terminable, TerminationNotice, Undelivered,
    WireRef,
};
use actor_core::{ActorId, ActorRef, DeadLetterReason, RemoteActor};
use async_nats::{Client, Subject};
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::address::is_subject_token;
use crate::error::NodeError;
use crate::frame::WireFailure;
use crate::node::{Node, NodeInner};

const VERSION: u8 = 1;
const TELL: u8 = 1;
const ASK: u8 = 2;
const OK: u8 = 0;
const FAILED: u8 = 1;
const MAC: usize = 32;
const NONCE: usize = 16;
const REQUEST_LABEL: &[u8] = b"actor-remote group request v1";
const ANSWER_LABEL: &[u8] = b"actor-remote group answer v1";

/// How old (or how far in the future, for clocks that differ) a signed
/// group request may be.
pub(crate) const FRESHNESS: Duration = Duration::from_secs(30);

/// How long a group request waits for its answer: a tell for a mailbox
/// with room, an ask for its handler.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn mac(secret: &[u8], label: &[u8], context: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(label);
    mac.update(&(context.len() as u32).to_be_bytes());
    mac.update(context);
    mac.update(body);
    mac
}

/// `[mac][version][kind][timestamp][nonce][wire name length][wire name][payload]`
fn sign_request(secret: &[u8], subject: &str, kind: u8, wire_name: &str, payload: &[u8]) -> (Bytes, [u8; NONCE]) {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce).expect("the OS has randomness");
    let mut body = BytesMut::with_capacity(MAC + 2 + 8 + NONCE + 1 + wire_name.len() + payload.len());
    body.put_bytes(0, MAC);
    body.put_u8(VERSION);
    body.put_u8(kind);
    body.put_u64(now_millis());
    body.put_slice(&nonce);
    body.put_u8(wire_name.len() as u8);
    body.put_slice(wire_name.as_bytes());
    body.put_slice(payload);
    let tag = mac(secret, REQUEST_LABEL, subject.as_bytes(), &body[MAC..]).finalize().into_bytes();
    body[..MAC].copy_from_slice(&tag);
    (body.freeze(), nonce)
}

/// A verified request.
struct Request {
    kind: u8,
    nonce: [u8; NONCE],
    wire_name: String,
    payload: Bytes,
}

fn verify_request(secret: &[u8], subject: &str, message: &Bytes) -> Result<Request, &'static str> {
    if message.len() < MAC + 2 + 8 + NONCE + 1 {
        return Err("too short to be signed");
    }
    let (tag, body) = message.split_at(MAC);
    mac(secret, REQUEST_LABEL, subject.as_bytes(), body).verify_slice(tag).map_err(|_| "bad signature")?;
    if body[0] != VERSION {
        return Err("unknown version");
    }
    let kind = body[1];
    let sent = u64::from_be_bytes(body[2..10].try_into().expect("8 bytes"));
    if now_millis().abs_diff(sent) > FRESHNESS.as_millis() as u64 {
        return Err("stale (or the clocks differ by more than 30 s)");
    }
    let nonce: [u8; NONCE] = body[10..10 + NONCE].try_into().expect("16 bytes");
    let at = 10 + NONCE;
    let len = usize::from(body[at]);
    let name = body.get(at + 1..at + 1 + len).ok_or("truncated")?;
    let wire_name = std::str::from_utf8(name).map_err(|_| "wire name not UTF-8")?.to_owned();
    let payload = message.slice(MAC + at + 1 + len..);
    Ok(Request { kind, nonce, wire_name, payload })
}

/// `[mac][status][payload or postcard failure]`
fn sign_answer(secret: &[u8], nonce: &[u8; NONCE], status: u8, payload: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(MAC + 1 + payload.len());
    body.put_bytes(0, MAC);
    body.put_u8(status);
    body.put_slice(payload);
    let tag = mac(secret, ANSWER_LABEL, nonce, &body[MAC..]).finalize().into_bytes();
    body[..MAC].copy_from_slice(&tag);
    body.freeze()
}

fn verify_answer(secret: &[u8], nonce: &[u8; NONCE], message: &Bytes) -> Option<(u8, Bytes)> {
    if message.len() < MAC + 1 {
        return None;
    }
    let (tag, body) = message.split_at(MAC);
    mac(secret, ANSWER_LABEL, nonce, body).verify_slice(tag).ok()?;
    Some((body[0], message.slice(MAC + 1..)))
}

fn failure_answer(secret: &[u8], nonce: &[u8; NONCE], failure: &WireFailure) -> Bytes {
    let encoded = postcard::to_allocvec(failure).expect("a failure encodes");
    sign_answer(secret, nonce, FAILED, &encoded)
}

impl Node {
    /// Makes `actor` a member of the queue group `group` on this node's
    /// NATS server: a message sent to [`Node::group`]`(group)` from any
    /// node reaches one member. Call it for each worker of a
    /// [`Pool`](actor_core::Pool) to spread a pool over nodes. Membership
    /// ends when the actor stops or the node shuts down.
    ///
    /// Only messages signed with this node's shared secret are delivered.
    ///
    /// # Errors
    ///
    /// [`NodeError::Nats`] if the node does not listen on NATS, the name
    /// is not one subject token, or the subscription fails;
    /// [`NodeError::NotLocal`] for a remote reference.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use actor_core::prelude::*;
    /// # use actor_core::Pool;
    /// # use actor_remote::Node;
    /// # struct Resizer;
    /// # #[actor] impl Resizer { #[message(remote)] fn resize(&mut self, w: u32) -> u32 { w / 2 } }
    /// # async fn demo(node: Node) -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Pool::builder(4, || Resizer).spawn(node.system()).await?;
    /// for worker in pool.workers() {
    ///     node.serve_group("resize", worker).await?;
    /// }
    /// // On any node of the same NATS server and secret:
    /// let resize: ActorRef<Resizer> = node.group("resize").await?;
    /// assert_eq!(resize.resize(640).await?, 320);
    /// # Ok(()) }
    /// ```
    pub async fn serve_group<A: RemoteActor>(&self, group: &str, actor: &ActorRef<A>) -> Result<(), NodeError> {
        check_group(group)?;
        let exported = transport::export(actor).ok_or(NodeError::NotLocal)?;
        let (hub, url) = self.inner.nats_home()?;
        let server = hub.server(&url).await?;
        let subject = hub.group_subject(group);
        let requests = server
            .client
            .queue_subscribe(subject.clone(), group.to_owned())
            .await
            .map_err(|e| NodeError::Nats(format!("cannot join the queue group {group}: {e}")))?;
        // Once this returns, the server knows the member.
        super::settled(&server.client)
            .await
            .map_err(|e| NodeError::Nats(format!("cannot join the queue group {group}: {e}")))?;
        let stopped = Arc::new(tokio::sync::Notify::new());
        let signal = stopped.clone();
        exported.on_terminated(Box::new(move |_, _| signal.notify_one()));
        let member = Member {
            client: server.client.clone(),
            subject,
            group: group.to_owned(),
            exported,
            node: Arc::downgrade(&self.inner),
            secret: self.inner.secret.clone(),
        };
        tokio::spawn(member.serve(requests, stopped));
        Ok(())
    }

    /// A reference to the queue group `group` on this node's NATS server:
    /// each message goes to one member, on whichever node (see
    /// [`Node::serve_group`]). It is an ordinary `ActorRef<A>`: `tell`,
    /// `ask`, timeouts and the typed client work, and a tell is
    /// acknowledged once a member has queued it.
    ///
    /// A group reference never terminates (monitors on it never fire),
    /// cannot be sent inside a message, and keeps no FIFO order.
    ///
    /// # Errors
    ///
    /// [`NodeError::Nats`] if the node does not listen on NATS or the name
    /// is not one subject token.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Needs a NATS server on 127.0.0.1:4222.
    /// use actor_core::prelude::*;
    /// use actor_remote::Node;
    ///
    /// struct Resizer;
    ///
    /// #[actor]
    /// impl Resizer {
    ///     #[message(remote)]
    ///     fn resize(&mut self, width: u32) -> u32 {
    ///         width / 2
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Node::builder(ActorSystem::new())
    ///     .listen("nats://127.0.0.1:4222/server-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// server.serve_group("resize", &server.system().spawn(Resizer)).await?;
    ///
    /// let client = Node::builder(ActorSystem::new())
    ///     .listen("nats://127.0.0.1:4222/client-1")?
    ///     .secret("cookie")
    ///     .start()
    ///     .await?;
    /// let resize: ActorRef<Resizer> = client.group("resize").await?;
    /// assert_eq!(resize.resize(640).await?, 320);
    /// # Ok(()) }
    /// ```
    ///
    /// A node that does not listen on NATS has no group to send to:
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_remote::{Node, NodeError};
    ///
    /// # struct Resizer;
    /// # #[actor] impl Resizer { #[message(remote)] fn resize(&mut self, width: u32) -> u32 { width / 2 } }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), NodeError> {
    /// let tcp_only = Node::builder(ActorSystem::new()).secret("cookie").start().await?;
    /// let group = tcp_only.group::<Resizer>("resize").await;
    /// assert!(matches!(group, Err(NodeError::Nats(_))));
    /// # Ok(()) }
    /// ```
    pub async fn group<A: RemoteActor>(&self, group: &str) -> Result<ActorRef<A>, NodeError> {
        check_group(group)?;
        let (hub, url) = self.inner.nats_home()?;
        let server = hub.server(&url).await?;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| NodeError::Nats(format!("no randomness: {e}")))?;
        let endpoint = GroupEndpoint {
            id: ActorId::from_uuid(uuid::Uuid::from_bytes(id)),
            label: format!("group:{group}"),
            subject: Subject::from(hub.group_subject(group)),
            client: server.client.clone(),
            node: Arc::downgrade(&self.inner),
            codec: self.inner.clone(),
            secret: self.inner.secret.clone(),
            credit: Arc::new(Semaphore::new(self.inner.limits.credit_window.max(1))),
            empty_since: Arc::new(Mutex::new(None)),
            closed: AtomicBool::new(false),
            address: self.inner.address().to_string(),
        };
        Ok(transport::remote_ref(self.system(), Arc::new(endpoint)))
    }
}

fn check_group(group: &str) -> Result<(), NodeError> {
    if is_subject_token(group) {
        Ok(())
    } else {
        Err(NodeError::Nats(format!("the group name {group:?} must be one token of ASCII letters, digits, '-' or '_'")))
    }
}

/// One actor serving a queue group.
struct Member {
    client: Client,
    subject: String,
    group: String,
    exported: Arc<dyn transport::Exported>,
    node: Weak<NodeInner>,
    secret: Arc<[u8]>,
}

impl Member {
    async fn serve(self, mut requests: async_nats::Subscriber, stopped: Arc<tokio::sync::Notify>) {
        loop {
            let request = tokio::select! {
                request = requests.next() => request,
                () = stopped.notified() => break,
            };
            let Some(request) = request else { break };
            let Some(node) = self.node.upgrade().filter(|n| !n.is_shut_down()) else { break };
            let Some(reply) = request.reply else {
                tracing::warn!(group = %self.group, "a group message without a reply subject was refused");
                continue;
            };
            let verified = match verify_request(&self.secret, &self.subject, &request.payload) {
                Ok(verified) => verified,
                Err(why) => {
                    tracing::warn!(group = %self.group, reason = why, "refused a group message that is not signed with the shared secret");
                    continue;
                }
            };
            self.handle(&node, verified, reply).await;
        }
        let _ = requests.unsubscribe().await;
        tracing::debug!(group = %self.group, "left the queue group");
    }

    async fn handle(&self, node: &Arc<NodeInner>, request: Request, reply: Subject) {
        let codec: Arc<dyn RefCodec> = node.clone();
        let Request { kind, nonce, wire_name, payload } = request;
        let sink = (kind == ASK).then(|| {
            let client = self.client.clone();
            let secret = self.secret.clone();
            let reply = reply.clone();
            Box::new(move |result: Result<Vec<u8>, RemoteFailure>| {
                let answer = match result {
                    Ok(payload) => sign_answer(&secret, &nonce, OK, &payload),
                    Err(failure) => failure_answer(&secret, &nonce, &failure.into()),
                };
                tokio::spawn(async move {
                    let _ = client.publish(reply, answer).await;
                });
            }) as transport::ReplySink
        });
        let outcome = match self.exported.deliver(&wire_name, &payload, sink, &codec) {
            Ok(()) => Ok(()),
            // Backpressure: the member answers (and takes its next message)
            // once the mailbox has room.
            Err(Undelivered::Full(parked)) => parked.await.map_err(|sink| {
                (sink, WireFailure::UnknownActor("the actor stopped before taking the message".to_owned()))
            }),
            Err(Undelivered::UnknownMessage(sink)) => Err((
                sink,
                WireFailure::UnknownMessage(format!("the group's actors do not accept {wire_name} from other nodes")),
            )),
            Err(Undelivered::Undecodable(why, sink)) => Err((sink, WireFailure::Undecodable(why))),
            Err(Undelivered::Closed(sink)) => {
                Err((sink, WireFailure::UnknownActor("the actor has stopped".to_owned())))
            }
            Err(_) => Err((None, WireFailure::Refused("not delivered".to_owned()))),
        };
        match outcome {
            // An ask's answer is the reply, sent by its sink.
            Ok(()) if kind == ASK => {}
            Ok(()) => {
                let _ = self.client.publish(reply, sign_answer(&self.secret, &nonce, OK, &[])).await;
            }
            Err((sink, failure)) => {
                tracing::warn!(group = %self.group, message = %wire_name, failure = ?failure, "a group message was not delivered");
                transport::dead_letter(
                    &node.system,
                    Some(self.exported.id()),
                    "<remote message>",
                    DeadLetterReason::Undeliverable,
                    format!("{wire_name} for group {}: {failure:?}", self.group),
                );
                drop(sink);
                let _ = self.client.publish(reply, failure_answer(&self.secret, &nonce, &failure)).await;
            }
        }
    }
}

/// A reference's view of a queue group.
struct GroupEndpoint {
    id: ActorId,
    label: String,
    subject: Subject,
    client: Client,
    node: Weak<NodeInner>,
    codec: Arc<dyn RefCodec>,
    secret: Arc<[u8]>,
    /// Requests in flight.
    credit: Arc<Semaphore>,
    /// When the last request found no member, if none has answered since.
    empty_since: Arc<Mutex<Option<Instant>>>,
    closed: AtomicBool,
    address: String,
}

impl GroupEndpoint {
    fn check(&self) -> Result<(), Refused> {
        if self.closed.load(Ordering::Acquire) || self.node.upgrade().is_none_or(|n| n.is_shut_down()) {
            return Err(Refused::Closed);
        }
        // A group without members fails fast for a second, then tries
        // again (members may have joined).
        match *self.empty_since.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(since) if since.elapsed() < Duration::from_secs(1) => Err(Refused::NodeDown),
            _ => Ok(()),
        }
    }
}

/// Notes that the group had no member (from now), or that one answered.
fn set_empty(flag: &Mutex<Option<Instant>>, empty: bool) {
    *flag.lock().unwrap_or_else(PoisonError::into_inner) = empty.then(Instant::now);
}

impl RemoteEndpoint for GroupEndpoint {
    fn id(&self) -> ActorId {
        self.id
    }

    fn node(&self) -> &str {
        &self.label
    }

    fn is_alive(&self) -> bool {
        self.check().is_ok()
    }

    fn try_reserve(&self) -> Result<(), Refused> {
        self.check()?;
        match self.credit.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(())
            }
            Err(_) => Err(Refused::Full),
        }
    }

    fn reserve(&self) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(async move {
            self.check()?;
            self.credit.acquire().await.map_err(|_| Refused::Closed)?.forget();
            Ok(())
        })
    }

    fn unreserve(&self) {
        self.credit.add_permits(1);
    }

    fn send(&self, outgoing: Outgoing) {
        let Outgoing { wire_name, message_type, payload, reply } = outgoing;
        let kind = if reply.is_some() { ASK } else { TELL };
        let (message, nonce) = sign_request(&self.secret, self.subject.as_str(), kind, wire_name, &payload);
        let request = async_nats::Request::new().payload(message).timeout(Some(ANSWER_TIMEOUT));
        let client = self.client.clone();
        let subject = self.subject.clone();
        let credit = self.credit.clone();
        let secret = self.secret.clone();
        let codec = self.codec.clone();
        let empty = self.empty_since.clone();
        let (id, label, node) = (self.id, self.label.clone(), self.node.clone());
        tokio::spawn(async move {
            let answer = client.send_request(subject, request).await;
            credit.add_permits(1);
            let outcome = match answer {
                Ok(answer) => match verify_answer(&secret, &nonce, &answer.payload) {
                    Some((OK, payload)) => {
                        set_empty(&empty, false);
                        Ok(payload)
                    }
                    Some((_, encoded)) => {
                        set_empty(&empty, false);
                        let failure = postcard::from_bytes::<WireFailure>(&encoded)
                            .unwrap_or_else(|e| WireFailure::Refused(format!("an undecodable failure: {e}")));
                        Err((
                            RemoteFailure::from(failure.clone()),
                            format!("{failure:?}"),
                            DeadLetterReason::Undeliverable,
                        ))
                    }
                    None => Err((
                        RemoteFailure::NodeDown,
                        "the answer was not signed with the shared secret".to_owned(),
                        DeadLetterReason::Undeliverable,
                    )),
                },
                Err(e) => {
                    use async_nats::client::RequestErrorKind as K;
                    let why = match e.kind() {
                        K::NoResponders => {
                            set_empty(&empty, true);
                            "no member of the group is on the NATS server (no responders)".to_owned()
                        }
                        K::TimedOut => format!("no member answered within {ANSWER_TIMEOUT:?}: delivery unknown"),
                        _ => format!("the NATS request failed: {e}"),
                    };
                    Err((RemoteFailure::NodeDown, why, DeadLetterReason::NodeDown))
                }
            };
            match (outcome, reply) {
                (Ok(payload), Some(reply)) => reply.complete(&payload, &codec),
                (Ok(_), None) => {}
                (Err((failure, _, _)), Some(reply)) => reply.fail(failure),
                (Err((_, why, reason)), None) => {
                    tracing::warn!(group = %label, message = wire_name, reason = %why, "a tell to a group was not delivered");
                    if let Some(node) = node.upgrade() {
                        transport::dead_letter(
                            &node.system,
                            Some(id),
                            message_type,
                            reason,
                            format!("{wire_name} to {label}: {why}"),
                        );
                    }
                }
            }
        });
    }

    fn wire_ref(&self) -> WireRef {
        // Not resolvable elsewhere: the far node finds no such node.
        WireRef { node: self.label.clone(), address: self.address.clone(), id: self.id }
    }

    fn ref_codec(&self) -> &Arc<dyn RefCodec> {
        &self.codec
    }
}

impl Terminable for GroupEndpoint {
    fn stop(&self) {
        tracing::warn!(group = %self.label, "a group cannot be stopped from a reference; stop its members");
    }

    fn kill(&self) {
        self.stop();
    }

    fn on_terminated(&self, notice: TerminationNotice) {
        // A group does not terminate.
        drop(notice);
    }
}
