//! Writing a rollback journal as SQLite's pager does (SQLite's pager.c, `writeJournalHdr`,
//! `syncJournal`): a header, page records as pages are first changed, and `sync` in SQLite's order
//! — zero a stale header left beyond our records, sync (FULL only), write magic and record count,
//! sync again — with a fresh header after a mid-transaction sync (a cache spill).

use crate::format::{self, JournalHeader, RECORD_COUNT_FROM_FILE_SIZE};
use crate::{Error, Result};
use folio_vfs::{DeviceCharacteristics, SyncFlags, VfsFile};

/// How a journal is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// The database's page size.
    pub page_size: u32,
    /// Header size and alignment (512 on devices with powersafe overwrite, SQLite's pager.c,
    /// `setSectorSize`).
    pub sector_size: u32,
    /// Database size in pages when the transaction began.
    pub db_orig_pages: u32,
    /// Checksum seed of the first segment (later segments derive theirs from it).
    pub nonce: u32,
    /// Write the magic and "count from file size" up front instead of after a sync (SQLite does
    /// this with synchronous=OFF, journal_mode=MEMORY, or a SAFE_APPEND device).
    pub magic_up_front: bool,
}

/// How hard [`JournalWriter::sync`] syncs (the pager's synchronous level and the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPolicy {
    /// synchronous=FULL or EXTRA: sync before writing the record count, too.
    pub full: bool,
    /// The journal's device characteristics (SAFE_APPEND, SEQUENTIAL change the sequence).
    pub device: DeviceCharacteristics,
}

/// A journal being written.
pub struct JournalWriter {
    file: Box<dyn VfsFile>,
    config: JournalConfig,
    /// Offset of the current segment's header.
    header_offset: u64,
    /// Records in the current segment.
    n_rec: u32,
    /// Checksum seed of the current segment.
    nonce: u32,
    /// Where the next record goes.
    next: u64,
}

impl JournalWriter {
    /// Starts a journal in `file` (empty, or a PERSIST leftover: it is overwritten from 0).
    pub fn start(file: Box<dyn VfsFile>, config: JournalConfig) -> Result<JournalWriter> {
        let mut writer = JournalWriter {
            file,
            config,
            header_offset: 0,
            n_rec: 0,
            nonce: config.nonce,
            next: 0,
        };
        writer.write_header()?;
        Ok(writer)
    }

    fn header(&self) -> JournalHeader {
        JournalHeader {
            n_rec: if self.config.magic_up_front {
                RECORD_COUNT_FROM_FILE_SIZE
            } else {
                self.n_rec
            },
            nonce: self.nonce,
            db_orig_pages: self.config.db_orig_pages,
            sector_size: self.config.sector_size,
            page_size: self.config.page_size,
        }
    }

    /// Writes a header for a new segment at the next sector boundary.
    fn write_header(&mut self) -> Result<()> {
        self.header_offset = format::header_offset(self.next, self.config.sector_size);
        self.n_rec = 0;
        let mut sector = vec![0u8; self.config.sector_size as usize];
        self.header().encode(&mut sector, self.config.magic_up_front);
        self.file.write_at(self.header_offset, &sector)?;
        self.next = self.header_offset + u64::from(self.config.sector_size);
        Ok(())
    }

    /// Appends the original image of page `page_no`.
    pub fn append(&mut self, page_no: u32, page: &[u8]) -> Result<()> {
        let page_size = self.config.page_size;
        if page.len() != page_size as usize {
            return Err(Error::RecordSize { page_no, len: page.len(), page_size });
        }
        let mut record = vec![0u8; format::record_len(self.config.page_size) as usize];
        format::encode_record(page_no, page, self.nonce, &mut record);
        self.file.write_at(self.next, &record)?;
        self.next += record.len() as u64;
        self.n_rec += 1;
        Ok(())
    }

    /// Makes the records written so far durable and valid (SQLite's `syncJournal`). With
    /// `new_header`, later records go into a new segment (after a cache spill).
    pub fn sync(&mut self, policy: SyncPolicy) -> Result<()> {
        let safe_append = policy.device.contains(DeviceCharacteristics::SAFE_APPEND);
        let sequential = policy.device.contains(DeviceCharacteristics::SEQUENTIAL);
        if !self.config.magic_up_front && !safe_append {
            // A valid-looking header just past our records (left by an earlier PERSIST
            // transaction) would make a crash replay stale records: spoil its magic first.
            let stale_at = format::header_offset(self.next, self.config.sector_size);
            let mut magic = [0u8; 8];
            if !self.file.read_at(stale_at, &mut magic)?.is_short() && magic == format::MAGIC {
                self.file.write_at(stale_at, &[0])?;
            }
            if policy.full && !sequential {
                self.file.sync(SyncFlags::FULL)?;
            }
            let mut count = [0u8; format::MAGIC_AND_COUNT_LEN];
            self.header().encode_magic_and_count(&mut count);
            self.file.write_at(self.header_offset, &count)?;
        }
        if !sequential {
            self.file.sync(if policy.full { SyncFlags::FULL } else { SyncFlags::NORMAL })?;
        }
        Ok(())
    }

    /// [`JournalWriter::sync`], then start a new segment for the records that follow (SQLite
    /// does this when it spills dirty pages to the database in the middle of a transaction).
    pub fn sync_and_start_segment(&mut self, policy: SyncPolicy) -> Result<()> {
        self.sync(policy)?;
        if !policy.device.contains(DeviceCharacteristics::SAFE_APPEND) {
            // Each segment gets its own seed (SQLite draws a random one), so records of an
            // older segment do not verify in a newer one.
            self.nonce = self.nonce.wrapping_mul(0x9e37_79b9).wrapping_add(1);
            self.write_header()?;
        }
        Ok(())
    }

    /// Records in the current segment.
    pub fn n_records(&self) -> u32 {
        self.n_rec
    }

    /// Offset of the header of the segment being written (for [`crate::playback::Mode::Own`]).
    pub fn current_header_offset(&self) -> u64 {
        self.header_offset
    }

    /// The journal file, for reading it back (a rollback of this connection's own journal).
    pub fn file(&self) -> &dyn VfsFile {
        &*self.file
    }

    /// Where the next record would go: the journal's length so far.
    pub fn end_offset(&self) -> u64 {
        self.next
    }

    /// The journal file, for finalizing (delete, truncate or [`zero_header`]).
    pub fn into_file(self) -> Box<dyn VfsFile> {
        self.file
    }
}

/// Finalizes a PERSIST-mode journal: zero the header's fields (28 bytes, SQLite's pager.c,
/// `zeroJournalHdr`), so the journal is no longer hot, leaving the rest in place.
pub fn zero_header(file: &dyn VfsFile) -> Result<()> {
    Ok(file.write_at(0, &[0u8; format::PERSIST_ZEROED_LEN])?)
}
