//! Tests of the tidy checks: each check against a small fixture that breaks it (so each test can
//! fail), the scanners they rely on, the loader on a temporary directory, and finally the real
//! workspace, which must be tidy.

use std::path::{Path, PathBuf};

use super::lexer::{code_only, unsafe_tokens, UnsafeKind, UnsafeToken};
use super::*;

/// A member in directory `dir` of package `package`, depending on the `deps` packages (found by
/// name, as a registry-style declaration would be).
fn member(dir: &str, package: &str, deps: &[&str]) -> Member {
    let deps = deps.iter().map(|d| Dep { package: d.to_string(), dir: None }).collect();
    Member { dir: dir.to_string(), package: package.to_string(), deps }
}

/// A workspace of the given members and no sources.
fn with_members(members: Vec<Member>) -> Workspace {
    Workspace { members, sources: Vec::new() }
}

/// A workspace of the given sources (path, text) and no members.
fn with_sources(sources: &[(&str, &str)]) -> Workspace {
    Workspace {
        members: Vec::new(),
        sources: sources
            .iter()
            .map(|(path, text)| SourceFile { path: path.to_string(), text: text.to_string() })
            .collect(),
    }
}

/// The members of a correct layer graph.
fn good_members() -> Vec<Member> {
    vec![
        member("vfs", "folio-vfs", &["thiserror"]),
        member("journal", "folio-journal", &["folio-vfs"]),
        member("wal", "folio-wal", &["folio-vfs"]),
        member("pager", "folio-pager", &["folio-wal", "folio-journal"]),
        member("engine", "folio", &["folio-pager"]),
        member("cli", "folio-cli", &["folio"]),
        member("tests", "folio-tests", &["folio", "folio-wal"]),
        member("xtask", "xtask", &["cargo_metadata"]),
    ]
}

/// `good_members()` with the member in `dir` replaced.
fn members_with(replacement: Member) -> Workspace {
    let mut members = good_members();
    let slot = members.iter_mut().find(|m| m.dir == replacement.dir).expect("fixture member");
    *slot = replacement;
    with_members(members)
}

fn assert_one_error(errors: &[String], needles: &[&str]) {
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    for needle in needles {
        assert!(errors[0].contains(needle), "{:?} does not mention {needle:?}", errors[0]);
    }
}

#[test]
fn layers_accept_the_documented_graph() {
    assert_eq!(check_layers(&with_members(good_members())), Vec::<String>::new());
}

#[test]
fn layers_reject_an_upward_edge() {
    let errors =
        check_layers(&members_with(member("wal", "folio-wal", &["folio-vfs", "folio-pager"])));
    assert_one_error(&errors, &["folio-wal", "folio-pager", "may depend on: folio-vfs"]);
}

#[test]
fn layers_find_a_path_dependency_by_its_directory() {
    // Renamed under any key, a path into `vfs` is folio-vfs; xtask may not depend on it.
    let mut xtask = member("xtask", "xtask", &[]);
    xtask.deps.push(Dep { package: "renamed".to_string(), dir: Some("vfs".to_string()) });
    let errors = check_layers(&members_with(xtask));
    assert_one_error(&errors, &["`xtask`", "`folio-vfs`", "nothing in the workspace"]);
}

#[test]
fn layers_let_the_sqlite_bridge_use_the_vfs_and_nothing_above_it() {
    let mut members = good_members();
    members.push(member("bridge", "folio-sqlite-bridge", &["folio-vfs", "libsqlite3-sys"]));
    assert_eq!(check_layers(&with_members(members)), Vec::<String>::new());

    let mut members = good_members();
    members.push(member("bridge", "folio-sqlite-bridge", &["folio-vfs", "folio-journal"]));
    let errors = check_layers(&with_members(members));
    assert_one_error(&errors, &["folio-sqlite-bridge", "folio-journal"]);
}

#[test]
fn layers_reject_a_crate_missing_from_the_graph() {
    let mut members = good_members();
    members.push(member("bench", "folio-bench", &["folio"]));
    let errors = check_layers(&with_members(members));
    assert_one_error(&errors, &["folio-bench", "not in the layer graph"]);
}

#[test]
fn unsafe_outside_the_allow_list_is_reported_with_its_line() {
    let text = "//! Engine.\n\nfn f() {\n    unsafe { g() }\n}\n";
    let errors = check_unsafe_allow_list(&with_sources(&[("engine/src/lib.rs", text)]));
    assert_one_error(&errors, &["engine/src/lib.rs:4", "allow-list"]);

    let unsafe_fn = "//! Pager.\npub unsafe fn f() {}\n";
    let errors = check_unsafe_allow_list(&with_sources(&[("pager/src/cache.rs", unsafe_fn)]));
    assert_one_error(&errors, &["pager/src/cache.rs:2"]);

    // `os.rs` is allowed, `os_extra.rs` and files in other crates' `os/` are not.
    let block = "//! X.\n// SAFETY: fine.\nunsafe {}\n";
    let errors = check_unsafe_allow_list(&with_sources(&[
        ("vfs/src/os.rs", block),
        ("vfs/src/os/shm.rs", block),
        ("vfs/src/os_extra.rs", block),
        ("wal/src/os/x.rs", block),
    ]));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("vfs/src/os_extra.rs:3"));
    assert!(errors[1].contains("wal/src/os/x.rs:3"));

    // The SQLite bridge's sources may hold FFI code; its integration tests go through the safe
    // API and may not.
    let errors = check_unsafe_allow_list(&with_sources(&[
        ("bridge/src/io_methods.rs", block),
        ("bridge/src/io_methods/tests.rs", block),
        ("bridge/tests/bridge.rs", block),
    ]));
    assert_one_error(&errors, &["bridge/tests/bridge.rs:3"]);
}

#[test]
fn unsafe_in_comments_strings_and_names_is_not_code() {
    let text = r##"//! The word unsafe in a doc comment.
#![forbid(unsafe_code)]
// unsafe { in a line comment }
/* unsafe { in a block /* nested unsafe */ comment } */
const A: &str = "unsafe { in a string \" unsafe }";
const B: &str = r#"raw "unsafe {" string // not a comment"#;
const C: char = '"';
const D: &str = "after a char literal: unsafe";
fn lifetimes<'a>(x: &'a str) -> &'a str { x } // unsafe
const E: u8 = b'\'';
let not_unsafe_fn = unsafe_thing;
"##;
    let errors = check_unsafe_allow_list(&with_sources(&[("wal/src/lib.rs", text)]));
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn unsafe_blocks_need_a_safety_comment() {
    let text = "//! OS VFS.\n\
                fn a(p: *const u8) -> u8 {\n\
                    // SAFETY: p is valid.\n\
                    unsafe { *p }\n\
                }\n\
                fn b(p: *const u8) -> u8 {\n\
                    // Reads the byte.\n\
                    let x = 1;\n\
                    let y = 2;\n\
                    let z = 3;\n\
                    x + y + z + unsafe { *p }\n\
                }\n\
                struct S;\n\
                unsafe impl Send for S {}\n";
    let errors = check_safety_comments(&with_sources(&[("vfs/src/os/file.rs", text)]));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("vfs/src/os/file.rs:11") && errors[0].contains("block"));
    assert!(errors[1].contains("vfs/src/os/file.rs:14") && errors[1].contains("impl"));
}

#[test]
fn a_long_safety_comment_may_start_far_above() {
    let text = "//! OS VFS.\n\
                fn a(p: *const u8) -> u8 {\n\
                    // SAFETY: the mapping is valid, and\n\
                    // this explanation runs on\n\
                    // for several lines\n\
                    // before the block.\n\
                    unsafe { *p }\n\
                }\n";
    let errors = check_safety_comments(&with_sources(&[("vfs/src/os.rs", text)]));
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn lower_crates_must_forbid_unsafe_code() {
    let good = "//! A crate.\n#![forbid(unsafe_code)]\n";
    let in_comment = "//! A crate.\n// #![forbid(unsafe_code)]\n";
    let with_others = "//! A crate.\n#![forbid(missing_docs, unsafe_code)]\n";
    let ws = with_sources(&[
        ("journal/src/lib.rs", good),
        ("wal/src/lib.rs", in_comment),
        ("pager/src/lib.rs", with_others),
        ("asyncio/src/lib.rs", good),
    ]);
    let errors = check_forbid_unsafe(&ws);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("wal/src/lib.rs") && errors[0].contains("does not say"));
    assert!(errors[1].contains("engine/src/lib.rs") && errors[1].contains("missing"));
}

#[test]
fn files_start_with_a_doc_comment() {
    let ws = with_sources(&[
        ("a/src/good.rs", "\n\n//! Good.\nfn f() {}\n"),
        ("a/src/plain.rs", "// Plain comment.\nfn f() {}\n"),
        ("a/src/attr.rs", "#![allow(dead_code)]\n//! Too late.\n"),
        ("a/src/empty.rs", ""),
        ("a/src/outer.rs", "/// Outer doc.\nfn f() {}\n"),
    ]);
    let errors = check_doc_comments(&ws);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    for (error, path) in errors.iter().zip(["plain", "attr", "empty", "outer"]) {
        assert!(error.contains(&format!("a/src/{path}.rs")), "{error}");
    }
}

#[test]
fn mod_rs_files_are_rejected() {
    let ws = with_sources(&[
        ("vfs/src/lock.rs", "//! Locks.\n"),
        ("vfs/src/lock/mod.rs", "//! Locks.\n"),
        ("vfs/src/model.rs", "//! A model.\n"),
    ]);
    let errors = check_no_mod_rs(&ws);
    assert_one_error(&errors, &["vfs/src/lock/mod.rs", "vfs/src/lock.rs"]);
}

#[test]
fn files_over_the_line_limit_are_listed() {
    let at_limit = "//! Long.\n".to_string() + &"x\n".repeat(MAX_LINES - 1);
    let over = at_limit.clone() + "x\n";
    let ws = with_sources(&[("a/src/at.rs", &at_limit), ("a/src/over.rs", &over)]);
    let errors = check_file_length(&ws);
    assert_one_error(&errors, &["a/src/over.rs", &format!("{} lines", MAX_LINES + 1)]);
}

#[test]
fn code_only_keeps_lines_and_columns() {
    let text = "let s = \"a\nb\"; // c\n/* d\n*/ let t = 'x';";
    let code = code_only(text);
    assert_eq!(code.lines().count(), text.lines().count());
    assert_eq!(code, "let s = \" \n \";     \n    \n   let t = ' ';");
}

#[test]
fn unsafe_tokens_are_classified() {
    let code = "unsafe {}\nunsafe impl Send for S {}\nunsafe fn f() {}\nunsafe\n{ }\nunsafe impls";
    let tokens = unsafe_tokens(code);
    let expect = |line, kind| UnsafeToken { line, kind };
    assert_eq!(
        tokens,
        vec![
            expect(1, UnsafeKind::Block),
            expect(2, UnsafeKind::Impl),
            expect(3, UnsafeKind::Other),
            expect(4, UnsafeKind::Block),
            expect(6, UnsafeKind::Other),
        ]
    );
}

/// A scratch directory under the system temp dir, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!("xtask-tidy-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir(path)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A manifest for package `name` followed by `body`.
fn manifest(name: &str, body: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{body}")
}

#[test]
fn load_asks_cargo_for_members_and_dependencies_and_skips_target_and_hidden_dirs() {
    let dir = ScratchDir::new("load");
    dir.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\", \"xtask\"]\n\n\
         [workspace.dependencies]\nb = { path = \"crates/b\" }\n",
    );
    // Every declaration form a layer edge can take; the dev-dependency is not an edge.
    let a = "[dependencies]\nb.workspace = true\nalias = { path = \"../b\", package = \"b\" }\n\n\
             [target.'cfg(unix)'.dependencies]\nc = { path = \"../c\" }\n\n\
             [build-dependencies]\nc = { path = \"../c\" }\n\n\
             [dev-dependencies]\nd = { path = \"../d\" }\n";
    dir.write("crates/a/Cargo.toml", &manifest("a", a));
    dir.write("crates/a/src/lib.rs", "//! A.\n");
    for name in ["b", "c", "d"] {
        dir.write(&format!("crates/{name}/Cargo.toml"), &manifest(name, ""));
    }
    dir.write("crates/b/src/mod.rs", "fn undocumented() {}\n");
    dir.write("crates/b/src/lib.rs", "//! B.\n");
    dir.write("crates/c/src/lib.rs", "//! C.\n");
    dir.write("crates/d/src/lib.rs", "//! D.\n");
    dir.write("xtask/Cargo.toml", &manifest("xtask", ""));
    dir.write("xtask/src/main.rs", "//! X.\nfn main() {}\n");
    dir.write("target/debug/build/out.rs", "fn generated() {}\n");
    dir.write(".git/hooks/x.rs", "fn hidden() {}\n");

    let ws = Workspace::load(&dir.0).unwrap();
    let dirs: Vec<&str> = ws.members.iter().map(|m| m.dir.as_str()).collect();
    assert_eq!(dirs, ["crates/a", "crates/b", "crates/c", "crates/d", "xtask"]);
    let a = &ws.members[0];
    let mut edges: Vec<&str> = a.deps.iter().filter_map(|d| ws.resolve(d)).collect();
    edges.sort_unstable();
    assert_eq!(edges, ["b", "b", "c", "c"], "workspace, renamed, target and build edges; no dev");
    let paths: Vec<&str> = ws.sources.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "crates/a/src/lib.rs",
            "crates/b/src/lib.rs",
            "crates/b/src/mod.rs",
            "crates/c/src/lib.rs",
            "crates/d/src/lib.rs",
            "xtask/src/main.rs"
        ]
    );
    // The bad file is found by the checks through the loader.
    assert_one_error(&check_doc_comments(&ws), &["crates/b/src/mod.rs"]);
    assert_one_error(&check_no_mod_rs(&ws), &["crates/b/src/mod.rs"]);
}

/// The real workspace passes every check. On failure, the message lists every violation.
#[test]
fn workspace_is_tidy() {
    let root: &Path = &crate::workspace_root();
    let ws = Workspace::load(root).unwrap();
    assert!(ws.members.iter().any(|m| m.dir == "vfs"), "the loader found no members");
    assert!(
        ws.sources.iter().any(|s| s.path == "xtask/src/tidy.rs"),
        "the loader found no sources"
    );
    let errors = check_all(&ws);
    assert!(errors.is_empty(), "tidy found {} problem(s):\n{}", errors.len(), errors.join("\n"));
}
