//! Write transactions (`sqlite3WalBeginWriteTransaction`, `sqlite3WalFrames`): the WRITE
//! lock, restarting a fully checkpointed log, appending frames (the log header, the frames
//! encoded and written in batches, pages of this transaction overwritten in place, a commit's
//! padding and syncs), and entering the frames in the wal-index and publishing the commit.

use super::{
    read_lock_slot, Wal, WalSync, FRAME_WRITE_BYTES, KEPT_FRAME_BUF_BYTES, N_READERS, WRITE_LOCK,
};
use crate::format::{self, Checksum, FrameEncoder, FrameHeader, Salt, WalHeader, FRAME_HEADER_LEN};
use crate::index::{self, READMARK_NOT_USED};
use crate::{Corruption, Error, Misuse, ReadOnlyRefusal, Result};
use folio_vfs::{DeviceCharacteristics, ShmLockKind, SyncFlags};

/// The frames [`Wal::append_frames`] wrote, for the steps after it.
struct Appended {
    /// The encoder, its running checksum at the last frame written.
    encoder: FrameEncoder,
    /// The frames' page size.
    page_size: u32,
    /// The last frame written.
    last: u32,
    /// The new frames (not those overwritten in place), as (frame, page).
    frames: Vec<(u32, u32)>,
}

impl Wal {
    /// Starts a write transaction inside the read transaction
    /// (`sqlite3WalBeginWriteTransaction`): takes the WRITE lock; if another connection
    /// committed since the snapshot was taken, releases it and fails with
    /// [`Error::BusySnapshot`].
    pub fn begin_write(&mut self) -> Result<()> {
        if self.opts.read_only || self.shm_read_only() {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                refused: ReadOnlyRefusal::Write,
            });
        }
        if self.read_lock.is_none() {
            return Err(self.misuse(Misuse::BeginWriteOutsideRead));
        }
        if self.write_lock {
            return Ok(());
        }
        self.lock(WRITE_LOCK, 1, ShmLockKind::Exclusive)?;
        self.write_lock = true;
        let live = self.live_header();
        if live != self.hdr {
            self.write_lock = false;
            self.unlock_exclusive(WRITE_LOCK, 1);
            return Err(Error::BusySnapshot {
                path: self.path.clone(),
                snapshot: self.hdr.max_frame,
                live: live.max_frame,
            });
        }
        self.recksum_from = 0;
        Ok(())
    }

    /// Ends the write transaction (releases the WRITE lock); the read transaction stays.
    pub fn end_write(&mut self) {
        if self.write_lock {
            self.write_lock = false;
            self.recksum_from = 0;
            self.unlock_exclusive(WRITE_LOCK, 1);
        }
    }

    /// Ends the write transaction, if any, and the read transaction: [`Wal::end_write`] then
    /// [`Wal::end_read`], with the WRITE lock and the read lock released by one shm call (one
    /// `fcntl` on the OS VFS when no other connection of the process holds a slot between
    /// them). Other processes see both go at once, as if released back to back.
    pub fn end_transaction(&mut self) {
        match (self.write_lock, self.read_lock) {
            (true, Some(i)) => {
                self.write_lock = false;
                self.recksum_from = 0;
                self.read_lock = None;
                let last = read_lock_slot(i);
                let _ = self.lock(WRITE_LOCK, last - WRITE_LOCK + 1, ShmLockKind::UnlockHeld);
            }
            _ => {
                self.end_write();
                self.end_read();
            }
        }
    }

    /// Drops this transaction's uncommitted frames (`sqlite3WalUndo`): the snapshot goes back
    /// to the published header and the hash tables forget the frames after it.
    pub fn undo(&mut self) -> Result<()> {
        if !self.write_lock {
            return Ok(());
        }
        let written_to = self.hdr.max_frame;
        self.hdr = self.live_header();
        self.recksum_from = 0;
        if written_to != self.hdr.max_frame {
            index::cleanup(&self.regions, self.hdr.max_frame)?;
        }
        Ok(())
    }

    /// Restarts the log if a checkpoint copied all of it and no reader uses it
    /// (`walRestartLog`); either way a writer that read from the database alone (READ_LOCK(0))
    /// takes a read mark, so that the frames it writes are protected from checkpoints.
    fn restart_log(&mut self) -> Result<()> {
        if self.read_lock != Some(0) {
            return Ok(());
        }
        if index::n_backfill(self.region0()) > 0 {
            let mut salt = [0u8; 4];
            self.vfs.randomness(&mut salt)?;
            match self.lock(read_lock_slot(1), N_READERS - 1, ShmLockKind::Exclusive) {
                Ok(()) => {
                    self.restart_header(u32::from_ne_bytes(salt));
                    self.unlock_exclusive(read_lock_slot(1), N_READERS - 1);
                }
                Err(e) if e.is_lock_busy() => {}
                Err(e) => return Err(e),
            }
        }
        self.unlock_shared(read_lock_slot(0));
        self.read_lock = None;
        self.retry_begin_read(true).map(|_| ())
    }

    /// A new log generation in the wal-index (`walRestartHdr`): `nCkpt` + 1, salt-1 + 1, a new
    /// salt-2, no frames, nothing backfilled, read mark 1 at 0 and the others unused. The log
    /// file's header is rewritten by the next frame written.
    pub(super) fn restart_header(&mut self, salt2: u32) {
        self.checkpoint_seq = self.checkpoint_seq.wrapping_add(1);
        self.hdr.max_frame = 0;
        self.hdr.salt = self.hdr.salt.restarted(salt2);
        self.publish();
        let r0 = self.region0();
        index::set_n_backfill(r0, 0);
        index::set_n_backfill_attempted(r0, 0);
        index::set_read_mark(r0, 1, 0);
        for i in 2..N_READERS {
            index::set_read_mark(r0, i, READMARK_NOT_USED);
        }
    }

    /// Appends `pages` (page number, image) to the log (`sqlite3WalFrames`). With
    /// `commit = Some(db_pages)` the last one is the commit frame carrying the database size,
    /// the log is synced as [`WalSync`] says, and the new header is published; otherwise the
    /// frames are an uncommitted spill, visible only to this connection. A page this
    /// transaction already wrote is overwritten in place (checksums redone at commit).
    ///
    /// In four steps: the log header to write under (`log_header`), the frames encoded
    /// and written (`append_frames`), a commit's padding, sync and size limit
    /// (`sync_commit`), and the frames entered in the wal-index with the commit
    /// published (`index_frames`).
    pub fn write_frames(
        &mut self,
        page_size: u32,
        pages: &[(u32, &[u8])],
        commit: Option<u32>,
    ) -> Result<()> {
        self.check_frames(page_size, pages)?;
        self.restart_log()?;
        // Frames after the published log's end are this transaction's (`iFirst`).
        let live = self.live_header();
        let first_of_txn = if live != self.hdr { live.max_frame + 1 } else { 0 };
        debug_assert!(
            self.recksum_from == 0 || self.recksum_from >= first_of_txn,
            "frame {} to re-checksum precedes this transaction's first frame {first_of_txn}",
            self.recksum_from
        );
        let header = self.log_header(page_size)?;
        let mut appended = self.append_frames(header, pages, commit, first_of_txn)?;
        if let Some(n_page) = commit {
            self.sync_commit(&mut appended, pages[pages.len() - 1], n_page)?;
        }
        self.index_frames(appended, page_size, commit)
    }

    /// The rules of [`Wal::write_frames`]: inside a write transaction, at least one page, no
    /// page 0, every image one page of a valid page size.
    fn check_frames(&self, page_size: u32, pages: &[(u32, &[u8])]) -> Result<()> {
        if !self.write_lock {
            return Err(self.misuse(Misuse::WriteOutsideWrite));
        }
        if pages.is_empty() {
            return Err(self.misuse(Misuse::NoPages));
        }
        if pages.iter().any(|(p, _)| *p == 0) {
            return Err(self.misuse(Misuse::PageZero));
        }
        if let Some(&(page, image)) = pages.iter().find(|(_, d)| d.len() != page_size as usize) {
            return Err(self.misuse(Misuse::ImageSize { page, len: image.len(), page_size }));
        }
        if !format::valid_page_size(page_size) {
            return Err(self.misuse(Misuse::PageSize(page_size)));
        }
        Ok(())
    }

    /// The header of the log the frames join. An empty log gets a new one, written (and
    /// synced unless syncs are off or the device is SEQUENTIAL) before any frame, with fresh
    /// random salts for the first generation; a log with frames keeps its own, whose page size
    /// must be the frames'.
    fn log_header(&mut self, page_size: u32) -> Result<WalHeader> {
        if self.hdr.max_frame != 0 {
            if self.hdr.page_size() != page_size {
                let log = self.hdr.page_size();
                return Err(self.corrupt(Corruption::FramePageSize { log, frames: page_size }));
            }
            return Ok(WalHeader {
                order: self.hdr.order(),
                page_size,
                checkpoint_seq: self.checkpoint_seq,
                salt: self.hdr.salt,
            });
        }
        if self.checkpoint_seq == 0 {
            let mut salt = [0u8; 8];
            self.vfs.randomness(&mut salt)?;
            self.hdr.salt = Salt::from_bytes(salt);
        }
        let header = WalHeader::new(page_size, self.checkpoint_seq, self.hdr.salt);
        self.file.write_at(0, &header.encode())?;
        self.hdr.big_end_cksum = u8::from(header.order.is_big_endian());
        self.hdr.frame_checksum = header.checksum();
        if self.opts.sync != WalSync::Off
            && !self.device.contains(DeviceCharacteristics::SEQUENTIAL)
        {
            self.file.sync(SyncFlags::NORMAL)?;
        }
        self.truncate_on_commit = true;
        Ok(header)
    }

    /// Encodes `pages` as frames after the snapshot's last and writes them, in batches of up
    /// to [`FRAME_WRITE_BYTES`]: the pages before a commit frame ([`Wal::append_pages`]), then
    /// the commit frame, which goes last ([`Wal::append_commit_frame`]).
    fn append_frames(
        &mut self,
        header: WalHeader,
        pages: &[(u32, &[u8])],
        commit: Option<u32>,
        first_of_txn: u32,
    ) -> Result<Appended> {
        let mut out = Appended {
            encoder: FrameEncoder::resume(header, self.hdr.frame_checksum),
            page_size: header.page_size,
            last: self.hdr.max_frame,
            frames: Vec::with_capacity(pages.len()),
        };
        let mut pending = std::mem::take(&mut self.frame_buf);
        pending.clear();
        let last = pages.len() - 1;
        // The commit frame (the last page of a commit) is appended after the others.
        let body = if commit.is_some() { &pages[..last] } else { pages };
        self.append_pages(&mut out, &mut pending, body, first_of_txn)?;
        if let Some(n_page) = commit {
            self.append_commit_frame(&mut out, &mut pending, &header, pages[last], n_page)?;
        }
        self.write_pending(&mut pending, out.last, out.page_size)?;
        if pending.capacity() <= KEPT_FRAME_BUF_BYTES {
            self.frame_buf = pending;
        }
        Ok(out)
    }

    /// Appends `pages` as frames that commit nothing, gathering them in `pending` and writing
    /// a batch whenever it is full. A page this transaction already logged (a frame at or
    /// after `first_of_txn`) is overwritten in place instead, and its frame noted for the
    /// checksum rewrite before the commit.
    fn append_pages(
        &mut self,
        out: &mut Appended,
        pending: &mut Vec<u8>,
        pages: &[(u32, &[u8])],
        first_of_txn: u32,
    ) -> Result<()> {
        let page_size = out.page_size;
        let frame_len = format::frame_len(page_size) as usize;
        // New frames are encoded back to back and written together, up to FRAME_WRITE_BYTES at
        // a time: fewer system calls, and the kernel caches the log in large folios, which
        // makes reading frames back (readers, checkpoints) cheaper.
        let batch_frames = (FRAME_WRITE_BYTES / frame_len).max(1);
        for &(page_no, data) in pages {
            if first_of_txn != 0 {
                if let Some(existing) = self.find_frame(page_no)? {
                    if existing >= first_of_txn {
                        if self.recksum_from == 0 || existing < self.recksum_from {
                            self.recksum_from = existing;
                        }
                        self.write_pending(pending, out.last, page_size)?;
                        let offset = format::frame_offset(existing, page_size);
                        self.file.write_at(offset + FRAME_HEADER_LEN as u64, data)?;
                        continue;
                    }
                }
            }
            out.last += 1;
            let at = pending.len();
            pending.resize(at + frame_len, 0);
            out.encoder.encode(page_no, 0, data, &mut pending[at..]);
            out.frames.push((out.last, page_no));
            if pending.len() >= batch_frames * frame_len {
                self.write_pending(pending, out.last, page_size)?;
            }
        }
        Ok(())
    }

    /// Appends the commit frame of `(page, image)`, carrying the database size `n_page`, to
    /// `pending`; frames overwritten in place get their checksums redone first.
    fn append_commit_frame(
        &mut self,
        out: &mut Appended,
        pending: &mut Vec<u8>,
        header: &WalHeader,
        (page_no, data): (u32, &[u8]),
        n_page: u32,
    ) -> Result<()> {
        if self.recksum_from != 0 {
            // Frames were overwritten in place: redo their checksums before the commit
            // frame is written, and chain the commit frame over the new ones. (SQLite writes
            // the commit frame first, chained over the old checksums: a power loss that
            // keeps it and loses an overwrite commits the old image of that page.)
            self.write_pending(pending, out.last, out.page_size)?;
            let running = self.rewrite_checksums(header, self.recksum_from, out.last)?;
            out.encoder = FrameEncoder::resume(*header, running);
            self.recksum_from = 0;
        }
        out.last += 1;
        let at = pending.len();
        pending.resize(at + format::frame_len(out.page_size) as usize, 0);
        out.encoder.encode(page_no, n_page, data, &mut pending[at..]);
        out.frames.push((out.last, page_no));
        Ok(())
    }

    /// Makes a commit durable as [`WalSync`] says: with FULL, pads the log with copies of the
    /// commit frame (`commit_page`) up to a sector boundary unless the device has powersafe
    /// overwrite, and syncs it; then, once per log generation, cuts the file to the journal
    /// size limit.
    fn sync_commit(
        &mut self,
        appended: &mut Appended,
        commit_page: (u32, &[u8]),
        n_page: u32,
    ) -> Result<()> {
        let page_size = appended.page_size;
        if self.opts.sync == WalSync::Full {
            let frame_len = format::frame_len(page_size) as usize;
            let mut end = format::frame_offset(appended.last + 1, page_size);
            let mut sync_now = true;
            if !self.device.contains(DeviceCharacteristics::POWERSAFE_OVERWRITE) {
                // Pad with copies of the commit frame up to a sector boundary, syncing
                // at the boundary, so no later write shares a sector with the commit.
                let sector = u64::from(self.sector_size);
                let sync_point = end.div_ceil(sector) * sector;
                sync_now = sync_point == end;
                let (page_no, data) = commit_page;
                let mut buf = vec![0u8; frame_len];
                while end < sync_point {
                    appended.last += 1;
                    appended.encoder.encode(page_no, n_page, data, &mut buf);
                    self.write_to_sync_point(end, &buf, sync_point)?;
                    appended.frames.push((appended.last, page_no));
                    end += frame_len as u64;
                }
            }
            if sync_now {
                self.file.sync(SyncFlags::NORMAL)?;
            }
        }
        if self.truncate_on_commit && self.opts.journal_size_limit >= 0 {
            let limit = (self.opts.journal_size_limit as u64)
                .max(format::frame_offset(appended.last + 1, page_size));
            if self.file.size()? > limit {
                self.file.truncate(limit)?;
            }
            self.truncate_on_commit = false;
        }
        Ok(())
    }

    /// Enters the frames written in the wal-index's hash tables and moves the snapshot to the
    /// last; a commit (of `n_page` pages) is published to other connections.
    fn index_frames(
        &mut self,
        appended: Appended,
        page_size: u32,
        commit: Option<u32>,
    ) -> Result<()> {
        let before = self.hdr.max_frame;
        debug_assert_eq!(
            appended.last as usize,
            before as usize + appended.frames.len(),
            "the new frames follow the snapshot's last frame {before} one by one"
        );
        debug_assert!(
            appended.frames.iter().enumerate().all(|(i, &(f, _))| f == before + 1 + i as u32),
            "new frames are numbered consecutively after frame {before}"
        );
        for &(f, page_no) in &appended.frames {
            let region = index::region_of_frame(f);
            self.map(region, true)?;
            index::append(&self.regions, f, page_no, before)?;
        }
        self.hdr.max_frame = appended.last;
        self.hdr.sz_page = index::encode_page_size(page_size);
        self.hdr.frame_checksum = appended.encoder.running();
        if let Some(n_page) = commit {
            self.hdr.change = self.hdr.change.wrapping_add(1);
            self.hdr.n_page = n_page;
            self.publish();
        }
        Ok(())
    }

    /// Writes the frames encoded in `pending`, the last of which is frame `last`, and empties
    /// it.
    fn write_pending(&self, pending: &mut Vec<u8>, last: u32, page_size: u32) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let n_frames = (pending.len() as u64 / format::frame_len(page_size)) as u32;
        self.file.write_at(format::frame_offset(last + 1 - n_frames, page_size), pending)?;
        pending.clear();
        Ok(())
    }

    /// Writes `bytes` at `offset`; a write that reaches `sync_point` is split there and the log
    /// synced in between (`walWriteToLog`).
    fn write_to_sync_point(&self, offset: u64, bytes: &[u8], sync_point: u64) -> Result<()> {
        let end = offset + bytes.len() as u64;
        if offset < sync_point && end >= sync_point {
            let first = (sync_point - offset) as usize;
            self.file.write_at(offset, &bytes[..first])?;
            self.file.sync(SyncFlags::NORMAL)?;
            if first < bytes.len() {
                self.file.write_at(sync_point, &bytes[first..])?;
            }
            return Ok(());
        }
        self.file.write_at(offset, bytes)?;
        Ok(())
    }

    /// Recomputes the checksums of frames `from..=to` after pages were overwritten in place
    /// (`walRewriteChecksums`); returns the new running checksum.
    fn rewrite_checksums(&self, header: &WalHeader, from: u32, to: u32) -> Result<Checksum> {
        let page_size = header.page_size;
        let seed = if from == 1 {
            header.checksum()
        } else {
            let mut fh = [0u8; FRAME_HEADER_LEN];
            self.file.read_at(format::frame_offset(from - 1, page_size), &mut fh)?;
            FrameHeader::decode(&fh).map(|h| h.checksum).unwrap_or_default()
        };
        let mut encoder = FrameEncoder::resume(*header, seed);
        let len = format::frame_len(page_size) as usize;
        let (mut frame_bytes, mut out) = (vec![0u8; len], vec![0u8; len]);
        for f in from..=to {
            let offset = format::frame_offset(f, page_size);
            self.file.read_at(offset, &mut frame_bytes)?;
            let fh = FrameHeader::decode(&frame_bytes).expect("a whole frame was read");
            encoder.encode(fh.page_no, fh.commit_size, &frame_bytes[FRAME_HEADER_LEN..], &mut out);
            self.file.write_at(offset, &out[..FRAME_HEADER_LEN])?;
        }
        Ok(encoder.running())
    }
}
