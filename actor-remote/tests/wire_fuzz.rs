//! The wire under random and mutated input, on the stable toolchain: the
//! same entry points as the cargo-fuzz targets in `fuzz/` (frame decoder,
//! accepting handshake, record layer), the sealed channel under random
//! changes (what comes out is a prefix of what went in, never a changed
//! frame), then a live node fed random and mutated frames by authenticated
//! and unauthenticated peers, sealed or not, which must never panic and
//! keep serving a good peer.
//!
//! Case counts scale with `WIRE_FUZZ_CASES` (default 3,000): ten times it
//! for the decoder, once for the handshake, a tenth for live sessions;
//! RELIABILITY.md has the command for the long run.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_remote::{Limits, Node, fuzzing};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::counter::{Counter, CounterClient};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SECRET: &str = "fuzz cookie";

fn cases() -> u32 {
    std::env::var("WIRE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// Valid frames of every kind, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let id = ActorId::from_uuid(uuid::Uuid::from_u128(0x1234));
    vec![
        fuzzing::tell_frame(id, "Counter::Add", &[5]),
        fuzzing::ask_frame(9, id, "Counter::Add", &[0x80, 0x01]),
        fuzzing::lookup_frame(3, "counter"),
        fuzzing::ping_frame(),
    ]
}

/// One mutation of `seed`, driven by `ops`: flip, insert, delete, truncate,
/// or overwrite bytes.
fn mutate(mut seed: Vec<u8>, ops: &[(u8, u16, u8)]) -> Vec<u8> {
    for &(op, at, byte) in ops {
        let at = if seed.is_empty() { 0 } else { at as usize % (seed.len() + 1) };
        match op % 5 {
            0 if at < seed.len() => seed[at] ^= byte | 1,
            1 => seed.insert(at, byte),
            2 if at < seed.len() => {
                seed.remove(at);
            }
            3 => seed.truncate(at),
            _ if at < seed.len() => seed[at] = byte,
            _ => seed.push(byte),
        }
    }
    seed
}

fn mutation() -> impl Strategy<Value = Vec<u8>> {
    (0..seeds().len(), proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 1..8))
        .prop_map(|(i, ops)| mutate(seeds()[i].clone(), &ops))
}

fn frame_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..96), mutation()]
}

#[test]
fn the_frame_decoder_never_panics_on_random_or_mutated_frames() {
    let start = Instant::now();
    let (decoded, refused) = (AtomicU64::new(0), AtomicU64::new(0));
    let cases = cases() * 10;
    runner(cases)
        .run(&frame_input(), |bytes| {
            match fuzzing::decode_frame(&bytes) {
                Ok(_) => decoded.fetch_add(1, Ordering::Relaxed),
                Err(_) => refused.fetch_add(1, Ordering::Relaxed),
            };
            Ok(())
        })
        .unwrap();
    println!(
        "figure fuzz-decoder: {cases} inputs in {:?}: {} decoded, {} refused, 0 panics",
        start.elapsed(),
        decoded.into_inner(),
        refused.into_inner()
    );
}

/// Inputs for the accepting side of a handshake: random bytes, mutated
/// hellos, and hellos followed by a forged Noise message (its kind byte,
/// then random bytes), or by random frames.
fn handshake_input() -> impl Strategy<Value = Vec<u8>> {
    let hello = fuzzing::hello_frame("peer");
    let mutated = {
        let hello = hello.clone();
        proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 1..6)
            .prop_map(move |ops| mutate(hello.clone(), &ops))
    };
    let forged = (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80)).prop_map(move |(noise, tail)| {
        let mut input = hello.clone();
        let body: Vec<u8> = if noise { std::iter::once(0).chain(tail).collect() } else { tail };
        input.extend_from_slice(&(body.len() as u32).to_be_bytes());
        input.extend(body);
        input
    });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..96), mutated, forged]
}

#[test]
fn the_accepting_handshake_never_panics_and_never_accepts_without_the_secret() {
    let start = Instant::now();
    let cases = cases();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runner(cases)
        .run(&handshake_input(), |input| {
            let result = runtime.block_on(fuzzing::accept_handshake_from(&input));
            prop_assert!(result.is_err(), "a handshake without the secret was accepted");
            Ok(())
        })
        .unwrap();
    println!("figure fuzz-handshake: {cases} inputs in {:?}: all refused, 0 panics", start.elapsed());
}

/// Frames sealed by one end of a channel, then changed on the way by
/// `ops` (flips, inserts, deletes, truncations, overwrites of the sealed
/// bytes): the other end gets a prefix of the frames sent, then an error
/// or the end; never a frame that was not sent.
#[test]
fn the_channel_gives_a_prefix_of_what_was_sealed_or_an_error_never_a_changed_frame() {
    let start = Instant::now();
    let cases = (cases() / 10).max(10);
    let (intact, cut) = (AtomicU64::new(0), AtomicU64::new(0));
    let strategy = (
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
        proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 0..4),
    );
    runner(cases)
        .run(&strategy, |(frames, ops)| {
            let (mut dialer, mut acceptor) = fuzzing::session_pair();
            let sealed: Vec<u8> = frames.iter().flat_map(|f| dialer.seal_frames(std::slice::from_ref(f))).collect();
            let changed = mutate(sealed.clone(), &ops);
            acceptor.feed(&changed);
            let mut got = Vec::new();
            while let Ok(Some(frame)) = acceptor.next_frame() {
                got.push(frame);
            }
            prop_assert!(got.len() <= frames.len() && got[..] == frames[..got.len()], "a changed frame came out");
            if changed == sealed {
                prop_assert_eq!(got.len(), frames.len());
            }
            let count = if got.len() == frames.len() { &intact } else { &cut };
            count.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    println!(
        "figure fuzz-channel: {cases} sealed streams changed on the way in {:?}: {} came out whole \
         (unchanged), {} were cut at the first changed record; 0 changed frames",
        start.elapsed(),
        intact.into_inner(),
        cut.into_inner()
    );
}

/// Random and mutated bytes read as the sealed stream of an authenticated
/// connection: an error or nothing, never a frame, never a panic.
#[test]
fn random_bytes_as_records_never_open() {
    let cases = cases() * 10;
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..128),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|tail| {
            let mut input = ((tail.len()) as u32).to_be_bytes().to_vec();
            input.extend(tail);
            input
        }),
    ];
    runner(cases)
        .run(&strategy, |input| {
            let (frames, _) = fuzzing::open_records(&input);
            prop_assert_eq!(frames, 0, "random bytes opened as a record");
            Ok(())
        })
        .unwrap();
    println!("figure fuzz-records: {cases} random record streams: none opened, 0 panics");
}

/// How a live session's peer speaks.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// No handshake: the bytes straight away.
    Unauthenticated,
    /// A handshake with the secret, then the bytes sealed in records.
    Sealed,
    /// A handshake with the secret, then the bytes not sealed.
    Unsealed,
}

/// A live session: random and mutated frames, length-prefixed (some with
/// lying lengths), from a peer of each kind.
fn session() -> impl Strategy<Value = (Peer, Vec<Vec<u8>>, Vec<u8>)> {
    let peer = prop_oneof![Just(Peer::Unauthenticated), Just(Peer::Sealed), Just(Peer::Unsealed)];
    (peer, proptest::collection::vec(frame_input(), 1..12), proptest::collection::vec(any::<u8>(), 0..8))
}

#[test]
fn a_live_node_fed_random_frames_never_panics_and_keeps_serving_a_good_peer() {
    let start = Instant::now();
    let cases = (cases() / 10).max(10);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (a, good, counter) = runtime.block_on(async {
        let limits = Limits { hello_timeout: Duration::from_millis(300), ..Limits::default() };
        let a = Node::builder(ActorSystem::new()).name("a").secret(SECRET).limits(limits).start().await.unwrap();
        let counter = a.system().spawn(Counter::default());
        a.register("counter", &counter).unwrap();
        let b = Node::builder(ActorSystem::new()).name("b").secret(SECRET).start().await.unwrap();
        let peer = b.connect(&a.address().to_string()).await.unwrap();
        let good: ActorRef<Counter> = b.lookup(&peer, "counter").await.unwrap();
        (a, good, counter)
    });
    let address = a.address().to_string().strip_prefix("tcp://").unwrap().to_owned();
    let session_no = AtomicU64::new(0);
    let expected = AtomicU64::new(0);
    runner(cases)
        .run(&session(), |(peer, frames, tail)| {
            let n = session_no.fetch_add(1, Ordering::Relaxed);
            let served = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), async {
                    let mut socket = TcpStream::connect(&address).await.unwrap();
                    let mut channel = None;
                    if !matches!(peer, Peer::Unauthenticated) {
                        let name = format!("fuzzer-{n}");
                        let (s, session) = fuzzing::dial_handshake(socket, &name, SECRET.as_bytes()).await.unwrap();
                        socket = s;
                        channel = matches!(peer, Peer::Sealed).then_some(session);
                    }
                    let mut out = Vec::new();
                    for (i, frame) in frames.iter().enumerate() {
                        if i % 5 == 4 {
                            // A lying length prefix.
                            out.extend_from_slice(&(frame.len() as u32).wrapping_mul(977).to_be_bytes());
                            out.extend_from_slice(frame);
                        } else {
                            out.extend(fuzzing::length_prefixed(frame));
                        }
                    }
                    out.extend_from_slice(&tail);
                    if let Some(session) = &mut channel {
                        out = session.seal(&out);
                    }
                    let _ = socket.write_all(&out).await;
                    drop(socket);
                    // The good peer is still served.
                    let want = expected.fetch_add(1, Ordering::Relaxed) + 1;
                    good.add(1).await.map(|total| total >= want)
                })
                .await
            });
            prop_assert!(matches!(served, Ok(Ok(true))), "the good peer was not served: {served:?}");
            Ok(())
        })
        .unwrap();
    let total = runtime.block_on(async { counter.add(0).await }).unwrap();
    println!(
        "figure fuzz-live: {cases} sessions of random and mutated frames in {:?}; the good peer answered \
         after each ({total} adds counted), 0 panics",
        start.elapsed()
    );
    assert!(good.is_alive());
}
