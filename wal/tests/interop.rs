//! Interop with stock SQLite: WAL files and `-shm` wal-indexes written by the `sqlite3` shell
//! (while a Python child keeps the database open, so nothing is checkpointed or deleted) are
//! read by our scanner and index codec, checked against what sqlite3 itself reports on a copy
//! (`PRAGMA wal_checkpoint`'s frame count, page count, rows); torn and corrupted copies give the
//! prefix sqlite3 recovers; and a WAL written by our encoder is read by sqlite3.

#[path = "interop/sqlite.rs"]
mod sqlite;

use folio_vfs::format::Sidecar;
use folio_vfs::os::OsVfs;
use folio_vfs::rng::Rng;
use folio_vfs::sync::atomic::Ordering;
use folio_vfs::{FileKind, OpenFlags, ShmRegion, Vfs};
use folio_wal::format::{self, ByteOrder, FrameEncoder, FrameInvalid, Salt, WalHeader};
use folio_wal::index::{self, CkptInfo, IndexHeader};
use folio_wal::{scan, ScanEnd, WalScan};
use sqlite::{sqlite3, Holder};
use std::path::{Path, PathBuf};

/// The files of a database at one moment.
struct Snapshot {
    db: Vec<u8>,
    wal: Vec<u8>,
    shm: Vec<u8>,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn snapshot(db: &Path) -> Snapshot {
    Snapshot {
        db: read(db),
        wal: read(&Sidecar::Wal.path_of(db)),
        shm: read(&Sidecar::Shm.path_of(db)),
    }
}

/// A fresh WAL-mode database with table `t(id INTEGER PRIMARY KEY, v BLOB)`, and a holder.
fn wal_database(dir: &Path, page_size: u32) -> (PathBuf, Holder) {
    let db = dir.join("db");
    sqlite3(
        &db,
        &format!(
            "PRAGMA page_size={page_size}; PRAGMA journal_mode=WAL; \
             CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);"
        ),
    );
    let holder = Holder::start(&db);
    (db, holder)
}

/// Runs `sql` in the shell with auto-checkpoints off.
fn write(db: &Path, sql: &str) {
    sqlite3(db, &format!("PRAGMA wal_autocheckpoint=0; {sql}"));
}

fn scan_file(path: &Path) -> WalScan {
    let file = OsVfs::new()
        .open(Some(path), OpenFlags::read_only(FileKind::Wal))
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    scan(&*file).unwrap_or_else(|e| panic!("scan {}: {e}", path.display()))
}

fn scan_bytes(dir: &Path, wal: &[u8]) -> WalScan {
    let path = dir.join("scanned-wal");
    std::fs::write(&path, wal).expect("write wal copy");
    scan_file(&path)
}

/// What stock sqlite3 sees in `db` + `wal` (a copy, opened without `-shm`, so it recovers the
/// index from the WAL): frames in the log, page count, rows and their byte sum.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    log_frames: u32,
    page_count: u32,
    rows: u64,
    bytes: u64,
}

fn sqlite_sees(dir: &Path, name: &str, db: &[u8], wal: &[u8]) -> Seen {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).expect("mkdir");
    let path = sub.join("db");
    std::fs::write(&path, db).expect("write db copy");
    std::fs::write(Sidecar::Wal.path_of(&path), wal).expect("write wal copy");
    let out = sqlite3(
        &path,
        "PRAGMA integrity_check; PRAGMA page_count; \
         SELECT count(*), coalesce(sum(length(v)), 0) FROM t; PRAGMA wal_checkpoint;",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"ok"), "integrity_check of {name}: {out}");
    let num = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{name}: {s:?} in {out}"));
    let rows: Vec<&str> = lines[2].split('|').collect();
    let ckpt: Vec<&str> = lines[3].split('|').collect();
    assert_eq!(ckpt[0], "0", "{name}: checkpoint busy: {out}");
    Seen {
        log_frames: num(ckpt[1]) as u32,
        page_count: num(lines[1]) as u32,
        rows: num(rows[0]),
        bytes: num(rows[1]),
    }
}

/// The `-shm` bytes as heap regions (native byte order, as mapped).
fn regions(shm: &[u8]) -> Vec<ShmRegion> {
    assert_eq!(shm.len() % index::REGION_SIZE, 0, "-shm size {}", shm.len());
    shm.chunks(index::REGION_SIZE)
        .map(|chunk| {
            let r = ShmRegion::heap();
            r.copy_in(0, chunk, Ordering::Relaxed);
            r
        })
        .collect()
}

fn region_bytes(r: &ShmRegion) -> Vec<u8> {
    let mut out = vec![0; index::REGION_SIZE];
    r.copy_out(0, &mut out, Ordering::Relaxed);
    out
}

/// Everything we can check of a live snapshot: the scan against sqlite3's own count, the
/// `-shm` header and hash tables against the scan, and our index built from the scan against
/// SQLite's bytes.
fn check_snapshot(dir: &Path, name: &str, snap: &Snapshot, page_size: u32) -> WalScan {
    let s = scan_bytes(dir, &snap.wal);
    let header = s.header.unwrap_or_else(|| panic!("{name}: WAL ignored: {:?}", s.ignored));
    assert_eq!(header.page_size, page_size, "{name}");
    assert_eq!(header.order, ByteOrder::native(), "{name}: SQLite writes native checksums");
    assert!(s.uncommitted.is_empty(), "{name}: {:?}", s.uncommitted);
    let seen = sqlite_sees(dir, name, &snap.db, &snap.wal);
    eprintln!(
        "{name}: sqlite3 sees {seen:?}; scan ends {:?}; -shm {} bytes",
        s.end,
        snap.shm.len()
    );
    assert_eq!(s.max_frame, seen.log_frames, "{name}: mxFrame vs sqlite3's log count");
    assert_eq!(s.db_pages, seen.page_count, "{name}: nPage vs page_count");

    let shm = regions(&snap.shm);
    let hdr = index::read_header(&shm[0], &|| {}).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(hdr.version, format::WAL_VERSION);
    assert_eq!(hdr.max_frame, s.max_frame, "{name}: -shm mxFrame");
    assert_eq!(hdr.n_page, s.db_pages, "{name}: -shm nPage");
    assert_eq!(hdr.salt, header.salt, "{name}: -shm salts");
    assert_eq!(hdr.frame_checksum, s.checksum, "{name}: -shm aFrameCksum");
    assert_eq!(hdr.page_size(), page_size, "{name}: -shm szPage {}", hdr.sz_page);
    assert_eq!(hdr.order(), header.order, "{name}: -shm bigEndCksum");
    assert!(hdr.checksum_ok());
    let recovered = IndexHeader::recovered(&s);
    assert_eq!(
        IndexHeader { change: hdr.change, ..recovered }.sealed(),
        hdr,
        "{name}: our header from the scan"
    );
    let info = CkptInfo::load(&shm[0]);
    assert_eq!(info.read_marks[0], 0, "{name}");
    assert!(info.n_backfill <= hdr.max_frame, "{name}: {info:?}");

    // Every frame's page number, and every page's newest frame, through the hash tables.
    for f in &s.frames {
        assert_eq!(index::frame_page_no(&shm, f.frame_no).expect("mapped"), f.page_no, "{name}");
    }
    let min_frame = info.n_backfill + 1;
    for (&page, &frame) in &s.latest_frames() {
        let want = (frame >= min_frame).then_some(frame);
        let got = index::find_frame(&shm, page, hdr.max_frame, min_frame).expect("lookup");
        assert_eq!(got, want, "{name}: page {page}");
    }
    let absent = s.db_pages + 1;
    assert_eq!(index::find_frame(&shm, absent, hdr.max_frame, 1).expect("lookup"), None);

    // Our index built from the scan is SQLite's, byte for byte, in every region the log uses.
    let ours: Vec<ShmRegion> = (0..shm.len()).map(|_| ShmRegion::heap()).collect();
    let mut committed = 0;
    for f in &s.frames {
        index::append(&ours, f.frame_no, f.page_no, committed).expect("append");
        committed = f.frame_no;
    }
    if s.max_frame > 0 {
        for r in 0..=index::region_of_frame(s.max_frame) as usize {
            let from = index::page_array_offset(r as u32);
            let (a, b) = (region_bytes(&ours[r]), region_bytes(&shm[r]));
            if let Some(at) = (from..index::REGION_SIZE).find(|&i| a[i] != b[i]) {
                panic!("{name}: region {r} differs from SQLite's at byte {at}");
            }
        }
    }
    s
}

fn insert_rows(n: u32, blob: u32) -> String {
    format!(
        "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) \
         INSERT INTO t(v) SELECT randomblob({blob}) FROM c; COMMIT;"
    )
}

#[test]
fn sqlite_wal_with_three_index_regions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _holder) = wal_database(dir.path(), 1024);
    for i in 0..18 {
        write(&db, &insert_rows(500, 600));
        if i % 4 == 0 {
            write(&db, "UPDATE t SET v = randomblob(600) WHERE id % 37 = 0;");
        }
    }
    let snap = snapshot(&db);
    let s = check_snapshot(dir.path(), "regions", &snap, 1024);
    assert!(s.max_frame > index::region_zero(2), "only {} frames", s.max_frame);
    assert_eq!(s.end, Some(ScanEnd::EndOfFile { trailing_bytes: 0 }));
}

#[test]
fn sqlite_wal_of_64k_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _holder) = wal_database(dir.path(), 65536);
    for _ in 0..4 {
        write(&db, &insert_rows(20, 30000));
    }
    let snap = snapshot(&db);
    let s = check_snapshot(dir.path(), "64k", &snap, 65536);
    let shm = regions(&snap.shm);
    assert_eq!(index::load_header_copy(&shm[0], index::HeaderCopy::First).sz_page, 1);
    assert_eq!(snap.wal[8..12], [0, 1, 0, 0], "65536 stored literally in the WAL header");
    assert!(s.max_frame >= 4);
}

#[test]
fn sqlite_wal_restart_leaves_stale_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, mut holder) = wal_database(dir.path(), 4096);
    for _ in 0..3 {
        write(&db, &insert_rows(100, 3000));
    }
    let before = snapshot(&db);
    let old = check_snapshot(dir.path(), "generation-1", &before, 4096);
    // Checkpoint everything, then a small transaction restarts the log at frame 1.
    write(&db, "PRAGMA wal_checkpoint;");
    holder.read();
    write(&db, "INSERT INTO t(v) VALUES (randomblob(10));");
    let after = snapshot(&db);
    let new = check_snapshot(dir.path(), "generation-2", &after, 4096);
    let (h1, h2) = (old.header.expect("gen 1"), new.header.expect("gen 2"));
    assert_eq!(h2.checkpoint_seq, h1.checkpoint_seq + 1, "nCkpt bumped by the restart");
    assert_eq!(h2.salt.salt1, h1.salt.salt1.wrapping_add(1), "salt-1 incremented");
    assert_ne!(h2.salt.salt2, h1.salt.salt2, "salt-2 fresh");
    assert!(new.max_frame < old.max_frame);
    assert_eq!(after.wal.len(), before.wal.len(), "the old frames are still in the file");
    match new.end {
        Some(ScanEnd::Invalid {
            frame_no,
            why: FrameInvalid::SaltMismatch { found, expected },
            ..
        }) => {
            assert_eq!(frame_no, new.max_frame + 1);
            assert_eq!((found, expected), (h1.salt, h2.salt));
        }
        other => panic!("the log should end at a stale frame: {other:?}"),
    }
}

#[test]
fn torn_and_corrupt_tails_yield_the_prefix_sqlite_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _holder) = wal_database(dir.path(), 1024);
    let mut expected_rows = Vec::new();
    for i in 1..=5u32 {
        write(&db, &insert_rows(3 * i, 100 * i));
        expected_rows.push((1..=i).map(|k| 3 * k).sum::<u32>());
    }
    let snap = snapshot(&db);
    let full = check_snapshot(dir.path(), "intact", &snap, 1024);
    let frame_len = format::frame_len(1024) as usize;
    let last = format::frame_offset(full.max_frame, 1024) as usize;

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("cut-mid-frame", snap.wal[..last + frame_len / 2].to_vec()));
    cases.push(("cut-mid-header", snap.wal[..last + 10].to_vec()));
    let mut flipped = snap.wal.clone();
    flipped[last + 24 + 500] ^= 0x01;
    cases.push(("bad-data", flipped));
    let mut bad_sum = snap.wal.clone();
    bad_sum[last + 20] ^= 0x80;
    cases.push(("bad-checksum", bad_sum));
    for (name, wal) in cases {
        let s = scan_bytes(dir.path(), &wal);
        assert!(s.max_frame < full.max_frame, "{name}: the last commit must be lost");
        let seen = sqlite_sees(dir.path(), name, &snap.db, &wal);
        assert_eq!(s.max_frame, seen.log_frames, "{name}");
        assert_eq!(s.db_pages, seen.page_count, "{name}");
        assert_eq!(seen.rows, u64::from(expected_rows[3]), "{name}: four transactions remain");
        let prefix = &full.frames[..s.max_frame as usize];
        assert_eq!(s.frames, prefix, "{name}");
    }
}

/// Builds a WAL with our encoder carrying `base` to `target` in two commits (every page of
/// `base` again, then the pages that differ), plus an unfinished transaction that must be
/// ignored.
fn encode_wal(
    order: ByteOrder,
    page_size: u32,
    base: &[u8],
    target: &[u8],
    seed: u64,
) -> (Vec<u8>, u32) {
    let mut rng = Rng::new(seed);
    let ps = page_size as usize;
    let header = WalHeader {
        order,
        page_size,
        checkpoint_seq: rng.next_u64() as u32,
        salt: Salt { salt1: rng.next_u64() as u32, salt2: rng.next_u64() as u32 },
    };
    let mut wal = header.encode().to_vec();
    let mut enc = FrameEncoder::new(header);
    let (base_pages, target_pages) = ((base.len() / ps) as u32, (target.len() / ps) as u32);
    for p in 1..=base_pages {
        let commit = if p == base_pages { base_pages } else { 0 };
        wal.extend(enc.encode_to_vec(p, commit, &base[(p as usize - 1) * ps..p as usize * ps]));
    }
    let changed: Vec<u32> = (1..=target_pages)
        .filter(|&p| {
            let range = (p as usize - 1) * ps..p as usize * ps;
            base.get(range.clone()) != target.get(range)
        })
        .collect();
    for (i, &p) in changed.iter().enumerate() {
        let commit = if i + 1 == changed.len() { target_pages } else { 0 };
        wal.extend(enc.encode_to_vec(p, commit, &target[(p as usize - 1) * ps..p as usize * ps]));
    }
    let committed = base_pages + changed.len() as u32;
    // An unfinished transaction overwriting page 1 with garbage: never committed, so unseen.
    wal.extend(enc.encode_to_vec(1, 0, &vec![0xee; ps]));
    (wal, committed)
}

#[test]
fn sqlite_reads_a_wal_we_encode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base_dir = dir.path().join("base");
    let target_dir = dir.path().join("target");
    std::fs::create_dir_all(&base_dir).expect("mkdir");
    std::fs::create_dir_all(&target_dir).expect("mkdir");
    let base_db = base_dir.join("db");
    sqlite3(
        &base_db,
        &format!(
            "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; \
             CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); {}",
            insert_rows(100, 500)
        ),
    );
    let base = read(&base_db);
    let target_db = target_dir.join("db");
    std::fs::write(&target_db, &base).expect("copy");
    sqlite3(
        &target_db,
        &format!("{} UPDATE t SET v = zeroblob(7) WHERE id <= 10;", insert_rows(150, 700)),
    );
    let target = read(&target_db);
    assert!(!Sidecar::Wal.path_of(&target_db).exists(), "the shell checkpointed at close");
    let want = sqlite_sees(dir.path(), "target-as-is", &target, &[]);
    assert_eq!(want.rows, 250);

    let seed = folio_vfs::seed::from_env_or(0x5eed_0001);
    eprintln!("sqlite_reads_a_wal_we_encode: seed {seed:#x} (FOLIO_SEED replays)");
    for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
        let (wal, committed) = encode_wal(order, 4096, &base, &target, seed);
        let s = scan_bytes(dir.path(), &wal);
        assert_eq!(s.max_frame, committed, "{order:?}");
        assert_eq!(s.db_pages, (target.len() / 4096) as u32, "{order:?}");
        assert_eq!(s.uncommitted.len(), 1, "{order:?}");
        let seen = sqlite_sees(dir.path(), &format!("ours-{order:?}"), &base, &wal);
        assert_eq!(seen.log_frames, committed, "{order:?}: sqlite3 counts our frames");
        assert_eq!(
            Seen { log_frames: want.log_frames, ..seen },
            want,
            "{order:?}: sqlite3 reads the target database through our WAL (seed {seed:#x})"
        );
    }
}
