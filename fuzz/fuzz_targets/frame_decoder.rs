//! libFuzzer target: one frame body (what follows the length prefix) into
//! the node's frame decoder. It must return a frame or an error, never
//! panic. Run with `cargo +nightly fuzz run frame_decoder` from the
//! repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = actor_remote::fuzzing::decode_frame(data);
});
