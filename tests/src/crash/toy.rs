//! A small file-level commit protocol that proves the crash harness before the pager exists:
//! a rollback journal in miniature.
//!
//! Commit of a step (a set of 512-byte page writes to `toy.db`):
//! 1. write `toy.db-journal`: the original size and the original bytes of every page the step
//!    overwrites, under a header with a record count and a CRC-32 (`crc32fast`) of the header fields and the
//!    records;
//! 2. sync the journal (its first sync also syncs the directory: the name is durable);
//! 3. write the new pages into the database; 4. sync the database;
//! 5. delete the journal and sync the directory. Only then is the step acknowledged.
//!
//! Recovery: a journal whose checksum verifies is played back (pages restored, size restored,
//! database synced), then deleted with a directory sync; a journal that does not verify was
//! never synced whole, so the database was not touched, and it is deleted.
//!
//! [`Variant::SkipJournalSync`] leaves out step 2: the harness must catch it (the canary).
//!
//! The protocol journals single 512-byte pages, so it needs a device with powersafe overwrite
//! (SQLite's unix default): without it a torn write can garble the rest of its 4096-byte sector,
//! pages the journal never saved. The harness finds exactly that when the toy runs on a device
//! without PSOW, which is why SQLite journals whole sectors there.

use super::{Durability, Subject};
use folio_vfs::sim::{Rng, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics, FileKind, OpenFlags, ReadOutcome, SyncFlags, Vfs, VfsFile};
use std::fmt;
use std::path::Path;

const DB: &str = "/toy/toy.db";
const JOURNAL: &str = "/toy/toy.db-journal";
const PAGE: usize = 512;
const MAGIC: &[u8; 8] = b"TOYJRNL\0";
const HEADER: usize = 8 + 4 + 8 + 4;

/// Which protocol to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The protocol as described.
    Correct,
    /// Broken: the journal is never synced before the database is overwritten.
    SkipJournalSync,
}

/// The toy store as a crash-harness subject.
#[derive(Debug, Clone, Copy)]
pub struct ToyStore {
    /// Which protocol.
    pub variant: Variant,
    /// Steps per workload.
    pub steps: usize,
    /// Pages the database may grow to.
    pub max_pages: u32,
    /// The simulated device (the protocol is only correct with POWERSAFE_OVERWRITE).
    pub device: DeviceCharacteristics,
}

impl ToyStore {
    /// The correct protocol with a small workload.
    pub fn correct() -> Self {
        ToyStore {
            variant: Variant::Correct,
            steps: 6,
            max_pages: 6,
            device: DeviceCharacteristics::POWERSAFE_OVERWRITE,
        }
    }

    /// The canary: one sync missing.
    pub fn broken() -> Self {
        ToyStore { variant: Variant::SkipJournalSync, ..Self::correct() }
    }

    /// Performs and commits `step` through any VFS (the harness uses the simulated disk;
    /// folio-asyncio's suite puts its async VFS in between).
    pub fn commit(&self, vfs: &dyn Vfs, step: &Step) -> Result<(), folio_vfs::Error> {
        let db = open(vfs, DB, FileKind::MainDb)?;
        let old = read_all(&*db)?;
        let mut records = Vec::new();
        for &(page, _) in step {
            let start = page as usize * PAGE;
            if start < old.len() {
                records.extend_from_slice(&page.to_be_bytes());
                records.extend_from_slice(&old[start..start + PAGE]);
            }
        }
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&((records.len() / (4 + PAGE)) as u32).to_be_bytes());
        header.extend_from_slice(&(old.len() as u64).to_be_bytes());
        header.extend_from_slice(&checksum(&header, &records).to_be_bytes());

        let journal = open(vfs, JOURNAL, FileKind::MainJournal)?;
        journal.write_at(HEADER as u64, &records)?;
        journal.write_at(0, &header)?;
        if self.variant != Variant::SkipJournalSync {
            journal.sync(SyncFlags::FULL)?;
        }
        drop(journal);

        for &(page, fill) in step {
            db.write_at(page as u64 * PAGE as u64, &[fill; PAGE])?;
        }
        db.sync(SyncFlags::FULL)?;
        vfs.delete(Path::new(JOURNAL), true)
    }

    /// Opens the store through any VFS, recovers it and returns its state.
    pub fn recover_on(&self, vfs: &dyn Vfs) -> Result<Pages, String> {
        let err = |e: folio_vfs::Error| e.to_string();
        let db = open(vfs, DB, FileKind::MainDb).map_err(err)?;
        if vfs.access(Path::new(JOURNAL), folio_vfs::AccessCheck::Exists).map_err(err)? {
            let journal = open(vfs, JOURNAL, FileKind::MainJournal).map_err(err)?;
            let bytes = read_all(&*journal).map_err(err)?;
            drop(journal);
            if let Some(ParsedJournal { orig_size, records }) = parse_journal(&bytes) {
                for (page, data) in records {
                    db.write_at(u64::from(page) * PAGE as u64, data).map_err(err)?;
                }
                db.truncate(orig_size).map_err(err)?;
                db.sync(SyncFlags::FULL).map_err(err)?;
            }
            vfs.delete(Path::new(JOURNAL), true).map_err(err)?;
        }
        let state = read_all(&*db).map_err(err)?;
        if state.len() % PAGE != 0 {
            return Err(format!("database size {} is not a whole number of pages", state.len()));
        }
        Ok(Pages(state))
    }
}

/// One step: pages to overwrite, each filled with one byte value.
pub type Step = Vec<(u32, u8)>;

/// The database's bytes, shown page by page (`01` for a page filled with 1, `~~` for a page of
/// mixed bytes) so that oracle reports stay readable.
#[derive(Clone, PartialEq, Eq)]
pub struct Pages(pub Vec<u8>);

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes [", self.0.len())?;
        for (i, page) in self.0.chunks(PAGE).enumerate() {
            let sep = if i == 0 { "" } else { " " };
            match page.iter().all(|&b| b == page[0]) && page.len() == PAGE {
                true => write!(f, "{sep}{:02x}", page[0])?,
                false => write!(f, "{sep}~~")?,
            }
        }
        write!(f, "]")
    }
}

/// The journal's checksum: a CRC-32 of the header fields before it and of the records. It covers
/// the original size too, so a header torn inside that field never verifies, and it is not 0
/// for a journal without records (a CRC-32 of nothing is 0, which is what unwritten bytes
/// read as).
fn checksum(fields: &[u8], records: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(records);
    hasher.finalize()
}

fn read_all(file: &dyn VfsFile) -> Result<Vec<u8>, folio_vfs::Error> {
    let mut bytes = vec![0; file.size()? as usize];
    match file.read_at(0, &mut bytes)? {
        ReadOutcome::Full => Ok(bytes),
        ReadOutcome::Short { n_read } => {
            bytes.truncate(n_read);
            Ok(bytes)
        }
    }
}

fn open(vfs: &dyn Vfs, path: &str, kind: FileKind) -> Result<Box<dyn VfsFile>, folio_vfs::Error> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(kind))
}

impl Subject for ToyStore {
    type State = Pages;
    type Step = Step;

    fn workload(&self, rng: &mut Rng) -> Vec<Step> {
        (0..self.steps)
            .map(|i| {
                let n = 1 + rng.below(3) as usize;
                (0..n)
                    .map(|_| (rng.below(u64::from(self.max_pages)) as u32, (i + 1) as u8))
                    .collect()
            })
            .collect()
    }

    fn initial_state(&self) -> Pages {
        Pages(Vec::new())
    }

    fn model_apply(&self, state: &Pages, step: &Step) -> Pages {
        let mut next = state.0.clone();
        for &(page, fill) in step {
            let end = (page as usize + 1) * PAGE;
            if next.len() < end {
                next.resize(end, 0);
            }
            next[end - PAGE..end].fill(fill);
        }
        Pages(next)
    }

    fn setup(&self, vfs: &SimVfs) -> Result<(), String> {
        open(vfs, DB, FileKind::MainDb).map_err(|e| e.to_string())?;
        // Make the database's name durable (a directory sync, as creating it in place would
        // need); the harness counts crash points only from here.
        let marker = "/toy/.setup";
        open(vfs, marker, FileKind::MainDb).map_err(|e| e.to_string())?;
        vfs.delete(Path::new(marker), true).map_err(|e| e.to_string())
    }

    fn run_step(&self, vfs: &SimVfs, step: &Step) -> Result<(), folio_vfs::Error> {
        self.commit(vfs, step)
    }

    fn recover(&self, vfs: &SimVfs) -> Result<Pages, String> {
        self.recover_on(vfs)
    }

    fn durability(&self) -> Durability {
        Durability::Full
    }

    fn sim_config(&self, seed: u64) -> SimConfig {
        SimConfig::new(seed).with_characteristics(self.device)
    }
}

/// A journal that verified: the database's original size and the saved pages.
struct ParsedJournal<'a> {
    orig_size: u64,
    records: Vec<(u32, &'a [u8])>,
}

/// The journal in `bytes`, if its header and checksum verify.
fn parse_journal(bytes: &[u8]) -> Option<ParsedJournal<'_>> {
    let header = bytes.get(..HEADER)?;
    if &header[..8] != MAGIC {
        return None;
    }
    let n = u32::from_be_bytes(header[8..12].try_into().ok()?) as usize;
    let orig_size = u64::from_be_bytes(header[12..20].try_into().ok()?);
    let checksum_stored = u32::from_be_bytes(header[20..24].try_into().ok()?);
    let records = bytes.get(HEADER..HEADER + n * (4 + PAGE))?;
    if checksum(&header[..20], records) != checksum_stored {
        return None;
    }
    let parsed = records
        .chunks_exact(4 + PAGE)
        .map(|r| (u32::from_be_bytes([r[0], r[1], r[2], r[3]]), &r[4..]))
        .collect();
    Some(ParsedJournal { orig_size, records: parsed })
}
