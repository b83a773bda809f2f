//! Tidy: checks of the workspace's structure that neither rustc nor clippy makes, run by
//! `cargo xtask tidy`, by `cargo xtask ci`, and as plain `#[test]`s (see `tidy/tests.rs`) so
//! `cargo test` catches drift, as rust-analyzer does.
//!
//! * Layer graph: a crate depends only on the workspace crates [`LAYER_GRAPH`] allows.
//! * `unsafe` appears only in the files of [`UNSAFE_ALLOWED`], every `unsafe` block or impl
//!   there carries a `// SAFETY:` comment, and the crates of [`FORBID_UNSAFE`] say
//!   `#![forbid(unsafe_code)]`.
//! * Every `.rs` file opens with a `//!` doc comment.
//! * No `mod.rs` files: `foo.rs` sits beside `foo/`.
//! * No file is longer than [`MAX_LINES`] lines.
//!
//! The checks read a [`Workspace`], the members as `cargo metadata` reports them and the sources,
//! held in memory, so the tests can hand them small fixtures. Every violation is collected and reported, not just
//! the first.

mod lexer;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use lexer::UnsafeKind;

/// What a crate may depend on inside the workspace.
enum Allowed {
    /// Only these packages.
    Only(&'static [&'static str]),
    /// Any workspace package (the cross-crate test crate).
    Any,
}

/// The layer graph, by package name: an edge means "may depend on" (normal, build and
/// target-specific dependencies; dev-dependencies are free). Nothing points upward.
///
/// ```text
/// cli ─► engine ─► pager ─► wal ─────► vfs
///  │        │        └────► journal ─► vfs
///  │        └─► asyncio ─────────────► vfs
///  └─► pager, wal, journal, vfs        (storage-layer commands read each structure)
/// bridge ────────────────────────────► vfs   (stock SQLite through Folio VFSes)
/// tests ─► everything        xtask ─► nothing in the workspace
/// ```
const LAYER_GRAPH: &[(&str, Allowed)] = &[
    (
        "folio-cli",
        Allowed::Only(&["folio", "folio-pager", "folio-wal", "folio-journal", "folio-vfs"]),
    ),
    ("folio", Allowed::Only(&["folio-pager", "folio-asyncio", "folio-vfs"])),
    ("folio-pager", Allowed::Only(&["folio-wal", "folio-journal", "folio-vfs"])),
    ("folio-wal", Allowed::Only(&["folio-vfs"])),
    ("folio-journal", Allowed::Only(&["folio-vfs"])),
    ("folio-asyncio", Allowed::Only(&["folio-vfs"])),
    ("folio-vfs", Allowed::Only(&[])),
    ("folio-sqlite-bridge", Allowed::Only(&["folio-vfs"])),
    ("folio-tests", Allowed::Any),
    ("xtask", Allowed::Only(&[])),
];

/// Files that may contain `unsafe`, relative to the workspace root; an entry ending in `/`
/// allows everything below that directory. Only the OS VFS's system calls and mappings (and the
/// view of a mapped `-shm` region as atomic words, `shm/mapped.rs`) need it, and the SQLite
/// bridge, whose whole job is FFI (its callbacks and their unit tests). One
/// benchmark file makes raw `fcntl` lock calls: the WAL commit benchmark's floor must be the
/// system calls alone, with none of our lock code around them.
const UNSAFE_ALLOWED: &[&str] = &[
    "vfs/src/os.rs",
    "vfs/src/os/",
    "vfs/src/shm/mapped.rs",
    "bridge/src/",
    "pager/benches/common/raw_lock.rs",
];

/// Crates (by directory) whose `src/lib.rs` must say `#![forbid(unsafe_code)]`.
const FORBID_UNSAFE: &[&str] = &["journal", "wal", "pager", "asyncio", "engine"];

/// The longest a `.rs` file may be; split it before this.
const MAX_LINES: usize = 1500;

/// How many lines above an `unsafe` block its `// SAFETY:` comment may start, unless the lines
/// between are all comment lines.
const SAFETY_WINDOW: usize = 3;

/// A snapshot of the workspace for the checks.
pub(crate) struct Workspace {
    /// The members, as `cargo metadata` reports them.
    pub(crate) members: Vec<Member>,
    /// Every `.rs` file under the root, outside `target/` and hidden directories.
    pub(crate) sources: Vec<SourceFile>,
}

/// A workspace member: its package and the dependencies it declares.
pub(crate) struct Member {
    /// The member's directory relative to the root, `/`-separated (`vfs`).
    pub(crate) dir: String,
    /// The package name (`folio-vfs`).
    pub(crate) package: String,
    /// Its normal, build and target-specific dependencies; dev-dependencies are left out, as a
    /// test may use any crate without making it part of the layer graph.
    pub(crate) deps: Vec<Dep>,
}

/// A dependency as Cargo resolved its declaration (`workspace = true`, renames and relative
/// paths already followed).
pub(crate) struct Dep {
    /// The package it names (not the key it may be renamed to).
    pub(crate) package: String,
    /// For a path dependency, its directory relative to the workspace root; `None` for a
    /// registry or git dependency, or a path outside the root.
    pub(crate) dir: Option<String>,
}

/// A Rust source file.
pub(crate) struct SourceFile {
    /// The path relative to the root, `/`-separated (`vfs/src/lib.rs`).
    pub(crate) path: String,
    /// The file's text.
    pub(crate) text: String,
}

/// `cargo xtask tidy`: loads the workspace at `root`, runs every check and prints every
/// violation; `Err` if there was any.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let ws = Workspace::load(root)?;
    let errors = check_all(&ws);
    if errors.is_empty() {
        println!("tidy: ok ({} crates, {} .rs files checked)", ws.members.len(), ws.sources.len());
        return Ok(());
    }
    for error in &errors {
        eprintln!("tidy: {error}");
    }
    Err(format!("tidy found {} problem(s), listed above", errors.len()))
}

impl Workspace {
    /// Asks `cargo metadata` (without resolving the dependency graph, so it needs no network
    /// and works when the code does not compile) for the members of the workspace at `root`,
    /// and reads every `.rs` file under `root`, skipping `target` and hidden directories.
    pub(crate) fn load(root: &Path) -> Result<Workspace, String> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .cargo_path(crate::cargo())
            .manifest_path(root.join("Cargo.toml"))
            .no_deps()
            .exec()
            .map_err(|e| format!("cargo metadata on {}: {e}", root.display()))?;
        let root = metadata.workspace_root.as_std_path();
        let mut members = Vec::new();
        for package in metadata.workspace_packages() {
            let manifest_dir = package.manifest_path.parent().map(|d| d.as_std_path());
            let Some(dir) = manifest_dir.and_then(|d| relative(root, d)) else {
                return Err(format!("member {} lies outside {}", package.name, root.display()));
            };
            let deps = package
                .dependencies
                .iter()
                .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
                .map(|d| Dep {
                    package: d.name.clone(),
                    dir: d.path.as_ref().and_then(|p| relative(root, p.as_std_path())),
                })
                .collect();
            members.push(Member { dir, package: package.name.to_string(), deps });
        }
        members.sort_by(|a, b| a.dir.cmp(&b.dir));
        let mut sources = Vec::new();
        collect_sources(root, "", &mut sources)?;
        sources.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Workspace { members, sources })
    }

    /// The workspace package `dep` refers to: the member in its directory, or the member of
    /// its name; `None` for a crate from outside the workspace.
    fn resolve(&self, dep: &Dep) -> Option<&str> {
        let by_dir = dep.dir.as_deref().and_then(|d| self.members.iter().find(|m| m.dir == d));
        let member = by_dir.or_else(|| self.members.iter().find(|m| m.package == dep.package))?;
        Some(member.package.as_str())
    }
}

/// `path` relative to `root`, `/`-separated; `None` if it lies outside.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
    Some(parts.join("/"))
}

/// Adds every `.rs` file below `root/rel` to `out`.
fn collect_sources(root: &Path, rel: &str, out: &mut Vec<SourceFile>) -> Result<(), String> {
    let dir = root.join(rel);
    let entries = fs::read_dir(&dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        let file_type =
            entry.file_type().map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
        if file_type.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_sources(root, &path, out)?;
            }
        } else if file_type.is_file() && name.ends_with(".rs") {
            let text = fs::read_to_string(entry.path())
                .map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
            out.push(SourceFile { path, text });
        }
    }
    Ok(())
}

/// Every check, in order; the violations of all of them.
pub(crate) fn check_all(ws: &Workspace) -> Vec<String> {
    let mut errors = check_layers(ws);
    errors.extend(check_unsafe_allow_list(ws));
    errors.extend(check_safety_comments(ws));
    errors.extend(check_forbid_unsafe(ws));
    errors.extend(check_doc_comments(ws));
    errors.extend(check_no_mod_rs(ws));
    errors.extend(check_file_length(ws));
    errors
}

/// Each member depends only on the workspace packages [`LAYER_GRAPH`] allows it.
pub(crate) fn check_layers(ws: &Workspace) -> Vec<String> {
    let mut errors = Vec::new();
    for member in &ws.members {
        let (name, dir) = (member.package.as_str(), member.dir.as_str());
        let Some((_, allowed)) = LAYER_GRAPH.iter().find(|(n, _)| *n == name) else {
            errors.push(format!(
                "layers: package `{name}` ({dir}/Cargo.toml) is not in the layer graph; add \
                 the workspace crates it may depend on to LAYER_GRAPH in xtask/src/tidy.rs \
                 (and to the graph in ARCHITECTURE.md)"
            ));
            continue;
        };
        let edges: BTreeSet<&str> = member.deps.iter().filter_map(|dep| ws.resolve(dep)).collect();
        for dep in edges {
            let ok = match allowed {
                Allowed::Any => true,
                Allowed::Only(list) => list.contains(&dep),
            };
            if !ok {
                let may = match allowed {
                    Allowed::Only(list) if !list.is_empty() => list.join(", "),
                    _ => "nothing in the workspace".to_string(),
                };
                errors.push(format!(
                    "layers: `{name}` ({dir}/Cargo.toml) depends on `{dep}`, which the layer \
                     graph forbids; `{name}` may depend on: {may}"
                ));
            }
        }
    }
    errors
}

/// True if `path` is on [`UNSAFE_ALLOWED`].
fn unsafe_allowed(path: &str) -> bool {
    UNSAFE_ALLOWED.iter().any(|allowed| match allowed.strip_suffix('/') {
        Some(dir) => path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')),
        None => path == *allowed,
    })
}

/// The `unsafe` keyword appears in code only in files on [`UNSAFE_ALLOWED`].
pub(crate) fn check_unsafe_allow_list(ws: &Workspace) -> Vec<String> {
    let mut errors = Vec::new();
    for file in ws.sources.iter().filter(|f| !unsafe_allowed(&f.path)) {
        for token in lexer::unsafe_tokens(&lexer::code_only(&file.text)) {
            errors.push(format!(
                "unsafe: {}:{}: `unsafe` outside the allow-list ({}); keep it in the OS VFS or \
                 the SQLite bridge, or extend UNSAFE_ALLOWED in xtask/src/tidy.rs with a reason",
                file.path,
                token.line,
                UNSAFE_ALLOWED.join(", ")
            ));
        }
    }
    errors
}

/// Every `unsafe { .. }` block and `unsafe impl` in an allowed file has a `// SAFETY:` comment
/// within [`SAFETY_WINDOW`] lines above it, or at the head of the comment block right above
/// it. Clippy's `undocumented_unsafe_blocks` checks the same more precisely; this catches it
/// without a build.
pub(crate) fn check_safety_comments(ws: &Workspace) -> Vec<String> {
    let mut errors = Vec::new();
    for file in ws.sources.iter().filter(|f| unsafe_allowed(&f.path)) {
        let lines: Vec<&str> = file.text.lines().collect();
        for token in lexer::unsafe_tokens(&lexer::code_only(&file.text)) {
            let what = match token.kind {
                UnsafeKind::Block => "`unsafe` block",
                UnsafeKind::Impl => "`unsafe impl`",
                UnsafeKind::Other => continue,
            };
            if !has_safety_comment(&lines, token.line) {
                errors.push(format!(
                    "unsafe: {}:{}: {what} without a `// SAFETY:` comment just above it",
                    file.path, token.line
                ));
            }
        }
    }
    errors
}

/// True if a `// SAFETY:` comment documents the code on 1-based line `line`.
fn has_safety_comment(lines: &[&str], line: usize) -> bool {
    let above = &lines[..line.saturating_sub(1).min(lines.len())];
    let in_window = above.iter().rev().take(SAFETY_WINDOW).any(|l| l.contains("// SAFETY:"));
    // A longer justification: the comment block right above starts with SAFETY.
    let in_block = above
        .iter()
        .rev()
        .map(|l| l.trim_start())
        .take_while(|l| l.starts_with("//"))
        .any(|l| l.contains("SAFETY:"));
    in_window || in_block
}

/// The crates of [`FORBID_UNSAFE`] say `#![forbid(unsafe_code)]` in `src/lib.rs`.
pub(crate) fn check_forbid_unsafe(ws: &Workspace) -> Vec<String> {
    let mut errors = Vec::new();
    for krate in FORBID_UNSAFE {
        let path = format!("{krate}/src/lib.rs");
        let Some(file) = ws.sources.iter().find(|f| f.path == path) else {
            errors.push(format!("unsafe: {path} is missing; it must say #![forbid(unsafe_code)]"));
            continue;
        };
        if !forbids_unsafe(&file.text) {
            errors.push(format!("unsafe: {path} does not say #![forbid(unsafe_code)]"));
        }
    }
    errors
}

/// True if `text` has an inner `#![forbid(..)]` attribute listing `unsafe_code`, in code.
fn forbids_unsafe(text: &str) -> bool {
    let code: String = lexer::code_only(text).chars().filter(|c| !c.is_whitespace()).collect();
    code.split("#![forbid(").skip(1).any(|rest| {
        rest.split_once(")]").is_some_and(|(lints, _)| lints.split(',').any(|l| l == "unsafe_code"))
    })
}

/// Every `.rs` file's first non-empty line starts with `//!`.
pub(crate) fn check_doc_comments(ws: &Workspace) -> Vec<String> {
    ws.sources
        .iter()
        .filter(|file| {
            let first = file.text.lines().map(str::trim).find(|l| !l.is_empty());
            !first.is_some_and(|l| l.starts_with("//!"))
        })
        .map(|file| {
            format!(
                "docs: {} does not start with a `//!` doc comment saying what the file is for",
                file.path
            )
        })
        .collect()
}

/// No file is called `mod.rs`.
pub(crate) fn check_no_mod_rs(ws: &Workspace) -> Vec<String> {
    ws.sources
        .iter()
        .filter(|file| file.path == "mod.rs" || file.path.ends_with("/mod.rs"))
        .map(|file| {
            let dir = file.path.strip_suffix("/mod.rs").unwrap_or("");
            format!("layout: {} is a mod.rs; move it to {dir}.rs beside {dir}/", file.path)
        })
        .collect()
}

/// No file is longer than [`MAX_LINES`] lines.
pub(crate) fn check_file_length(ws: &Workspace) -> Vec<String> {
    ws.sources
        .iter()
        .filter_map(|file| {
            let n_lines = file.text.lines().count();
            (n_lines > MAX_LINES).then(|| {
                format!(
                    "length: {} has {n_lines} lines, over the {MAX_LINES}-line limit; split it",
                    file.path
                )
            })
        })
        .collect()
}
