//! The crate's layers hold: no file of `src/` names a module of a higher
//! layer, and no files name each other in a loop. The layers are those
//! listed in `src/lib.rs` and ARCHITECTURE.md; the table below is their
//! one machine-readable copy. Unit-test files (`tests.rs` beside a module)
//! are left out: a test may build what it exercises from the layers above
//! (the envelope's tests drive real contexts).

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

/// Every `crate::a::b::..` path of a line of code, as its segments,
/// leaving out comments and the `$crate` paths of macros (which are the
/// public paths a user's expansion resolves).
fn crate_paths(line: &str) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        let after = &rest[at + "crate::".len()..];
        let path: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
        if !before.ends_with('$') {
            paths.push(path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect());
        }
        rest = after;
    }
    paths
}

/// Every top-level module a line of code names as `crate::module`.
fn named_modules(line: &str) -> Vec<String> {
    crate_paths(line).into_iter().filter_map(|path| path.into_iter().next()).collect()
}

/// The source files of `src/`, and the text of each.
fn read_sources() -> (PathBuf, Vec<(PathBuf, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} source files under {}", files.len(), src.display());
    let texts = files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file).expect("a source file is readable");
            (file, text)
        })
        .collect();
    (src, texts)
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; there is no unsafe code here for Miri to check")]
fn no_file_names_a_module_of_a_higher_layer() {
    let (src, files) = read_sources();
    let mut upward = Vec::new();
    for (file, text) in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let Some(own) = file_layer(relative) else {
            panic!("{} belongs to no layer: add its module to LAYERS", relative.display());
        };
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

/// The file a `crate::` path (its segments after `crate`) names: the
/// deepest module of the path that has a file of its own.
fn file_of(src: &Path, segments: &[&str]) -> Option<PathBuf> {
    let mut found = None;
    let mut dir = src.to_path_buf();
    for segment in segments {
        let file = dir.join(format!("{segment}.rs"));
        if !file.is_file() {
            break;
        }
        found = Some(file);
        dir = dir.join(segment);
    }
    found
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; there is no unsafe code here for Miri to check")]
fn no_files_name_each_other_in_a_loop() {
    let (src, files) = read_sources();
    let index = |f: &Path| files.iter().position(|(g, _)| g == f);
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (from, (_, text)) in files.iter().enumerate() {
        for line in text.lines() {
            for path in crate_paths(line) {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(to) = file_of(&src, &segments).and_then(|f| index(&f))
                    && to != from
                    && !edges[from].contains(&to)
                {
                    edges[from].push(to);
                }
            }
        }
    }
    // Depth-first search for a back edge; the path to it is the loop.
    fn visit(at: usize, edges: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[at] = 1;
        path.push(at);
        for &next in &edges[at] {
            if state[next] == 1 {
                let start = path.iter().position(|&p| p == next).expect("on the path");
                return Some(path[start..].to_vec());
            }
            if state[next] == 0
                && let Some(found) = visit(next, edges, state, path)
            {
                return Some(found);
            }
        }
        path.pop();
        state[at] = 2;
        None
    }
    let mut state = vec![0u8; files.len()];
    for start in 0..files.len() {
        if state[start] == 0
            && let Some(cycle) = visit(start, &edges, &mut state, &mut Vec::new())
        {
            let names: Vec<_> = cycle
                .iter()
                .map(|&i| files[i].0.strip_prefix(&src).expect("under src/").display().to_string())
                .collect();
            panic!("files that name each other in a loop: {}", names.join(" -> "));
        }
    }
}

#[test]
fn named_modules_leave_out_comments_and_macro_paths() {
    assert_eq!(named_modules("use crate::mailbox::queue::Queue; // crate::actor"), ["mailbox"]);
    assert_eq!(named_modules("impl $crate::RemoteActor for X {}"), Vec::<String>::new());
    assert_eq!(named_modules("a(crate::base::id::ActorId::next(), crate::cell::Cell)"), ["base", "cell"]);
    assert_eq!(crate_paths("use crate::base::id::{ActorId, IdHasher};"), [vec!["base", "id"]]);
}
