//! Checkpoints (`sqlite3WalCheckpoint`, `walCheckpoint`; fact sheet §6): copy the log's newest
//! page images back into the database file, as far as readers allow, in ascending page order,
//! syncing the log before the first database write and the database after a complete copy.
//!
//! Modes as SQLite's: PASSIVE never waits; FULL also takes the WRITE lock (waiting through the
//! busy handler) and must copy everything; RESTART then waits for the readers to leave so the
//! next writer restarts the log; TRUNCATE restarts the wal-index header itself and truncates
//! the log to 0 bytes. A mode that cannot get the WRITE lock degrades to PASSIVE and reports
//! busy.
//!
//! The WAL-reset race (fixed in SQLite 3.51.3, fact sheet §6.9) cannot happen here: after
//! taking READ_LOCK(0), the checkpointer re-reads the live header and abandons the copy if the
//! log was restarted since its snapshot, before it touches `nBackfill`.

use super::{read_lock_slot, Wal, WalSync, CKPT_LOCK, N_READERS, WRITE_LOCK};
use crate::format::{self, FRAME_HEADER_LEN};
use crate::index::{self, IndexHeader, READMARK_NOT_USED};
use crate::{Error, Result};
use folio_vfs::{ShmLockKind, SyncFlags};

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

/// Bytes gathered before one write of consecutive pages into the database.
const WRITE_BATCH_BYTES: usize = 1 << 20;

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
        if self.opts.read_only {
            return Err(Error::ReadOnly { path: self.path.clone(), what: "checkpoint" });
        }
        if self.read_lock.is_some() || self.write_lock {
            return Err(self.misuse("checkpoint inside a transaction"));
        }
        if mode == CheckpointMode::Passive {
            // PASSIVE never waits: a busy reader caps the copy at once (SQLite's pager passes
            // no handler for it).
            busy = None;
        }
        // The index may not be mapped yet (a checkpoint before any transaction), and the shm
        // slots exist only once it is.
        self.map(0, false)?;
        self.lock(CKPT_LOCK, 1, ShmLockKind::Exclusive)?;
        self.ckpt_lock = true;
        let result = self.checkpoint_locked(mode, page_size, &mut busy);
        self.end_write();
        self.ckpt_lock = false;
        self.unlock_exclusive(CKPT_LOCK, 1);
        result
    }

    fn checkpoint_locked(
        &mut self,
        mode: CheckpointMode,
        page_size: u32,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<Checkpoint> {
        let mut effective = mode;
        if mode != CheckpointMode::Passive {
            match self.busy_lock(WRITE_LOCK, 1, busy) {
                Ok(()) => self.write_lock = true,
                Err(e) if e.is_lock_busy() => {
                    effective = CheckpointMode::Passive;
                    *busy = None;
                }
                Err(e) => return Err(e),
            }
        }
        let changed = self.read_index_header()?;
        if changed {
            // Pages of the database may change under an old mapping's readers' feet.
            self.db.unmap();
        }
        if self.hdr.max_frame > 0 && self.hdr.page_size() != page_size {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                what: format!(
                    "the log holds {}-byte pages but the database's are {page_size} bytes",
                    self.hdr.page_size()
                ),
            });
        }
        // Readers keeping the copy short are not an error (PASSIVE reports success); the
        // other modes check below that everything was copied.
        self.backfill(page_size, busy)?;
        let mut incomplete = false;
        if !incomplete && effective != CheckpointMode::Passive {
            if index::n_backfill(self.region0()) < self.hdr.max_frame {
                incomplete = true;
            } else if effective >= CheckpointMode::Restart {
                let mut salt = [0u8; 4];
                self.vfs.randomness(&mut salt)?;
                match self.busy_lock(read_lock_slot(1), N_READERS - 1, busy) {
                    Ok(()) => {
                        let truncated = if effective == CheckpointMode::Truncate {
                            self.restart_header(u32::from_ne_bytes(salt));
                            self.file.truncate(0).map_err(Error::from)
                        } else {
                            Ok(())
                        };
                        self.unlock_exclusive(read_lock_slot(1), N_READERS - 1);
                        truncated?;
                    }
                    Err(e) if e.is_lock_busy() => incomplete = true,
                    Err(e) => return Err(e),
                }
            }
        }
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
        let max_page = self.hdr.n_page;
        index::set_n_backfill_attempted(&r0, safe);
        if self.opts.sync != WalSync::Off {
            self.file.sync(SyncFlags::NORMAL)?;
        }
        let want = u64::from(max_page) * u64::from(page_size);
        let db_size = self.db.size()?;
        if db_size < want {
            let bound = db_size + 65536 + u64::from(self.hdr.max_frame) * u64::from(page_size);
            if bound < want {
                return Err(Error::Corrupt {
                    path: self.db.path().to_path_buf(),
                    what: format!(
                        "the log says the database has {max_page} pages; the file's {db_size} \
                         bytes and the log's {} frames cannot make that many",
                        self.hdr.max_frame
                    ),
                });
            }
        }
        // The frames to copy, by ascending page: consecutive pages go to the database with one
        // write, and those of them in consecutive frames come from the log with one read. Page
        // 0 (a zeroed entry of a damaged index) is skipped, as SQLite's walIteratorNext never
        // yields it; copied, it would be written at a wrapped offset.
        let todo: Vec<(u32, u32)> = pages
            .iter()
            .copied()
            .filter(|&(page_no, frame)| {
                frame > done && frame <= safe && page_no != 0 && page_no <= max_page
            })
            .collect();
        let batch_pages = (WRITE_BATCH_BYTES / page_size as usize).max(1);
        let mut batch: Vec<u8> = Vec::new();
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
            batch.clear();
            let mut run = i;
            while run < end {
                let first_frame = todo[run].1;
                let mut run_end = run + 1;
                while run_end < end && todo[run_end].1 == first_frame + (run_end - run) as u32 {
                    run_end += 1;
                }
                self.read_pages(first_frame, run_end - run, page_size, &mut batch)?;
                run = run_end;
            }
            self.write_db(first_page, &batch, page_size)?;
            i = end;
        }
        if safe == self.live_header().max_frame {
            if self.db.size()? != want {
                self.db.truncate(want)?;
            }
            if self.opts.sync != WalSync::Off {
                self.db.sync(SyncFlags::NORMAL)?;
            }
        }
        index::set_n_backfill(&r0, safe);
        Ok(())
    }

    /// Appends the page images of frames `first..first + n` to `out`, read from the log with
    /// one read; the frame headers between them are squeezed out afterwards.
    fn read_pages(&self, first: u32, n: usize, page_size: u32, out: &mut Vec<u8>) -> Result<()> {
        let (ps, frame_len) = (page_size as usize, format::frame_len(page_size) as usize);
        let at = out.len();
        // From the first frame's page image to the end of the last frame.
        let len = n * frame_len - FRAME_HEADER_LEN;
        out.resize(at + len, 0);
        let offset = format::frame_offset(first, page_size) + FRAME_HEADER_LEN as u64;
        if let folio_vfs::ReadOutcome::Short { n_read } =
            self.file.read_at(offset, &mut out[at..])?
        {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                what: format!(
                    "frames {first}..={} at offset {offset} are cut short ({n_read} of {len} \
                     bytes) though the wal-index lists them",
                    first as usize + n - 1
                ),
            });
        }
        for k in 1..n {
            let from = at + k * frame_len;
            out.copy_within(from..from + ps, at + k * ps);
        }
        out.truncate(at + n * ps);
        Ok(())
    }

    fn write_db(&self, first_page: u32, bytes: &[u8], page_size: u32) -> Result<()> {
        let offset = u64::from(first_page - 1) * u64::from(page_size);
        self.db.write_at(offset, bytes)?;
        Ok(())
    }
}
