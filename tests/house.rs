//! The layout rules of the house (ARCHITECTURE.md), checked on the source tree: no source file
//! over ~700 lines but data tables, no Lua inside Rust source, and no import cycle between the
//! modules of one crate (a lower module never imports from one that imports it).
//!
//! Reads files only; the module graph is built from `use` statements and `crate::`, `super::`,
//! `self::` and child-module paths in code (test modules excluded), which is what the rule is
//! about: which module depends on which.

// This test reads files only; the package's dependencies serve the binary and `tests/it`.
#![allow(unused_crate_dependencies)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Files that are data, not logic, and may be long. Each says why.
/// None today: `sim/src/universe/data.rs`, the longest table, is under the limit.
const DATA_TABLES: &[(&str, &str)] = &[];

const MAX_LINES: usize = 700;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every workspace crate's `src/` folder (the root package's too).
fn crate_sources() -> Vec<PathBuf> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("a [workspace] members list in Cargo.toml");
    members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(|m| root().join(m).join("src"))
        .filter(|p| p.is_dir())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn no_source_file_is_longer_than_700_lines_except_data_tables() {
    let mut long = Vec::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let name = relative(&f);
            let lines = fs::read_to_string(&f).unwrap().lines().count();
            if lines > MAX_LINES && !DATA_TABLES.iter().any(|(t, _)| *t == name) {
                long.push(format!("{name}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern (or, for pure data, list them in DATA_TABLES with why):\n{}",
        long.join("\n")
    );
}

#[test]
fn lua_lives_in_lua_files_not_in_rust_strings() {
    let mut inline = Vec::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains("redis.call(") || line.contains("redis.pcall(") {
                    inline.push(format!("{}:{}", relative(&f), n + 1));
                }
            }
        }
    }
    assert!(
        inline.is_empty(),
        "Lua belongs in a .lua file next to its module (include_str!):\n{}",
        inline.join("\n")
    );
}

/// A module of a crate: its path (`routes::premiums`, `` for the crate root) and its file.
struct Module {
    path: Vec<String>,
    text: String,
}

fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file's code without its test module(s) and comments.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod ") || n.contains(" mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Expands a `use` tree (`crate::{a::B, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    fn go(prefix: &str, tree: &str, out: &mut Vec<String>) {
        match tree.find('{') {
            None => out.push(format!("{prefix}{tree}")),
            Some(open) => {
                let head = &tree[..open];
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            go(&format!("{prefix}{head}"), &inner[start..i], out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                if start < inner.len() {
                    go(&format!("{prefix}{head}"), &inner[start..], out);
                }
            }
        }
    }
    let mut out = Vec::new();
    go("", &tree, &mut out);
    out.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The code without its re-exports (`pub use …;`, `pub(crate) use …;`).
fn without_reexports(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("pub") {
        let after = &rest[at + 3..];
        let vis_end = if after.starts_with('(') {
            after.find(')').map(|i| i + 1).unwrap_or(0)
        } else {
            0
        };
        let is_use = after[vis_end..].trim_start().starts_with("use ");
        let starts_word = !rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if is_use && starts_word {
            out.push_str(&rest[..at]);
            rest = after.find(';').map_or("", |end| &after[end + 1..]);
        } else {
            out.push_str(&rest[..at + 3]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Which `use` statements [`named_paths`] reads.
#[derive(Clone, Copy, PartialEq)]
enum Uses {
    /// What the module's own code uses: private `use`s. A `pub use` only re-exports (a facade
    /// over its children, as `mod.rs` files are), so it is no dependency of the module's code.
    Own,
    /// Only the re-exports (`pub use`).
    ReExports,
}

/// The paths a module's code names: its `use` paths (as `uses` says), and, for `Uses::Own`,
/// `crate::…`/`super::…`/`self::…` paths written inline.
fn named_paths(code: &str, uses: Uses) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let public = rest[..at].trim_end().ends_with("pub") || rest[..at].trim_end().ends_with(')');
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if public != (uses == Uses::ReExports) {
            continue;
        }
        if let Some(end) = rest.find(';') {
            paths.extend(expand_use(&rest[..end]));
        }
    }
    if uses == Uses::ReExports {
        return paths;
    }
    for anchor in ["crate::", "super::", "self::"] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let path = tail[..end].trim_end_matches(':');
            // `use super::{a, b}` names its modules inside the braces (read above), not `super`.
            let names_something = path
                .split("::")
                .any(|s| !matches!(s, "crate" | "super" | "self" | ""));
            if names_something
                && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                paths.push(path.to_string());
            }
            rest = &rest[at + anchor.len()..];
        }
    }
    paths
}

/// Which module a path names, from inside module `from`: the longest known module prefix,
/// or, for an item the crate root re-exports (`pub use x::Item`), the module it comes from.
fn target(
    path: &str,
    from: &[String],
    modules: &BTreeSet<Vec<String>>,
    root_reexports: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, rest): (Vec<String>, &[&str]) = match segs.first() {
        Some(&"crate") => (Vec::new(), &segs[1..]),
        Some(&"self") => (from.to_vec(), &segs[1..]),
        Some(&"super") => {
            let mut base = from.to_vec();
            let mut i = 0;
            while segs.get(i) == Some(&"super") {
                base.pop();
                i += 1;
            }
            (base, &segs[i..])
        }
        Some(first) => {
            // A relative path into a child module (`premiums::routes()` in `routes/mod.rs`).
            let mut child = from.to_vec();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
            (from.to_vec(), &segs[..])
        }
        None => return None,
    };
    let mut found = base.clone();
    for s in rest {
        base.push(s.to_string());
        if modules.contains(&base) {
            found = base.clone();
        } else {
            break;
        }
    }
    if found.is_empty() {
        let item = rest.first()?;
        return root_reexports.get(*item).cloned();
    }
    Some(found)
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Vec<String>) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.clone());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The module graph of one crate: module → the modules its code uses, a parent's use of its
/// own children included (the crate root left out: it declares and re-exports everything).
fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: Vec<Module> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("bin")))
        .map(|f| Module {
            path: module_path(src, f),
            text: code_of(&fs::read_to_string(f).unwrap()),
        })
        .collect();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut root_reexports = BTreeMap::new();
    for m in modules.iter().filter(|m| m.path.is_empty()) {
        for p in named_paths(&m.text, Uses::ReExports) {
            let item = p.rsplit("::").next().unwrap_or_default();
            let path = format!("crate::{}", p.trim_start_matches("crate::"));
            if let Some(from) = target(&path, &[], &known, &BTreeMap::new())
                && !from.is_empty()
            {
                root_reexports.insert(item.to_string(), from);
            }
        }
    }
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for m in modules.iter().filter(|m| !m.path.is_empty()) {
        let entry = edges.entry(m.path.clone()).or_default();
        let own = without_reexports(&m.text);
        // Inline paths into its own children (`premiums::routes()` in `routes/mod.rs`).
        let children = known
            .iter()
            .filter(|k| k.len() == m.path.len() + 1 && k.starts_with(&m.path));
        for child in children {
            let name = format!("{}::", child.last().unwrap());
            let inline = own.match_indices(&name).any(|(at, _)| {
                !own[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if inline {
                entry.insert(child.clone());
            }
        }
        for p in named_paths(&own, Uses::Own) {
            if let Some(to) = target(&p, &m.path, &known, &root_reexports)
                && !to.is_empty()
                && to != m.path
            {
                entry.insert(to);
            }
        }
    }
    edges
}

#[test]
fn no_module_imports_from_a_module_that_imports_it() {
    let mut found = Vec::new();
    for src in crate_sources() {
        for scc in cycles(&module_graph(&src)) {
            let names: Vec<String> = scc.iter().map(|m| m.join("::")).collect();
            found.push(format!("{}: {}", relative(&src), names.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "import cycles inside a crate (move the shared piece down into a leaf module):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cycle_finder_sees_a_cycle_and_a_re_exported_item() {
    let dir = std::env::temp_dir().join(format!("house-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("routes")).unwrap();
    fs::write(
        src.join("lib.rs"),
        "mod error;\nmod routes;\npub use routes::View;\n",
    )
    .unwrap();
    fs::write(src.join("error.rs"), "use crate::View;\npub struct E;\n").unwrap();
    fs::write(
        src.join("routes/mod.rs"),
        "pub mod premiums;\npub use premiums::View;\nfn f() { premiums::g() }\n",
    )
    .unwrap();
    fs::write(
        src.join("routes/premiums.rs"),
        "use crate::error::{\n    E,\n};\npub struct View;\npub fn g() {}\n#[cfg(test)]\nmod tests {\n    use crate::routes::*;\n}\n",
    )
    .unwrap();
    let graph = module_graph(&src);
    let found = cycles(&graph);
    fs::remove_dir_all(&dir).unwrap();
    let names: Vec<Vec<String>> = found
        .iter()
        .map(|scc| scc.iter().map(|m| m.join("::")).collect())
        .collect();
    assert_eq!(names.len(), 1, "{names:?} in {graph:?}");
    let mut scc = names[0].clone();
    scc.sort();
    assert_eq!(scc, ["error", "routes", "routes::premiums"], "{graph:?}");
}
