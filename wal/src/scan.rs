//! Reading a WAL file's valid prefix exactly as SQLite's recovery (SQLite's wal.c,
//! `walIndexRecover`) accepts it.
//!
//! The header must be valid (file longer than 32 bytes, magic, page size, checksum; a wrong
//! version with a good checksum refuses the open). Frames are read from 1 while whole frames fit
//! in the file, and the scan stops at the first whose salts differ from the header's (a frame of
//! an older generation), whose page number is 0, or whose cumulative checksum does not verify.
//! Of the valid frames, those up to and including the last commit frame are the log; valid
//! frames after it are an unfinished transaction (SQLite still enters them in the hash tables,
//! beyond `mxFrame`).

use crate::format::{
    self, decode_frame, Checksum, FrameInvalid, HeaderInvalid, Salt, WalHeader, WAL_HEADER_LEN,
};
use crate::{Error, Result};
use folio_vfs::VfsFile;
use std::collections::BTreeMap;

/// Bytes read per I/O while scanning (rounded to whole frames, at least one).
const SCAN_CHUNK_BYTES: u64 = 1 << 20;

/// One valid frame: its number in the log, the page it carries and its commit mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// The frame's number (1-based).
    pub frame_no: u32,
    /// The page it carries.
    pub page_no: u32,
    /// For a commit frame, the database size in pages after the commit; 0 otherwise.
    pub commit_size: u32,
}

/// Where the valid frames end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every whole frame in the file is valid; `trailing_bytes` of a partial frame follow.
    EndOfFile {
        /// Bytes after the last whole frame.
        trailing_bytes: u64,
    },
    /// A frame failed a check; it and everything after it are ignored.
    Invalid {
        /// The frame's number.
        frame_no: u32,
        /// Its offset in the file.
        offset: u64,
        /// The check it failed.
        why: FrameInvalid,
    },
}

/// What a scan found: SQLite's recovered wal-index header fields and the frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalScan {
    /// The WAL file's size when scanned.
    pub file_size: u64,
    /// The header, if SQLite would use the WAL at all.
    pub header: Option<WalHeader>,
    /// Why the whole WAL is ignored (`header` is `None`).
    pub ignored: Option<HeaderInvalid>,
    /// The frames of the log, `1..=max_frame` in order.
    pub frames: Vec<FrameEntry>,
    /// Valid frames after the last commit frame (an unfinished or torn transaction).
    pub uncommitted: Vec<FrameEntry>,
    /// The last commit frame (`mxFrame`); 0 for an empty log.
    pub max_frame: u32,
    /// The database size in pages after that commit (`nPage`); 0 for an empty log.
    pub db_pages: u32,
    /// The running checksum after frame `max_frame` (`aFrameCksum`): where the next frame's
    /// chain continues. Zero for an empty log, as SQLite's recovery leaves it.
    pub checksum: Checksum,
    /// Where the valid frames end; `None` when the WAL is ignored.
    pub end: Option<ScanEnd>,
}

impl WalScan {
    fn ignored(file_size: u64, why: HeaderInvalid) -> Self {
        WalScan {
            file_size,
            header: None,
            ignored: Some(why),
            frames: Vec::new(),
            uncommitted: Vec::new(),
            max_frame: 0,
            db_pages: 0,
            checksum: Checksum::ZERO,
            end: None,
        }
    }

    /// The generation's salts (zeros when the WAL is ignored, as recovery leaves them).
    pub fn salt(&self) -> Salt {
        self.header.map(|h| h.salt).unwrap_or_default()
    }

    /// For every page in the log, the newest frame carrying it (what a reader at `max_frame`
    /// reads).
    pub fn latest_frames(&self) -> BTreeMap<u32, u32> {
        self.frames.iter().map(|f| (f.page_no, f.frame_no)).collect()
    }
}

/// Scans `wal` (see the module docs). Refuses a WAL whose header checksum verifies but whose
/// version is not 3007000, as SQLite does (`SQLITE_CANTOPEN`); any other bad header is an
/// ignored WAL, not an error.
pub fn scan(wal: &dyn VfsFile) -> Result<WalScan> {
    let file_size = wal.size()?;
    if file_size <= WAL_HEADER_LEN as u64 {
        return Ok(WalScan::ignored(file_size, HeaderInvalid::TooShort { size: file_size }));
    }
    let mut header_bytes = [0u8; WAL_HEADER_LEN];
    if let folio_vfs::ReadOutcome::Short { n_read } = wal.read_at(0, &mut header_bytes)? {
        // The file shrank since its size was read.
        return Ok(WalScan::ignored(file_size, HeaderInvalid::TooShort { size: n_read as u64 }));
    }
    let header = match WalHeader::decode(&header_bytes) {
        Ok(h) => h,
        Err(HeaderInvalid::UnsupportedVersion(version)) => {
            return Err(Error::UnsupportedVersion { path: wal.path().to_path_buf(), version })
        }
        Err(why) => return Ok(WalScan::ignored(file_size, why)),
    };

    let frame_len = format::frame_len(header.page_size);
    let n_frames =
        u32::try_from(format::whole_frames(file_size, header.page_size)).unwrap_or(u32::MAX);
    let per_chunk = (SCAN_CHUNK_BYTES / frame_len).max(1) as u32;
    let mut buf = Vec::new();
    let mut running = header.checksum();
    let mut valid = Vec::new();
    let (mut max_frame, mut db_pages, mut committed_sum) = (0u32, 0u32, Checksum::ZERO);
    let mut end = None;
    let mut next = 1u32;
    'chunks: while next <= n_frames {
        let count = per_chunk.min(n_frames - next + 1);
        buf.resize((u64::from(count) * frame_len) as usize, 0);
        let chunk_offset = format::frame_offset(next, header.page_size);
        let got = match wal.read_at(chunk_offset, &mut buf)? {
            folio_vfs::ReadOutcome::Full => buf.len(),
            folio_vfs::ReadOutcome::Short { n_read } => n_read,
        };
        for (i, bytes) in buf[..got].chunks(frame_len as usize).enumerate() {
            let frame_no = next + i as u32;
            match decode_frame(bytes, &header, running) {
                Ok(frame) => {
                    running = frame.header.checksum;
                    let (page_no, commit_size) = (frame.header.page_no, frame.header.commit_size);
                    valid.push(FrameEntry { frame_no, page_no, commit_size });
                    if frame.header.is_commit() {
                        max_frame = frame_no;
                        db_pages = frame.header.commit_size;
                        committed_sum = running;
                    }
                }
                Err(why) => {
                    let offset = format::frame_offset(frame_no, header.page_size);
                    end = Some(ScanEnd::Invalid { frame_no, offset, why });
                    break 'chunks;
                }
            }
        }
        if got < buf.len() {
            // Shrunk under us: what is missing is a partial frame.
            let frame_no = next + (got as u64 / frame_len) as u32;
            let offset = format::frame_offset(frame_no, header.page_size);
            let len = (got as u64 % frame_len) as usize;
            let why = FrameInvalid::Short { len, needed: frame_len as usize };
            end = Some(ScanEnd::Invalid { frame_no, offset, why });
            break;
        }
        next += count;
    }
    let end = end.unwrap_or(ScanEnd::EndOfFile {
        trailing_bytes: (file_size - WAL_HEADER_LEN as u64) % frame_len,
    });
    let uncommitted = valid.split_off(max_frame as usize);
    Ok(WalScan {
        file_size,
        header: Some(header),
        ignored: None,
        frames: valid,
        uncommitted,
        max_frame,
        db_pages,
        checksum: committed_sum,
        end: Some(end),
    })
}

#[cfg(test)]
mod tests;
