//! One module per command: each opens what it needs, does the work and returns a report
//! ([`crate::Report`]) for the caller to print as text or JSON.

pub(crate) mod check;
pub(crate) mod checkpoint;
pub(crate) mod info;
pub(crate) mod shm;
pub(crate) mod wal;

use crate::CliError;
use folio_pager::{Pager, PagerOptions};
use folio_vfs::format::Sidecar;
use folio_vfs::os::OsVfs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The OS VFS, as an application uses it.
pub(crate) fn os_vfs() -> Arc<OsVfs> {
    Arc::new(OsVfs::new())
}

/// Opens the existing database `db` on the OS VFS, as an application would (so a hot journal
/// is rolled back and a WAL is recovered first, as sqlite3 would); `folio` never creates a
/// database it was asked to work on.
pub(crate) fn open_existing(db: &Path, read_only: bool) -> Result<Pager, CliError> {
    let db = existing(db.to_path_buf())?;
    let opts = PagerOptions { create: false, read_only, ..PagerOptions::default() };
    Ok(Pager::open(os_vfs(), &db, opts)?)
}

/// The `sidecar` of the database `path`, or `path` itself when it already names that sidecar
/// (so `folio wal dump app.db` and `folio wal dump app.db-wal` are the same).
pub(crate) fn sidecar_of(path: &Path, sidecar: Sidecar) -> PathBuf {
    match sidecar.database_of(path) {
        Some(_) => path.to_path_buf(),
        None => sidecar.path_of(path),
    }
}

/// `path`, if a file is there.
pub(crate) fn existing(path: PathBuf) -> Result<PathBuf, CliError> {
    if path.exists() {
        Ok(path)
    } else {
        Err(CliError::NotFound { path })
    }
}
