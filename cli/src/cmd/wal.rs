//! `folio wal dump DB`: the WAL's header and every frame SQLite would use, with commit marks,
//! and where and why the valid frames end: what a person needs when a WAL database will not
//! open, or to see what a crash left.

use super::{existing, os_vfs, sidecar_of};
use crate::{CliError, Report};
use folio_vfs::format::Sidecar;
use folio_vfs::{FileKind, OpenFlags, Vfs, VfsFile};
use folio_wal::format::{self, FRAME_HEADER_LEN};
use folio_wal::{ScanEnd, WalScan};
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// A WAL, as `folio wal dump` shows it; the `--json` schema:
/// `{"wal": str, "file_size": int, "header": Header|null, "ignored": str|null,
///   "frames": [Frame], "max_frame": int, "db_pages": int, "uncommitted_frames": int,
///   "end": End|null}`.
#[derive(Debug, Serialize)]
pub struct WalReport {
    /// The WAL file.
    pub wal: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// The header, when SQLite would use the WAL at all.
    pub header: Option<WalHeaderReport>,
    /// Why SQLite ignores the whole WAL (`header` is null then).
    pub ignored: Option<String>,
    /// Every valid frame, in log order (committed first, then any uncommitted tail).
    pub frames: Vec<FrameReport>,
    /// The last commit frame (`mxFrame` after recovery); 0 for an empty log.
    pub max_frame: u32,
    /// The database size in pages after that commit.
    pub db_pages: u32,
    /// Valid frames after the last commit: a transaction that never committed.
    pub uncommitted_frames: usize,
    /// Where the valid frames end.
    pub end: Option<EndReport>,
}

/// The WAL header: `{"byte_order": "big-endian"|"little-endian", "page_size": int,
/// "checkpoint_seq": int, "salt1": int, "salt2": int}`.
#[derive(Debug, Serialize)]
pub struct WalHeaderReport {
    /// The checksums' word order, from the magic.
    pub byte_order: &'static str,
    /// Bytes per page.
    pub page_size: u32,
    /// The checkpoint sequence number.
    pub checkpoint_seq: u32,
    /// Salt-1.
    pub salt1: u32,
    /// Salt-2.
    pub salt2: u32,
}

/// One valid frame: `{"frame": int, "page": int, "commit_size": int|null, "committed": bool}`.
#[derive(Debug, Serialize)]
pub struct FrameReport {
    /// The frame's number (1-based).
    pub frame: u32,
    /// The page it carries.
    pub page: u32,
    /// For a commit frame, the database size in pages after the commit.
    pub commit_size: Option<u32>,
    /// True if a commit frame at or after it makes it part of the database.
    pub committed: bool,
}

/// Where the valid frames end: `{"kind": "end_of_file", "trailing_bytes": int}` or
/// `{"kind": "invalid_frame", "frame": int, "offset": int, "why": str}`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndReport {
    /// Every whole frame is valid; a partial frame's bytes may follow.
    EndOfFile {
        /// Bytes after the last whole frame.
        trailing_bytes: u64,
    },
    /// A frame failed a check; it and all after it are ignored.
    InvalidFrame {
        /// The frame.
        frame: u32,
        /// Its offset in the file.
        offset: u64,
        /// The check it failed.
        why: String,
    },
}

impl Report for WalReport {}

impl fmt::Display for WalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} bytes)", self.wal, self.file_size)?;
        let Some(h) = &self.header else {
            let why = self.ignored.as_deref().unwrap_or("no header");
            return writeln!(f, "ignored by SQLite: {why}");
        };
        writeln!(
            f,
            "header: page size {}, checkpoint sequence {}, salts {:#010x} {:#010x}, {} checksums",
            h.page_size, h.checkpoint_seq, h.salt1, h.salt2, h.byte_order
        )?;
        if !self.frames.is_empty() {
            writeln!(f, "{:>8}  {:>10}  commit", "frame", "page")?;
        }
        for frame in &self.frames {
            let commit = match frame.commit_size {
                Some(size) => format!("commit, database {size} pages"),
                None if frame.committed => String::new(),
                None => "(uncommitted)".to_string(),
            };
            writeln!(f, "{:>8}  {:>10}  {commit}", frame.frame, frame.page)?;
        }
        writeln!(
            f,
            "{} valid frame(s); last commit at frame {} (database {} pages); {} uncommitted",
            self.frames.len(),
            self.max_frame,
            self.db_pages,
            self.uncommitted_frames
        )?;
        match &self.end {
            Some(EndReport::EndOfFile { trailing_bytes: 0 }) | None => Ok(()),
            Some(EndReport::EndOfFile { trailing_bytes }) => {
                writeln!(f, "ends with {trailing_bytes} byte(s) of a partial frame")
            }
            Some(EndReport::InvalidFrame { frame, offset, why }) => writeln!(
                f,
                "frame {frame} (offset {offset}) is invalid: {why}; it and every frame after it \
                 are ignored"
            ),
        }
    }
}

/// Dumps the WAL of `path` (the database, or the `-wal` file itself).
pub(crate) fn dump(path: &Path) -> Result<WalReport, CliError> {
    let wal_path = existing(sidecar_of(path, Sidecar::Wal))?;
    let (scan, _) = scan(&wal_path)?;
    Ok(WalReport::new(&wal_path, scan))
}

/// Opens the WAL at `wal_path` read-only and scans it as recovery does; the file stays open for
/// reading pages out of it.
pub(crate) fn scan(wal_path: &Path) -> Result<(WalScan, Box<dyn VfsFile>), CliError> {
    let file = os_vfs().open(Some(wal_path), OpenFlags::read_only(FileKind::Wal))?;
    let scan = folio_wal::scan(&*file)?;
    Ok((scan, file))
}

/// The first `len` bytes of the page in frame `frame` of a WAL of `page_size`-byte pages.
pub(crate) fn page_bytes(
    file: &dyn VfsFile,
    page_size: u32,
    frame: u32,
    len: usize,
) -> Result<Vec<u8>, CliError> {
    let mut bytes = vec![0u8; len.min(page_size as usize)];
    file.read_at(format::frame_offset(frame, page_size) + FRAME_HEADER_LEN as u64, &mut bytes)?;
    Ok(bytes)
}

impl WalReport {
    /// The report of `scan`, a scan of the WAL at `wal_path`.
    fn new(wal_path: &Path, scan: WalScan) -> Self {
        let frames = scan
            .frames
            .iter()
            .chain(&scan.uncommitted)
            .map(|entry| FrameReport {
                frame: entry.frame_no,
                page: entry.page_no,
                commit_size: (entry.commit_size != 0).then_some(entry.commit_size),
                committed: entry.frame_no <= scan.max_frame,
            })
            .collect();
        WalReport {
            wal: wal_path.display().to_string(),
            file_size: scan.file_size,
            header: scan.header.map(|h| WalHeaderReport {
                byte_order: if h.order.is_big_endian() { "big-endian" } else { "little-endian" },
                page_size: h.page_size,
                checkpoint_seq: h.checkpoint_seq,
                salt1: h.salt.salt1,
                salt2: h.salt.salt2,
            }),
            ignored: scan.ignored.map(|why| why.to_string()),
            frames,
            max_frame: scan.max_frame,
            db_pages: scan.db_pages,
            uncommitted_frames: scan.uncommitted.len(),
            end: scan.end.map(|end| match end {
                ScanEnd::EndOfFile { trailing_bytes } => EndReport::EndOfFile { trailing_bytes },
                ScanEnd::Invalid { frame_no, offset, why } => {
                    EndReport::InvalidFrame { frame: frame_no, offset, why: why.to_string() }
                }
            }),
        }
    }
}
