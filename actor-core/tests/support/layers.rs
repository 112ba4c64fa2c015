//! The check behind each crate's `tests/layers.rs`: reads a crate's
//! `src/`, and finds the imports that run up its table of layers and the
//! files that name each other in a loop. A crate's test holds its own
//! table; actor-remote's includes this file by path.
//!
//! Only `crate::a::b::..` paths of code count (comments and the `$crate`
//! paths of macros are left out). Unit-test files (`tests.rs` beside a
//! module) are left out too: a test may build what it exercises from the
//! layers above.
// Each crate's test uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// A crate's layers, from the ground up: each a list of modules. A module
/// is a top-level one (`peer`) or a submodule given by its path
/// (`nats/group`), which then stands apart from its parent; a file or
/// path belongs to the longest module that contains it.
pub(crate) type Layers = &'static [&'static [&'static str]];

/// An import that runs up a layer on purpose: (file, module named, why).
pub(crate) type Allowed = &'static [(&'static str, &'static str, &'static str)];

/// The layer of a module path (its segments), by the longest module of
/// the table it falls under.
fn layer_of(layers: Layers, segments: &[&str]) -> Option<usize> {
    (1..=segments.len()).rev().find_map(|n| {
        let module = segments[..n].join("/");
        layers.iter().position(|layer| layer.contains(&module.as_str()))
    })
}

/// The module segments of a source file: `peer/reader.rs` is
/// `["peer", "reader"]`, `nats.rs` is `["nats"]`.
fn segments_of(relative: &Path) -> Vec<String> {
    let mut segments: Vec<String> =
        relative.components().filter_map(|c| c.as_os_str().to_str()).map(str::to_owned).collect();
    if let Some(last) = segments.last_mut()
        && let Some(stem) = last.strip_suffix(".rs")
    {
        *last = stem.to_owned();
    }
    segments
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
pub(crate) fn crate_paths(line: &str) -> Vec<Vec<String>> {
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

/// The source files of a crate's `src/`, and the text of each.
pub(crate) fn read_sources(src: &Path, at_least: usize) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    assert!(files.len() >= at_least, "found only {} source files under {}", files.len(), src.display());
    files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file).expect("a source file is readable");
            (file, text)
        })
        .collect()
}

/// The imports of `src/` that run up a layer and are not allowed, one
/// line each. Panics on a file of no layer, and on a file below `lib.rs`
/// that names an item through the crate root.
pub(crate) fn upward_imports(src: &Path, layers: Layers, allowed: Allowed, at_least: usize) -> Vec<String> {
    let mut upward = Vec::new();
    for (file, text) in &read_sources(src, at_least) {
        let relative = file.strip_prefix(src).expect("under src/");
        let path = relative.to_string_lossy().replace('\\', "/");
        let own_segments = segments_of(relative);
        let own_segments: Vec<&str> = own_segments.iter().map(String::as_str).collect();
        let own = if own_segments == ["lib"] {
            layers.len()
        } else {
            layer_of(layers, &own_segments)
                .unwrap_or_else(|| panic!("{path} belongs to no layer: add its module to the table of layers"))
        };
        for (n, line) in text.lines().enumerate() {
            for segments in crate_paths(line) {
                let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
                let Some(theirs) = layer_of(layers, &segments) else {
                    // The crate root: only lib.rs, at the top, may go through it.
                    assert!(
                        own == layers.len() || !segments.first().is_some_and(|s| s.starts_with(char::is_uppercase)),
                        "{path}:{}: names `crate::{}` through the crate root; name its own module",
                        n + 1,
                        segments.join("::")
                    );
                    continue;
                };
                let module = segments[0];
                let is_allowed = allowed.iter().any(|(f, m, _)| *f == path && *m == module);
                if theirs > own && !is_allowed {
                    let (theirs, own) = (theirs + 1, own + 1);
                    upward.push(format!("{path}:{}: `crate::{module}` (layer {theirs}) from layer {own}", n + 1));
                }
            }
        }
    }
    upward
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

/// Files of `src/` that name each other in a loop, as the loop's paths
/// (the first one found), or `None`.
pub(crate) fn import_loop(src: &Path, at_least: usize) -> Option<Vec<String>> {
    let files = read_sources(src, at_least);
    let index = |f: &Path| files.iter().position(|(g, _)| g == f);
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (from, (_, text)) in files.iter().enumerate() {
        for line in text.lines() {
            for path in crate_paths(line) {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(to) = file_of(src, &segments).and_then(|f| index(&f))
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
    (0..files.len()).find_map(|start| {
        if state[start] != 0 {
            return None;
        }
        let cycle = visit(start, &edges, &mut state, &mut Vec::new())?;
        Some(cycle.iter().map(|&i| files[i].0.strip_prefix(src).expect("under src/").display().to_string()).collect())
    })
}
