//! Every public function, method and type of the published crates shows
//! its use in a runnable example: its doc comment holds a code block, which
//! `cargo test --doc` compiles and runs. This test reads the sources and
//! names each `pub fn`, `pub struct`, `pub enum`, `pub trait` and `pub type`
//! whose doc comment has none, so a new item without an example fails CI
//! instead of waiting for a review to notice.
//!
//! actor-macros is not scanned: its three macros are documented, with
//! examples, where users name them, at actor-core's re-exports.
//!
//! Not checked: items under `#[doc(hidden)]` (on the item, or on a module,
//! inline or in its own file), `#[cfg(test)]` modules, and trait methods,
//! whose examples live on the trait or its implementations.

use std::fs;
use std::path::{Path, PathBuf};

/// The crates whose public items must carry examples.
const CRATES: &[&str] = &["actor-core", "actor-remote", "actor-durable", "actor-observer"];

/// A public item without an example: file, line, declaration.
#[derive(Debug)]
struct Missing {
    file: String,
    line: usize,
    item: String,
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("read a source directory").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `line` (trimmed) declares a public function (`pub fn`, `pub
/// const fn`, `pub async fn`, `pub unsafe fn`) or type (`pub struct`,
/// `pub enum`, `pub trait`, `pub type`); not `pub(crate)` ones.
fn is_public_item(line: &str) -> bool {
    let Some(mut rest) = line.strip_prefix("pub ") else { return false };
    for qualifier in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(qualifier).unwrap_or(rest);
    }
    ["fn ", "struct ", "enum ", "trait ", "type "].iter().any(|item| rest.starts_with(item))
}

/// The braces that open and close on a line of code (not in a comment).
fn brace_balance(line: &str) -> i64 {
    let code = line.split("//").next().unwrap_or("");
    code.matches('{').count() as i64 - code.matches('}').count() as i64
}

/// The attributes and comments just above line `i`, nearest first; an
/// attribute spread over several lines counts whole.
fn above(lines: &[&str], i: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_attribute = false;
    for line in lines[..i].iter().rev().map(|l| l.trim()) {
        if line.starts_with("///") || line.starts_with("//") || line.starts_with("#[") {
            in_attribute = false;
        } else if line.ends_with(']') && !line.ends_with("[]") {
            // The last line of an attribute opened further up.
            in_attribute = true;
        } else if !in_attribute {
            break;
        }
        found.push(line.to_owned());
    }
    found
}

fn is_hidden(above: &[String]) -> bool {
    above.iter().any(|l| l.starts_with("#[") && l.contains("doc(hidden)"))
}

/// The files of the modules that `file` declares `#[doc(hidden)]` in files
/// of their own (`#[doc(hidden)] pub mod fuzzing;`), as path prefixes.
fn hidden_modules(text: &str, file: &Path) -> Vec<PathBuf> {
    let lines: Vec<&str> = text.lines().collect();
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "mod.rs") => file.parent().unwrap().to_path_buf(),
        _ => file.with_extension(""),
    };
    let mut hidden = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        let name = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "));
        if let Some(name) = name.and_then(|n| n.strip_suffix(';'))
            && is_hidden(&above(&lines, i))
        {
            hidden.push(dir.join(format!("{name}.rs")));
            hidden.push(dir.join(name));
        }
    }
    hidden
}

/// The public items of one file whose doc comment has no code block.
fn missing_in(text: &str, file: &str) -> Vec<Missing> {
    let lines: Vec<&str> = text.lines().collect();
    let mut missing = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let above = above(&lines, i);
        let hidden = is_hidden(&above);
        let test_only = above.iter().any(|l| l == "#[cfg(test)]");
        let opens_module = (line.starts_with("mod ") || line.starts_with("pub mod ")) && line.ends_with('{');
        // Skip a hidden or test-only module declared inline, to its end.
        if opens_module && (hidden || test_only) {
            let mut depth = brace_balance(line);
            i += 1;
            while i < lines.len() && depth > 0 {
                depth += brace_balance(lines[i]);
                i += 1;
            }
            continue;
        }
        if is_public_item(line) && !hidden && !above.iter().any(|l| l.starts_with("///") && l.contains("```")) {
            missing.push(Missing {
                file: file.to_owned(),
                line: i + 1,
                item: line.trim_end_matches("{}").trim_end_matches('{').trim().to_owned(),
            });
        }
        i += 1;
    }
    missing
}

#[test]
fn every_public_item_has_an_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let mut missing = Vec::new();
    let mut checked = 0;
    for krate in CRATES {
        let mut files = Vec::new();
        sources(&root.join(krate).join("src"), &mut files);
        let texts: Vec<String> = files.iter().map(|p| fs::read_to_string(p).expect("read a source file")).collect();
        let hidden: Vec<PathBuf> = files.iter().zip(&texts).flat_map(|(p, t)| hidden_modules(t, p)).collect();
        for (path, text) in files.iter().zip(&texts) {
            if hidden.iter().any(|h| path.starts_with(h)) {
                continue;
            }
            let file = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            checked += text.lines().filter(|l| is_public_item(l.trim())).count();
            missing.extend(missing_in(text, &file));
        }
    }
    assert!(checked > 300, "the scan found only {checked} public items: is it reading the sources?");
    let list: Vec<String> = missing.iter().map(|m| format!("  {}:{}: {}", m.file, m.line, m.item)).collect();
    assert!(
        missing.is_empty(),
        "{} public items have no example in their doc comment:\n{}",
        missing.len(),
        list.join("\n")
    );
}

#[test]
fn the_scan_sees_what_it_should() {
    let text = r#"
/// Documented.
///
/// ```
/// assert!(true);
/// ```
pub fn with_example() {}

/// Documented, no example.
#[inline]
pub fn without_example() {}

pub(crate) fn internal() {}

/// A type, no example.
#[derive(Debug)]
pub struct Bare;

/// A trait with a long attribute.
///
/// ```
/// assert!(true);
/// ```
#[diagnostic::on_unimplemented(
    message = "not a shape",
    label = "here"
)]
pub trait Shape {}

pub(crate) enum Inner {}

#[doc(hidden)]
pub fn hidden() {}

#[doc(hidden)]
pub mod private {
    pub fn inside_hidden() {}
}

#[cfg(test)]
mod tests {
    pub fn helper() {}
}

impl Thing {
    /// No example either.
    pub const fn constant() -> u8 { 1 }
}
"#;
    let names: Vec<String> = missing_in(text, "x.rs").into_iter().map(|m| m.item).collect();
    assert_eq!(names, ["pub fn without_example()", "pub struct Bare;", "pub const fn constant() -> u8 { 1 }"]);
    let lib = "#[doc(hidden)]\npub mod fuzzing;\npub mod shown;\n#[doc(hidden)]\nmod inner;\n";
    let hidden = hidden_modules(lib, Path::new("c/src/lib.rs"));
    assert_eq!(hidden, ["c/src/fuzzing.rs", "c/src/fuzzing", "c/src/inner.rs", "c/src/inner"].map(PathBuf::from));
    assert_eq!(
        hidden_modules("#[doc(hidden)]\nmod wire;\n", Path::new("c/src/codec.rs")),
        [PathBuf::from("c/src/codec/wire.rs"), PathBuf::from("c/src/codec/wire")]
    );
}
