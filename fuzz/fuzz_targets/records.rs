//! libFuzzer target: bytes read as the sealed stream of an authenticated
//! connection, under keys the input cannot know. The reader must return
//! an error or nothing, never a frame, never panic. Run with
//! `cargo +nightly fuzz run records`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (frames, _) = actor_remote::fuzzing::open_records(data);
    assert_eq!(frames, 0, "bytes not sealed by the peer opened as a record");
});
