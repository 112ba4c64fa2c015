//! The crate's layers hold: no file of `src/` names a module of a higher
//! layer, and no files name each other in a loop. The layers are those of
//! ARCHITECTURE.md's map of actor-remote; the table below is their one
//! machine-readable copy. The check itself is actor-core's (see
//! `actor-core/tests/layers.rs`), shared by path.

use std::path::{Path, PathBuf};

#[path = "../../actor-core/tests/support/layers.rs"]
mod layering;

use layering::{import_loop, upward_imports};

/// The modules of `src/`, by layer, from the ground up. A file of a layer
/// may name modules of its own layer and of those below it. `nats` is the
/// NATS transport; its queue groups (`nats/group`) stand on the node.
const LAYERS: layering::Layers = &[
    // What every layer shares: errors, limits, addresses, and the
    // connection every transport hands up.
    &["error", "limits", "address", "connection"],
    // Transport streams, and opening and accepting them by address.
    &["sim", "tls", "nats"],
    &["listener"],
    // Frames, sealed records, and the handshake that keys them.
    &["frame", "channel"],
    &["handshake", "fuzzing"],
    // One peer: its reader and writer tasks, resend buffer and credit.
    &["peer"],
    &["node"],
    &["cluster", "nats/group", "sharding", "testkit"],
    // The remote-node binary, a crate of its own on the public API.
    &["bin"],
];

/// Imports that run up a layer on purpose, with the reason: (file, module
/// named, why). Empty: a lower layer reaches a higher one only through a
/// trait it defines (`peer::Host`, `node::Membership`).
const ALLOWED_UPWARD: layering::Allowed = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_file_names_a_module_of_a_higher_layer() {
    let upward = upward_imports(&src(), LAYERS, ALLOWED_UPWARD, 20);
    assert!(upward.is_empty(), "imports that run up a layer:\n{}", upward.join("\n"));
}

#[test]
fn no_files_name_each_other_in_a_loop() {
    if let Some(names) = import_loop(&src(), 20) {
        panic!("files that name each other in a loop: {}", names.join(" -> "));
    }
}
