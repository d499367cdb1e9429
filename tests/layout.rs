//! The architecture as the imports show it: which top-level module of
//! `src/` uses which, read from the source (every `crate::<module>` path,
//! `use crate::{…}` groups included). The allowed edges are written once,
//! below, and drawn in docs/architecture.md; a new edge, a circle or an
//! out-of-date picture fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Who may use whom. Leaves (`log`, `timing`, `clock`, `outbound`,
/// `trace`, `webhook_signature`, `domain`) use nothing of the project but
/// each other where listed.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "auth",
            "catalog",
            "clock",
            "domain",
            "log",
            "orders",
            "settings",
            "timing",
            "trace",
            "webhook_signature",
        ],
    ),
    (
        "orders",
        &[
            "auth",
            "catalog",
            "clock",
            "domain",
            "event_stream",
            "log",
            "settings",
            "store",
            "timing",
        ],
    ),
    (
        "auth",
        &["clock", "domain", "log", "outbound", "settings", "store"],
    ),
    ("catalog", &["domain", "outbound", "settings", "trace"]),
    ("event_stream", &["domain", "settings"]),
    ("store", &["clock", "domain", "settings"]),
    ("outbound", &["clock"]),
    ("domain", &[]),
    ("settings", &[]),
    ("clock", &[]),
    ("log", &[]),
    ("timing", &[]),
    ("trace", &[]),
    ("webhook_signature", &["settings"]),
];

/// Top-level module → the top-level modules its files name.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let module = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let used = graph.entry(module.clone()).or_default();
            for name in crate_paths(&text) {
                if name != module {
                    used.insert(name);
                }
            }
        }
    }
    graph
}

/// The first segment of every `crate::…` path in `text`, including each
/// member of a `use crate::{a, b::c}` group. Comments are skipped.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for member in split_top_level(&group[..end]) {
                if let Some(first) = first_segment(member) {
                    found.insert(first);
                }
            }
        } else if let Some(first) = first_segment(rest) {
            found.insert(first);
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[test]
fn every_import_is_an_allowed_edge() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(module, uses)| (*module, uses.iter().copied().collect()))
        .collect();
    let mut unexpected = Vec::new();
    for (module, uses) in imports() {
        let Some(may) = allowed.get(module.as_str()) else {
            unexpected.push(format!("{module}: a module the picture does not have"));
            continue;
        };
        for used in uses {
            if !may.contains(used.as_str()) {
                unexpected.push(format!("{module} → {used}"));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "edges not in ALLOWED: {unexpected:#?}"
    );
}

#[test]
fn the_http_edge_never_names_the_store() {
    let graph = imports();
    assert!(!graph["api"].contains("store"), "{:?}", graph["api"]);
}

#[test]
fn there_is_no_import_circle() {
    let graph = imports();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let circle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "an import circle: {}",
            circle.unwrap().join(" → ")
        );
    }
}

#[test]
fn the_reader_finds_grouped_and_nested_imports() {
    let text = "use crate::{a::b, c::{d, e}};\n// crate::commented\nlet x = crate::f::g();";
    let found: Vec<String> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["a", "c", "f"]);
}

// --- The layout as the docs show it: README.md's and
// docs/architecture.md's layout blocks and dependency picture are checked
// against the tree and ALLOWED, the way wit/world.wit is checked against
// the component. ---------------------------------------------------------

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the first fenced block after the line `heading` in `file`.
fn block_under(file: &str, heading: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let after = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("{file} has no `{heading}`"))
        .1;
    let block = after.split_once("```").expect("a fenced block").1;
    let block = block.split_once('\n').expect("the fence's line").1;
    let block = block.split_once("```").expect("the closing fence").0;
    block.lines().map(str::to_owned).collect()
}

/// The paths a layout block names: the first word of each line that
/// starts at its left edge (continuation lines are indented), without a
/// trailing `/`.
fn listed(block: &[String]) -> BTreeSet<String> {
    block
        .iter()
        .filter(|line| !line.starts_with(' ') && !line.is_empty())
        .map(|line| {
            let path = line.split_whitespace().next().unwrap();
            path.trim_end_matches('/').to_owned()
        })
        .collect()
}

/// Every file and directory under `dir` (relative to the root).
fn tree(dir: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root().join(dir)];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root()).unwrap();
            found.insert(relative.to_string_lossy().into_owned());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

#[test]
fn the_readme_layout_is_the_tree() {
    let listed = listed(&block_under("README.md", "## Layout"));
    let missing: Vec<&String> = listed.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "listed but not in the tree: {missing:?}"
    );
    // Every tracked entry of the top level, and every entry of src/.
    let tracked = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(root())
        .output()
        .expect("git");
    assert!(tracked.status.success());
    let top_level: BTreeSet<String> = String::from_utf8(tracked.stdout)
        .unwrap()
        .lines()
        .map(|path| path.split('/').next().unwrap().to_owned())
        .collect();
    let src: BTreeSet<String> = tree("src")
        .into_iter()
        .filter(|path| path.matches('/').count() == 1)
        .collect();
    let unlisted: Vec<&String> = top_level
        .union(&src)
        .filter(|p| !listed.contains(*p))
        .collect();
    assert!(
        unlisted.is_empty(),
        "README.md's Layout does not list {unlisted:?}"
    );
}

#[test]
fn the_architecture_page_lists_every_file_of_src() {
    let listed = listed(&block_under("docs/architecture.md", "## Layout of src/"));
    let present = tree("src");
    let unlisted: Vec<&String> = present.difference(&listed).collect();
    let gone: Vec<&String> = listed.difference(&present).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "docs/architecture.md's Layout of src/: not listed {unlisted:?}, listed but gone {gone:?}"
    );
}

#[test]
fn the_dependency_picture_is_the_allowed_edges() {
    let mut drawn: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in block_under("docs/architecture.md", "## Dependencies") {
        let names = |list: &str| -> BTreeSet<String> {
            list.split(',').map(|name| name.trim().to_owned()).collect()
        };
        if let Some(leaves) = line.strip_prefix("leaves: ") {
            for leaf in names(leaves) {
                drawn.insert(leaf, BTreeSet::new());
            }
        } else if let Some((module, uses)) = line.split_once(" → ") {
            drawn.insert(module.trim().to_owned(), names(uses));
        }
    }
    let allowed: BTreeMap<String, BTreeSet<String>> = ALLOWED
        .iter()
        .map(|(module, uses)| {
            let uses = uses.iter().map(|u| u.to_string()).collect();
            (module.to_string(), uses)
        })
        .collect();
    assert_eq!(
        drawn, allowed,
        "docs/architecture.md's picture is not ALLOWED"
    );
}

/// The benchmark's before/after patches (bench/experiments) undo one
/// optimisation of today's code: each must still apply, or the experiment
/// it reproduces is lost. (`.ci/run` checks the same before building.)
#[test]
fn the_benchmark_patches_still_apply() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut patches: Vec<_> = std::fs::read_dir(root.join("bench/experiments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "patch"))
        .collect();
    patches.sort();
    assert!(patches.len() >= 4, "{patches:?}");
    for patch in patches {
        let checked = std::process::Command::new("git")
            .current_dir(root)
            .args(["apply", "--check"])
            .arg(&patch)
            .output()
            .expect("git");
        assert!(
            checked.status.success(),
            "{} no longer applies: {}",
            patch.display(),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}
