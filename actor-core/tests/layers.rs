//! The crate's layers hold: no file of `src/` names a module of a higher
//! layer, and no files name each other in a loop. The layers are those
//! listed in `src/lib.rs` and ARCHITECTURE.md; the table below is their
//! one machine-readable copy. Unit-test files (`tests.rs` beside a module)
//! are left out: a test may build what it exercises from the layers above
//! (the envelope's tests drive real contexts).

use std::path::{Path, PathBuf};

#[path = "support/layers.rs"]
mod layering;

use layering::{crate_paths, import_loop, upward_imports};

/// The top-level modules of `src/`, by layer, from the ground up. A file of
/// a layer may name modules of its own layer and of those below it.
const LAYERS: layering::Layers = &[
    &["base"],
    &["mailbox"],
    &["envelope", "cell"],
    &["system"],
    &["endpoint"],
    &["actor"],
    &["reference"],
    &["spawn"],
    &["monitor", "pool", "registry", "remote_message", "supervision", "task", "testkit", "timer", "topic"],
];

/// Imports that run up a layer on purpose, with the reason: (file, module
/// named). Empty: every exception has a reason written next to it here.
const ALLOWED_UPWARD: layering::Allowed = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every top-level module a line of code names as `crate::module`.
fn named_modules(line: &str) -> Vec<String> {
    crate_paths(line).into_iter().filter_map(|path| path.into_iter().next()).collect()
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; there is no unsafe code here for Miri to check")]
fn no_file_names_a_module_of_a_higher_layer() {
    let upward = upward_imports(&src(), LAYERS, ALLOWED_UPWARD, 21);
    assert!(upward.is_empty(), "imports that run up a layer:\n{}", upward.join("\n"));
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; there is no unsafe code here for Miri to check")]
fn no_files_name_each_other_in_a_loop() {
    if let Some(names) = import_loop(&src(), 21) {
        panic!("files that name each other in a loop: {}", names.join(" -> "));
    }
}

#[test]
fn named_modules_leave_out_comments_and_macro_paths() {
    assert_eq!(named_modules("use crate::mailbox::queue::Queue; // crate::actor"), ["mailbox"]);
    assert_eq!(named_modules("impl $crate::RemoteActor for X {}"), Vec::<String>::new());
    assert_eq!(named_modules("a(crate::base::id::ActorId::next(), crate::cell::Cell)"), ["base", "cell"]);
    assert_eq!(crate_paths("use crate::base::id::{ActorId, IdHasher};"), [vec!["base", "id"]]);
}
