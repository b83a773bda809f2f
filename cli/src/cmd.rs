//! One module per command: each opens what it needs, does the work and returns a report
//! ([`crate::Report`]) for the caller to print as text or JSON.

pub(crate) mod checkpoint;

use crate::CliError;
use folio_pager::{Pager, PagerOptions};
use folio_vfs::os::OsVfs;
use std::path::Path;
use std::sync::Arc;

/// Opens the existing database `db` on the OS VFS, as an application would (so a hot journal
/// is rolled back and a WAL is recovered first, as sqlite3 would); `folio` never creates a
/// database it was asked to work on.
pub(crate) fn open_existing(db: &Path, read_only: bool) -> Result<Pager, CliError> {
    if !db.exists() {
        return Err(CliError::NotFound { path: db.to_path_buf() });
    }
    let opts = PagerOptions { create: false, read_only, ..PagerOptions::default() };
    Ok(Pager::open(Arc::new(OsVfs::new()), db, opts)?)
}
