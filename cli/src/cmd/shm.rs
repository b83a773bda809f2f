//! `folio shm dump DB`: the wal-index header copies (and whether a reader could use them), the
//! checkpoint state and the read marks of a WAL database's `-shm`, read as the WAL code reads
//! its shared memory.

use super::{existing, sidecar_of};
use crate::{CliError, Report};
use folio_vfs::format::Sidecar;
use folio_vfs::shm::ShmRegion;
use folio_wal::index::{
    self, CkptInfo, HeaderCopy, HeaderUnusable, IndexHeader, INDEX_HEADER_LEN, READMARK_NOT_USED,
    REGION_SIZE,
};
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::sync::atomic::Ordering;

/// A `-shm`, as `folio shm dump` shows it; the `--json` schema:
/// `{"shm": str, "file_size": int, "copies": [IndexHeader, IndexHeader],
///   "usable": bool, "unusable_because": str|null, "backfilled_frames": int,
///   "backfill_attempted_frames": int, "read_marks": [int|null; 5]}`.
#[derive(Debug, Serialize)]
pub struct ShmReport {
    /// The `-shm` file.
    pub shm: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// The two header copies (first, second), as stored.
    pub copies: [IndexHeaderReport; 2],
    /// True if a reader could use the header as it is (copies equal, initialised, checksum
    /// verifies); otherwise the next connection recovers the index from the WAL.
    pub usable: bool,
    /// Why not, when not.
    pub unusable_because: Option<String>,
    /// `nBackfill`: log frames already copied into the database.
    pub backfilled_frames: u32,
    /// `nBackfillAttempted`: frames a checkpoint began to copy.
    pub backfill_attempted_frames: u32,
    /// `aReadMark[0..5]`: the log frame each read slot pins; null for an unused slot.
    pub read_marks: [Option<u32>; 5],
}

/// One header copy: `{"version": int, "change": int, "initialized": bool, "page_size": int,
/// "max_frame": int, "db_pages": int, "salt1": int, "salt2": int, "checksum_ok": bool}`.
#[derive(Debug, Serialize)]
pub struct IndexHeaderReport {
    /// `iVersion` (3007000).
    pub version: u32,
    /// `iChange`, bumped by every commit.
    pub change: u32,
    /// `isInit`.
    pub initialized: bool,
    /// The page size.
    pub page_size: u32,
    /// `mxFrame`: the last commit frame in the log.
    pub max_frame: u32,
    /// `nPage`: the database size in pages after it.
    pub db_pages: u32,
    /// The WAL's salt-1 this index belongs to.
    pub salt1: u32,
    /// Salt-2.
    pub salt2: u32,
    /// True if the copy's checksum matches its bytes.
    pub checksum_ok: bool,
}

impl From<IndexHeader> for IndexHeaderReport {
    fn from(h: IndexHeader) -> Self {
        IndexHeaderReport {
            version: h.version,
            change: h.change,
            initialized: h.is_init != 0,
            page_size: h.page_size(),
            max_frame: h.max_frame,
            db_pages: h.n_page,
            salt1: h.salt.salt1,
            salt2: h.salt.salt2,
            checksum_ok: h.checksum_ok(),
        }
    }
}

impl Report for ShmReport {}

impl fmt::Display for ShmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} bytes)", self.shm, self.file_size)?;
        for (name, h) in ["copy 1", "copy 2"].iter().zip(&self.copies) {
            writeln!(
                f,
                "{name}: version {}, change {}, {}, page size {}, last commit frame {}, \
                 database {} pages, salts {:#010x} {:#010x}, checksum {}",
                h.version,
                h.change,
                if h.initialized { "initialised" } else { "not initialised" },
                h.page_size,
                h.max_frame,
                h.db_pages,
                h.salt1,
                h.salt2,
                if h.checksum_ok { "ok" } else { "bad" }
            )?;
        }
        match &self.unusable_because {
            None => writeln!(f, "header: usable")?,
            Some(why) => writeln!(f, "header: not usable ({why}); the next reader recovers it")?,
        }
        writeln!(
            f,
            "checkpoint: {} frame(s) backfilled, {} attempted",
            self.backfilled_frames, self.backfill_attempted_frames
        )?;
        let marks: Vec<String> = self
            .read_marks
            .iter()
            .map(|m| m.map_or_else(|| "unused".to_string(), |m| m.to_string()))
            .collect();
        writeln!(f, "read marks: {}", marks.join(", "))
    }
}

/// Dumps the `-shm` of `path` (the database, or the `-shm` file itself).
pub(crate) fn dump(path: &Path) -> Result<ShmReport, CliError> {
    let shm_path = existing(sidecar_of(path, Sidecar::Shm))?;
    let bytes = std::fs::read(&shm_path)
        .map_err(|source| CliError::Read { path: shm_path.clone(), source })?;
    if bytes.len() < INDEX_HEADER_LEN {
        return Err(CliError::TooShort {
            path: shm_path,
            len: bytes.len(),
            what: "a wal-index header",
            needed: INDEX_HEADER_LEN,
        });
    }
    // Region 0 as the WAL code sees it in shared memory, so the same loaders read it.
    let region0 = ShmRegion::heap();
    // Whole words only: a file cut at any length must not stop the dump.
    let len = bytes.len().min(REGION_SIZE) / 4 * 4;
    region0.copy_in(0, &bytes[..len], Ordering::Relaxed);
    let first = index::load_header_copy(&region0, HeaderCopy::First);
    let second = index::load_header_copy(&region0, HeaderCopy::Second);
    let unusable = index::read_header(&region0, &|| {}).err().map(|why| match why {
        HeaderUnusable::CopiesDiffer { .. } => "the two copies differ".to_string(),
        HeaderUnusable::NotInitialized => "not initialised".to_string(),
        HeaderUnusable::BadChecksum { .. } => "its checksum does not match".to_string(),
    });
    let info = CkptInfo::load(&region0);
    Ok(ShmReport {
        shm: shm_path.display().to_string(),
        file_size: bytes.len() as u64,
        copies: [first.into(), second.into()],
        usable: unusable.is_none(),
        unusable_because: unusable,
        backfilled_frames: info.n_backfill,
        backfill_attempted_frames: info.n_backfill_attempted,
        read_marks: info.read_marks.map(|m| (m != READMARK_NOT_USED).then_some(m)),
    })
}
