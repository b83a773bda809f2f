//! What folio-pager's benchmarks share: databases on the real disk (under Cargo's target
//! directory, so syncs cost what they cost) opened through the OS VFS, and criterion's saved
//! estimates.
//!
//! A `#[path]` module of each bench (not `benches/common.rs`, which Cargo would take for a bench
//! of its own, nor a `mod.rs`, which tidy refuses).

use folio_pager::{Pager, PagerOptions};
use folio_vfs::os::OsVfs;
use folio_vfs::Vfs;
use std::path::Path;
use std::sync::Arc;

/// The page size of every benchmark database.
pub const PAGE_SIZE: u32 = 4096;

/// A fresh directory under `target/tmp`, removed when dropped.
pub fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temp dir under target/")
}

/// The OS VFS.
pub fn os_vfs() -> Arc<dyn Vfs> {
    Arc::new(OsVfs::new())
}

/// Opens `path` with `opts`.
pub fn open(vfs: &Arc<dyn Vfs>, path: &Path, opts: PagerOptions) -> Pager {
    Pager::open(Arc::clone(vfs), path, opts).expect("open the benchmark database")
}

/// One page of `fill` bytes.
pub fn page(fill: u8) -> Vec<u8> {
    vec![fill; PAGE_SIZE as usize]
}

/// A rollback-mode database of `pages` pages.
#[allow(dead_code)] // the WAL bench makes its databases in WAL mode
pub fn make_db(vfs: &Arc<dyn Vfs>, path: &Path, pages: u32) {
    write_pages(&mut open(vfs, path, PagerOptions::default()), pages);
}

/// Writes pages `2..=pages` (each filled with its number) in one transaction.
pub fn write_pages(pager: &mut Pager, pages: u32) {
    pager.begin_write().unwrap();
    for p in 2..=pages {
        pager.write(p, &page(p as u8)).unwrap();
    }
    pager.commit().unwrap();
}

/// The median estimate (ns) criterion saved for `group/bench`, if it ran.
#[allow(dead_code)] // not every bench reads criterion's estimates
pub fn estimate(group: &str, bench: &str) -> Option<f64> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent()?.join("criterion");
    let file = dir.join(group).join(bench).join("new").join("estimates.json");
    let text = std::fs::read_to_string(file).ok()?;
    // {"mean":{...},"median":{"confidence_interval":{...},"point_estimate":123.4,...
    let median = text.split("\"median\"").nth(1)?;
    let value = median.split("\"point_estimate\":").nth(1)?;
    value.split([',', '}']).next()?.trim().parse().ok()
}
