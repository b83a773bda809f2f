//! `folio info DB`: what a database file and its sidecars hold, on any SQLite database (sqlite3's
//! included): the header's fields, the journal mode the file is in, the pages, the freelist, the
//! WAL's frames and checkpoint state, and the read marks in the `-shm`. It only reads: nothing
//! is recovered, locked or written.

use super::{shm, sidecar_of, wal};
use crate::{CliError, ExitStatus, Report};
use folio_pager::header::{self, DbHeader};
use folio_vfs::format::Sidecar;
use serde::Serialize;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// What `folio info` reports; the `--json` schema:
/// `{"database": str, "file_size": int, "header": Header|null, "header_from": str,
///   "header_error": str|null,
///   "journal": Journal|null, "wal": WalSummary|null, "shm": ShmSummary|null}`.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    /// The database file.
    pub database: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// The header, if it is one SQLite would open: from the newest committed copy of page 1,
    /// in the WAL if it is there (as a reader sees it), else in the database file.
    pub header: Option<HeaderReport>,
    /// Where the header was read: `"database"` or `"wal frame N"`.
    pub header_from: String,
    /// Why the header is not, if it is not.
    pub header_error: Option<String>,
    /// The rollback journal beside the database, if there is one.
    pub journal: Option<JournalSummary>,
    /// The WAL beside the database, if there is one.
    pub wal: Option<WalSummary>,
    /// The `-shm` beside the database, if there is one.
    pub shm: Option<ShmSummary>,
}

/// The header's fields: `{"page_size", "reserved_bytes", "write_version", "read_version",
/// "journal_mode": "wal"|"rollback", "change_counter", "pages_in_header", "size_valid",
/// "pages", "freelist_pages", "freelist_trunk", "schema_cookie", "schema_format",
/// "text_encoding": "UTF-8"|"UTF-16le"|"UTF-16be"|"unset"|"invalid", "user_version",
/// "application_id", "auto_vacuum": "none"|"full"|"incremental", "sqlite_version"}`, numbers
/// except where named.
#[derive(Debug, Serialize)]
pub struct HeaderReport {
    /// Bytes per page.
    pub page_size: u32,
    /// Bytes reserved at the end of every page.
    pub reserved_bytes: u8,
    /// File-format write version (2 in WAL mode).
    pub write_version: u8,
    /// File-format read version (2 in WAL mode).
    pub read_version: u8,
    /// `wal` when readers must open the WAL; `rollback` otherwise (DELETE, TRUNCATE,
    /// PERSIST, MEMORY and OFF are a connection's choice, not the file's).
    pub journal_mode: &'static str,
    /// The change counter.
    pub change_counter: u32,
    /// The size in pages the header states.
    pub pages_in_header: u32,
    /// True if that size can be trusted (SQLite then uses it rather than the file's size).
    pub size_valid: bool,
    /// The database's size in pages as a reader sees it: after the WAL's last commit, or as
    /// SQLite computes it from the header and the file's size.
    pub pages: u64,
    /// Pages on the freelist.
    pub freelist_pages: u32,
    /// The first freelist trunk page (0: none).
    pub freelist_trunk: u32,
    /// The schema cookie.
    pub schema_cookie: u32,
    /// The schema format number.
    pub schema_format: u32,
    /// The text encoding.
    pub text_encoding: &'static str,
    /// `PRAGMA user_version`.
    pub user_version: u32,
    /// `PRAGMA application_id`.
    pub application_id: u32,
    /// The auto-vacuum mode.
    pub auto_vacuum: &'static str,
    /// `SQLITE_VERSION_NUMBER` of the last writer.
    pub sqlite_version: u32,
}

impl HeaderReport {
    fn new(h: &DbHeader, file_size: u64) -> Self {
        HeaderReport {
            page_size: h.page_size,
            reserved_bytes: h.reserved_bytes,
            write_version: h.write_version,
            read_version: h.read_version,
            journal_mode: if h.is_wal() { "wal" } else { "rollback" },
            change_counter: h.change_counter,
            pages_in_header: h.db_size_pages,
            size_valid: h.size_is_valid(),
            pages: h.size_in_pages(file_size),
            freelist_pages: h.freelist_pages,
            freelist_trunk: h.freelist_trunk,
            schema_cookie: h.schema_cookie,
            schema_format: h.schema_format,
            text_encoding: match h.text_encoding {
                0 => "unset",
                1 => "UTF-8",
                2 => "UTF-16le",
                3 => "UTF-16be",
                _ => "invalid",
            },
            user_version: h.user_version,
            application_id: h.application_id,
            auto_vacuum: match (h.largest_root_page, h.incremental_vacuum) {
                (0, _) => "none",
                (_, 0) => "full",
                _ => "incremental",
            },
            sqlite_version: h.sqlite_version,
        }
    }
}

/// The rollback journal: `{"path": str, "size": int}`. A journal that is not empty may be hot:
/// the next connection that opens the database rolls it back.
#[derive(Debug, Serialize)]
pub struct JournalSummary {
    /// The journal file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The WAL: `{"path", "size", "ignored": str|null, "page_size": int|null, "frames",
/// "max_frame", "db_pages", "checkpoint_seq": int|null}`.
#[derive(Debug, Serialize)]
pub struct WalSummary {
    /// The WAL file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Why SQLite ignores the whole WAL, if it does.
    pub ignored: Option<String>,
    /// Its page size.
    pub page_size: Option<u32>,
    /// Valid frames (the uncommitted tail included).
    pub frames: usize,
    /// The last commit frame.
    pub max_frame: u32,
    /// The database size in pages after the last commit (0: none).
    pub db_pages: u32,
    /// The checkpoint sequence number.
    pub checkpoint_seq: Option<u32>,
}

/// The `-shm`: `{"path", "usable": bool, "max_frame", "backfilled_frames",
/// "read_marks": [int|null; 5]}`.
#[derive(Debug, Serialize)]
pub struct ShmSummary {
    /// The `-shm` file.
    pub path: String,
    /// True if its header is usable as it is.
    pub usable: bool,
    /// The last commit frame the index knows.
    pub max_frame: u32,
    /// Frames already copied into the database.
    pub backfilled_frames: u32,
    /// The read marks (null: unused).
    pub read_marks: [Option<u32>; 5],
}

impl Report for InfoReport {
    fn status(&self) -> ExitStatus {
        if self.header.is_none() {
            ExitStatus::Corrupt
        } else {
            ExitStatus::Ok
        }
    }
}

impl fmt::Display for InfoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "database     {} ({} bytes)", self.database, self.file_size)?;
        match (&self.header, &self.header_error) {
            (Some(h), _) => {
                writeln!(f, "header from  {}", self.header_from)?;
                writeln!(
                    f,
                    "page size    {} ({} reserved per page)",
                    h.page_size, h.reserved_bytes
                )?;
                writeln!(
                    f,
                    "journal mode {} (format versions {}/{})",
                    h.journal_mode, h.write_version, h.read_version
                )?;
                writeln!(
                    f,
                    "pages        {} ({} in the header, {}), {} free (first trunk {})",
                    h.pages,
                    h.pages_in_header,
                    if h.size_valid { "valid" } else { "not used" },
                    h.freelist_pages,
                    h.freelist_trunk
                )?;
                writeln!(
                    f,
                    "schema       cookie {}, format {}, {}; user version {}, application id {}",
                    h.schema_cookie,
                    h.schema_format,
                    h.text_encoding,
                    h.user_version,
                    h.application_id
                )?;
                writeln!(
                    f,
                    "changes      counter {}, auto-vacuum {}, last written by SQLite {}",
                    h.change_counter, h.auto_vacuum, h.sqlite_version
                )?;
            }
            (None, why) => writeln!(
                f,
                "header       not an SQLite database: {}",
                why.as_deref().unwrap_or("?")
            )?,
        }
        match &self.journal {
            Some(j) => writeln!(
                f,
                "journal      {} ({} bytes{})",
                j.path,
                j.size,
                if j.size > 0 { "; the next opener rolls it back if it is hot" } else { "" }
            )?,
            None => writeln!(f, "journal      none")?,
        }
        match &self.wal {
            Some(w) => match &w.ignored {
                Some(why) => {
                    writeln!(f, "wal          {} ({} bytes), ignored: {why}", w.path, w.size)?
                }
                None => writeln!(
                    f,
                    "wal          {} ({} bytes): {} valid frame(s), last commit at frame {} \
                     (database {} pages), checkpoint sequence {}",
                    w.path,
                    w.size,
                    w.frames,
                    w.max_frame,
                    w.db_pages,
                    w.checkpoint_seq.unwrap_or(0)
                )?,
            },
            None => writeln!(f, "wal          none")?,
        }
        match &self.shm {
            Some(s) => {
                let marks: Vec<String> = s
                    .read_marks
                    .iter()
                    .map(|m| m.map_or_else(|| "-".to_string(), |m| m.to_string()))
                    .collect();
                writeln!(
                    f,
                    "shm          {}: header {}, index to frame {}, {} backfilled, read marks [{}]",
                    s.path,
                    if s.usable { "usable" } else { "needs recovery" },
                    s.max_frame,
                    s.backfilled_frames,
                    marks.join(", ")
                )
            }
            None => writeln!(f, "shm          none"),
        }
    }
}

/// Reports on `db` and its sidecars.
pub(crate) fn run(db: &Path) -> Result<InfoReport, CliError> {
    if !db.exists() {
        return Err(CliError::NotFound { path: db.to_path_buf() });
    }
    let read_error = |source| CliError::Read { path: db.to_path_buf(), source };
    let meta = std::fs::metadata(db).map_err(read_error)?;
    let mut head = Vec::with_capacity(header::HEADER_LEN);
    std::fs::File::open(db)
        .and_then(|f| f.take(header::HEADER_LEN as u64).read_to_end(&mut head))
        .map_err(read_error)?;
    let wal_path = sidecar_of(db, Sidecar::Wal);
    let wal_scan = if wal_path.exists() { Some(wal::scan(&wal_path)?) } else { None };
    // A reader at the WAL's last commit sees page 1 from its newest committed frame.
    let mut header_from = "database".to_string();
    let mut pages_after_commit = None;
    if let Some((scan, file)) = wal_scan.as_ref().filter(|(scan, _)| scan.max_frame > 0) {
        pages_after_commit = Some(u64::from(scan.db_pages));
        let page_size = scan.header.map_or(0, |h| h.page_size);
        if let Some(&frame) = scan.latest_frames().get(&1) {
            head = wal::page_bytes(&**file, page_size, frame, header::HEADER_LEN)?;
            header_from = format!("wal frame {frame}");
        }
    }
    let (header, header_error) = match DbHeader::decode(&head) {
        Ok(h) => {
            let mut report = HeaderReport::new(&h, meta.len());
            report.pages = pages_after_commit.unwrap_or(report.pages);
            (Some(report), None)
        }
        Err(e) => (None, Some(e.to_string())),
    };
    let journal_path = sidecar_of(db, Sidecar::Journal);
    let journal = std::fs::metadata(&journal_path)
        .ok()
        .map(|m| JournalSummary { path: journal_path.display().to_string(), size: m.len() });
    let wal = wal_scan.map(|(scan, _)| WalSummary {
        path: wal_path.display().to_string(),
        size: scan.file_size,
        ignored: scan.ignored.map(|why| why.to_string()),
        page_size: scan.header.map(|h| h.page_size),
        frames: scan.frames.len() + scan.uncommitted.len(),
        max_frame: scan.max_frame,
        db_pages: scan.db_pages,
        checkpoint_seq: scan.header.map(|h| h.checkpoint_seq),
    });
    let shm_path = sidecar_of(db, Sidecar::Shm);
    let shm = if shm_path.exists() {
        match shm::dump(db) {
            Ok(s) => Some(ShmSummary {
                path: s.shm,
                usable: s.usable,
                max_frame: s.copies[0].max_frame,
                backfilled_frames: s.backfilled_frames,
                read_marks: s.read_marks,
            }),
            // A `-shm` shorter than a header (just created, or truncated) has no state.
            Err(CliError::TooShort { .. }) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(InfoReport {
        database: db.display().to_string(),
        file_size: meta.len(),
        header,
        header_from,
        header_error,
        journal,
        wal,
        shm,
    })
}
