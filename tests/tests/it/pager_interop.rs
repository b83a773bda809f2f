//! folio-pager against stock sqlite3 (database header, rollback journal, hot-journal rules), both
//! directions:
//!
//! * page transplant: every page of a real sqlite3 database (tables, indexes, interior pages,
//!   overflow chains, freelist) copied through our pager on the OS VFS into a fresh file, in a
//!   shuffled order over several spilling transactions, in every journal mode: sqlite3 finds
//!   the same database (integrity check, full dump) and the file equals the source except the
//!   header words the pager stamps;
//! * a hot journal we leave on the simulated disk, crashed at every sync (and sampled writes)
//!   of a transaction that overwrites one sqlite3 database with another, is rolled back by
//!   sqlite3 to exactly the old database, or the commit is kept whole;
//! * a hot journal left by a killed sqlite3 is rolled back by our pager to exactly the bytes
//!   sqlite3 itself restores;
//! * sqlite3 commits between our read transactions and our pager drops its stale cache.
//!
//! Every random choice comes from one base seed, printed with any failure; `FOLIO_SEED=<seed>`
//! replays it.

use folio_journal::format::{MAGIC, PERSIST_ZEROED_LEN};
use folio_pager::header::DbHeader;
use folio_pager::{JournalMode, Pager, PagerOptions, PagerStats, Synchronous, WRITER_VERSION};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::sqlite_hot::{copy_with_journal, journal_path, kill_mid_transaction, T_ROWS};
use folio_vfs::os::OsVfs;
use folio_vfs::sim::{CrashAt, CrashImage, FaultKind, FaultOp, FaultRule, Rng, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics, Vfs};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The base seed when `FOLIO_SEED` is not set.
const DEFAULT_SEED: u64 = 0xf011_0a9e_2024;

fn base_seed() -> u64 {
    folio_vfs::seed::from_env_or(DEFAULT_SEED)
}

/// A seed for one part of a run, derived from the base seed and a tag.
fn derive(seed: u64, tag: u64) -> u64 {
    Rng::new(seed ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// Runs `sql` in the stock sqlite3 shell on `db` and returns its stdout; panics with `what`
/// and the shell's output if it fails.
fn sqlite3(db: &Path, sql: &str, what: &str) -> String {
    let out = run_sqlite3_cli(db, sql);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{what}: sqlite3 on {} failed ({}): stdout {:?}, stderr {:?}",
        db.display(),
        out.status,
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// What stock sqlite3 sees in `db`: `Ok(dump)` (the `.dump` text) if its integrity check says
/// `ok`, else `Err(what the shell printed)`.
fn integrity_and_dump(db: &Path) -> Result<String, String> {
    let out = run_sqlite3_cli(db, "PRAGMA integrity_check;\n.dump");
    match out.stdout.strip_prefix("ok\n") {
        Some(dump) if out.status.success() && out.stderr.is_empty() => Ok(dump.to_owned()),
        _ => Err(format!(
            "sqlite3 ({}): stdout {:?}, stderr {:?}",
            out.status,
            out.stdout.chars().take(200).collect::<String>(),
            out.stderr
        )),
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn page_of(file: &[u8], page_size: usize, page_no: u32) -> &[u8] {
    let at = (page_no as usize - 1) * page_size;
    &file[at..at + page_size]
}

fn os_vfs() -> Arc<dyn Vfs> {
    Arc::new(OsVfs::new())
}

/// Every page of the database in one read transaction.
fn read_all(pager: &mut Pager, what: &str) -> Vec<Vec<u8>> {
    pager.begin_read().unwrap_or_else(|e| panic!("{what}: begin_read: {e}"));
    let pages = (1..=pager.page_count())
        .map(|p| pager.get(p).unwrap_or_else(|e| panic!("{what}: page {p}: {e}")).to_vec())
        .collect();
    pager.end_read().unwrap_or_else(|e| panic!("{what}: end_read: {e}"));
    pages
}

/// True if a journal with these bytes would make sqlite3 roll back: it starts with the journal
/// magic (a journal whose first byte is zero is not hot; one with a damaged magic is hot but
/// plays back nothing, SQLite's pager.c, `hasHotJournal`).
fn journal_plays_back(journal: Option<&Vec<u8>>) -> bool {
    journal.is_some_and(|j| j.len() >= MAGIC.len() && j[..MAGIC.len()] == MAGIC)
}

// ----- a. page transplant -----------------------------------------------------------------

/// A database with several tables and indexes (one WITHOUT ROWID), interior b-tree pages,
/// overflow chains (blobs of 2.5 to 7 KB) and freelist pages (deleted rows and blobs); its last
/// statement says whether each kind of page is there (`dbstat`). `reserved` bytes are kept free
/// at the end of each page (the shell prints the value it set).
fn transplant_source_sql(page_size: u32, reserved: u8) -> String {
    format!(
        "PRAGMA page_size={page_size};
.filectrl reserve_bytes {reserved}
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, age INT);
CREATE INDEX people_name ON people(name, age);
CREATE UNIQUE INDEX people_email ON people(email);
CREATE TABLE docs(id INTEGER PRIMARY KEY, owner INT REFERENCES people(id), title TEXT, body BLOB);
CREATE INDEX docs_owner ON docs(owner, title);
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<500)
  INSERT INTO people SELECT i, printf('name-%05d', (i*7919)%500), printf('p%d@example.org', i),
    i%90 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<10)
  INSERT INTO docs SELECT i, i*37%500+1, printf('doc %d', i),
    CAST(replace(hex(zeroblob(1000+i*250)), '0', char(65+i)) AS BLOB) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<200)
  INSERT INTO kv SELECT printf('key-%04d', i*13%200), i*i FROM n;
DELETE FROM docs WHERE id IN (4, 9);
DELETE FROM people WHERE id % 50 = 0;
SELECT (SELECT count(*) FROM dbstat WHERE pagetype = 'internal') > 0,
  (SELECT count(*) FROM dbstat WHERE pagetype = 'overflow') > 0,
  (SELECT freelist_count FROM pragma_freelist_count) > 0;"
    )
}

/// Pages `1..=n_pages` in a seeded random order, cut into `n_txns` non-empty batches.
fn shuffled_batches(n_pages: u32, n_txns: usize, rng: &mut Rng) -> Vec<Vec<u32>> {
    let mut order: Vec<u32> = (1..=n_pages).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut cuts = BTreeSet::new();
    while cuts.len() < n_txns - 1 {
        cuts.insert(1 + rng.below(u64::from(n_pages) - 1) as usize);
    }
    let mut batches = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([order.len()]) {
        batches.push(order[start..cut].to_vec());
        start = cut;
    }
    batches
}

/// Header bytes the pager rewrites at every commit: the change counter (24..28) and
/// version-valid-for with the writer's version (92..100). The in-header size (28..32) is
/// stamped too but must come out equal to the source's.
fn stamped_by_pager(offset: usize) -> bool {
    (24..28).contains(&offset) || (92..100).contains(&offset)
}

#[test]
fn pages_of_a_sqlite3_database_copied_through_the_pager_make_the_same_database() {
    use JournalMode as J;
    use Synchronous as S;
    let seed = base_seed();
    let modes = [J::Delete, J::Truncate, J::Persist, J::Memory, J::Off];
    let levels = [S::Off, S::Normal, S::Full, S::Extra];
    // Each journal mode at two synchronous levels (one per page size), all four levels used;
    // then 512-byte pages, and pages with reserved bytes at their end.
    let mut cases: Vec<(u32, u8, JournalMode, Synchronous)> = Vec::new();
    for (i, &mode) in modes.iter().enumerate() {
        cases.push((4096, 0, mode, levels[i % 4]));
        cases.push((1024, 0, mode, levels[(i + 2) % 4]));
    }
    cases.push((512, 0, J::Persist, S::Normal));
    cases.push((1024, 8, J::Delete, S::Normal));

    let dir = tempfile::tempdir().unwrap();
    let mut sources: BTreeMap<(u32, u8), (Vec<u8>, String)> = BTreeMap::new();
    let (mut total_pages, mut total_spills, mut total_txns) = (0u64, 0u64, 0u64);
    for (case_idx, &(page_size, reserved, mode, level)) in cases.iter().enumerate() {
        let (src, src_dump) = sources.entry((page_size, reserved)).or_insert_with(|| {
            let path = dir.path().join(format!("source-{page_size}-{reserved}.db"));
            let has = sqlite3(&path, &transplant_source_sql(page_size, reserved), "source");
            assert_eq!(
                has,
                format!("{reserved}\n1|1|1\n"),
                "page size {page_size}, {reserved} reserved bytes: the source has interior, \
                 overflow and freelist pages"
            );
            let dump = integrity_and_dump(&path).expect("the source is sound");
            let bytes = read(&path);
            assert_eq!(bytes[20], reserved, "the source's reserved bytes (header offset 20)");
            (bytes, dump)
        });
        let ps = page_size as usize;
        let n_pages = (src.len() / ps) as u32;
        let case_seed = derive(seed, case_idx as u64);
        let what = format!(
            "transplant {mode} synchronous={level} page_size={page_size} reserved={reserved} \
             ({n_pages} pages), \
             FOLIO_SEED={seed:#x} (case seed {case_seed:#x})"
        );
        let mut rng = Rng::new(case_seed);
        let cache_size = 2 + rng.below(5) as i64; // 2..=6 pages
        let n_txns = 3 + rng.below(3) as usize; // 3..=5 transactions
        let batches = shuffled_batches(n_pages, n_txns, &mut rng);

        let copy = dir.path().join(format!("copy-{case_idx}-{mode}-{level}-{page_size}.db"));
        let opts = PagerOptions {
            journal_mode: mode,
            synchronous: level,
            cache_size,
            ..Default::default()
        };
        let mut pager = Pager::open(os_vfs(), &copy, opts)
            .unwrap_or_else(|e| panic!("{what}: open {}: {e}", copy.display()));
        pager.set_page_size(page_size).unwrap_or_else(|e| panic!("{what}: set_page_size: {e}"));
        pager.set_reserved_bytes(reserved).unwrap_or_else(|e| panic!("{what}: reserved: {e}"));
        for (t, batch) in batches.iter().enumerate() {
            pager.begin_write().unwrap_or_else(|e| panic!("{what}: txn {t}: begin_write: {e}"));
            for &p in batch {
                pager
                    .write(p, page_of(src, ps, p))
                    .unwrap_or_else(|e| panic!("{what}: txn {t}: write page {p}: {e}"));
            }
            pager.commit().unwrap_or_else(|e| panic!("{what}: txn {t}: commit: {e}"));
        }
        let stats = pager.stats();
        assert_eq!(stats.commits, n_txns as u64, "{what}: {stats:?}");
        assert!(stats.spills > 0, "{what}: a {cache_size}-page cache never spilled: {stats:?}");
        assert_eq!(pager.page_count(), n_pages, "{what}");
        drop(pager);
        total_pages += u64::from(n_pages);
        total_spills += stats.spills;
        total_txns += n_txns as u64;

        // The file is the source, but for the words the pager stamps at every commit.
        let ours = read(&copy);
        assert_eq!(ours.len(), src.len(), "{what}: file size");
        let differ: Vec<usize> =
            (0..ours.len()).filter(|&i| ours[i] != src[i] && !stamped_by_pager(i)).collect();
        assert!(
            differ.is_empty(),
            "{what}: {} bytes differ from the source, first at offsets {:?} (pages {:?})",
            differ.len(),
            &differ[..differ.len().min(8)],
            differ.iter().map(|i| i / ps + 1).collect::<BTreeSet<_>>()
        );
        let h = DbHeader::decode(&ours).unwrap_or_else(|e| panic!("{what}: header: {e:?}"));
        let n = n_txns as u32;
        assert_eq!(
            (h.change_counter, h.version_valid_for, h.sqlite_version, h.db_size_pages),
            (n, n, WRITER_VERSION, n_pages),
            "{what}: one counter bump per commit, a valid in-header size"
        );
        // Nothing sqlite3 could take for a hot journal is left behind.
        let journal = journal_path(&copy);
        if let Ok(j) = std::fs::read(&journal) {
            let len = j.len().min(PERSIST_ZEROED_LEN);
            assert!(
                j[..len].iter().all(|&b| b == 0),
                "{what}: the journal left after the last commit ({} bytes) does not start \
                 with zeros",
                j.len()
            );
        }
        assert!(
            matches!(mode, J::Truncate | J::Persist) || !journal.exists(),
            "{what}: a journal file was left in a mode that deletes or never writes one"
        );

        // Stock sqlite3 finds the same database.
        let dump = integrity_and_dump(&copy)
            .unwrap_or_else(|report| panic!("{what}: sqlite3's integrity_check: {report}"));
        assert!(dump == *src_dump, "{what}: sqlite3's dump differs from the source's");
        // And a fresh pager (reading through the map) reads back what is in the file.
        let opts = PagerOptions { mmap_size: 1 << 20, ..Default::default() };
        let mut reader = Pager::open(os_vfs(), &copy, opts).unwrap();
        let pages = read_all(&mut reader, &what);
        assert!(pages.concat() == read(&copy), "{what}: read back");
    }
    eprintln!(
        "transplant: {} cases, {total_pages} pages copied in {total_txns} transactions, \
         {total_spills} spills (FOLIO_SEED={seed:#x})",
        cases.len()
    );
}

// ----- b. sqlite3 rolls back the hot journals we leave ------------------------------------

/// The database on the simulated disk (`hot.db` once written to a real directory).
const HOT_DB: &str = "/hot.db";
const HOT_JOURNAL: &str = "/hot.db-journal";
const HOT_PAGE_SIZE: usize = 1024;

/// Two different sqlite3 databases of 1 KiB pages: a small one and a bigger one.
fn hot_sources(dir: &Path) -> [(Vec<u8>, String); 2] {
    let small = "PRAGMA page_size=1024;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<120)
  INSERT INTO t SELECT i, printf('small-%050d', i) FROM n;";
    let big = "PRAGMA page_size=1024;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE blobs(b BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<300)
  INSERT INTO t SELECT i, printf('big-%070d', i*7) FROM n;
INSERT INTO blobs VALUES (zeroblob(5000)), (CAST(replace(hex(zeroblob(3000)), '0', 'x') AS BLOB));";
    [("small", small), ("big", big)].map(|(name, sql)| {
        let path = dir.join(format!("{name}.db"));
        sqlite3(&path, sql, name);
        let dump = integrity_and_dump(&path).expect("a sound source");
        (read(&path), dump)
    })
}

#[derive(Debug, Clone, Copy)]
struct HotCase {
    mode: JournalMode,
    level: Synchronous,
    cache_size: i64,
    /// What the simulated disk guarantees (4096-byte sectors).
    device: DeviceCharacteristics,
}

#[derive(Debug, Clone, Copy)]
enum Point {
    Crash(CrashAt),
    /// Power lost right after commit returned.
    AfterCommit,
}

/// One transaction to crash: the disk it starts from and the database it writes.
struct HotRun<'a> {
    /// The disk before the transaction: `HOT_DB`, perhaps a journal an earlier transaction
    /// left.
    start: &'a CrashImage,
    /// sqlite3's dump of the database before the transaction.
    old_dump: &'a str,
    /// The database the transaction writes over the old one, page by page.
    to: &'a [u8],
    /// sqlite3's dump of `to`.
    new_dump: &'a str,
}

/// A disk that holds `HOT_DB` alone, with `db` in it.
fn disk_with(db: &[u8]) -> CrashImage {
    CrashImage { files: BTreeMap::from([(PathBuf::from(HOT_DB), db.to_vec())]) }
}

/// A simulated disk holding `image`'s files durably (names and bytes: booting on an image is
/// loading the files and syncing them and their directory).
fn boot(seed: u64, case: HotCase, image: &CrashImage) -> SimVfs {
    SimVfs::from_image(image, SimConfig::new(seed).with_characteristics(case.device))
}

/// One pager transaction that replaces every page of the database with `to`'s (growing or
/// truncating the file), then commits.
fn overwrite(sim: &SimVfs, case: HotCase, to: &[u8]) -> folio_pager::Result<PagerStats> {
    let opts = PagerOptions {
        journal_mode: case.mode,
        synchronous: case.level,
        cache_size: case.cache_size,
        ..Default::default()
    };
    let mut pager = Pager::open(Arc::new(sim.clone()), Path::new(HOT_DB), opts)?;
    pager.begin_write()?;
    let n_pages = (to.len() / HOT_PAGE_SIZE) as u32;
    for p in 1..=n_pages {
        pager.write(p, page_of(to, HOT_PAGE_SIZE, p))?;
    }
    if pager.page_count() > n_pages {
        pager.truncate(n_pages)?;
    }
    pager.commit()?;
    Ok(pager.stats())
}

/// File syncs a commit issues after the database sync, finalizing the journal (SQLite's
/// pager.c, `pager_end_transaction`): TRUNCATE syncs the truncated journal at FULL and above,
/// PERSIST its zeroed header unless OFF, DELETE none (its directory sync at EXTRA is part of the
/// delete).
fn syncs_after_db_sync(mode: JournalMode, level: Synchronous) -> u64 {
    match mode {
        JournalMode::Truncate => u64::from(level >= Synchronous::Full),
        JournalMode::Persist => u64::from(level != Synchronous::Off),
        _ => 0,
    }
}

/// What the crash sweep of one case tried and found.
#[derive(Default)]
struct HotTally {
    points: u64,
    /// Pages the dry runs spilled.
    spills: u64,
    /// Images whose journal sqlite3 played back.
    hot: u64,
    /// Images sqlite3 read as the old database.
    old: u64,
    /// Images sqlite3 read as the new one: the commit was kept.
    new: u64,
    violations: Vec<String>,
}

fn sweep_hot_case(case: HotCase, run: &HotRun, case_seed: u64, what: &str, tally: &mut HotTally) {
    let HotRun { start, old_dump: from_dump, to, new_dump: to_dump } = *run;
    let from = &start.files[Path::new(HOT_DB)];
    // Dry run: the operation counts of the whole transaction and the committed file.
    let sim = boot(case_seed, case, start);
    let stats = overwrite(&sim, case, to).unwrap_or_else(|e| panic!("{what}: dry run: {e}"));
    if case.cache_size < 10 {
        // Spills sync the journal first (and, unless the device appends safely, start a new
        // segment): sqlite3 plays back every segment.
        assert!(stats.spills > 0 && stats.journal_syncs > 1, "{what}: no spill: {stats:?}");
    }
    tally.spills += stats.spills;
    let (syncs, writes) = (sim.op_count(FaultOp::Sync), sim.op_count(FaultOp::Write));
    let committed = sim.contents(Path::new(HOT_DB)).expect("the database exists");
    // Which sync is the database's: fail it and count (its commit is the database's first
    // sync on this disk; the fault stops the transaction there).
    let sim = boot(case_seed, case, start);
    sim.add_fault(FaultRule::once(FaultOp::Sync, 1, FaultKind::Io).on_paths_ending_with(HOT_DB));
    let failed = overwrite(&sim, case, to);
    assert!(failed.is_err(), "{what}: the database sync was never issued");
    let db_sync = sim.op_count(FaultOp::Sync);
    assert_eq!(
        syncs - db_sync,
        syncs_after_db_sync(case.mode, case.level),
        "{what}: syncs after the database sync ({syncs} in all, the database's is #{db_sync})"
    );

    // Every sync, a seeded sample of the writes, and the moment after the commit returned.
    let mut rng = Rng::new(case_seed);
    let mut write_points = BTreeSet::from([writes]);
    while write_points.len() < 6.min(writes as usize) {
        write_points.insert(1 + rng.below(writes));
    }
    let points = (1..=syncs)
        .map(|k| Point::Crash(CrashAt::Sync(k)))
        .chain(write_points.into_iter().map(|k| Point::Crash(CrashAt::Write(k))))
        .chain([Point::AfterCommit]);

    for (idx, point) in points.enumerate() {
        let run_seed = derive(case_seed, idx as u64);
        let at = format!("{what}, crash {point:?} (run seed {run_seed:#x})");
        let sim = boot(run_seed, case, start);
        let committed_before_crash = match point {
            Point::Crash(crash_at) => {
                sim.crash_at(crash_at);
                let result = overwrite(&sim, case, to);
                assert!(sim.has_crashed(), "{at}: never reached; the transaction gave {result:?}");
                assert!(result.is_err(), "{at}: the commit returned Ok through a power loss");
                match crash_at {
                    CrashAt::Sync(k) => k > db_sync,
                    // The crash froze the counts: had the database sync already been issued?
                    CrashAt::Write(_) => sim.op_count(FaultOp::Sync) >= db_sync,
                }
            }
            Point::AfterCommit => {
                overwrite(&sim, case, to).unwrap_or_else(|e| panic!("{at}: {e}"));
                sim.crash_now();
                true
            }
        };
        let image = sim.crash_image().expect("crashed");
        let hot = journal_plays_back(image.files.get(Path::new(HOT_JOURNAL)));
        // A journal that plays back must restore the old database; without one, the database
        // is the new one exactly when its sync completed before the power went.
        let want_new = !hot && committed_before_crash;
        let (want_bytes, want_dump, name) = if want_new {
            (committed.clone(), to_dump, "new")
        } else {
            (from.clone(), from_dump, "old")
        };

        let dir = tempfile::tempdir().unwrap();
        image.write_to_dir(dir.path()).unwrap_or_else(|e| panic!("{at}: writing the image: {e}"));
        let db = dir.path().join("hot.db");
        tally.points += 1;
        tally.hot += u64::from(hot);
        if want_new {
            tally.new += 1;
        } else {
            tally.old += 1;
        }
        let mut problems = String::new();
        match integrity_and_dump(&db) {
            Ok(dump) if dump == want_dump => {}
            Ok(dump) => {
                let other = if dump == from_dump {
                    "the old database's"
                } else if dump == to_dump {
                    "the new database's"
                } else {
                    "neither database's"
                };
                let _ = write!(problems, " sqlite3 sees {other} rows, not the {name} one's;");
            }
            Err(report) => {
                let _ = write!(problems, " integrity_check or .dump failed: {report};");
            }
        }
        let got = read(&db);
        if got != want_bytes {
            let _ = write!(
                problems,
                " the file ({} bytes) is not the {name} database's bytes ({});",
                got.len(),
                want_bytes.len()
            );
        }
        if hot && dir.path().join("hot.db-journal").exists() {
            problems.push_str(" sqlite3 left the hot journal in place;");
        }
        if !problems.is_empty() {
            tally.violations.push(format!("{at} [journal hot: {hot}]:{problems}"));
        }
    }
}

#[test]
fn sqlite3_rolls_back_the_hot_journal_a_crashed_commit_of_ours_leaves() {
    use JournalMode as J;
    use Synchronous as S;
    let seed = base_seed();
    let dir = tempfile::tempdir().unwrap();
    let [small, big] = hot_sources(dir.path());
    let mut tally = HotTally::default();
    let mut case_idx = 0u64;
    let psow = DeviceCharacteristics::POWERSAFE_OVERWRITE;
    // (level, cache size, device): a 6-page cache spills and starts new journal segments
    // (unless the device appends safely); without powersafe overwrite the journal's sector is
    // the disk's 4096 bytes and every page sharing a sector with a changed one is journaled.
    let setups = [
        (S::Normal, 2000, psow),
        (S::Full, 6, psow),
        (S::Full, 6, psow | DeviceCharacteristics::SAFE_APPEND),
        (S::Extra, 2000, DeviceCharacteristics::NONE),
    ];
    for mode in [J::Delete, J::Truncate, J::Persist] {
        for (level, cache_size, device) in setups {
            for grow in [true, false] {
                let case = HotCase { mode, level, cache_size, device };
                let (from, to) = if grow { (&small, &big) } else { (&big, &small) };
                let start = disk_with(&from.0);
                let run = HotRun { start: &start, old_dump: &from.1, to: &to.0, new_dump: &to.1 };
                let case_seed = derive(seed, 0x1000 + case_idx);
                case_idx += 1;
                let what = format!(
                    "{mode} synchronous={level} cache_size={cache_size} {device:?} {} \
                     FOLIO_SEED={seed:#x} (case seed {case_seed:#x})",
                    if grow { "small->big" } else { "big->small" }
                );
                sweep_hot_case(case, &run, case_seed, &what, &mut tally);
            }
        }
    }
    // PERSIST over the journal an earlier spilling transaction left: the same transaction
    // again, so its segments line up with the stale ones. A crash after a spill's journal sync
    // must not let sqlite3 run on into a stale segment (its header is spoiled first, pager.c,
    // `syncJournal`).
    for level in [S::Normal, S::Full] {
        let case = HotCase { mode: J::Persist, level, cache_size: 6, device: psow };
        let first = boot(derive(seed, 0x2000), case, &disk_with(&small.0));
        overwrite(&first, case, &big.0).unwrap_or_else(|e| panic!("the earlier transaction: {e}"));
        let names = [HOT_DB, HOT_JOURNAL].map(PathBuf::from);
        let start = CrashImage {
            files: names.into_iter().map(|n| (n.clone(), first.contents(&n).unwrap())).collect(),
        };
        let journal = &start.files[Path::new(HOT_JOURNAL)];
        let stale_headers =
            (512..journal.len()).step_by(512).filter(|&at| journal[at..].starts_with(&MAGIC));
        assert!(stale_headers.count() > 0, "the earlier transaction left stale segment headers");
        let run = HotRun { start: &start, old_dump: &big.1, to: &big.0, new_dump: &big.1 };
        let case_seed = derive(seed, 0x1000 + case_idx);
        case_idx += 1;
        let what = format!(
            "persist synchronous={level} cache_size=6 over a stale journal, big->big \
             FOLIO_SEED={seed:#x} (case seed {case_seed:#x})"
        );
        sweep_hot_case(case, &run, case_seed, &what, &mut tally);
    }
    eprintln!(
        "hot journals for sqlite3: {} crash points; {} images held a journal sqlite3 played \
         back; {} came back as the old database, {} as the new one; {} spills in the dry runs \
         (FOLIO_SEED={seed:#x})",
        tally.points, tally.hot, tally.old, tally.new, tally.spills
    );
    assert!(
        tally.violations.is_empty(),
        "{} of {} crash points went wrong:\n{}",
        tally.violations.len(),
        tally.points,
        tally.violations[..tally.violations.len().min(20)].join("\n")
    );
    assert!(tally.hot > 0 && tally.new > 0, "both outcomes were exercised");
}

// ----- c. our pager rolls back the hot journal a killed sqlite3 leaves --------------------

#[test]
fn our_pager_rolls_back_a_killed_sqlite3s_hot_journal_exactly_as_sqlite3_does() {
    let count = "PRAGMA integrity_check; SELECT count(*) FROM t;";
    let want = format!("ok\n{T_ROWS}");
    for (name, mode) in [
        ("DELETE", JournalMode::Delete),
        ("TRUNCATE", JournalMode::Truncate),
        ("PERSIST", JournalMode::Persist),
    ] {
        for page_size in [1024u32, 4096] {
            let what = format!("killed sqlite3, {name} page_size={page_size}");
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("k.db");
            let before = kill_mid_transaction(&db, page_size, name);
            let by_sqlite = tempfile::tempdir().unwrap();
            let by_folio = tempfile::tempdir().unwrap();
            let sqlite_copy = copy_with_journal(&db, by_sqlite.path());
            let folio_copy = copy_with_journal(&db, by_folio.path());
            assert_eq!(sqlite3(&sqlite_copy, count, &what).trim(), want, "{what}: sqlite3");

            // The pager's default page size (4096) is not the database's: the header wins
            // once the journal is played back.
            // With 4 KiB pages, the pages come from a memory map after the playback.
            let mmap_size = if page_size == 4096 { 1 << 20 } else { 0 };
            let opts =
                PagerOptions { journal_mode: mode, cache_size: 5, mmap_size, ..Default::default() };
            let mut pager = Pager::open(os_vfs(), &folio_copy, opts).unwrap();
            pager.begin_read().unwrap_or_else(|e| panic!("{what}: begin_read: {e}"));
            assert_eq!(pager.stats().hot_rollbacks, 1, "{what}: {:?}", pager.stats());
            assert_eq!(pager.page_size(), page_size, "{what}");
            let ps = page_size as usize;
            assert_eq!(pager.page_count() as usize, before.len() / ps, "{what}");
            for p in 1..=pager.page_count() {
                let page = pager.get(p).unwrap_or_else(|e| panic!("{what}: page {p}: {e}"));
                assert!(*page == *page_of(&before, ps, p), "{what}: page {p} after our rollback");
            }
            pager.end_read().unwrap();
            let stats = pager.stats();
            assert_eq!(stats.mmap_reads > 0, mmap_size > 0, "{what}: {stats:?}");
            drop(pager);
            eprintln!("{what}: our pager restored {} pages: {stats:?}", before.len() / ps);

            let ours = read(&folio_copy);
            assert!(ours == read(&sqlite_copy), "{what}: our rollback differs from sqlite3's");
            assert!(ours == before, "{what}: our rollback differs from the file before the txn");
            // The journal is finalized as our journal mode says, so it is no longer hot.
            let journal = journal_path(&folio_copy);
            match mode {
                JournalMode::Delete => assert!(!journal.exists(), "{what}: journal not deleted"),
                JournalMode::Truncate => assert_eq!(read(&journal).len(), 0, "{what}: journal"),
                _ => assert!(
                    read(&journal)[..PERSIST_ZEROED_LEN].iter().all(|&b| b == 0),
                    "{what}: journal header not zeroed"
                ),
            }
            let mut again = Pager::open(os_vfs(), &folio_copy, PagerOptions::default()).unwrap();
            again.begin_read().unwrap();
            assert_eq!(again.stats().hot_rollbacks, 0, "{what}: rolled back twice");
            again.end_read().unwrap();
            drop(again);
            assert_eq!(sqlite3(&folio_copy, count, &what).trim(), want, "{what}: on our file");
        }
    }
}

// ----- sqlite3 writes between our reads -----------------------------------------------------

#[test]
fn a_sqlite3_commit_between_our_read_transactions_resets_our_cache() {
    for mmap_size in [0u64, 1 << 20] {
        let what = format!("mmap_size={mmap_size}");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        sqlite3(
            &db,
            "PRAGMA page_size=1024; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<200)
               INSERT INTO t SELECT i, printf('row-%040d', i) FROM n;",
            &what,
        );
        let opts = PagerOptions { mmap_size, ..Default::default() };
        let mut pager = Pager::open(os_vfs(), &db, opts).unwrap();
        let first = read_all(&mut pager, &what);
        assert!(first.concat() == read(&db), "{what}: first read");

        // sqlite3 changes one row in place: some page other than page 1 changes.
        sqlite3(&db, "UPDATE t SET v = 'changed by sqlite3' WHERE id = 100;", &what);
        let file = read(&db);
        let changed: Vec<usize> = (1..first.len())
            .filter(|&i| first[i] != page_of(&file, 1024, i as u32 + 1))
            .map(|i| i + 1)
            .collect();
        assert!(!changed.is_empty(), "{what}: sqlite3's update changed no page but page 1");
        let second = read_all(&mut pager, &what);
        assert!(second.concat() == file, "{what}: pages {changed:?} still stale after the update");
        assert_eq!(pager.stats().cache_resets, 1, "{what}: {:?}", pager.stats());

        // sqlite3 grows the file: the new pages are seen too.
        sqlite3(&db, "INSERT INTO t SELECT id + 1000, v FROM t;", &what);
        let file = read(&db);
        let third = read_all(&mut pager, &what);
        assert!(third.len() > second.len(), "{what}: the database grew");
        assert!(third.concat() == file, "{what}: after sqlite3 grew the file");
        assert_eq!(pager.stats().cache_resets, 2, "{what}: {:?}", pager.stats());

        // Nothing changed: the cache is kept.
        let hits = pager.stats().cache_hits;
        assert!(read_all(&mut pager, &what).concat() == file, "{what}: unchanged");
        assert_eq!(pager.stats().cache_resets, 2, "{what}: {:?}", pager.stats());
        assert!(pager.stats().cache_hits > hits, "{what}: the cache was used");

        // sqlite3 shrinks the file: no page past the new end, no stale page inside it.
        sqlite3(&db, "DELETE FROM t WHERE id % 3 = 0 OR id > 1000; VACUUM;", &what);
        let file = read(&db);
        let fourth = read_all(&mut pager, &what);
        assert!(fourth.len() < third.len(), "{what}: VACUUM shrank the database");
        assert!(fourth.concat() == file, "{what}: after sqlite3 shrank the file");
        assert_eq!(pager.stats().cache_resets, 3, "{what}: {:?}", pager.stats());
    }
}
