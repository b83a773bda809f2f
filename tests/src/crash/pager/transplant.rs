//! The pager subject with real pages: stock sqlite3 makes a few versions of one database
//! (same page size; tables, an index, overflow pages, different sizes), and each transaction
//! transplants every page of one version into the database through the pager, truncating or
//! growing it. So every committed state is a real database, and a crash image can be handed to
//! stock sqlite3 ([`sqlite3_reads`]): it must roll back the hot journal our pager left to the
//! same version our pager recovers, with `integrity_check` ok.

use super::{discard_journal, make_durable, open_pager, vfs_error, Device, PagerTxns, Recovery};
use crate::crash::{Durability, Subject};
use crate::sqlite_cli::run_sqlite3_cli;
use folio_pager::{JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::sim::{CrashImage, Rng, SimConfig, SimVfs};
use std::path::Path;
use std::sync::Arc;

/// What stock sqlite3 is asked about a database: its verdict and its rows, condensed.
pub const CONTENT_SQL: &str = "PRAGMA integrity_check;\n\
     SELECT count(*) FROM sqlite_master;\n\
     SELECT count(*), total(a), total(length(b)), group_concat(substr(b, 1, 6) || c, ',') FROM t;";

/// The versions' DDL and rows: v0 a few short rows; v1 many rows and an index (more pages);
/// v2 a few rows with overflow pages; each written by stock sqlite3 at the given page size.
fn version_sql(version: usize, page_size: u32) -> String {
    let (rows, len, index) = match version {
        0 => (12, 20, false),
        1 => (150, 40, true),
        _ => (6, 1500, false),
    };
    let index = if index { "CREATE INDEX tc ON t(c);" } else { "" };
    format!(
        "PRAGMA page_size={page_size}; PRAGMA journal_mode=delete;\n\
         CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c TEXT);{index}\n\
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})\n\
         INSERT INTO t SELECT i, replace(hex(zeroblob({len})), '00', printf('%02d', (i * 7 + {version}) % 100)), \
         'v{version}-' || i FROM n;"
    )
}

/// Versions of one database made by stock sqlite3, page by page, with what sqlite3 says of
/// each ([`CONTENT_SQL`]).
#[derive(Debug)]
pub struct Versions {
    /// Page size of every version.
    pub page_size: u32,
    /// `pages[v]`: the pages of version `v`.
    pub pages: Vec<Vec<Vec<u8>>>,
    /// `content[v]`: sqlite3's answer to [`CONTENT_SQL`] on version `v`.
    pub content: Vec<String>,
}

impl Versions {
    /// Has stock sqlite3 make three versions in `dir` (a scratch directory).
    pub fn make(dir: &Path, page_size: u32) -> Versions {
        let mut pages = Vec::new();
        let mut content = Vec::new();
        for version in 0..3 {
            let path = dir.join(format!("v{version}-{page_size}.db"));
            run_sqlite3_cli(&path, &version_sql(version, page_size)).expect_ok();
            content.push(run_sqlite3_cli(&path, CONTENT_SQL).expect_ok().to_string());
            let bytes = std::fs::read(&path).expect("read the version sqlite3 wrote");
            assert!(!bytes.is_empty() && bytes.len().is_multiple_of(page_size as usize));
            pages.push(bytes.chunks(page_size as usize).map(<[u8]>::to_vec).collect());
        }
        Versions { page_size, pages, content }
    }

    /// The same versions in WAL format (header bytes 18/19 = 2), to transplant into a database
    /// in WAL mode: a page 1 that says "rollback journal" would take the database out of it.
    pub fn in_wal_format(&self) -> Versions {
        let mut pages = self.pages.clone();
        for version in &mut pages {
            folio_pager::header::set_format_versions(&mut version[0], 2);
        }
        Versions { page_size: self.page_size, pages, content: self.content.clone() }
    }

    /// Which version `pages` is, ignoring the header fields every commit stamps (change
    /// counter, version-valid-for, writer version).
    fn identify(&self, pages: &[Vec<u8>]) -> Option<usize> {
        let masked = |page: &[u8]| {
            let mut page = page.to_vec();
            page[24..28].fill(0);
            page[92..100].fill(0);
            page
        };
        self.pages.iter().position(|version| {
            version.len() == pages.len()
                && masked(&version[0]) == masked(&pages[0])
                && version[1..] == pages[1..]
        })
    }
}

/// One transaction: make the database version `version` (or start to, and roll back).
#[derive(Debug, Clone)]
pub struct Transplant {
    /// The version whose pages are written.
    pub version: usize,
    /// Roll back instead of committing.
    pub rollback: bool,
    /// The pager's `cache_size` (pages).
    pub cache_size: i64,
}

/// What recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Exactly one version's pages.
    Version(usize),
    /// Pages of no version.
    Unknown {
        /// Pages in the database.
        n_pages: u32,
    },
}

/// The pager transplanting sqlite3's versions, as a crash-harness subject.
#[derive(Debug, Clone)]
pub struct TransplantSubject {
    /// The versions.
    pub versions: Arc<Versions>,
    /// Journal mode of every pager.
    pub journal_mode: JournalMode,
    /// Synchronous level of the workload's pagers.
    pub synchronous: Synchronous,
    /// The simulated device.
    pub device: Device,
    /// Transactions per workload.
    pub steps: usize,
    /// How recovery is done.
    pub recovery: Recovery,
}

impl TransplantSubject {
    /// Transplants `versions` in `mode` at `sync` on `device`.
    pub fn new(
        versions: Arc<Versions>,
        mode: JournalMode,
        sync: Synchronous,
        device: Device,
    ) -> Self {
        TransplantSubject {
            versions,
            journal_mode: mode,
            synchronous: sync,
            device,
            steps: 4,
            recovery: Recovery::Pager,
        }
    }

    /// A short name for reports.
    pub fn label(&self) -> String {
        format!(
            "transplant {}/{} {:?} {}",
            self.journal_mode, self.synchronous, self.device, self.versions.page_size
        )
    }

    fn transplant(&self, vfs: &SimVfs, step: &Transplant) -> folio_pager::Result<()> {
        let mut pager = open_pager(vfs, self.options(step.cache_size))?;
        self.apply(&mut pager, step)?;
        pager.close()
    }
}

impl PagerTxns for TransplantSubject {
    fn options(&self, cache_size: i64) -> PagerOptions {
        PagerOptions {
            journal_mode: self.journal_mode,
            synchronous: self.synchronous,
            cache_size,
            page_size: self.versions.page_size,
            ..PagerOptions::default()
        }
    }

    fn cache_size(&self, step: &Transplant) -> i64 {
        step.cache_size
    }

    fn apply(&self, pager: &mut Pager, step: &Transplant) -> folio_pager::Result<()> {
        let pages = &self.versions.pages[step.version];
        pager.begin_write()?;
        let n_pages = pages.len() as u32;
        if pager.page_count() > n_pages {
            pager.truncate(n_pages)?;
        }
        for (i, page) in pages.iter().enumerate() {
            pager.write(i as u32 + 1, page)?;
        }
        if step.rollback {
            pager.rollback()
        } else {
            pager.commit()
        }
    }

    fn label(&self) -> String {
        TransplantSubject::label(self)
    }
}

impl Subject for TransplantSubject {
    type State = Found;
    type Step = Transplant;

    fn workload(&self, rng: &mut Rng) -> Vec<Transplant> {
        let mut current = 0;
        (0..self.steps)
            .map(|_| {
                let version = (current + 1 + rng.below(2) as usize) % 3;
                let rollback = rng.below(6) == 0;
                if !rollback {
                    current = version;
                }
                Transplant { version, rollback, cache_size: [2, 3, 100][rng.below(3) as usize] }
            })
            .collect()
    }

    fn initial_state(&self) -> Found {
        Found::Version(0)
    }

    fn model_apply(&self, state: &Found, step: &Transplant) -> Found {
        if step.rollback {
            state.clone()
        } else {
            Found::Version(step.version)
        }
    }

    fn setup(&self, vfs: &SimVfs) -> Result<(), String> {
        let first = Transplant { version: 0, rollback: false, cache_size: 100 };
        self.transplant(vfs, &first).map_err(|e| e.to_string())?;
        make_durable(vfs)
    }

    fn run_step(&self, vfs: &SimVfs, step: &Transplant) -> Result<(), folio_vfs::Error> {
        self.transplant(vfs, step).map_err(vfs_error)
    }

    fn recover(&self, vfs: &SimVfs) -> Result<Found, String> {
        if self.recovery == Recovery::SkipPlayback {
            discard_journal(vfs)?;
        }
        let err = |e: folio_pager::Error| e.to_string();
        let mut pager = open_pager(vfs, self.options(100)).map_err(err)?;
        pager.begin_read().map_err(err)?;
        let n_pages = pager.page_count();
        let pages = (1..=n_pages)
            .map(|p| pager.get(p).map(|page| page.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        pager.end_read().map_err(err)?;
        Ok(match self.versions.identify(&pages) {
            Some(v) => Found::Version(v),
            None => Found::Unknown { n_pages },
        })
    }

    fn durability(&self) -> Durability {
        super::sqlite_durability(self.journal_mode, self.synchronous)
    }

    fn sim_config(&self, seed: u64) -> SimConfig {
        self.device.sim_config(seed)
    }
}

/// Writes `image` into `dir` (which must be empty of it) and asks stock sqlite3, which rolls
/// back a hot journal on opening, what the database holds ([`CONTENT_SQL`]).
pub fn sqlite3_reads(image: &CrashImage, dir: &Path) -> String {
    image.write_to_dir(dir).expect("write the crash image");
    let db = dir.join(Path::new(super::DB).file_name().expect("a file name"));
    run_sqlite3_cli(&db, CONTENT_SQL).expect_ok().to_string()
}

/// True if `image` holds a journal that stock sqlite3 would call hot (first byte non-zero).
pub fn has_hot_journal(image: &CrashImage) -> bool {
    image.files.get(Path::new(super::JOURNAL)).is_some_and(|j| j.first().is_some_and(|&b| b != 0))
}
