//! The crate's layers hold: no file of `src/` names a module of a higher
//! layer. The layers are those listed in `src/lib.rs` and ARCHITECTURE.md;
//! the table below is their one machine-readable copy. Unit-test files
//! (`tests.rs` beside a module) are left out: a test may build what it
//! exercises from the layers above (the envelope's tests drive real
//! contexts).

use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules of `src/`, by layer, from the ground up. A file of
/// a layer may name modules of its own layer and of those below it.
const LAYERS: &[&[&str]] = &[
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
const ALLOWED_UPWARD: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The layer of a source file: that of the top-level module it belongs to.
/// `lib.rs` stands above them all.
fn file_layer(relative: &Path) -> Option<usize> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    if module == "lib" { Some(LAYERS.len()) } else { layer_of(module) }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(path);
        }
    }
}

/// Every top-level module a line of code names as `crate::module`, leaving
/// out comments and the `$crate` paths of macros (which are the public
/// paths a user's expansion resolves).
fn named_modules(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        let after = &rest[at + "crate::".len()..];
        let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !before.ends_with('$') && !name.is_empty() {
            found.push(name);
        }
        rest = after;
    }
    found
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; there is no unsafe code here for Miri to check")]
fn no_file_names_a_module_of_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files under {}", files.len(), src.display());
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let Some(own) = file_layer(relative) else {
            panic!("{} belongs to no layer: add its module to LAYERS", relative.display());
        };
        let text = fs::read_to_string(file).expect("a source file is readable");
        for (n, line) in text.lines().enumerate() {
            for module in named_modules(line) {
                let Some(theirs) = layer_of(&module) else {
                    // The crate root: only lib.rs, at the top, may go through it.
                    assert!(
                        own == LAYERS.len() || !module.starts_with(char::is_uppercase),
                        "{}:{}: names `crate::{module}` through the crate root; name its own module",
                        relative.display(),
                        n + 1
                    );
                    continue;
                };
                let path = relative.to_string_lossy().replace('\\', "/");
                let allowed = ALLOWED_UPWARD.iter().any(|(f, m, _)| *f == path && *m == module);
                if theirs > own && !allowed {
                    let (theirs, own) = (theirs + 1, own + 1);
                    upward.push(format!("{path}:{}: `crate::{module}` (layer {theirs}) from layer {own}", n + 1));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports that run up a layer:\n{}", upward.join("\n"));
}

#[test]
fn named_modules_leave_out_comments_and_macro_paths() {
    assert_eq!(named_modules("use crate::mailbox::queue::Queue; // crate::actor"), ["mailbox"]);
    assert_eq!(named_modules("impl $crate::RemoteActor for X {}"), Vec::<String>::new());
    assert_eq!(named_modules("a(crate::base::id::ActorId::next(), crate::cell::Cell)"), ["base", "cell"]);
}
