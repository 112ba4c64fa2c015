//! An on-path attacker for loopback tests: a TCP relay that understands
//! the wire's framing (every unit on a connection, handshake frames and
//! sealed records alike, is a 4-byte big-endian length and a body) and
//! changes one chosen unit of one chosen connection: flips a bit, drops
//! it, sends it twice, swaps it with the next, cuts the connection inside
//! it, rewrites it, or puts another unit before it. It records the units
//! of the first connection, so that a later one can be fed a unit from an
//! earlier one. It holds no secret.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Which way a unit travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    /// From the dialer (the relay's client) to the node it dials.
    ToAcceptor,
    /// Back.
    ToDialer,
}

/// What to do to the chosen unit.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Flip the lowest bit of the body's byte at this offset (or its last).
    Flip(usize),
    /// Leave it out.
    Drop,
    /// Send it twice.
    Duplicate,
    /// Send the next unit first, then this one.
    SwapWithNext,
    /// Send its length and half its body, then close both connections.
    Truncate,
    /// Change its body.
    Rewrite(fn(&mut [u8])),
    /// Send this body (length-prefixed) before it.
    InsertBefore(Vec<u8>),
}

/// The attack: on connection number `connection` (from 0), the `unit`-th
/// unit (from 0: the hello) travelling `way`.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) connection: u64,
    pub(crate) way: Way,
    pub(crate) unit: u64,
    pub(crate) action: Action,
}

#[derive(Debug, Default)]
struct State {
    connections: AtomicU64,
    /// The attack was carried out.
    applied: AtomicBool,
    /// The attacked connection ended (either side closed it).
    attacked_closed: AtomicBool,
    /// Bodies of the units of connection 0, by way.
    recorded: Mutex<Vec<(Way, Vec<u8>)>>,
}

/// A running relay; it stops when dropped.
#[derive(Debug)]
pub(crate) struct Mitm {
    /// Where to connect: `tcp://127.0.0.1:port`.
    pub(crate) address: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mitm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mitm {
    /// Listens on a fresh loopback port and relays to `target`
    /// (`tcp://host:port`), carrying out `plan` (if any).
    pub(crate) async fn start(target: &str, plan: Option<Plan>) -> Mitm {
        let target = target.strip_prefix("tcp://").unwrap_or(target).to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("tcp://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let n = shared.connections.fetch_add(1, Ordering::AcqRel);
                let Ok(server) = TcpStream::connect(&target).await else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let plan = plan.clone().filter(|p| p.connection == n);
                tokio::spawn(relay(shared.clone(), client, server, n, plan));
            }
        });
        Mitm { address, state, task }
    }

    /// Whether the attack was carried out.
    pub(crate) fn applied(&self) -> bool {
        self.state.applied.load(Ordering::Acquire)
    }

    /// Whether the attacked connection has ended.
    pub(crate) fn attacked_closed(&self) -> bool {
        self.state.attacked_closed.load(Ordering::Acquire)
    }

    /// Connections relayed so far.
    pub(crate) fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Acquire)
    }

    /// The body of the `unit`-th unit travelling `way` on connection 0.
    pub(crate) fn recorded(&self, way: Way, unit: usize) -> Option<Vec<u8>> {
        let recorded = self.state.recorded.lock().unwrap();
        recorded.iter().filter(|(w, _)| *w == way).nth(unit).map(|(_, body)| body.clone())
    }
}

async fn relay(state: Arc<State>, client: TcpStream, server: TcpStream, n: u64, plan: Option<Plan>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let attacked = plan.is_some();
    let up = pump(state.clone(), cr, sw, Way::ToAcceptor, n, plan.clone());
    let down = pump(state.clone(), sr, cw, Way::ToDialer, n, plan);
    // Either way ending ends the connection: both sockets drop.
    tokio::select! {
        () = up => {},
        () = down => {},
    }
    if attacked {
        state.attacked_closed.store(true, Ordering::Release);
    }
}

async fn read_unit(from: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    from.read_exact(&mut prefix).await.ok()?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > 16 * 1024 * 1024 {
        return None;
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn write_unit(to: &mut OwnedWriteHalf, body: &[u8]) -> bool {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    to.write_all(&out).await.is_ok()
}

async fn pump(
    state: Arc<State>,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    way: Way,
    n: u64,
    plan: Option<Plan>,
) {
    let plan = plan.filter(|p| p.way == way);
    let mut index = 0u64;
    while let Some(mut body) = read_unit(&mut from).await {
        if n == 0 {
            state.recorded.lock().unwrap().push((way, body.clone()));
        }
        let chosen = plan.as_ref().filter(|p| p.unit == index);
        index += 1;
        let Some(plan) = chosen else {
            if !write_unit(&mut to, &body).await {
                return;
            }
            continue;
        };
        state.applied.store(true, Ordering::Release);
        let ok = match &plan.action {
            Action::Flip(at) => {
                if !body.is_empty() {
                    let at = (*at).min(body.len() - 1);
                    body[at] ^= 1;
                }
                write_unit(&mut to, &body).await
            }
            Action::Drop => true,
            Action::Duplicate => write_unit(&mut to, &body).await && write_unit(&mut to, &body).await,
            Action::SwapWithNext => match read_unit(&mut from).await {
                Some(next) => {
                    index += 1;
                    write_unit(&mut to, &next).await && write_unit(&mut to, &body).await
                }
                None => false,
            },
            Action::Truncate => {
                let mut out = (body.len() as u32).to_be_bytes().to_vec();
                out.extend_from_slice(&body[..body.len() / 2]);
                let _ = to.write_all(&out).await;
                let _ = to.shutdown().await;
                // Closed for writing, still open: the far side reads the
                // end of the stream (not a reset, which dropping a socket
                // with unread bytes would send).
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                false
            }
            Action::Rewrite(change) => {
                change(&mut body);
                write_unit(&mut to, &body).await
            }
            Action::InsertBefore(other) => write_unit(&mut to, other).await && write_unit(&mut to, &body).await,
        };
        if !ok {
            return;
        }
    }
}
