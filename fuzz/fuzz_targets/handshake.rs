//! libFuzzer target: what a peer sends to the accepting side of a
//! handshake. Either raw bytes, or a well-formed hello under a chosen name
//! followed by frames: a forged Noise message (its kind byte, then bytes),
//! or anything. The handshake must end with an error, never panic, and
//! never accept a peer that does not know the secret. Run with
//! `cargo +nightly fuzz run handshake`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(Vec<u8>),
    AfterHello { name: String, frames: Vec<(bool, Vec<u8>)> },
}

fuzz_target!(|input: Input| {
    let bytes = match input {
        Input::Raw(bytes) => bytes,
        Input::AfterHello { name, frames } => {
            let mut bytes = actor_remote::fuzzing::hello_frame(&name);
            for (noise, body) in frames {
                let body: Vec<u8> = if noise { std::iter::once(0).chain(body).collect() } else { body };
                bytes.extend(actor_remote::fuzzing::length_prefixed(&body));
            }
            bytes
        }
    };
    let result = actor_remote::fuzzing::accept_handshake_blocking(&bytes);
    assert!(result.is_err(), "a peer without the secret was accepted");
});
