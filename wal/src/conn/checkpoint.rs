//! Checkpoints (`sqlite3WalCheckpoint`, `walCheckpoint`): copy the log's newest
//! page images back into the database file, as far as readers allow, in ascending page order,
//! syncing the log before the first database write and the database after a complete copy.
//!
//! Modes as SQLite's: PASSIVE never waits; FULL also takes the WRITE lock (waiting through the
//! busy handler) and must copy everything; RESTART then waits for the readers to leave so the
//! next writer restarts the log; TRUNCATE restarts the wal-index header itself and truncates
//! the log to 0 bytes. A mode that cannot get the WRITE lock degrades to PASSIVE and reports
//! busy.
//!
//! The WAL-reset race (fixed in SQLite 3.51.3,
//! <https://sqlite.org/releaselog/3_51_3.html>) cannot happen here: after
//! taking READ_LOCK(0), the checkpointer re-reads the live header and abandons the copy if the
//! log was restarted since its snapshot, before it touches `nBackfill`.

use super::{read_lock_slot, Wal, WalSync, CKPT_LOCK, N_READERS, WRITE_LOCK};
use crate::format::{self, FRAME_HEADER_LEN};
use crate::index::{self, IndexHeader, READMARK_NOT_USED};
use crate::{Corruption, Error, Misuse, ReadOnlyRefusal, Result};
use folio_vfs::{chunk_rounded, MappedPage, ReadOutcome, ShmLockKind, SyncFlags, VfsFile};
use std::path::Path;

/// `SQLITE_CHECKPOINT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum CheckpointMode {
    /// Copy what readers allow; never wait.
    #[default]
    Passive,
    /// Wait for the writer and the readers until everything is copied.
    Full,
    /// FULL, then wait until no reader uses the log, so the next writer starts it over.
    Restart,
    /// RESTART, then truncate the log to 0 bytes.
    Truncate,
}

impl std::str::FromStr for CheckpointMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "passive" => Ok(CheckpointMode::Passive),
            "full" => Ok(CheckpointMode::Full),
            "restart" => Ok(CheckpointMode::Restart),
            "truncate" => Ok(CheckpointMode::Truncate),
            _ => Err(format!(
                "invalid checkpoint mode {s:?}: expected PASSIVE, FULL, RESTART or TRUNCATE"
            )),
        }
    }
}

/// What a checkpoint did: the row of `PRAGMA wal_checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// The checkpoint could not finish what its mode asks (SQLite's `SQLITE_BUSY`).
    pub busy: bool,
    /// Frames in the log (`pnLog`).
    pub log: u32,
    /// Frames of it copied into the database (`pnCkpt`).
    pub checkpointed: u32,
}

/// Bytes of consecutive pages written into the database with one (vectored) write. Smaller
/// writes copy faster here: on the checkpoint benchmark (pager/benches/wal.rs) 256 KiB beat
/// 1 MiB by a few percent and 4 MiB was a quarter slower.
const WRITE_BATCH_BYTES: usize = 1 << 18;

/// Bytes a checkpoint writes into the database between two write-back hints
/// ([`folio_vfs::VfsFile::start_writeback`]): the device writes what was copied while the
/// next pages are copied, so the database's sync at the end waits for the tail only. On the
/// checkpoint benchmark (pager/benches/wal.rs) a 16 MiB checkpoint went from ~13 ms to
/// ~8.5 ms; in a C model of it a hint every 256 KiB to 1 MiB did alike, every 4 MiB less.
const WRITEBACK_BYTES: u64 = 1 << 19;

impl Wal {
    /// Runs a checkpoint of `mode` (not inside a transaction). `page_size` is the database's;
    /// `busy` is called while a lock the mode waits for is busy and returns whether to retry.
    /// The CKPT lock itself is tried once: another checkpoint running is a busy error.
    pub fn checkpoint(
        &mut self,
        mode: CheckpointMode,
        page_size: u32,
        mut busy: Option<&mut dyn FnMut() -> bool>,
    ) -> Result<Checkpoint> {
        if self.opts.read_only || self.shm_read_only() {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                refused: ReadOnlyRefusal::Checkpoint,
            });
        }
        if self.read_lock.is_some() || self.write_lock {
            return Err(self.misuse(Misuse::CheckpointInTransaction));
        }
        if mode == CheckpointMode::Passive {
            // PASSIVE never waits: a busy reader caps the copy at once (SQLite's pager passes
            // no handler for it).
            busy = None;
        }
        // The index may not be mapped yet (a checkpoint before any transaction), and the shm
        // slots exist only once it is.
        self.map(0, false)?;
        if self.shm_read_only() {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                refused: ReadOnlyRefusal::Checkpoint,
            });
        }
        self.lock(CKPT_LOCK, 1, ShmLockKind::Exclusive)?;
        self.ckpt_lock = true;
        let result = self.checkpoint_locked(mode, page_size, &mut busy);
        self.end_write();
        self.ckpt_lock = false;
        self.unlock_exclusive(CKPT_LOCK, 1);
        result
    }

    /// The checkpoint under the CKPT lock: the WRITE lock for the modes that need it, the
    /// snapshot, the copy ([`Wal::backfill`]), then for RESTART and TRUNCATE the wait for the
    /// readers ([`Wal::restart_readers`]).
    fn checkpoint_locked(
        &mut self,
        mode: CheckpointMode,
        page_size: u32,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<Checkpoint> {
        let effective = self.checkpoint_writer_lock(mode, busy)?;
        let changed = self.read_index_header()?;
        if changed {
            // Pages of the database may change under an old mapping's readers' feet.
            self.db.unmap();
        }
        if self.hdr.max_frame > 0 && self.hdr.page_size() != page_size {
            let log = self.hdr.page_size();
            return Err(self.corrupt(Corruption::CheckpointPageSize { log, database: page_size }));
        }
        // Readers keeping the copy short are not an error (PASSIVE reports success); the
        // other modes check below that everything was copied.
        self.backfill(page_size, busy)?;
        let incomplete = effective != CheckpointMode::Passive
            && (index::n_backfill(self.region0()) < self.hdr.max_frame
                || (effective >= CheckpointMode::Restart
                    && !self.restart_readers(effective, busy)?));
        let result = Checkpoint {
            busy: incomplete || effective != mode,
            log: self.hdr.max_frame,
            checkpointed: index::n_backfill(self.region0()),
        };
        if changed {
            // The snapshot was loaded by the checkpoint, not by a read transaction: make the
            // next read transaction see a change, so the caller's cache is dropped.
            self.hdr = IndexHeader::default();
        }
        Ok(result)
    }

    /// The mode a checkpoint runs in: any but PASSIVE takes the WRITE lock (through the busy
    /// handler), and one that cannot get it degrades to PASSIVE, waiting no more.
    fn checkpoint_writer_lock(
        &mut self,
        mode: CheckpointMode,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<CheckpointMode> {
        if mode == CheckpointMode::Passive {
            return Ok(mode);
        }
        match self.busy_lock(WRITE_LOCK, 1, busy) {
            Ok(()) => {
                self.write_lock = true;
                Ok(mode)
            }
            Err(e) if e.is_lock_busy() => {
                *busy = None;
                Ok(CheckpointMode::Passive)
            }
            Err(e) => Err(e),
        }
    }

    /// RESTART and TRUNCATE after a complete copy: waits (through the busy handler) until no
    /// reader uses the log, so the next writer restarts it; TRUNCATE restarts the wal-index
    /// header itself and truncates the log to 0 bytes. False when a reader stayed.
    fn restart_readers(
        &mut self,
        mode: CheckpointMode,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<bool> {
        let mut salt = [0u8; 4];
        self.vfs.randomness(&mut salt)?;
        match self.busy_lock(read_lock_slot(1), N_READERS - 1, busy) {
            Ok(()) => {
                let truncated = if mode == CheckpointMode::Truncate {
                    self.restart_header(u32::from_ne_bytes(salt));
                    self.file.truncate(0).map_err(Error::from)
                } else {
                    Ok(())
                };
                self.unlock_exclusive(read_lock_slot(1), N_READERS - 1);
                truncated?;
                Ok(true)
            }
            Err(e) if e.is_lock_busy() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Copies frames into the database as far as readers allow (`walCheckpoint`'s backfill).
    fn backfill(
        &mut self,
        page_size: u32,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<()> {
        let r0 = self.region0().clone();
        if index::n_backfill(&r0) >= self.hdr.max_frame {
            return Ok(());
        }
        // A reader whose mark is below the log's end caps what may be copied at its mark;
        // free marks are moved up (mark 1 to the end, the others to unused).
        let mut safe = self.hdr.max_frame;
        for i in 1..N_READERS {
            let mark = index::read_mark(&r0, i);
            if safe > mark {
                match self.busy_lock(read_lock_slot(i), 1, busy) {
                    Ok(()) => {
                        index::set_read_mark(&r0, i, if i == 1 { safe } else { READMARK_NOT_USED });
                        self.unlock_exclusive(read_lock_slot(i), 1);
                    }
                    Err(e) if e.is_lock_busy() => {
                        safe = mark;
                        *busy = None;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if index::n_backfill(&r0) >= safe {
            return Ok(());
        }
        let pages = self.newest_frames(index::n_backfill(&r0))?;
        // Readers that read the database alone must not see it change.
        match self.busy_lock(read_lock_slot(0), 1, busy) {
            Ok(()) => {}
            Err(e) if e.is_lock_busy() => return Ok(()),
            Err(e) => return Err(e),
        }
        let result = self.copy_frames(&pages, safe, page_size);
        self.unlock_exclusive(read_lock_slot(0), 1);
        result
    }

    /// For every page in frames after `after` up to the snapshot's end, its newest frame, in
    /// ascending page order (`walIteratorInit`).
    fn newest_frames(&mut self, after: u32) -> Result<Vec<(u32, u32)>> {
        let max_frame = self.hdr.max_frame;
        self.map(index::region_of_frame(max_frame), false)?;
        let mut pairs = Vec::with_capacity((max_frame - after) as usize);
        for frame in after + 1..=max_frame {
            pairs.push((index::frame_page_no(&self.regions, frame)?, frame));
        }
        pairs.sort_unstable();
        // Keep the last (newest) frame of each page.
        let mut newest: Vec<(u32, u32)> = Vec::with_capacity(pairs.len());
        for (page, frame) in pairs {
            match newest.last_mut() {
                Some(last) if last.0 == page => last.1 = frame,
                _ => newest.push((page, frame)),
            }
        }
        Ok(newest)
    }

    /// The copy itself, under READ_LOCK(0) exclusive: re-check that the log was not restarted
    /// since the snapshot, sync the log, write the pages, and if the whole live log was copied
    /// truncate and sync the database; then publish `nBackfill`.
    fn copy_frames(&mut self, pages: &[(u32, u32)], safe: u32, page_size: u32) -> Result<()> {
        let r0 = self.region0().clone();
        if self.reset_race_check && self.live_header().salt != self.hdr.salt {
            // A writer restarted the log after our snapshot: its frame numbers are not ours,
            // and nBackfill now counts the new log. Copy nothing (SQLite 3.51.3).
            return Ok(());
        }
        let done = index::n_backfill(&r0);
        // Only a checkpointer (under the CKPT lock this one holds) raises nBackfill, and the
        // backfill returned before the copy unless it was below `safe`; a restart lowers it.
        debug_assert!(done < safe, "nBackfill {done} has reached the copy's end {safe}");
        debug_assert!(
            safe <= self.hdr.max_frame,
            "the copy's end {safe} is past the snapshot's mxFrame {}",
            self.hdr.max_frame
        );
        let max_page = self.hdr.n_page;
        index::set_n_backfill_attempted(&r0, safe);
        if self.opts.sync != WalSync::Off {
            self.file.sync(SyncFlags::NORMAL)?;
        }
        let want = self.prepare_database(max_page, page_size)?;
        // The frames to copy, by ascending page: consecutive pages go to the database with one
        // write, and those of them in consecutive frames come from the log with one fetch or
        // read. Page 0 (a zeroed entry of a damaged index) is skipped, as SQLite's
        // walIteratorNext never yields it; copied, it would be written at a wrapped offset.
        let todo: Vec<(u32, u32)> = pages
            .iter()
            .copied()
            .filter(|&(page_no, frame)| {
                frame > done && frame <= safe && page_no != 0 && page_no <= max_page
            })
            .collect();
        let mut log = LogFrames::new(&*self.file, &self.path, page_size, safe);
        self.copy_batches(&todo, page_size, &mut log)?;
        // The map goes now, long before READ_LOCK(0) does (see `LogFrames`).
        drop(log);
        if safe == self.live_header().max_frame {
            self.finish_database(want)?;
        }
        index::set_n_backfill(&r0, safe);
        Ok(())
    }

    /// Checks that the database file and the log can make the `max_page` pages the log says
    /// the database has (SQLite's walCheckpoint check), and hints a growing file's new size to
    /// the VFS. Returns that size in bytes.
    fn prepare_database(&self, max_page: u32, page_size: u32) -> Result<u64> {
        let want = u64::from(max_page) * u64::from(page_size);
        let db_size = self.db.size()?;
        if db_size < want {
            let bound = db_size + 65536 + u64::from(self.hdr.max_frame) * u64::from(page_size);
            if bound < want {
                return Err(Error::Corrupt {
                    path: self.db.path().to_path_buf(),
                    check: Corruption::DatabaseSize {
                        n_page: max_page,
                        db_size,
                        max_frame: self.hdr.max_frame,
                    },
                });
            }
            // As SQLite's walCheckpoint: the size the database is about to grow to, which a
            // VFS with a chunk size preallocates; a hint, so its failure is ignored.
            let _ = self.db.size_hint(want);
        }
        Ok(want)
    }

    /// After a copy of the whole live log: cuts the database to `want` bytes (or to the end of
    /// the chunk holding the last page, with a chunk size) and syncs it.
    fn finish_database(&self, want: u64) -> Result<()> {
        if self.db.size()? != chunk_rounded(want, self.db.chunk_size()) {
            self.db.truncate(want)?;
        }
        if self.opts.sync != WalSync::Off {
            self.db.sync(SyncFlags::NORMAL)?;
        }
        Ok(())
    }

    /// Writes the pages of `todo` (page number, frame; ascending pages) into the database:
    /// each run of consecutive pages with one vectored write of their images, which come from
    /// `log` (one fetch or read per run of consecutive frames); every [`WRITEBACK_BYTES`] or so
    /// a hint to start writing back what was written since the last one.
    fn copy_batches(
        &self,
        todo: &[(u32, u32)],
        page_size: u32,
        log: &mut LogFrames<'_>,
    ) -> Result<()> {
        let batch_pages = (WRITE_BATCH_BYTES / page_size as usize).max(1);
        let mut runs: Vec<(u32, usize)> = Vec::new();
        // Written since the last hint (ascending offsets; gaps between runs are clean pages,
        // which write-back skips). Without syncs there is nothing to get ahead of.
        let mut unhinted_from: Option<u64> = None;
        let hints = self.opts.sync != WalSync::Off;
        let mut i = 0;
        while i < todo.len() {
            let first_page = todo[i].0;
            let mut end = i + 1;
            while end < todo.len()
                && end - i < batch_pages
                && todo[end].0 == first_page + (end - i) as u32
            {
                end += 1;
            }
            runs.clear();
            let mut run = i;
            while run < end {
                let first_frame = todo[run].1;
                let mut run_end = run + 1;
                while run_end < end && todo[run_end].1 == first_frame + (run_end - run) as u32 {
                    run_end += 1;
                }
                runs.push((first_frame, run_end - run));
                run = run_end;
            }
            let offset = u64::from(first_page - 1) * u64::from(page_size);
            log.with_pages(&runs, |pages| Ok(self.db.write_vectored_at(offset, pages)?))?;
            let from = *unhinted_from.get_or_insert(offset);
            let to = offset + (end - i) as u64 * u64::from(page_size);
            if hints && to - from >= WRITEBACK_BYTES {
                self.db.start_writeback(from, to - from)?;
                unhinted_from = None;
            }
            i = end;
        }
        Ok(())
    }
}

/// The page images of a checkpoint's frames: straight from a memory map of the log where the
/// VFS maps files (the OS VFS), so the only copy of a page is the kernel's from the log's page
/// cache into the database's; else (the memory VFS, the simulated disk, frames past the map's
/// cap) read from the log into one buffer that every batch reuses.
///
/// Soundness of the map (`MappedPage`'s contract): it covers the
/// log's bytes `0..end of frame safe` only, and lives only inside `copy_frames`, while the
/// checkpointer holds CKPT and READ_LOCK(0) exclusive and after it re-checked that the log
/// was not restarted since its snapshot. Those bytes cannot change until then:
/// * A writer rewrites the log's header and overwrites frames from frame 1 only when it starts
///   a new generation, that is after a restart of the wal-index header (or in a log without
///   frames, where there is nothing to copy). A writer restarts (`restart_log`, SQLite's
///   `walRestartLog`) only while holding READ_LOCK(0) shared, which our exclusive
///   READ_LOCK(0) excludes; a restart published before we took it changed the salts, which
///   `copy_frames` checks first. The only other restart, a TRUNCATE checkpoint's, and
///   recovery need CKPT, which we hold.
/// * Otherwise a writer only appends after the published log's end (at or past `safe`),
///   overwrites in place only its own transaction's frames (after that end too) and rewrites
///   their checksums; a commit's sector padding goes after its commit frame.
/// * The log shrinks at a TRUNCATE checkpoint (under CKPT), at the last connection's close
///   (under an EXCLUSIVE database lock, which the SHARED lock every WAL connection holds
///   excludes), and with `journal_size_limit` at the first commit of a generation, never
///   below that commit's own end.
///
/// A process that breaks the protocol (truncating or rewriting the log under us) can change
/// the bytes being copied or raise SIGBUS, exactly as it can for the database's map. The map
/// is dropped (`unmap`, and the cap set back to 0) when this value is, before the locks go: the
/// log may be restarted or truncated as soon as they do.
struct LogFrames<'a> {
    file: &'a dyn VfsFile,
    path: &'a Path,
    page_size: u32,
    /// Whether the VFS maps the log; cleared if mapping fails (reads then do the job).
    mapping: bool,
    /// Frames read from the log for the current batch; it only grows, so its bytes are zeroed
    /// once, not for every batch.
    buf: Vec<u8>,
}

/// Where the frames of one run are: in the map, or read into [`LogFrames::buf`] at an offset.
enum Run {
    Mapped(MappedPage),
    Read(usize),
}

impl<'a> LogFrames<'a> {
    /// Frames up to `safe` of `file`, the log.
    fn new(file: &'a dyn VfsFile, path: &'a Path, page_size: u32, safe: u32) -> Self {
        let end = format::frame_offset(safe, page_size) + format::frame_len(page_size);
        // A VFS without a map says 0 (its `fetch` would find nothing anyway).
        let mapping = matches!(file.set_mmap_limit(end), Ok(limit) if limit > 0);
        LogFrames { file, path, page_size, mapping, buf: Vec::new() }
    }

    /// Calls `write` with the page images of `runs` (first frame, number of consecutive
    /// frames), in order, one slice per page.
    fn with_pages<R>(
        &mut self,
        runs: &[(u32, usize)],
        write: impl FnOnce(&[&[u8]]) -> Result<R>,
    ) -> Result<R> {
        let ps = self.page_size as usize;
        let frame_len = format::frame_len(self.page_size) as usize;
        let mut located = Vec::with_capacity(runs.len());
        let mut used = 0;
        for &(first, n) in runs {
            // From the first frame's page image to the end of the last frame.
            let offset = format::frame_offset(first, self.page_size) + FRAME_HEADER_LEN as u64;
            let len = n * frame_len - FRAME_HEADER_LEN;
            if let Some(mapped) = self.fetch(offset, len) {
                located.push(Run::Mapped(mapped));
                continue;
            }
            if self.buf.len() < used + len {
                self.buf.resize(used + len, 0);
            }
            if let ReadOutcome::Short { n_read } =
                self.file.read_at(offset, &mut self.buf[used..used + len])?
            {
                return Err(Error::Corrupt {
                    path: self.path.to_path_buf(),
                    check: Corruption::FramesCutShort {
                        first,
                        last: first + n as u32 - 1,
                        offset,
                        n_read,
                        len,
                    },
                });
            }
            located.push(Run::Read(used));
            used += len;
        }
        let mut pages: Vec<&[u8]> = Vec::with_capacity(runs.iter().map(|&(_, n)| n).sum());
        for (run, &(_, n)) in located.iter().zip(runs) {
            let bytes: &[u8] = match run {
                Run::Mapped(mapped) => mapped,
                Run::Read(at) => &self.buf[*at..],
            };
            // Each page image, skipping the next frame's 24-byte header.
            pages.extend((0..n).map(|k| &bytes[k * frame_len..k * frame_len + ps]));
        }
        write(&pages)
    }

    /// `len` bytes of the log at `offset` from the map, if it has them.
    fn fetch(&mut self, offset: u64, len: usize) -> Option<MappedPage> {
        if !self.mapping {
            return None;
        }
        match self.file.fetch(offset, len) {
            Ok(mapped) => mapped,
            Err(_) => {
                // The map is a shortcut: without it the frames are read, and a log that
                // cannot be read fails there.
                self.mapping = false;
                None
            }
        }
    }
}

impl Drop for LogFrames<'_> {
    fn drop(&mut self) {
        // Every `MappedPage` of a batch is gone by now; this drops the map itself.
        self.file.unmap();
        let _ = self.file.set_mmap_limit(0);
    }
}
