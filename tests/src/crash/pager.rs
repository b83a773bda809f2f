//! folio-pager as a crash-harness subject: seeded transactions through the pager on the
//! simulated disk, in one rollback-journal mode at one synchronous level, on one simulated
//! device, judged after every crash by the committed-prefix oracle.
//!
//! * A step is one transaction ([`Txn`]): it sometimes truncates the image, writes a few pages
//!   (sometimes past the end, so the database grows and the pages in between are zeros, and
//!   sometimes page 1 from byte 100 on), and commits or rolls back. Each step opens its own
//!   pager with its own `cache_size`; a cache of 2 or 3 pages makes dirty pages spill in the
//!   middle of the transaction, so journals have several segments.
//! * Every page written holds bytes derived from (transaction id, page number)
//!   ([`page_content`]), dense enough that SQLite's sampled journal checksum catches a torn
//!   record, so recovery names, page by page, which transaction wrote what ([`DbState`]):
//!   a page of unknown bytes, or a mix of two transactions, matches no committed prefix.
//! * The durability promised is SQLite's own for the mode and level ([`sqlite_durability`]),
//!   including its documented exceptions and nothing more.
//! * Canaries: a subject held to more than its mode and level give ([`PagerSubject::claiming`]:
//!   synchronous=OFF claiming full durability, or DELETE at FULL without its exception), or one
//!   that throws the hot journal away instead of playing it back ([`Recovery::SkipPlayback`]).
//! * [`PagerSubject::explain`] lays one run out (workload, model states, the crash image's
//!   pages and journal records, what recovery makes of it) for replays; [`diagnose`] says in a
//!   line whether the database file alone was a committed state that a journal damaged.
//!
//! [`transplant`] is the same idea with pages of real databases that stock sqlite3 made, so
//! that the crash images can also be handed to stock sqlite3. [`wal`] runs either subject's
//! transactions in WAL mode on one connection kept across steps, with checkpoints and reopens
//! between them ([`PagerTxns`] is what it needs of them).

pub mod transplant;
pub mod wal;

use super::{crash_run, Durability, Subject};
use folio_journal::format as journal_format;
use folio_pager::header::DbHeader;
use folio_pager::{JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::sim::{CrashImage, Rng, SimConfig, SimVfs};
use folio_vfs::{AccessCheck, DeviceCharacteristics as Dc, FileKind, Op, OpenFlags, Vfs};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database every pager subject works on.
pub const DB: &str = "/pager/test.db";
/// Its rollback journal.
pub const JOURNAL: &str = "/pager/test.db-journal";
/// A name created and deleted with a directory sync to make the directory durable in setup.
const MARKER: &str = "/pager/.setup";

/// What SQLite promises, after a power loss, about commits that returned `Ok`, in a journal
/// mode at a synchronous level (SQLite's pager.c, `syncJournal`; wal.c,
/// `sqlite3WalFrames`, `walCheckpoint`):
///
/// * DELETE at NORMAL or FULL: committing unlinks the journal without syncing the directory,
///   so the unlink may not survive; the journal comes back hot and the last commit is rolled
///   back. Only the last: the next transaction's journal is created in the same directory and
///   its first sync syncs the directory (SQLite's os_unix.c, `unixSync`, "one-time directory
///   fsync"), which makes the unlink durable before that transaction touches the database.
/// * DELETE at EXTRA: the directory is synced after the unlink: nothing is lost.
/// * TRUNCATE at NORMAL: the truncation to zero bytes is not synced, so the old journal may
///   come back; again only the last commit, because the next transaction syncs the same file
///   (truncation included) before it writes the database.
/// * TRUNCATE at FULL or EXTRA: the truncation is synced: nothing is lost.
/// * PERSIST at NORMAL, FULL or EXTRA: the zeroed header is synced: nothing is lost.
/// * WAL at NORMAL: commits do not sync the log (SQLite's wal.c, `sqlite3WalFrames`), so any number
///   of the last commits may be lost; a checkpoint syncs the log before it copies (wal.c,
///   `walCheckpoint`), so commits it saw are kept ([`Durability::TailMayBeLost`], checkpoints being
///   the durability points).
/// * WAL at FULL or EXTRA: every commit syncs the log: nothing is lost.
/// * synchronous=OFF, MEMORY and OFF journals: no promise at all (not even a committed prefix;
///   the harness still demands one, which is what the canaries rely on).
pub fn sqlite_durability(mode: JournalMode, sync: Synchronous) -> Durability {
    match (mode, sync) {
        (_, Synchronous::Off) | (JournalMode::Memory | JournalMode::Off, _) => Durability::None,
        (JournalMode::Delete, Synchronous::Normal | Synchronous::Full) => {
            Durability::LastCommitMayBeLost
        }
        (JournalMode::Truncate, Synchronous::Normal) => Durability::LastCommitMayBeLost,
        (JournalMode::Delete | JournalMode::Truncate | JournalMode::Persist, _) => Durability::Full,
        (JournalMode::Wal, Synchronous::Normal) => Durability::TailMayBeLost,
        (JournalMode::Wal, _) => Durability::Full,
    }
}

/// A simulated device: what it guarantees in a power loss and reports to the pager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// 4096-byte sectors with powersafe overwrite (SQLite's unix default): 512-byte journal
    /// sectors, and a torn write garbles only the bytes it was writing.
    Psow,
    /// 4096-byte sectors without powersafe overwrite: journal headers of 4096 bytes, and with
    /// pages smaller than a sector every page of the sector is journaled together
    /// (`pagerWriteLargeSector`), since a torn write garbles its whole sector.
    NoPsow,
    /// Powersafe overwrite and SAFE_APPEND: the journal header carries its magic and "count
    /// from the file size" from the start and is synced once.
    SafeAppend,
    /// Powersafe overwrite and SEQUENTIAL: writes reach the disk in the order issued, so SQLite
    /// never syncs the journal (the database sync carries it).
    Sequential,
    /// Every write is atomic: never torn, only kept or lost.
    Atomic,
    /// Canary: a device that reports the promise here (and powersafe overwrite) but keeps only
    /// powersafe overwrite (or nothing, when the lie is powersafe overwrite itself), so a
    /// pager that relies on the promise must be caught.
    Lying(Dc),
}

impl Device {
    /// Every device, for sweeps.
    pub const ALL: [Device; 5] =
        [Device::Psow, Device::NoPsow, Device::SafeAppend, Device::Sequential, Device::Atomic];

    /// The simulated disk's configuration for this device.
    pub fn sim_config(self, seed: u64) -> SimConfig {
        let psow = Dc::POWERSAFE_OVERWRITE;
        let dc = match self {
            Device::Psow => psow,
            Device::NoPsow => Dc::NONE,
            Device::SafeAppend => psow | Dc::SAFE_APPEND,
            Device::Sequential => psow | Dc::SEQUENTIAL,
            Device::Atomic => psow | Dc::ATOMIC,
            Device::Lying(claim) if claim.contains(psow) => Dc::NONE,
            Device::Lying(_) => psow,
        };
        let claimed = match self {
            Device::Lying(claim) => claim,
            _ => Dc::NONE,
        };
        SimConfig::new(seed).with_sector_size(4096).with_characteristics(dc).claiming(claimed)
    }
}

/// How the subject recovers after a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Open a pager and begin a read transaction: it rolls back a hot journal.
    Pager,
    /// Canary: delete the journal first, so a hot journal is never played back.
    SkipPlayback,
}

/// The pager in one configuration, as a crash-harness subject.
#[derive(Debug, Clone)]
pub struct PagerSubject {
    /// The journal mode of every pager (workload and recovery).
    pub journal_mode: JournalMode,
    /// The synchronous level the pager runs at.
    pub synchronous: Synchronous,
    /// The durability the oracle holds the pager to.
    pub durability: Durability,
    /// The simulated device.
    pub device: Device,
    /// Page size of the database.
    pub page_size: u32,
    /// Transactions per workload.
    pub steps: usize,
    /// Pages the database starts with (written by setup, transaction 1).
    pub initial_pages: u32,
    /// Pages the database may grow to.
    pub max_pages: u32,
    /// How recovery is done.
    pub recovery: Recovery,
    /// Some transactions write a page twice, first with draft bytes ([`DRAFT`]), so that with
    /// a small cache the draft is spilled and then overwritten (in WAL mode: a frame rewritten
    /// in place). Off in the rollback-mode suites, whose pinned seeds name workloads without.
    pub rewrites: bool,
    /// The pagers' `chunk_size` (0: none): the database grows by preallocation, one more
    /// crash point, and shrinks to whole chunks.
    pub chunk_size: u32,
    /// The oracle grants SQLite's documented synchronous=NORMAL exposure
    /// ([`Subject::recover_without_journal`], [`Subject::unsynced_exposure_files`]): at NORMAL
    /// by default; a canary grants it where the pager syncs less.
    pub normal_exposure: bool,
}

impl PagerSubject {
    /// The pager in `mode` at `sync` on `device`, held to SQLite's promise for that mode and
    /// level.
    pub fn new(mode: JournalMode, sync: Synchronous, device: Device, page_size: u32) -> Self {
        PagerSubject {
            journal_mode: mode,
            synchronous: sync,
            durability: sqlite_durability(mode, sync),
            device,
            page_size,
            steps: 6,
            initial_pages: 4,
            max_pages: 10,
            recovery: Recovery::Pager,
            rewrites: false,
            chunk_size: 0,
            normal_exposure: sync == Synchronous::Normal,
        }
    }

    /// True if the oracle grants this subject SQLite's NORMAL exposure: granted, and recovery
    /// is the pager's own (a canary that skips playback is never excused).
    fn normal_exposed(&self) -> bool {
        self.normal_exposure && self.recovery == Recovery::Pager
    }

    /// The same subject judged with SQLite's NORMAL exposure granted whatever its level (a
    /// canary: a pager that syncs less than NORMAL must not pass for NORMAL).
    pub fn granting_normal_exposure(self) -> Self {
        PagerSubject { normal_exposure: true, ..self }
    }

    /// The same subject held to `durability` (a canary claims more than the pager gives).
    pub fn claiming(self, durability: Durability) -> Self {
        PagerSubject { durability, ..self }
    }

    /// Pages per sector as the pager sees them: 1 with powersafe overwrite (SQLite then
    /// assumes 512-byte sectors), else the device's 4096-byte sectors.
    fn pages_per_sector(&self) -> u32 {
        let config = self.device.sim_config(0);
        if config.reported().contains(Dc::POWERSAFE_OVERWRITE) {
            1
        } else {
            (config.sector_size / self.page_size).max(1)
        }
    }

    /// A short name for reports: mode, level, device, page size.
    pub fn label(&self) -> String {
        let canary = match self.recovery {
            Recovery::Pager => "",
            Recovery::SkipPlayback => " skipping playback",
        };
        let chunk = match self.chunk_size {
            0 => String::new(),
            bytes => format!(" chunk {bytes}"),
        };
        format!(
            "{}/{} {:?} {}{chunk}{canary}",
            self.journal_mode, self.synchronous, self.device, self.page_size
        )
    }
}

/// One transaction of a workload.
#[derive(Debug, Clone)]
pub struct Txn {
    /// Identifies the bytes it writes (setup is 1, the steps count from 2).
    pub id: u32,
    /// Truncate the image to this many pages first.
    pub truncate: Option<u32>,
    /// Pages to write, in order (page 1 from byte 100 on).
    pub writes: Vec<u32>,
    /// Roll back instead of committing.
    pub rollback: bool,
    /// The pager's `cache_size` (pages) for this transaction.
    pub cache_size: i64,
}

/// The database as recovery finds it: the change counter and, for each page, the id of the
/// transaction whose bytes it holds (0: zeros; [`GARBLED`]: bytes no transaction wrote there).
#[derive(Clone, PartialEq, Eq)]
pub struct DbState {
    /// The header's change counter (one per commit).
    pub counter: u32,
    /// Page `i + 1`'s writer.
    pub pages: Vec<u32>,
}

/// A page whose bytes no transaction wrote at that page number.
pub const GARBLED: u32 = u32::MAX;

/// Marks the id in the bytes of a draft: a page a transaction writes again later (see
/// [`PagerSubject::rewrites`]). No committed state holds a draft.
pub const DRAFT: u32 = 1 << 31;

impl fmt::Debug for DbState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "counter {} [", self.counter)?;
        for (i, &p) in self.pages.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            match p {
                GARBLED => write!(f, "{sep}??")?,
                p => write!(f, "{sep}{p}")?,
            }
        }
        write!(f, "]")
    }
}

/// The bytes transaction `txn` writes to page `page_no` (for page 1, from byte 100 on): the
/// two numbers, then a stream seeded by them, so that every sampled checksum byte differs
/// between transactions and a torn page never passes for a whole one.
pub fn page_content(txn: u32, page_no: u32, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[..4].copy_from_slice(&txn.to_be_bytes());
    bytes[4..8].copy_from_slice(&page_no.to_be_bytes());
    Rng::new(u64::from(txn) << 32 | u64::from(page_no)).fill(&mut bytes[8..]);
    bytes
}

/// Which transaction wrote `bytes` (a page's body) at `page_no`: 0 for zeros, [`GARBLED`] for
/// anything else that is not exactly one transaction's bytes.
pub fn classify(page_no: u32, bytes: &[u8]) -> u32 {
    if bytes.iter().all(|&b| b == 0) {
        return 0;
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (txn, page) = (word(0), word(4));
    if txn != 0
        && txn != GARBLED
        && page == page_no
        && bytes == page_content(txn, page, bytes.len())
    {
        txn
    } else {
        GARBLED
    }
}

/// Bytes of page 1 that belong to the workload (the header is the pager's).
const BODY_START_PAGE1: usize = 100;

/// Turns a pager error into the VFS error the harness's `run_step` returns.
pub(crate) fn vfs_error(e: folio_pager::Error) -> folio_vfs::Error {
    match e {
        folio_pager::Error::Vfs(e) | folio_pager::Error::Journal(folio_journal::Error::Vfs(e)) => e,
        other => folio_vfs::Error::io(
            Op::Write,
            DB,
            std::io::Error::other(format!("pager error: {other}")),
        ),
    }
}

/// Opens a pager on `vfs` at [`DB`].
pub(crate) fn open_pager(vfs: &SimVfs, opts: PagerOptions) -> folio_pager::Result<Pager> {
    Pager::open(Arc::new(vfs.clone()), Path::new(DB), opts)
}

/// Makes everything on the disk durable: every file synced, and the directory synced (by
/// creating and deleting a marker with a directory sync), so crash points count from here.
pub(crate) fn make_durable(vfs: &SimVfs) -> Result<(), String> {
    let err = |e: folio_vfs::Error| e.to_string();
    for path in vfs.file_names() {
        let file = vfs.open(Some(&path), OpenFlags::read_write(FileKind::MainDb)).map_err(err)?;
        file.sync(folio_vfs::SyncFlags::FULL).map_err(err)?;
    }
    vfs.open(Some(Path::new(MARKER)), OpenFlags::create(FileKind::MainDb)).map_err(err)?;
    vfs.delete(Path::new(MARKER), true).map_err(err)
}

/// For the [`Recovery::SkipPlayback`] canary: throws the journal away.
pub(crate) fn discard_journal(vfs: &SimVfs) -> Result<(), String> {
    let journal = Path::new(JOURNAL);
    if vfs.access(journal, AccessCheck::Exists).map_err(|e| e.to_string())? {
        vfs.delete(journal, true).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What a WAL session ([`wal::WalSubject`]) needs of a subject whose steps are transactions:
/// to run one on a pager it keeps open, instead of a fresh pager per step.
pub trait PagerTxns: Subject {
    /// The options of every pager of the subject, with a cache of `cache_size`.
    fn options(&self, cache_size: i64) -> PagerOptions;
    /// The cache size `txn` runs with.
    fn cache_size(&self, txn: &Self::Step) -> i64;
    /// Runs `txn` on `pager` (begin, change, commit or roll back), leaving the pager open.
    fn apply(&self, pager: &mut Pager, txn: &Self::Step) -> folio_pager::Result<()>;
    /// A short name for reports.
    fn label(&self) -> String;
}

impl PagerSubject {
    /// Runs `txn` through a fresh pager.
    fn run_txn(&self, vfs: &SimVfs, txn: &Txn) -> folio_pager::Result<()> {
        let mut pager = open_pager(vfs, self.options(txn.cache_size))?;
        self.apply(&mut pager, txn)?;
        pager.close()
    }

    /// Reads the whole database through a fresh pager (rolling back a hot journal first) and
    /// checks its header.
    fn read_state(&self, vfs: &SimVfs) -> Result<DbState, String> {
        let err = |e: folio_pager::Error| e.to_string();
        let mut pager = open_pager(vfs, self.options(100)).map_err(err)?;
        pager.begin_read().map_err(err)?;
        let n_pages = pager.page_count();
        if n_pages == 0 {
            return Err("the database is empty".into());
        }
        let page1 = pager.get(1).map_err(err)?.to_vec();
        let header = DbHeader::decode(&page1).map_err(|e| format!("page 1 header: {e:?}"))?;
        if header.page_size != self.page_size || !header.size_is_valid() {
            return Err(format!("page 1 header is off: {header:?}"));
        }
        if header.db_size_pages != n_pages {
            return Err(format!(
                "the header says {} pages, the pager sees {n_pages}",
                header.db_size_pages
            ));
        }
        let mut pages = vec![classify(1, &page1[BODY_START_PAGE1..])];
        for page_no in 2..=n_pages {
            pages.push(classify(page_no, &pager.get(page_no).map_err(err)?));
        }
        pager.end_read().map_err(err)?;
        Ok(DbState { counter: header.change_counter, pages })
    }
}

impl PagerTxns for PagerSubject {
    fn options(&self, cache_size: i64) -> PagerOptions {
        PagerOptions {
            journal_mode: self.journal_mode,
            synchronous: self.synchronous,
            cache_size,
            page_size: self.page_size,
            chunk_size: self.chunk_size,
            ..PagerOptions::default()
        }
    }

    fn cache_size(&self, txn: &Txn) -> i64 {
        txn.cache_size
    }

    fn apply(&self, pager: &mut Pager, txn: &Txn) -> folio_pager::Result<()> {
        pager.begin_write()?;
        if let Some(pages) = txn.truncate {
            pager.truncate(pages)?;
        }
        let page_size = self.page_size as usize;
        for (i, &page_no) in txn.writes.iter().enumerate() {
            let id = if txn.writes[i + 1..].contains(&page_no) { txn.id | DRAFT } else { txn.id };
            if page_no == 1 {
                let body = page_content(id, 1, page_size - BODY_START_PAGE1);
                pager.page_mut(1)?[BODY_START_PAGE1..].copy_from_slice(&body);
            } else {
                pager.write(page_no, &page_content(id, page_no, page_size))?;
            }
        }
        if txn.rollback {
            pager.rollback()
        } else {
            pager.commit()
        }
    }

    fn label(&self) -> String {
        PagerSubject::label(self)
    }
}

impl crate::crash::Explained for PagerSubject {
    fn label(&self) -> String {
        PagerSubject::label(self)
    }

    fn explain(&self, run_seed: u64) -> String {
        PagerSubject::explain(self, run_seed)
    }
}

impl Subject for PagerSubject {
    type State = DbState;
    type Step = Txn;

    fn workload(&self, rng: &mut Rng) -> Vec<Txn> {
        let mut pages = u64::from(self.initial_pages);
        let max = u64::from(self.max_pages);
        (0..self.steps)
            .map(|i| {
                let rollback = rng.below(6) == 0;
                let truncate = (pages > 1 && rng.below(5) == 0).then(|| 1 + rng.below(pages - 1));
                let mut size = truncate.unwrap_or(pages);
                let mut writes: Vec<u32> = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    // Page 1 now and then; otherwise up to two pages past the end.
                    let page =
                        if rng.below(6) == 0 { 1 } else { 2 + rng.below((size + 2).min(max) - 1) };
                    if !writes.contains(&(page as u32)) {
                        writes.push(page as u32);
                    }
                    size = size.max(page);
                }
                if self.rewrites && writes.len() > 1 && rng.below(3) == 0 {
                    // The first page again, after the others: its first version is a draft.
                    writes.push(writes[0]);
                }
                if !rollback {
                    pages = size;
                }
                Txn {
                    id: i as u32 + 2,
                    truncate: truncate.map(|p| p as u32),
                    writes,
                    rollback,
                    cache_size: [2, 3, 100][rng.below(3) as usize],
                }
            })
            .collect()
    }

    fn initial_state(&self) -> DbState {
        // In WAL mode setup commits twice: the switch into WAL (in rollback mode), then the
        // pages.
        let counter = if self.journal_mode == JournalMode::Wal { 2 } else { 1 };
        DbState { counter, pages: vec![1; self.initial_pages as usize] }
    }

    fn model_apply(&self, state: &DbState, txn: &Txn) -> DbState {
        if txn.rollback {
            return state.clone();
        }
        let mut next = state.clone();
        if let Some(pages) = txn.truncate {
            next.pages.truncate(pages as usize);
        }
        for &page_no in &txn.writes {
            if next.pages.len() < page_no as usize {
                next.pages.resize(page_no as usize, 0);
            }
            next.pages[page_no as usize - 1] = txn.id;
        }
        // A WAL commit rewrites page 1 (and its counter) only if page 1 or the size changed,
        // as SQLite's, whose b-tree layer writes page 1 whenever the size changes. When a
        // sector holds several pages, the pager writes the whole sector of a page it writes
        // into the log (of a regrown zero page too), so a page of page 1's sector counts.
        let per_sector = self.pages_per_sector();
        let (orig, size) = (state.pages.len() as u32, next.pages.len() as u32);
        let min_size = txn.truncate.map_or(orig, |t| t.min(orig));
        let stamps = self.journal_mode != JournalMode::Wal
            || txn.writes.iter().any(|&p| p <= per_sector)
            || (min_size + 1..=size.min(per_sector)).any(|p| !txn.writes.contains(&p))
            || size != orig;
        if stamps {
            next.counter += 1;
        }
        next
    }

    fn setup(&self, vfs: &SimVfs) -> Result<(), String> {
        let first = Txn {
            id: 1,
            truncate: None,
            writes: (1..=self.initial_pages).collect(),
            rollback: false,
            cache_size: 100,
        };
        self.run_txn(vfs, &first).map_err(|e| e.to_string())?;
        make_durable(vfs)
    }

    fn run_step(&self, vfs: &SimVfs, txn: &Txn) -> Result<(), folio_vfs::Error> {
        self.run_txn(vfs, txn).map_err(vfs_error)
    }

    fn recover(&self, vfs: &SimVfs) -> Result<DbState, String> {
        if self.recovery == Recovery::SkipPlayback {
            discard_journal(vfs)?;
        }
        self.read_state(vfs)
    }

    fn durability(&self) -> Durability {
        self.durability
    }

    fn recover_without_journal(&self, vfs: &SimVfs) -> Option<Result<DbState, String>> {
        self.normal_exposed().then(|| self.skipping_playback().recover(vfs))
    }

    fn unsynced_exposure_files(&self) -> Vec<PathBuf> {
        if self.normal_exposed() {
            vec![PathBuf::from(JOURNAL)]
        } else {
            Vec::new()
        }
    }

    fn sim_config(&self, seed: u64) -> SimConfig {
        self.device.sim_config(seed)
    }
}

/// Why a run went wrong, in one line: what the database file holds without its journal, and
/// whether the image has a journal at all. A database that alone is a committed state, turned
/// into no committed state by playing back the journal beside it, was damaged by a journal that
/// is not its own (a stale one).
pub fn diagnose<T: Subject>(subject: &T, skip_playback: &T, run_seed: u64) -> String {
    let run = match crash_run(subject, run_seed) {
        Ok(Some(run)) => run,
        Ok(None) => return "no crash image: the workload does no I/O".to_string(),
        Err(e) => return format!("no crash image: {e}"),
    };
    let boot = || SimVfs::from_image(&run.image, subject.sim_config(run_seed ^ 0xb007));
    let journal = match run.image.files.get(Path::new(JOURNAL)) {
        None => "no journal in the image".to_string(),
        Some(j) if j.first().is_some_and(|&b| b != 0) => {
            format!("a hot journal of {} bytes", j.len())
        }
        Some(j) => format!("a cold journal of {} bytes", j.len()),
    };
    let alone = match skip_playback.recover(&boot()) {
        Ok(state) => match run.states.iter().position(|s| *s == state) {
            Some(k) => format!("the database alone is the committed state after {k} steps"),
            None => format!("the database alone is no committed state: {state:?}"),
        },
        Err(e) => format!("the database alone fails: {e}"),
    };
    format!("{:?}, {} acknowledged; {journal}; {alone}", run.at, run.acked)
}

impl PagerSubject {
    /// This subject with recovery that throws the journal away (the database file alone).
    pub fn skipping_playback(&self) -> PagerSubject {
        PagerSubject { recovery: Recovery::SkipPlayback, ..self.clone() }
    }

    /// Everything about one run, for replaying a failure: the workload with the model's state
    /// after each step, where the power was cut, the database and journal in the crash image
    /// (page by page: which transaction wrote what; the journal's segments and records), and
    /// what recovery makes of it.
    pub fn explain(&self, run_seed: u64) -> String {
        let mut out = String::new();
        let run = match crash_run(self, run_seed) {
            Ok(Some(run)) => run,
            Ok(None) => return "no crash image: the workload does no I/O".to_string(),
            Err(e) => return format!("no crash image: {e}"),
        };
        let steps = self.workload(&mut Rng::new(run_seed >> super::POINT_BITS));
        let _ = writeln!(out, "initial state {:?}", run.states[0]);
        for (i, (txn, state)) in steps.iter().zip(&run.states[1..]).enumerate() {
            let _ = writeln!(out, "step {}: {txn:?}\n    -> {state:?}", i + 1);
        }
        let _ = writeln!(out, "power cut at {:?} with {} steps acknowledged", run.at, run.acked);
        out.push_str(&self.describe_image(&run.image));
        let boot = || SimVfs::from_image(&run.image, self.sim_config(run_seed ^ 0xb007));
        let _ = writeln!(out, "recovered: {:?}", self.recover(&boot()));
        let _ = writeln!(out, "database alone: {:?}", self.skipping_playback().recover(&boot()));
        out
    }

    /// The database and journal of `image`, page by page and record by record.
    pub fn describe_image(&self, image: &CrashImage) -> String {
        let mut out = String::new();
        let page_size = self.page_size as usize;
        if let Some(db) = image.files.get(Path::new(DB)) {
            let tags: Vec<String> = db
                .chunks(page_size)
                .enumerate()
                .map(|(i, page)| {
                    let body =
                        if i == 0 { page.get(BODY_START_PAGE1..).unwrap_or(&[]) } else { page };
                    match classify(i as u32 + 1, body) {
                        GARBLED => "??".to_string(),
                        t => t.to_string(),
                    }
                })
                .collect();
            let header = DbHeader::decode(db).map(|h| (h.change_counter, h.db_size_pages));
            let _ = writeln!(
                out,
                "database: {} bytes, header (counter, pages) {header:?}, pages [{}]",
                db.len(),
                tags.join(" ")
            );
        }
        let Some(journal) = image.files.get(Path::new(JOURNAL)) else {
            out.push_str("no journal\n");
            return out;
        };
        let _ = writeln!(out, "journal: {} bytes", journal.len());
        let record_len = journal_format::record_len(self.page_size) as usize;
        let (mut offset, mut sector) = (0usize, None);
        while offset < journal.len() {
            let header = match journal_format::JournalHeader::decode(&journal[offset..]) {
                Ok(header) => header,
                Err(e) => {
                    let _ = writeln!(out, "  @{offset}: end ({e:?})");
                    break;
                }
            };
            let sector_size = *sector.get_or_insert(header.sector_size) as usize;
            let _ = writeln!(out, "  @{offset}: {header:?}");
            let mut at = offset + sector_size;
            let n_rec = match header.n_rec {
                journal_format::RECORD_COUNT_FROM_FILE_SIZE => {
                    journal.len().saturating_sub(at) / record_len
                }
                n => n as usize,
            };
            for _ in 0..n_rec {
                let Some(bytes) = journal.get(at..at + record_len) else {
                    out.push_str("    short record\n");
                    break;
                };
                match journal_format::decode_record(bytes, self.page_size, header.nonce) {
                    Ok(rec) => {
                        let body =
                            if rec.page_no == 1 { &rec.page[BODY_START_PAGE1..] } else { rec.page };
                        let _ = writeln!(
                            out,
                            "    page {} <- {}",
                            rec.page_no,
                            classify(rec.page_no, body)
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(out, "    record for page {:?}: {e:?}", &bytes[..4]);
                    }
                }
                at += record_len;
            }
            offset = journal_format::header_offset(at as u64, sector_size as u32) as usize;
        }
        out
    }
}
