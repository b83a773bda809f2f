//! A line-based reader for the few parts of a Cargo.toml that tidy needs: the package name, the
//! workspace members, and dependencies (normal, build and target-specific, with their
//! `package`, `path` and `workspace` fields). Dev-dependencies are left out: a test may use any
//! crate without making it part of the layer graph.
//!
//! It understands the forms Cargo manifests use in practice: `name = "1"`,
//! `name = { path = "../x" }`, `name.workspace = true`, `[dependencies.name]` tables, quoted
//! keys, `# comments` and arrays spread over several lines. It is not a TOML parser, and does not
//! need to be one to read manifests written by this project.

/// What tidy knows about one Cargo.toml.
#[derive(Debug, Default)]
pub(super) struct Manifest {
    /// `[package] name`.
    pub(super) package: Option<String>,
    /// `[workspace] members`.
    pub(super) members: Vec<String>,
    /// `[dependencies]`, `[build-dependencies]` and their `[target.*.]` forms.
    pub(super) deps: Vec<Dep>,
    /// `[workspace.dependencies]`.
    pub(super) workspace_deps: Vec<Dep>,
}

/// One dependency declaration.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Dep {
    /// The key it is declared under (the name the code uses).
    pub(super) key: String,
    /// `package = "..."`, when the dependency is renamed.
    pub(super) package: Option<String>,
    /// `path = "..."`, relative to the manifest's directory.
    pub(super) path: Option<String>,
    /// `workspace = true`: the details are in the root's `[workspace.dependencies]`.
    pub(super) workspace: bool,
}

/// The table a line belongs to.
enum Section {
    Package,
    Workspace,
    /// A dependency table, named by its header (without a trailing dependency name).
    Deps {
        table: String,
        workspace: bool,
    },
    /// A `[dependencies.name]`-style table holding one dependency's fields.
    DepTable {
        table: String,
        key: String,
        workspace: bool,
    },
    Other,
}

/// Reads `text`, a Cargo.toml.
pub(super) fn parse(text: &str) -> Manifest {
    let mut manifest = Manifest::default();
    // Dependencies with the table they were declared in, so fields given on several lines
    // (`x.path = ..`, `x.package = ..`) merge into one entry.
    let mut deps: Vec<(String, bool, Dep)> = Vec::new();
    let mut section = Section::Other;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = strip_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("[[") {
            section = Section::Other;
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.rsplit_once(']').map_or(header, |(h, _)| h);
            section = classify(&split_dotted(header));
            continue;
        }
        let Some((key, value)) = split_once_outside_quotes(line, '=') else { continue };
        let mut value = value.trim().to_string();
        // Arrays and triple-quoted strings may continue on the next lines.
        while unbalanced(&value) {
            let Some(next) = lines.next() else { break };
            value.push(' ');
            value.push_str(strip_comment(next).trim());
        }
        let key = split_dotted(key);
        match &section {
            Section::Package if key == ["name"] => manifest.package = Some(unquote(&value)),
            Section::Workspace if key == ["members"] => manifest.members = array_strings(&value),
            Section::Deps { table, workspace } => {
                let Some((name, field)) = key.split_first() else { continue };
                let dep = dep_entry(&mut deps, table, *workspace, name);
                match field {
                    [] => apply_value(dep, &value),
                    [field] => apply_field(dep, field, &value),
                    _ => {}
                }
            }
            Section::DepTable { table, key: name, workspace } => {
                let dep = dep_entry(&mut deps, table, *workspace, name);
                if let [field] = key.as_slice() {
                    apply_field(dep, field, &value);
                }
            }
            _ => {}
        }
    }
    for (_, workspace, dep) in deps {
        if workspace {
            manifest.workspace_deps.push(dep);
        } else {
            manifest.deps.push(dep);
        }
    }
    manifest
}

/// Which section a header (split at its dots) opens.
fn classify(header: &[String]) -> Section {
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    let is_deps = |s: &str| s == "dependencies" || s == "build-dependencies";
    let table = |n: usize| h[..n].join(".");
    match h.as_slice() {
        ["package"] => Section::Package,
        ["workspace"] => Section::Workspace,
        ["workspace", "dependencies"] => Section::Deps { table: table(2), workspace: true },
        ["workspace", "dependencies", key] => {
            Section::DepTable { table: table(2), key: key.to_string(), workspace: true }
        }
        [d] if is_deps(d) => Section::Deps { table: table(1), workspace: false },
        [d, key] if is_deps(d) => {
            Section::DepTable { table: table(1), key: key.to_string(), workspace: false }
        }
        ["target", _, d] if is_deps(d) => Section::Deps { table: table(3), workspace: false },
        ["target", _, d, key] if is_deps(d) => {
            Section::DepTable { table: table(3), key: key.to_string(), workspace: false }
        }
        _ => Section::Other,
    }
}

/// The entry for `key` in `table`, created if new.
fn dep_entry<'a>(
    deps: &'a mut Vec<(String, bool, Dep)>,
    table: &str,
    workspace: bool,
    key: &str,
) -> &'a mut Dep {
    let found = deps.iter().position(|(t, w, d)| t == table && *w == workspace && d.key == key);
    let idx = found.unwrap_or_else(|| {
        let dep = Dep { key: key.to_string(), ..Dep::default() };
        deps.push((table.to_string(), workspace, dep));
        deps.len() - 1
    });
    &mut deps[idx].2
}

/// `name = <value>`: a version string, or an inline table of fields.
fn apply_value(dep: &mut Dep, value: &str) {
    let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) else {
        return; // A bare version requirement: a registry crate.
    };
    for item in split_outside_quotes(inner, ',') {
        if let Some((field, value)) = split_once_outside_quotes(item, '=') {
            if let [field] = split_dotted(field).as_slice() {
                apply_field(dep, field, value.trim());
            }
        }
    }
}

fn apply_field(dep: &mut Dep, field: &str, value: &str) {
    match field {
        "package" => dep.package = Some(unquote(value)),
        "path" => dep.path = Some(unquote(value)),
        "workspace" => dep.workspace = value == "true",
        _ => {}
    }
}

/// The strings of an array value such as `["a", "b"]`.
fn array_strings(value: &str) -> Vec<String> {
    let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) else {
        return Vec::new();
    };
    split_outside_quotes(inner, ',')
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(unquote)
        .collect()
}

/// `line` without a trailing `# comment` (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// True while a value still waits for its closing `]`, `}` or triple quote on later lines.
fn unbalanced(value: &str) -> bool {
    for triple in ["\"\"\"", "'''"] {
        if let Some(rest) = value.strip_prefix(triple) {
            return !rest.contains(triple);
        }
    }
    let mut depth = 0i32;
    let mut rest = value;
    while let Some((c, tail)) = next_outside_quotes(rest) {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            _ => {}
        }
        rest = tail;
    }
    depth > 0
}

/// The next character of `s` outside quotes, and the text after it.
fn next_outside_quotes(s: &str) -> Option<(char, &str)> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '"' || c == '\'' {
            let mut escaped = false;
            for (_, d) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' && c == '"' {
                    escaped = true;
                } else if d == c {
                    break;
                }
            }
            continue;
        }
        return Some((c, &s[i + c.len_utf8()..]));
    }
    None
}

/// Splits `s` at each `sep` outside quotes and outside `[]`/`{}` nesting.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut rest = s;
    while let Some((c, tail)) = next_outside_quotes(rest) {
        let at = s.len() - tail.len() - c.len_utf8();
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(&s[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
        rest = tail;
    }
    parts.push(&s[start..]);
    parts
}

fn split_once_outside_quotes(s: &str, sep: char) -> Option<(&str, &str)> {
    let parts = split_outside_quotes(s, sep);
    let first = *parts.first()?;
    (parts.len() > 1).then(|| (first, &s[first.len() + sep.len_utf8()..]))
}

/// A dotted key (`target.'cfg(unix)'.dependencies`) as its parts, unquoted.
fn split_dotted(key: &str) -> Vec<String> {
    split_outside_quotes(key, '.').into_iter().map(|part| unquote(part.trim())).collect()
}

/// A TOML string value or quoted key without its quotes (escapes are left as they are).
fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ["\"", "'"] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    s.to_string()
}
