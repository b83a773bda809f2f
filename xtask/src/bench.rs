//! `cargo xtask bench [-- <criterion args>]`: every criterion benchmark of the workspace, each
//! printing its figures beside the physical limit it is measured against (folio-pager's read
//! and commit ratios, folio-asyncio's coalescing). Arguments after `--` go to criterion, e.g.
//! `cargo xtask bench -- commit` to run one group.

use std::path::Path;
use std::process::Command;

use crate::{cargo, cmd};

/// Runs `cargo bench --workspace --benches`, passing `args` to the benchmark binaries.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args(["bench", "--workspace", "--benches"]);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    cmd::run(&mut cmd)
}
