//! Running child processes the way CI logs want them: echo the command line first, let the child
//! write straight to our stdout and stderr, and turn a launch failure or a non-zero exit into an
//! error that names the command.

use std::path::Path;
use std::process::Command;

/// Echoes `cmd` as `$ [VAR=value ...] program args...`, runs it with inherited stdio and waits.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd.status().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// `cmd` as a shell-like line: the environment it sets, the program's file name, its arguments.
pub(crate) fn show(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            parts.push(format!("{}={}", key.to_string_lossy(), quote(&value.to_string_lossy())));
        }
    }
    let program = Path::new(cmd.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    parts.push(program.to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|arg| quote(&arg.to_string_lossy())));
    parts.join(" ")
}

/// Quotes a word for display if it holds spaces or is empty.
fn quote(word: &str) -> String {
    if word.is_empty() || word.contains(char::is_whitespace) {
        format!("{word:?}")
    } else {
        word.to_string()
    }
}

/// The value of the space-separated flags variable `var` (such as `RUSTFLAGS`) with `extra`
/// appended, so flags the developer already set are kept.
pub(crate) fn append_flags(var: &str, extra: &str) -> String {
    match std::env::var(var) {
        Ok(existing) if !existing.trim().is_empty() => format!("{} {extra}", existing.trim()),
        _ => extra.to_string(),
    }
}
