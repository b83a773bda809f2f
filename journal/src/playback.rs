//! Rolling a database back from its journal (SQLite's pager.c, `pager_playback`):
//! truncate the database to its size when the transaction began, then restore every record of
//! every segment, stopping quietly at the first thing that does not verify.

use crate::format::{self, EndOfJournal, JournalHeader, RECORD_COUNT_FROM_FILE_SIZE};
use crate::Result;
use folio_vfs::VfsFile;

/// What a playback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playback {
    /// The page size the journal was written with.
    pub page_size: u32,
    /// The database size in pages the database was truncated to.
    pub db_orig_pages: u32,
    /// Segments (headers) read.
    pub segments: u32,
    /// Page images written back.
    pub pages_restored: u32,
    /// Why reading stopped (`None`: at the end of the last segment's records).
    pub stopped_by: Option<EndOfJournal>,
}

/// Whose journal is played back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A hot journal left by another connection: every header must carry the magic.
    Hot,
    /// This connection's own journal (a ROLLBACK): the header at `current_header` may not have
    /// its magic and record count yet, and its count of 0 means "as many records as there are"
    /// (in an earlier segment, 0 means none). Only records below `synced_to` are written to the
    /// database: later ones were appended after the journal's last sync, so (the pager writes
    /// no page before its record is synced) their pages never reached the database, and writing
    /// them now could tear pages the journal on disk cannot restore (SQLite's `isSynced`).
    Own {
        /// Offset of the segment the transaction is writing now.
        current_header: u64,
        /// The journal's length when it was last synced (or would have been, with syncs off).
        synced_to: u64,
    },
}

/// Plays `journal` back into `db`. `default_page_size` is used when the header says 0 (writers
/// older than 3.5.8). Returns `None` when the first header is not valid (nothing to roll back).
/// The caller syncs the database afterwards.
pub fn playback(
    journal: &dyn VfsFile,
    db: &dyn VfsFile,
    default_page_size: u32,
    mode: Mode,
) -> Result<Option<Playback>> {
    let size = journal.size()?;
    let decode_at = |offset: u64, bytes: &[u8]| {
        let check_magic =
            !matches!(mode, Mode::Own { current_header, .. } if current_header == offset);
        JournalHeader::decode_checking_magic(bytes, check_magic)
    };
    let mut header_bytes = [0u8; format::HEADER_FIELDS_LEN];
    if journal.read_at(0, &mut header_bytes)?.is_short() {
        return Ok(None);
    }
    let Ok(first) = decode_at(0, &header_bytes) else { return Ok(None) };
    let page_size = if first.page_size == 0 { default_page_size } else { first.page_size };
    let sector_size = u64::from(first.sector_size);
    let record_len = format::record_len(page_size);
    let mut done = Playback {
        page_size,
        db_orig_pages: first.db_orig_pages,
        segments: 0,
        pages_restored: 0,
        stopped_by: None,
    };
    truncate_to(db, first.db_orig_pages, page_size)?;

    let mut header_offset = 0u64;
    let mut header = first;
    let mut record = vec![0u8; record_len as usize];
    'segments: loop {
        done.segments += 1;
        let records_at = header_offset + sector_size;
        let mut n_rec = u64::from(header.n_rec);
        // A count of 0 means "as many as there are" only in the segment this connection is
        // writing now (SQLite checks `journalHdr + JOURNAL_HDR_SZ == journalOff`): an earlier
        // segment with 0 records really has none, and its "rest of the file" is later segments.
        let is_current =
            matches!(mode, Mode::Own { current_header, .. } if current_header == header_offset);
        let fill_file =
            header.n_rec == RECORD_COUNT_FROM_FILE_SIZE || (header.n_rec == 0 && is_current);
        if fill_file {
            n_rec = size.saturating_sub(records_at) / record_len;
        }
        let mut offset = records_at;
        for _ in 0..n_rec {
            if journal.read_at(offset, &mut record)?.is_short() {
                done.stopped_by = Some(EndOfJournal::Short);
                break 'segments;
            }
            match format::decode_record(&record, page_size, header.nonce) {
                Ok(r) => {
                    let synced = match mode {
                        Mode::Own { synced_to, .. } => offset + record_len <= synced_to,
                        Mode::Hot => true,
                    };
                    if r.page_no <= first.db_orig_pages && synced {
                        db.write_at(u64::from(r.page_no - 1) * u64::from(page_size), r.page)?;
                        done.pages_restored += 1;
                    }
                }
                Err(why) => {
                    done.stopped_by = Some(why);
                    break 'segments;
                }
            }
            offset += record_len;
        }
        header_offset = format::header_offset(offset, first.sector_size);
        if journal.read_at(header_offset, &mut header_bytes)?.is_short() {
            break;
        }
        match decode_at(header_offset, &header_bytes) {
            // Every segment must agree on the geometry.
            Ok(h) if h.sector_size == first.sector_size && (h.page_size == first.page_size) => {
                header = h;
            }
            Ok(_) => break,
            Err(why) => {
                done.stopped_by = Some(why);
                break;
            }
        }
    }
    Ok(Some(done))
}

/// Sets the database to `pages` pages as `pager_truncate` does: shrink with a truncate, grow by
/// writing the last page as zeros.
fn truncate_to(db: &dyn VfsFile, pages: u32, page_size: u32) -> Result<()> {
    let want = u64::from(pages) * u64::from(page_size);
    let now = db.size()?;
    if now > want {
        db.truncate(want)?;
    } else if now + u64::from(page_size) <= want {
        db.write_at(want - u64::from(page_size), &vec![0u8; page_size as usize])?;
    }
    Ok(())
}

/// The super-journal a journal names in its trailer, if any (SQLite's `readSuperJournal`).
pub fn super_journal_of(journal: &dyn VfsFile, page_size: u32) -> Result<Option<String>> {
    let size = journal.size()?;
    let mut tail = [0u8; format::SUPER_TRAILER_TAIL_LEN];
    if size < tail.len() as u64 || journal.read_at(size - tail.len() as u64, &mut tail)?.is_short()
    {
        return Ok(None);
    }
    // A name longer than any path SQLite would write is garbage, not a trailer.
    let Some(trailer_len) = format::super_trailer_len(&tail).filter(|&n| n <= size && n < 65_536)
    else {
        return Ok(None);
    };
    let mut trailer = vec![0u8; trailer_len as usize];
    journal.read_at(size - trailer_len, &mut trailer)?;
    Ok(format::decode_super_trailer(&trailer, page_size))
}
