//! `folio_wal::Wal` protocol behaviour: several connections, each on its own handle of one
//! database file (holding SHARED on it, as SQLite's WAL connections do), on the memory VFS, the
//! OS VFS with real files, and the simulated disk. Snapshot isolation and `find_frame`, the
//! writer's exclusion and stale snapshots, spills and in-place overwrites with the checksum
//! chain redone at commit, undo, checkpoints (what they copy, in which order, what they
//! report, the log restart that follows), recovery of the wal-index from the log, the heap
//! index, `journal_size_limit`, sector padding and syncs, and the last connection's close.
//! A seeded model test drives random interleavings against a model of the committed states.
//!
//! Stock sqlite3 reading and writing these files is in `conn_interop.rs`.

#[path = "conn/harness.rs"]
#[allow(dead_code)]
mod harness;

use folio_vfs::memory::MemoryVfs;
use folio_vfs::rng::Rng;
use folio_vfs::sim::{FaultOp, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics, LockLevel};
use folio_wal::format::{self, FrameInvalid};
use folio_wal::index::{self, HeaderCopy, READMARK_NOT_USED};
use folio_wal::{Checkpoint, CheckpointMode, Error, ScanEnd, WalOptions, WalSync};
use harness::{image, images, label, Conn, Db, Event, RecordingVfs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const PASSIVE: CheckpointMode = CheckpointMode::Passive;
const FULL: CheckpointMode = CheckpointMode::Full;
const RESTART: CheckpointMode = CheckpointMode::Restart;
const TRUNCATE: CheckpointMode = CheckpointMode::Truncate;

fn ckpt(busy: bool, log: u32, checkpointed: u32) -> Checkpoint {
    Checkpoint { busy, log, checkpointed }
}

/// The same test on the memory VFS and on the OS VFS.
fn on_both(page_size: u32, test: impl Fn(&Db)) {
    test(&Db::memory(page_size));
    test(&Db::os(page_size));
}

fn assert_page(conn: &mut Conn, page_no: u32, version: u32, what: &str) {
    let got = conn.read(page_no);
    let want = image(conn.page_size, page_no, version);
    assert!(
        got == want,
        "{what}: page {page_no} should be version {version}, is {:?}",
        label(&got)
    );
}

// ----- snapshots -------------------------------------------------------------------------------

#[test]
fn readers_keep_their_snapshot_and_find_the_newest_frame_in_it() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut b) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2, 3], 1), 3); // frames 1..=3
        assert!(b.begin_read(), "the first snapshot is a change");
        assert_eq!((b.wal().max_frame(), b.wal().db_pages(), b.wal().page_size()), (3, 3, ps));
        assert_eq!(b.find(2), Some(2));

        a.commit(&images(ps, &[2, 4], 2), 4); // frames 4, 5
        assert_eq!(b.find(2), Some(2), "an open snapshot ignores later frames");
        assert_page(&mut b, 2, 1, "old snapshot");
        assert_eq!(b.find(4), None);
        assert_page(&mut b, 4, 0, "old snapshot: page 4 not yet written");
        assert_eq!(b.wal().db_pages(), 3);

        let mut c = db.conn();
        assert!(c.begin_read());
        assert_eq!((c.wal().max_frame(), c.wal().db_pages()), (5, 4));
        assert_eq!(
            (c.find(1), c.find(2), c.find(3), c.find(4), c.find(5)),
            (Some(1), Some(4), Some(3), Some(5), None)
        );
        assert_page(&mut c, 2, 2, "new snapshot");
        assert_page(&mut c, 4, 2, "new snapshot");
        c.end_read();

        b.end_read();
        assert!(b.begin_read(), "a commit since the last snapshot is a change");
        assert_eq!(b.find(2), Some(4));
        b.end_read();
        assert!(!b.begin_read(), "no commit since: no change");
        a.commit(&images(ps, &[2], 3), 4); // frame 6
        assert_eq!(b.find(2), Some(4));
        b.end_read();
        assert!(b.begin_read());
        assert_eq!(b.find(2), Some(6), "the newest of three frames of page 2");
        assert_page(&mut b, 2, 3, "newest");
        b.end_read();
    });
}

#[test]
fn the_writer_excludes_writers_and_stale_snapshots_cannot_write() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut b, mut c) = (db.conn(), db.conn(), db.conn());
        a.commit(&images(ps, &[1], 1), 1);
        b.begin_read();
        a.begin_write().expect("a writes");
        let e = b.wal().begin_write().expect_err("two writers");
        assert!(e.is_lock_busy(), "{e:?}");
        assert!(b.wal().in_read() && !b.wal().in_write());

        // Readers are welcome while a writes; its spilled frames are invisible to them.
        a.write(&images(ps, &[1], 2), None);
        c.begin_read();
        assert_eq!((c.wal().max_frame(), c.find(1)), (1, Some(1)));
        assert_page(&mut c, 1, 1, "reader beside a writer");
        c.end_read();
        a.write(&images(ps, &[2], 2), Some(2));
        a.wal().end_write();
        a.wal().end_read();

        match b.wal().begin_write() {
            Err(Error::BusySnapshot { snapshot: 1, live: 3, .. }) => {}
            other => panic!("a stale snapshot must not write: {other:?}"),
        }
        assert!(!b.wal().in_write(), "the WRITE lock is let go");
        b.end_read();
        b.begin_read();
        b.wal().begin_write().expect("a fresh snapshot writes");
        // A writer that ends without committing leaves everyone's snapshot valid.
        b.wal().end_write();
        b.end_read();
        a.commit(&images(ps, &[3], 3), 3);
        assert!(c.begin_read());
        assert_page(&mut c, 1, 2, "after commits");
        assert_page(&mut c, 3, 3, "after commits");
        c.end_read();
    });
}

#[test]
fn a_reader_of_a_fully_checkpointed_log_reads_the_database_file() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2], 1), 2);
        a.commit(&images(ps, &[2], 2), 2);
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 3, 3));
        assert!(r.begin_read());
        assert_eq!(r.wal().read_lock(), Some(0), "nBackfill == mxFrame: READ_LOCK(0)");
        assert_eq!(r.find(2), None, "nothing is read from the log");
        assert_page(&mut r, 2, 2, "from the database file");
        r.end_read();
    });
}

// ----- spills, overwrites, undo -------------------------------------------------------------

#[test]
fn overwrites_in_a_transaction_keep_the_checksum_chain() {
    on_both(512, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        // A new log: pages 1 and 2 spilled, page 1 spilled again (overwritten in frame 1,
        // so the checksums are redone from the WAL header's), page 3 appended; the commit
        // overwrites page 2 in frame 2 and appends its last page.
        a.begin_write().expect("write");
        a.write(&images(ps, &[1, 2], 1), None);
        a.write(&[(3, image(ps, 3, 1)), (1, image(ps, 1, 2))], None);
        assert_eq!(a.wal().max_frame(), 3, "the overwrite appends nothing");
        a.write(&[(2, image(ps, 2, 3)), (4, image(ps, 4, 1))], Some(4));
        a.wal().end_write();
        a.wal().end_read();
        let s = db.assert_log_valid(4, "first transaction");
        let pages: Vec<u32> = s.frames.iter().map(|f| f.page_no).collect();
        assert_eq!(pages, [1, 2, 3, 4]);
        r.begin_read();
        for (p, v) in [(1, 2), (2, 3), (3, 1), (4, 1)] {
            assert_page(&mut r, p, v, "after the first transaction");
        }
        r.end_read();

        // A second transaction: its overwrites start after frame 4, seeded from frame 4's
        // stored checksum.
        a.begin_write().expect("write");
        a.write(&images(ps, &[5, 1], 1), None); // frames 5, 6
        a.write(&images(ps, &[6], 1), None); // frame 7
        a.write(&[(1, image(ps, 1, 9)), (5, image(ps, 5, 9)), (6, image(ps, 6, 9))], Some(6));
        a.wal().end_write();
        a.wal().end_read();
        let s = db.assert_log_valid(8, "second transaction");
        let pages: Vec<u32> = s.frames.iter().map(|f| f.page_no).collect();
        assert_eq!(pages, [1, 2, 3, 4, 5, 1, 6, 6], "the last page of a commit is appended");
        r.begin_read();
        assert_eq!((r.find(1), r.find(5), r.find(6)), (Some(6), Some(5), Some(8)));
        for (p, v) in [(1, 9), (2, 3), (5, 9), (6, 9)] {
            assert_page(&mut r, p, v, "after the second transaction");
        }
        r.end_read();

        // An overwrite of a frame of an earlier transaction never happens: a new frame.
        a.commit(&[(2, image(ps, 2, 10)), (3, image(ps, 3, 10))], 6);
        let s = db.assert_log_valid(10, "third transaction");
        assert_eq!(s.frames[8].page_no, 2);
    });
}

#[test]
fn overwrites_at_the_start_of_a_restarted_log() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2, 3, 4], 1), 4);
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 4, 4));
        // The spill restarts the log at frame 1, which the commit then overwrites: the
        // checksums are redone from the new header's (new salts, nCkpt 1).
        a.begin_write().expect("write");
        a.write(&images(ps, &[2, 3], 2), None);
        a.write(&[(2, image(ps, 2, 3)), (3, image(ps, 3, 3)), (4, image(ps, 4, 3))], Some(4));
        a.wal().end_write();
        a.wal().end_read();
        let s = db.assert_log_valid(3, "restarted log");
        assert_eq!(s.header.expect("header").checkpoint_seq, 1);
        r.begin_read();
        for (p, v) in [(1, 1), (2, 3), (3, 3), (4, 3)] {
            assert_page(&mut r, p, v, "restarted log");
        }
        r.end_read();
    });
}

#[test]
fn a_log_of_the_other_byte_order_is_continued_in_its_order() {
    use folio_wal::format::{ByteOrder, FrameEncoder, Salt, WalHeader};
    let other = match ByteOrder::native() {
        ByteOrder::LittleEndian => ByteOrder::BigEndian,
        ByteOrder::BigEndian => ByteOrder::LittleEndian,
    };
    let db = Db::memory(1024);
    let ps = db.page_size;
    // A log another host wrote (seq 7): pages 1..=3, committed.
    let header = WalHeader {
        order: other,
        page_size: ps,
        checkpoint_seq: 7,
        salt: Salt { salt1: 0x1234_5678, salt2: 0x9abc_def0 },
    };
    let mut log = header.encode().to_vec();
    let mut enc = FrameEncoder::new(header);
    for p in 1..=3 {
        log.extend(enc.encode_to_vec(p, if p == 3 { 3 } else { 0 }, &image(ps, p, 1)));
    }
    let f = db
        .vfs
        .open(Some(&db.wal_path()), folio_vfs::OpenFlags::create(folio_vfs::FileKind::Wal))
        .expect("open the log");
    f.write_at(0, &log).expect("write the log");
    drop(f);

    let mut a = db.conn();
    assert!(a.begin_read());
    assert_page(&mut a, 2, 1, "recovered");
    a.end_read();
    a.commit(&images(ps, &[2, 4], 2), 4);
    let s = db.assert_log_valid(5, "appended in the log's order");
    assert_eq!(s.header.expect("header").order, other);
    // After a complete checkpoint the restart writes a header of this host's order.
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 5, 5));
    a.commit(&images(ps, &[1], 3), 4);
    let s = db.assert_log_valid(1, "restarted");
    let h = s.header.expect("header");
    assert_eq!((h.order, h.checkpoint_seq), (ByteOrder::native(), 8));
    assert_eq!(h.salt.salt1, 0x1234_5679);
    let mut r = db.conn();
    r.begin_read();
    for (p, v) in [(1, 3), (2, 2), (3, 1), (4, 2)] {
        assert_page(&mut r, p, v, "after the restart");
    }
    r.end_read();
}

#[test]
fn pages_of_64k() {
    let db = Db::memory(65536);
    let ps = db.page_size;
    let (mut a, mut r) = (db.conn(), db.conn());
    a.commit(&images(ps, &[1, 2], 1), 2);
    a.begin_write().expect("write");
    a.write(&images(ps, &[3], 2), None);
    a.write(&images(ps, &[3, 1], 3), Some(3));
    a.wal().end_write();
    a.wal().end_read();
    assert_eq!(a.index().0.sz_page, 1, "65536 is stored as 1");
    r.begin_read();
    assert_eq!(r.wal().page_size(), 65536);
    assert_page(&mut r, 3, 3, "64k");
    r.end_read();
    db.assert_log_valid(4, "64k");
    drop((a, r));
    let mut c = db.conn();
    assert!(c.begin_read());
    assert_eq!((c.wal().page_size(), c.wal().max_frame()), (65536, 4));
    assert_page(&mut c, 1, 3, "64k recovered");
    c.end_read();
    assert_eq!(c.checkpoint(TRUNCATE), ckpt(false, 0, 0));
    assert_eq!(label(&db.db_page(3)), (3, 3));
}

#[test]
fn a_read_only_connection_reads_and_refuses_the_rest() {
    let db = Db::os(1024);
    let ps = db.page_size;
    let mut a = db.conn();
    a.commit(&images(ps, &[1, 2], 1), 2);
    let mut ro = db.conn_with(WalOptions { read_only: true, ..WalOptions::default() });
    assert!(ro.begin_read());
    assert_page(&mut ro, 2, 1, "read-only");
    assert!(matches!(ro.wal().begin_write(), Err(Error::ReadOnly { .. })));
    ro.end_read();
    assert!(matches!(ro.wal().checkpoint(PASSIVE, ps, None), Err(Error::ReadOnly { .. })));
    drop(a);
    assert!(!ro.close(true), "a read-only connection never cleans up");
    assert!(db.exists(&db.wal_path()));
}

#[test]
fn undo_forgets_uncommitted_frames_and_the_next_commit_reuses_them() {
    on_both(512, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2], 1), 2); // frames 1, 2
        a.begin_write().expect("write");
        a.write(&images(ps, &[3, 4], 1), None); // frames 3, 4
        a.write(&images(ps, &[1], 2), None); // frame 5
        a.write(&images(ps, &[3], 2), None); // overwrites frame 3
        r.begin_read();
        assert_eq!((r.wal().max_frame(), r.find(1), r.find(3)), (2, Some(1), None));
        r.end_read();

        a.wal().undo().expect("undo");
        assert!(a.wal().in_write(), "undo keeps the WRITE lock");
        assert_eq!(a.wal().max_frame(), 2);
        assert_eq!((a.find(1), a.find(3), a.find(4)), (Some(1), None, None));
        assert_page(&mut a, 1, 1, "after undo");
        a.write(&images(ps, &[5], 1), Some(5)); // frame 3 again
        a.wal().end_write();
        a.wal().end_read();

        r.begin_read();
        assert_eq!(r.wal().max_frame(), 3);
        assert_eq!((r.find(1), r.find(3), r.find(4), r.find(5)), (Some(1), None, None, Some(3)));
        assert_page(&mut r, 5, 1, "committed after undo");
        r.end_read();
        let s = db.assert_log_valid(3, "after undo and commit");
        match s.end {
            Some(ScanEnd::Invalid {
                frame_no: 4, why: FrameInvalid::BadChecksum { .. }, ..
            }) => {}
            other => panic!("the undone frame 4 is left behind with a broken chain: {other:?}"),
        }

        // Undo of the first transaction of a new log: the next one writes a new header.
        let db2 = Db::memory(ps);
        let mut w = db2.conn();
        w.begin_write().expect("write");
        w.write(&images(ps, &[1, 2, 3], 1), None);
        w.wal().undo().expect("undo");
        assert_eq!(w.wal().max_frame(), 0);
        w.write(&images(ps, &[7], 1), Some(7));
        w.wal().end_write();
        w.wal().end_read();
        let s = db2.assert_log_valid(1, "a new log after undo");
        assert_eq!(s.frames[0].page_no, 7);
    });
}

#[test]
fn the_index_spans_regions_and_undo_crosses_back() {
    // 512-byte pages keep the log small: 5000 frames = 2.7 MB, regions 0 and 1.
    let db = Db::memory(512);
    let ps = db.page_size;
    let (mut a, mut r) = (db.conn(), db.conn());
    let first: Vec<u32> = (1..=3000).collect();
    a.commit(&images(ps, &first, 1), 3000);
    r.begin_read(); // snapshot at frame 3000
    a.begin_write().expect("write");
    let spill: Vec<u32> = (1..=1500).map(|p| p * 2).collect(); // frames 3001..=4500
    a.write(&images(ps, &spill, 2), None);
    assert_eq!(index::region_of_frame(a.wal().max_frame()), 1);
    a.wal().undo().expect("undo across the region boundary");
    assert_eq!(a.wal().max_frame(), 3000);
    let second: Vec<u32> = (1..=2000).map(|p| p * 3 % 3001).filter(|&p| p != 0).collect();
    a.write(&images(ps, &second, 3), Some(3000));
    a.wal().end_write();
    a.wal().end_read();
    let max = 3000 + second.len() as u32;
    assert!(max > index::region_zero(1), "{max} frames use region 1");
    db.assert_log_valid(max, "two regions");

    // The old snapshot still reads version 1 everywhere; a new one the newest frames.
    for p in [1, 2, 3, 1500, 2999, 3000] {
        assert_eq!(r.find(p), Some(p));
        assert_page(&mut r, p, 1, "snapshot at frame 3000");
    }
    r.end_read();
    r.begin_read();
    let mut newest: BTreeMap<u32, u32> = (1..=3000).map(|p| (p, p)).collect();
    for (i, &p) in second.iter().enumerate() {
        newest.insert(p, 3001 + i as u32);
    }
    for (&p, &f) in &newest {
        assert_eq!(r.find(p), Some(f), "page {p}");
    }
    for p in [2, 4, 3000] {
        let v = if second.contains(&p) { 3 } else { 1 };
        assert_page(&mut r, p, v, "new snapshot");
    }
    r.end_read();
    assert_eq!(a.checkpoint(TRUNCATE), ckpt(false, 0, 0));
    for (p, v) in [(1, 1), (3, 3), (6, 3), (3000, 1)] {
        let v = if second.contains(&p) { 3 } else { v };
        assert_eq!(db.db_page(p), image(ps, p, v), "page {p} checkpointed");
    }
    assert_eq!(db.db_size(), 3000 * u64::from(ps));
}

// ----- checkpoints ---------------------------------------------------------------------------

#[test]
fn checkpoints_copy_the_newest_images_in_page_order_and_truncate_to_the_commit() {
    let rec = RecordingVfs::new(Arc::new(MemoryVfs::new()));
    let db = Db::on(Arc::new(rec.clone()), PathBuf::from("/ckpt.db"), 1024);
    let ps = db.page_size;
    let mut a = db.conn();
    a.commit(&images(ps, &[1, 2, 3, 4, 5, 6], 1), 6);
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 6, 6));
    assert_eq!(db.db_size(), 6 * u64::from(ps));
    a.commit(&images(ps, &[6, 4, 2], 2), 6); // restarts the log
    a.commit(&images(ps, &[2], 3), 6);
    a.commit(&images(ps, &[5, 1], 4), 4); // shrinks to 4 pages: page 5 and 6 are dropped
    rec.take();
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 6, 6));
    let events = rec.take();
    let wal = db.wal_path();
    // Consecutive pages may go in one write: expand each write to its pages.
    let mut written = Vec::new();
    for e in &events {
        if let Event::Write { path, offset, len } = e {
            if *path == db.path {
                let first = offset / u64::from(ps) + 1;
                written.extend(first..first + len / u64::from(ps));
            }
        }
    }
    assert_eq!(written, [1, 2, 4], "ascending, once each, nothing past the commit's size");
    let first_db_write =
        events.iter().position(|e| matches!(e, Event::Write { path, .. } if *path == db.path));
    let wal_sync = events.iter().position(|e| matches!(e, Event::Sync { path } if *path == wal));
    assert!(wal_sync < first_db_write, "the log is synced before the database is written");
    let last = events.last().expect("events");
    assert_eq!(*last, Event::Sync { path: db.path.clone() }, "the database synced last");
    assert!(events.contains(&Event::Truncate { path: db.path.clone(), size: 4 * u64::from(ps) }));
    for (p, v) in [(1, 4), (2, 3), (3, 1), (4, 2)] {
        assert_eq!(label(&db.db_page(p)), (p, v), "page {p}");
    }
    assert_eq!(db.db_size(), 4 * u64::from(ps));

    // Nothing left to copy: nothing written, nothing synced.
    assert_eq!(a.checkpoint(FULL), ckpt(false, 6, 6));
    assert!(rec.take().iter().all(|e| !matches!(e, Event::Write { .. })));
}

/// What a checkpoint of `pages` at `sync` writes into the database and hints for write-back,
/// in order: `(is_hint, offset, len)`, then whether the database's sync came after all of it.
fn checkpoint_writes_and_hints(sync: WalSync, pages: &[u32]) -> (Vec<(bool, u64, u64)>, bool) {
    let rec = RecordingVfs::new(Arc::new(MemoryVfs::new()));
    let db = Db::on(Arc::new(rec.clone()), PathBuf::from("/hints.db"), 4096);
    let mut a = db.conn_with(WalOptions { sync, ..WalOptions::default() });
    let n_pages = pages.iter().copied().max().expect("pages");
    // The database has every page first (a log with gaps cannot make a database otherwise).
    a.commit(&images(4096, &(1..=n_pages).collect::<Vec<_>>(), 0), n_pages);
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, n_pages, n_pages));
    a.commit(&images(4096, pages, 1), n_pages);
    rec.take();
    let n = pages.len() as u32;
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, n, n));
    let events = rec.take();
    let on_db: Vec<(bool, u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Write { path, offset, len } if *path == db.path => Some((false, *offset, *len)),
            Event::Writeback { path, offset, len } if *path == db.path => {
                Some((true, *offset, *len))
            }
            _ => None,
        })
        .collect();
    let synced_last = events.last() == Some(&Event::Sync { path: db.path.clone() });
    (on_db, synced_last)
}

#[test]
fn a_long_checkpoint_hints_write_back_of_what_it_has_written_as_it_goes() {
    // 4 MiB of pages in runs with gaps (pages 1..=300, every other page up to 900, 901..=1200).
    let pages: Vec<u32> =
        (1..=300).chain((302..=900).step_by(2)).chain(901..=1200).collect::<Vec<_>>();
    let (events, synced_last) = checkpoint_writes_and_hints(WalSync::Full, &pages);
    assert!(synced_last, "the database's sync comes after every write and hint");
    let mut hinted_to = 0; // everything before this was hinted
    let mut written_to = 0; // the end of the last write
    let mut hints = 0;
    for &(is_hint, offset, len) in &events {
        if is_hint {
            // A hint covers exactly the bytes written since the previous one: it starts where
            // the last hint ended or at the first write after it, and ends at the last write.
            assert!(offset >= hinted_to && offset + len == written_to, "{events:?}");
            assert!(len >= 256 << 10, "hints come in big steps, not per write: {events:?}");
            hinted_to = written_to;
            hints += 1;
        } else {
            assert!(offset >= written_to, "writes ascend: {events:?}");
            written_to = offset + len;
        }
    }
    assert_eq!(written_to, 1200 * 4096);
    assert!(hints >= 3, "a hint at least every MiB or so: {hints} in {events:?}");
    assert!(written_to - hinted_to <= 1 << 20, "a short unhinted tail, left to the sync");

    // Little to copy: no hint (the sync follows at once). Without syncs: none at all.
    let (events, _) = checkpoint_writes_and_hints(WalSync::Full, &[1, 2, 3, 7]);
    assert!(events.iter().all(|&(is_hint, ..)| !is_hint), "{events:?}");
    let (events, _) = checkpoint_writes_and_hints(WalSync::Off, &pages);
    assert!(events.iter().all(|&(is_hint, ..)| !is_hint), "{events:?}");
    assert_eq!(events.iter().map(|&(_, _, len)| len).sum::<u64>(), pages.len() as u64 * 4096);
}

#[test]
fn the_writer_after_a_complete_checkpoint_restarts_the_log() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        for v in 1..=3 {
            a.commit(&images(ps, &[1, 2, 3], v), 3);
        }
        let old = db.assert_log_valid(9, "generation 1").header.expect("header");
        assert_eq!(old.checkpoint_seq, 0, "a new log");
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 9, 9));
        let (_, info) = a.index();
        assert_eq!((info.n_backfill, info.read_marks[1]), (9, 9));

        // A reader that started after the checkpoint reads the file (READ_LOCK(0)) and does
        // not keep the writer from restarting.
        r.begin_read();
        assert_eq!(r.wal().read_lock(), Some(0));
        a.commit(&images(ps, &[2], 4), 3);
        let s = db.scan();
        let new = s.header.expect("header");
        assert_eq!(new.checkpoint_seq, old.checkpoint_seq + 1, "nCkpt + 1");
        assert_eq!(new.salt.salt1, old.salt.salt1.wrapping_add(1), "salt-1 + 1");
        assert_ne!(new.salt.salt2, old.salt.salt2, "a new salt-2");
        assert_eq!((s.max_frame, s.frames[0].page_no), (1, 2), "frame 1 rewritten");
        match s.end {
            Some(ScanEnd::Invalid {
                frame_no: 2, why: FrameInvalid::SaltMismatch { .. }, ..
            }) => {}
            other => panic!("the old generation's frames follow: {other:?}"),
        }
        let (hdr, info) = a.index();
        assert_eq!((hdr.max_frame, hdr.salt), (1, new.salt));
        assert_eq!(info.n_backfill, 0);
        assert_eq!(info.read_marks[0], 0);
        assert_eq!(info.read_marks[1], 0, "mark 1 reset to 0 by the restart, then used");
        assert_page(&mut r, 2, 3, "a READ_LOCK(0) reader reads the file");
        r.end_read();
        r.begin_read();
        assert_page(&mut r, 2, 4, "new generation");
        r.end_read();

        // A reader holding a mark in the log keeps the next writer from restarting.
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 1, 1));
        let mut held = db.conn();
        held.begin_read();
        assert_eq!(held.wal().read_lock(), Some(0));
        held.end_read();
        a.commit(&images(ps, &[3], 5), 3); // restarts: frame 1 again
        held.begin_read(); // mark at frame 1
        assert_ne!(held.wal().read_lock(), Some(0));
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 1, 1));
        a.commit(&images(ps, &[1], 6), 3);
        assert_eq!(db.scan().max_frame, 2, "no restart under a reader's mark");
        held.end_read();
    });
}

#[test]
fn readers_cap_checkpoints_as_sqlite_does() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2, 3, 4], 1), 4);
        r.begin_read(); // mark 4
        a.commit(&images(ps, &[1, 2], 2), 4);
        // PASSIVE copies up to the reader's mark and is content (SQLite: SQLITE_OK).
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 6, 4));
        // As SQLite's iterator does, a page is copied from its newest frame only: pages 1 and
        // 2 (newest in frames 5 and 6, past the mark) wait; pages 3 and 4 are copied.
        assert_eq!((label(&db.db_page(1)), label(&db.db_page(3))), ((0, 0), (3, 1)));
        // FULL/RESTART/TRUNCATE must copy everything: busy, without a busy handler.
        assert_eq!(a.checkpoint(FULL), ckpt(true, 6, 4));
        assert_eq!(a.checkpoint(RESTART), ckpt(true, 6, 4));
        assert_eq!(a.checkpoint(TRUNCATE), ckpt(true, 6, 4));
        assert_page(&mut r, 1, 1, "the reader's snapshot is intact");

        // A busy handler that lets the reader go: FULL waits and finishes.
        let mut calls = 0;
        let mut handler = || {
            calls += 1;
            r.end_read();
            true
        };
        let got = a.wal().checkpoint(FULL, ps, Some(&mut handler)).expect("FULL");
        assert_eq!((got, calls), (ckpt(false, 6, 6), 1));
        assert_eq!(label(&db.db_page(1)), (1, 2));

        // A reader that started on the fully copied log reads the database file only
        // (READ_LOCK(0)): the writer restarts the log under it, and no checkpoint may write
        // the file until it leaves.
        r.begin_read();
        assert_eq!(r.wal().read_lock(), Some(0));
        a.commit(&images(ps, &[3], 3), 4);
        assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 1, 0));
        assert_eq!(a.checkpoint(FULL), ckpt(true, 1, 0));
        assert_page(&mut r, 3, 1, "READ_LOCK(0) reader");
        r.end_read();

        // A writer holding the WRITE lock: FULL degrades to PASSIVE and reports busy.
        let mut w = db.conn();
        w.begin_write().expect("write");
        assert_eq!(a.checkpoint(FULL), ckpt(true, 1, 1));
        assert_eq!(a.checkpoint(RESTART), ckpt(true, 1, 1));
        w.wal().end_write();
        w.end_read();

        // A reader at the end of the log does not cap, but RESTART waits for it to leave.
        a.commit(&images(ps, &[4], 4), 4); // restarts: frame 1
        r.begin_read();
        assert_eq!(r.wal().read_lock(), Some(1));
        assert_eq!(a.checkpoint(RESTART), ckpt(true, 1, 1));
        assert_eq!(a.checkpoint(TRUNCATE), ckpt(true, 1, 1));
        assert_eq!(a.checkpoint(FULL), ckpt(false, 1, 1));
        r.end_read();
        assert_eq!(a.checkpoint(RESTART), ckpt(false, 1, 1));
        assert_eq!(a.checkpoint(TRUNCATE), ckpt(false, 0, 0));
        assert_eq!(db.file_size(&db.wal_path()), 0, "TRUNCATE leaves a 0-byte log");
        r.begin_read();
        assert_eq!((r.wal().max_frame(), r.wal().read_lock()), (0, Some(0)));
        assert_page(&mut r, 3, 3, "after TRUNCATE");
        assert_page(&mut r, 4, 4, "after TRUNCATE");
        r.end_read();
    });
}

#[test]
fn a_passive_checkpoint_never_calls_the_busy_handler() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut r) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2], 1), 2);
        r.begin_read();
        a.commit(&images(ps, &[1], 2), 2);
        let calls = std::cell::Cell::new(0u32);
        let mut handler = || {
            calls.set(calls.get() + 1);
            calls.get() < 100
        };
        let got = a.wal().checkpoint(PASSIVE, ps, Some(&mut handler)).expect("PASSIVE");
        assert_eq!((got, calls.get()), (ckpt(false, 3, 2), 0));
        // FULL does call it, and stops using it once a reader stayed busy.
        let got = a.wal().checkpoint(FULL, ps, Some(&mut handler)).expect("FULL");
        assert_eq!((got, calls.get()), (ckpt(true, 3, 2), 100));
        r.end_read();
    });
}

#[test]
fn a_checkpoint_may_be_a_connections_first_call() {
    on_both(1024, |db| {
        let mut fresh = db.conn();
        assert_eq!(fresh.checkpoint(PASSIVE), ckpt(false, 0, 0), "no log at all");
        let mut a = db.conn();
        a.commit(&images(db.page_size, &[1, 2], 1), 2);
        assert_eq!(db.conn().checkpoint(PASSIVE), ckpt(false, 2, 2));
        assert_eq!(db.conn().checkpoint(TRUNCATE), ckpt(false, 0, 0));
        assert_eq!(label(&db.db_page(2)), (2, 1));
    });
}

#[test]
fn another_checkpointer_running_is_busy() {
    let db = Db::memory(1024);
    let ps = db.page_size;
    let (mut a, mut b) = (db.conn(), db.conn());
    a.commit(&images(ps, &[1], 1), 1);
    b.begin_read();
    b.end_read();
    // Take the CKPT lock slot on b's handle, as a running checkpoint holds it.
    b.db.shm_lock(1, 1, folio_vfs::ShmLockKind::Exclusive).expect("CKPT slot");
    let e = a.wal().checkpoint(PASSIVE, ps, None).expect_err("CKPT is held");
    assert!(e.is_lock_busy(), "{e:?}");
    b.db.shm_lock(1, 1, folio_vfs::ShmLockKind::UnlockExclusive).expect("unlock");
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 1, 1));
}

#[test]
fn a_zeroed_page_number_in_the_index_is_not_copied() {
    // SQLite's checkpoint iterator never yields page 0; copied, it went to (0 - 1) * page size.
    let db = Db::memory(1024);
    let ps = db.page_size;
    let mut a = db.conn();
    a.commit(&images(ps, &[1, 2], 1), 2);
    let page_no_of_frame_2 = index::frame_location(2).page_no_offset;
    a.region0().store_u32(page_no_of_frame_2, 0, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 2, 2));
    assert_eq!(label(&db.db_page(1)), (1, 1));
    assert_eq!(db.db_size(), 2 * u64::from(ps));
}

// ----- recovery ------------------------------------------------------------------------------

/// Asserts what a fresh wal-index recovered from a log of `max_frame` committed frames holds.
fn assert_recovered(c: &mut Conn, max_frame: u32, n_page: u32, what: &str) {
    assert!(c.begin_read(), "{what}: recovery is a change");
    assert_eq!((c.wal().max_frame(), c.wal().db_pages()), (max_frame, n_page), "{what}");
    let (hdr, info) = c.index();
    assert_eq!((hdr.max_frame, hdr.n_page, hdr.change), (max_frame, n_page, 0), "{what}");
    assert_eq!(info.n_backfill, 0, "{what}");
    assert_eq!(info.n_backfill_attempted, max_frame, "{what}");
    let mark1 = if max_frame > 0 { max_frame } else { READMARK_NOT_USED };
    let unused = READMARK_NOT_USED;
    assert_eq!(info.read_marks, [0, mark1, unused, unused, unused], "{what}");
    c.end_read();
}

#[test]
fn a_lost_index_is_rebuilt_from_the_log() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let mut a = db.conn();
        a.commit(&images(ps, &[1, 2, 3], 1), 3);
        a.commit(&images(ps, &[2, 5], 2), 5);
        // An uncommitted spill at the end is in the file but not in the log.
        a.begin_write().expect("write");
        a.write(&images(ps, &[1, 4], 3), None);
        drop(a); // no close: what a crashed process leaves

        // Memory VFS: the last handle let go of the shm node. OS VFS: the -shm stays but
        // nobody holds its dead-man switch, so the first mapper discards it.
        let mut c = db.conn();
        assert_recovered(&mut c, 5, 5, "after a crash");
        c.begin_read();
        assert_eq!((c.find(1), c.find(2), c.find(4), c.find(5)), (Some(1), Some(4), None, Some(5)));
        assert_page(&mut c, 2, 2, "recovered");
        c.end_read();
        c.commit(&images(ps, &[4], 4), 5); // frame 6, over the stale spill
        c.begin_read();
        assert_eq!((c.find(1), c.find(4)), (Some(1), Some(6)));
        c.end_read();
        db.assert_log_valid(6, "after recovery and a commit");
        drop(c);
        if db.exists(&db.shm_path()) {
            // OS VFS: the -shm deleted, then zeroed.
            std::fs::remove_file(db.shm_path()).expect("delete -shm");
            assert_recovered(&mut db.conn(), 6, 5, "-shm deleted");
            std::fs::write(db.shm_path(), vec![0u8; 65536]).expect("zero -shm");
            assert_recovered(&mut db.conn(), 6, 5, "-shm zeroed");
        }
    });
}

#[test]
fn a_corrupt_live_header_is_recovered_under_the_write_lock() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let (mut a, mut b) = (db.conn(), db.conn());
        a.commit(&images(ps, &[1, 2], 1), 2);
        a.commit(&images(ps, &[2], 2), 2);
        b.begin_read();
        b.end_read();
        // Header copy 1 damaged while connections are live: the copies differ.
        let r0 = a.region0();
        let mut hdr = index::load_header_copy(&r0, HeaderCopy::First);
        hdr.change ^= 0xff;
        index::store_header_copy(&r0, HeaderCopy::First, &hdr);
        assert_recovered(&mut b, 3, 2, "corrupt header");
        a.begin_read();
        assert_page(&mut a, 2, 2, "the other connection after recovery");
        a.end_read();
    });
}

#[test]
fn recovery_of_an_empty_or_ignored_log() {
    on_both(1024, |db| {
        let mut a = db.conn();
        assert_recovered(&mut a, 0, 0, "no log");
        drop(a);
        // A log with a garbage header is ignored: empty.
        let f = db
            .vfs
            .open(Some(&db.wal_path()), folio_vfs::OpenFlags::create(folio_vfs::FileKind::Wal))
            .expect("open the log");
        f.write_at(0, &[0x55; 4096]).expect("garbage");
        drop(f);
        let mut a = db.conn();
        assert_recovered(&mut a, 0, 0, "garbage log");
        a.commit(&images(db.page_size, &[1], 1), 1);
        db.assert_log_valid(1, "a new log over garbage");
    });
}

// ----- heap index ------------------------------------------------------------------------------

#[test]
fn a_heap_index_needs_no_shm_file() {
    let db = Db::os(1024);
    let ps = db.page_size;
    let opts = WalOptions { heap_index: true, ..WalOptions::default() };
    let mut a = db.conn_with(opts);
    a.commit(&images(ps, &[1, 2, 3], 1), 3);
    a.commit(&images(ps, &[2], 2), 3);
    assert!(!a.begin_read(), "own commits: the snapshot is current");
    assert_page(&mut a, 2, 2, "heap index");
    a.end_read();
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 4, 4));
    a.commit(&images(ps, &[3], 3), 3); // restarts the log
    assert_eq!(db.scan().max_frame, 1);
    assert!(!db.exists(&db.shm_path()), "no -shm with a heap index");
    // Another process could not get in: the database is EXCLUSIVE.
    let other = db.open_db();
    assert!(other.lock(LockLevel::Shared).expect_err("EXCLUSIVE held").is_busy());
    drop(other);
    drop(a); // a crash: the log stays

    let mut b = db.conn_with(opts);
    assert!(b.begin_read(), "recovered from the log");
    assert_eq!(b.wal().max_frame(), 1);
    assert_page(&mut b, 3, 3, "recovered heap index");
    assert_page(&mut b, 2, 2, "checkpointed page");
    b.end_read();
    assert!(b.close(true), "the last close deletes the log");
    assert!(!db.exists(&db.wal_path()) && !db.exists(&db.shm_path()));
    assert_eq!(label(&db.db_page(3)), (3, 3));
}

// ----- journal_size_limit ----------------------------------------------------------------------

#[test]
fn journal_size_limit_truncates_the_log_at_the_first_commit_after_a_restart() {
    on_both(1024, |db| {
        let ps = db.page_size;
        let frame = format::frame_len(ps);
        let limit = 32 + 5 * frame; // room for five frames
        let opts = WalOptions { journal_size_limit: limit as i64, ..WalOptions::default() };
        let mut a = db.conn_with(opts);
        let pages: Vec<u32> = (1..=20).collect();
        a.commit(&images(ps, &pages, 1), 20);
        assert_eq!(db.file_size(&db.wal_path()), 32 + 20 * frame, "no truncation while growing");
        assert_eq!(a.checkpoint(PASSIVE).checkpointed, 20);
        a.commit(&images(ps, &[1, 2], 2), 20); // restart: the log shrinks to the limit
        assert_eq!(db.file_size(&db.wal_path()), limit);
        db.assert_log_valid(2, "after truncation");
        a.commit(&images(ps, &pages[..10], 3), 20); // grows past the limit again
        assert_eq!(db.file_size(&db.wal_path()), 32 + 12 * frame);
        assert_eq!(a.checkpoint(PASSIVE).checkpointed, 12);
        a.commit(&images(ps, &pages[..8], 4), 20); // restart: longer than the limit
        assert_eq!(db.file_size(&db.wal_path()), 32 + 8 * frame, "max(limit, end of log)");
        a.commit(&images(ps, &[1], 5), 20);
        db.assert_log_valid(9, "the log continues");

        // Without a limit the file keeps its size across a restart.
        let db2 = Db::memory(ps);
        let mut b = db2.conn();
        b.commit(&images(ps, &pages, 1), 20);
        b.checkpoint(PASSIVE);
        b.commit(&images(ps, &[1], 2), 20);
        assert_eq!(db2.file_size(&db2.wal_path()), 32 + 20 * frame);
    });
}

// ----- syncs and sector padding ----------------------------------------------------------------

/// What one commit did to the log: frames, and the WAL's syncs with the byte offset written
/// up to at each.
#[derive(Debug, PartialEq, Eq)]
struct CommitIo {
    max_frame: u32,
    wal_syncs: Vec<u64>,
    db_syncs: usize,
}

fn commit_io(db: &Db, rec: &RecordingVfs, conn: &mut Conn, pages: &[u32], v: u32) -> CommitIo {
    rec.take();
    conn.commit(&images(db.page_size, pages, v), 100);
    let wal = db.wal_path();
    let mut extent = 0u64;
    let mut wal_syncs = Vec::new();
    let mut db_syncs = 0;
    for e in rec.take() {
        match e {
            Event::Write { path, offset, len } if path == wal => {
                if let Some(&synced) = wal_syncs.last() {
                    assert!(offset >= synced, "a write at {offset} below the sync point {synced}");
                }
                extent = extent.max(offset + len);
            }
            Event::Sync { path } if path == wal => wal_syncs.push(extent),
            Event::Sync { .. } => db_syncs += 1,
            _ => {}
        }
    }
    CommitIo { max_frame: conn.wal.as_ref().expect("open").max_frame(), wal_syncs, db_syncs }
}

/// A simulated disk with a 4096-byte sector, with or without powersafe overwrite.
fn sim_db(psow: bool, sector: u32) -> (Db, RecordingVfs, SimVfs) {
    let chars =
        if psow { DeviceCharacteristics::POWERSAFE_OVERWRITE } else { DeviceCharacteristics::NONE };
    let seed = folio_vfs::seed::from_env_or(0x0057_a11d);
    let sim =
        SimVfs::new(SimConfig::new(seed).with_sector_size(sector).with_characteristics(chars));
    let rec = RecordingVfs::new(Arc::new(sim.clone()));
    (Db::on(Arc::new(rec.clone()), PathBuf::from("/disk/pad.db"), 512), rec, sim)
}

#[test]
fn full_sync_pads_commits_to_the_sector_without_powersafe_overwrite() {
    let (db, rec, sim) = sim_db(false, 4096);
    let fl = format::frame_len(512); // 536
    let mut a = db.conn();
    // Commit 1: header (synced), frame 1 ends at 568; copies of it up to 4096: 8 frames,
    // the eighth split at 4096 with the sync between its halves.
    let syncs = sim.op_count(FaultOp::Sync);
    let io = commit_io(&db, &rec, &mut a, &[1], 1);
    assert_eq!(io, CommitIo { max_frame: 8, wal_syncs: vec![32, 4096], db_syncs: 0 });
    assert_eq!(sim.op_count(FaultOp::Sync) - syncs, 2, "the disk counts the same syncs");
    let s = db.assert_log_valid(8, "padded");
    assert!(s.frames.iter().all(|f| f.page_no == 1), "padding repeats the commit frame");
    // Commit 2: three frames from 4320 end at 5928; padding to 8192.
    let io = commit_io(&db, &rec, &mut a, &[2, 3, 4], 1);
    let frames = (8192 - (32 + 8 * fl)).div_ceil(fl) as u32;
    assert_eq!(io, CommitIo { max_frame: 8 + frames, wal_syncs: vec![8192], db_syncs: 0 });
    let s = db.assert_log_valid(8 + frames, "padded twice");
    assert!(s.frames[8 + 3..].iter().all(|f| f.page_no == 4), "copies of the commit frame");
    let mut r = db.conn();
    r.begin_read();
    assert_eq!(r.find(4), Some(8 + frames), "padding frames are indexed");
    assert_page(&mut r, 4, 1, "padded commit");
    r.end_read();

    // A transaction that overwrites its spilled frames: checksums redone, then padded.
    rec.take();
    a.begin_write().expect("write");
    a.write(&images(512, &[5, 6], 1), None); // frames 17, 18
    a.write(&[(5, image(512, 5, 2)), (7, image(512, 7, 1))], Some(100)); // 17 again, 19
    a.wal().end_write();
    a.wal().end_read();
    // Frame 19 ends at 10216: four copies of it reach 12360, past the sector at 12288.
    assert_eq!(8 + frames, 16);
    assert_eq!(a.wal().max_frame(), 23);
    let s = db.assert_log_valid(23, "overwritten, then padded");
    assert!(s.frames[18..].iter().all(|f| f.page_no == 7), "copies of the commit frame");
    let mut r = db.conn();
    r.begin_read();
    assert_page(&mut r, 5, 2, "overwritten");
    r.end_read();
    drop(r);

    // A power cut now keeps both commits: everything up to the sync points is durable.
    let image_after = sim.crash_now();
    let rebooted = SimVfs::from_image(&image_after, sim.config());
    let db2 = Db::on(Arc::new(rebooted), db.path.clone(), 512);
    let mut c = db2.conn();
    c.begin_read();
    assert!(c.wal().max_frame() >= 8 + 3, "the second commit survives the crash");
    assert_page(&mut c, 1, 1, "after the crash");
    assert_page(&mut c, 4, 1, "after the crash");
    c.end_read();
}

#[test]
fn a_commit_ending_on_a_sector_boundary_is_not_padded() {
    // 512-byte sectors: 32 + 20 * 536 = 10752 = 21 * 512.
    let (db, rec, _sim) = sim_db(false, 512);
    let mut a = db.conn();
    let pages: Vec<u32> = (1..=20).collect();
    let io = commit_io(&db, &rec, &mut a, &pages, 1);
    assert_eq!(io, CommitIo { max_frame: 20, wal_syncs: vec![32, 10752], db_syncs: 0 });
    // The next commit (1 frame, 10752..11288) pads to 11776: one copy, split at the boundary.
    let io = commit_io(&db, &rec, &mut a, &[1], 2);
    assert_eq!(io, CommitIo { max_frame: 22, wal_syncs: vec![11776], db_syncs: 0 });
    db.assert_log_valid(22, "aligned, then padded");
}

#[test]
fn commits_pad_to_the_sector_size_sqlite_uses_not_a_512_byte_floor() {
    // SQLite pads to `sqlite3SectorSize`: a reported 64 stays 64, so 32 + 4 * 536 = 2176 =
    // 34 * 64 ends on a boundary and is not padded (a 512-byte floor would add a frame).
    let memory_db = |sector| {
        let vfs = MemoryVfs::builder()
            .sector_size(sector)
            .device_characteristics(DeviceCharacteristics::NONE)
            .build();
        let rec = RecordingVfs::new(Arc::new(vfs));
        (Db::on(Arc::new(rec.clone()), PathBuf::from("/disk/pad.db"), 512), rec)
    };
    let (db, rec) = memory_db(64);
    let mut a = db.conn();
    let io = commit_io(&db, &rec, &mut a, &[1, 2, 3, 4], 1);
    assert_eq!(io, CommitIo { max_frame: 4, wal_syncs: vec![32, 2176], db_syncs: 0 });
    // The next commit (one frame, to 2712) pads to 2752: a copy of it, split at the boundary.
    let io = commit_io(&db, &rec, &mut a, &[5], 1);
    assert_eq!(io, CommitIo { max_frame: 6, wal_syncs: vec![2752], db_syncs: 0 });
    db.assert_log_valid(6, "padded to 64-byte sectors");
}

#[test]
fn syncs_follow_the_sync_level() {
    // With powersafe overwrite: no padding, one sync per commit at FULL.
    let (db, rec, _sim) = sim_db(true, 4096);
    let mut a = db.conn();
    let io = commit_io(&db, &rec, &mut a, &[1], 1);
    assert_eq!(io, CommitIo { max_frame: 1, wal_syncs: vec![32, 568], db_syncs: 0 });
    let io = commit_io(&db, &rec, &mut a, &[2, 3], 1);
    assert_eq!(io, CommitIo { max_frame: 3, wal_syncs: vec![1640], db_syncs: 0 });

    // NORMAL: the header after a (re)start is synced, commits are not; no padding even
    // without powersafe overwrite.
    let (db, rec, _sim) = sim_db(false, 4096);
    let mut a = db.conn_with(WalOptions { sync: WalSync::Normal, ..WalOptions::default() });
    let io = commit_io(&db, &rec, &mut a, &[1], 1);
    assert_eq!(io, CommitIo { max_frame: 1, wal_syncs: vec![32], db_syncs: 0 });
    let io = commit_io(&db, &rec, &mut a, &[2], 1);
    assert_eq!(io, CommitIo { max_frame: 2, wal_syncs: vec![], db_syncs: 0 });
    // A checkpoint syncs the log before and the database after copying.
    rec.take();
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 2, 2));
    let syncs: Vec<Event> =
        rec.take().into_iter().filter(|e| matches!(e, Event::Sync { .. })).collect();
    assert_eq!(syncs, [Event::Sync { path: db.wal_path() }, Event::Sync { path: db.path.clone() }]);
    let io = commit_io(&db, &rec, &mut a, &[3], 1); // restart: the new header is synced
    assert_eq!(io, CommitIo { max_frame: 1, wal_syncs: vec![32], db_syncs: 0 });

    // OFF: nothing is ever synced, checkpoints included.
    let (db, rec, _sim) = sim_db(false, 4096);
    let mut a = db.conn_with(WalOptions { sync: WalSync::Off, ..WalOptions::default() });
    commit_io(&db, &rec, &mut a, &[1], 1);
    commit_io(&db, &rec, &mut a, &[1, 2], 2);
    assert_eq!(a.checkpoint(TRUNCATE), ckpt(false, 0, 0));
    commit_io(&db, &rec, &mut a, &[3], 1);
    assert!(rec.take().iter().all(|e| !matches!(e, Event::Sync { .. })));
    assert_eq!(a.wal().max_frame(), 1);
}

// ----- close ---------------------------------------------------------------------------------

#[test]
fn the_last_close_checkpoints_and_deletes_the_log_and_index() {
    let db = Db::os(1024);
    let ps = db.page_size;
    let (mut a, mut b) = (db.conn(), db.conn());
    a.commit(&images(ps, &[1, 2, 3], 1), 3);
    b.commit(&images(ps, &[3], 2), 3);
    assert!(!a.close(false), "another connection is open: nothing deleted");
    assert!(db.exists(&db.wal_path()) && db.exists(&db.shm_path()));
    assert!(!b.begin_read());
    assert_page(&mut b, 3, 2, "the other connection goes on");
    b.end_read();
    assert!(b.close(true));
    assert!(!db.exists(&db.wal_path()), "-wal deleted");
    assert!(!db.exists(&db.shm_path()), "-shm deleted");
    assert_eq!(db.db_size(), 3 * u64::from(ps));
    for (p, v) in [(1, 1), (2, 1), (3, 2)] {
        assert_eq!(label(&db.db_page(p)), (p, v));
    }
    // A persistent close with a size limit keeps the files, the log emptied.
    let mut c = db.conn_with(WalOptions { journal_size_limit: 0, ..WalOptions::default() });
    c.commit(&images(ps, &[2], 3), 3);
    let wal = c.wal.take().expect("open");
    c.db.lock(LockLevel::Exclusive).expect("EXCLUSIVE");
    assert!(!wal.close(true, true, ps).expect("close"), "persistent: not deleted");
    assert_eq!(db.file_size(&db.wal_path()), 0);
    assert_eq!(label(&db.db_page(2)), (2, 3));
}

// ----- a model of random interleavings ---------------------------------------------------------

/// The committed states, oldest first: for each, page → version (absent: never written) and
/// the database size.
struct Model {
    states: Vec<(BTreeMap<u32, u32>, u32)>,
}

struct Actor {
    conn: Option<Conn>,
    /// The index in `states` of the open read transaction's snapshot.
    snapshot: Option<usize>,
    /// The open write transaction's pages (page → version) and size.
    writing: Option<(BTreeMap<u32, u32>, u32)>,
    /// The state the previous read transaction saw.
    last_snapshot: Option<usize>,
    /// `header_events` when the read transaction began.
    epoch: u64,
}

fn model_run(db: &Db, seed: u64, steps: u32) {
    let ps = db.page_size;
    let mut rng = Rng::new(seed);
    let mut model = Model { states: vec![(BTreeMap::new(), 0)] };
    let mut actors: Vec<Actor> = (0..3)
        .map(|_| Actor {
            conn: Some(db.conn()),
            snapshot: None,
            writing: None,
            last_snapshot: None,
            epoch: 0,
        })
        .collect();
    let mut version = 0u32;
    // Changes of the live wal-index header that are not commits: a log restarted by a
    // TRUNCATE checkpoint or by a writer that then rolled back. A snapshot taken before one
    // is stale for writing (SQLITE_BUSY_SNAPSHOT) though it holds the newest commit.
    let mut header_events = 0u64;
    let mut tally = BTreeMap::<&str, u32>::new();
    for step in 0..steps {
        let i = rng.below(actors.len() as u64) as usize;
        let what = format!("seed {seed:#x} step {step} actor {i}");
        let current = model.states.len() - 1;
        let actor = &mut actors[i];
        let Some(conn) = actor.conn.as_mut() else {
            actor.conn = Some(db.conn());
            *tally.entry("reopen").or_default() += 1;
            continue;
        };
        match rng.below(10) {
            // Read some pages of the snapshot (starting one if none).
            0..=2 => {
                if actor.snapshot.is_none() {
                    let changed = conn.begin_read();
                    if let Some(last) = actor.last_snapshot {
                        assert!(changed || last == current, "{what}: a commit since, unchanged");
                    }
                    actor.snapshot = Some(current);
                    actor.last_snapshot = Some(current);
                    actor.epoch = header_events;
                }
                let s = actor.snapshot.expect("reading");
                let (mut pages, committed) = model.states[s].clone();
                let mut n_page = committed;
                if let Some((w, n)) = &actor.writing {
                    pages.extend(w);
                    n_page = *n;
                }
                for _ in 0..4 {
                    if n_page == 0 {
                        break;
                    }
                    // Past the committed size only pages this transaction wrote are defined.
                    let p = 1 + rng.below(u64::from(n_page)) as u32;
                    if p <= committed || pages.contains_key(&p) {
                        let v = pages.get(&p).copied().unwrap_or(0);
                        assert_page(conn, p, v, &what);
                    }
                }
                *tally.entry("read").or_default() += 1;
            }
            // End the read (and write) transaction.
            3 => {
                if actor.writing.take().is_some() {
                    conn.wal().undo().expect("undo");
                    conn.wal().end_write();
                    header_events += 1;
                    *tally.entry("rollback").or_default() += 1;
                }
                conn.end_read();
                actor.snapshot = None;
            }
            // Write: begin if needed, spill or commit.
            4..=6 => {
                if actor.writing.is_none() {
                    if actor.snapshot.is_none() {
                        let changed = conn.begin_read();
                        if let Some(last) = actor.last_snapshot {
                            assert!(
                                changed || last == current,
                                "{what}: a commit since, unchanged"
                            );
                        }
                        actor.snapshot = Some(current);
                        actor.last_snapshot = Some(current);
                        actor.epoch = header_events;
                    }
                    match conn.wal().begin_write() {
                        Ok(()) => {
                            assert_eq!(
                                actor.snapshot,
                                Some(current),
                                "{what}: stale snapshot wrote"
                            );
                            actor.writing = Some((BTreeMap::new(), model.states[current].1));
                        }
                        Err(Error::BusySnapshot { .. }) => {
                            let stale = actor.snapshot != Some(current);
                            assert!(stale || header_events > actor.epoch, "{what}: spurious");
                            *tally.entry("busy-snapshot").or_default() += 1;
                            continue;
                        }
                        Err(e) if e.is_lock_busy() => {
                            assert!(actors.iter().any(|a| a.writing.is_some()), "{what}: {e}");
                            *tally.entry("busy-writer").or_default() += 1;
                            continue;
                        }
                        Err(e) => panic!("{what}: begin_write: {e}"),
                    }
                }
                let actor = &mut actors[i];
                let conn = actor.conn.as_mut().expect("open");
                let (w, n_page) = actor.writing.as_mut().expect("writing");
                let n = 1 + rng.below(6) as u32;
                let mut pages: Vec<u32> = (0..n).map(|_| 1 + rng.below(40) as u32).collect();
                pages.sort_unstable();
                pages.dedup();
                version += 1;
                let frames: Vec<(u32, Vec<u8>)> =
                    pages.iter().map(|&p| (p, image(ps, p, version))).collect();
                for &p in &pages {
                    w.insert(p, version);
                }
                let grown = (*n_page).max(*pages.last().expect("pages"));
                if rng.below(3) == 0 {
                    conn.write(&frames, None);
                    *n_page = grown;
                    *tally.entry("spill").or_default() += 1;
                } else {
                    // Sometimes the commit shrinks the database (pages past it dropped). Pages
                    // regrown past the committed size get zero images, as the pager writes.
                    let size =
                        if rng.below(5) == 0 { grown.saturating_sub(3).max(1) } else { grown };
                    let committed_size = model.states[current].1;
                    let mut kept: Vec<(u32, Vec<u8>)> =
                        frames.into_iter().filter(|(p, _)| *p <= size).collect();
                    for p in committed_size + 1..=size {
                        if let std::collections::btree_map::Entry::Vacant(e) = w.entry(p) {
                            e.insert(0);
                            kept.push((p, image(ps, p, 0)));
                        }
                    }
                    if kept.is_empty() {
                        w.insert(1, version);
                        kept.push((1, image(ps, 1, version)));
                    }
                    kept.sort_by_key(|(p, _)| *p);
                    conn.write(&kept, Some(size));
                    let (w, _) = actor.writing.take().expect("writing");
                    let mut next = model.states[current].0.clone();
                    next.extend(w);
                    next.retain(|&p, _| p <= size);
                    model.states.push((next, size));
                    conn.wal().end_write();
                    conn.end_read();
                    actor.snapshot = None;
                    // Its own commit is in its snapshot already: not a change to it.
                    actor.last_snapshot = Some(model.states.len() - 1);
                    *tally.entry("commit").or_default() += 1;
                }
            }
            // Checkpoint (outside transactions).
            7 | 8 => {
                if actor.snapshot.is_some() {
                    continue;
                }
                let mode = [PASSIVE, FULL, RESTART, TRUNCATE][rng.below(4) as usize];
                let got =
                    conn.wal().checkpoint(mode, ps, None).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(got.checkpointed <= got.log || mode == TRUNCATE, "{what}: {got:?}");
                let readers = actors.iter().any(|a| a.snapshot.is_some());
                if !readers && mode != PASSIVE {
                    let writer = actors.iter().any(|a| a.writing.is_some());
                    assert_eq!(got.busy, writer, "{what}: {mode:?} {got:?}");
                }
                if !got.busy && mode == TRUNCATE {
                    header_events += 1;
                    assert_eq!((got.log, got.checkpointed), (0, 0), "{what}");
                }
                if !got.busy && mode != PASSIVE {
                    // Everything committed is in the database file now.
                    let (pages, n_page) = &model.states[current];
                    assert_eq!(db.db_size(), u64::from(*n_page) * u64::from(ps), "{what}: size");
                    for p in 1..=*n_page {
                        let v = pages.get(&p).copied().unwrap_or(0);
                        assert!(
                            db.db_page(p) == image(ps, p, v),
                            "{what}: db page {p} after {mode:?}"
                        );
                    }
                }
                *tally
                    .entry(["passive", "full", "restart", "truncate"][mode as usize])
                    .or_default() += 1;
            }
            // Drop the connection as a crash would (an open write transaction is lost).
            _ => {
                if rng.below(4) == 0 {
                    if actor.writing.is_some() {
                        header_events += 1;
                    }
                    actor.conn = None;
                    actor.snapshot = None;
                    actor.writing = None;
                    actor.last_snapshot = None;
                    *tally.entry("crash").or_default() += 1;
                }
            }
        }
    }
    eprintln!(
        "model on {}: seed {seed:#x}, {} commits, {tally:?}",
        db.vfs.name(),
        model.states.len() - 1
    );
    drop(actors);
    // Whatever happened, a recovered index reads the last committed state.
    let mut c = db.conn();
    c.begin_read();
    let (pages, n_page) = model.states.last().expect("states").clone();
    if c.wal().max_frame() > 0 {
        assert_eq!(c.wal().db_pages(), n_page);
    } else {
        assert_eq!(db.db_size(), u64::from(n_page) * u64::from(ps));
    }
    for p in 1..=n_page {
        assert_page(&mut c, p, pages.get(&p).copied().unwrap_or(0), "final state");
    }
    c.end_read();
    // Rolled-back or crashed spills may follow the last commit; the log itself is whole.
    let s = db.scan();
    assert_eq!(s.max_frame, c.wal().max_frame(), "final log: {:?}", s.end);
}

#[test]
fn random_interleavings_match_the_model() {
    let seed = folio_vfs::seed::from_env_or(0x00c0_ffee);
    for k in 0..4 {
        model_run(&Db::memory(512), seed.wrapping_add(k), 3000);
    }
    model_run(&Db::os(512), seed, 1500);
}

// ----- threads ---------------------------------------------------------------------------------

/// Retries `f` while it fails with a busy error (a lock conflict, a stale snapshot, a recovery
/// in progress), yielding in between.
fn retry<T>(mut f: impl FnMut() -> folio_wal::Result<T>) -> T {
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if e.is_busy() => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Two writers, two readers and a checkpointer on their own threads and connections. Every
/// commit writes the next version of all eight pages (half of them spilled first and then
/// overwritten in place), so a reader must always see one version on every page, never older
/// than the last it saw; the commits number exactly one per version.
fn threads(db: &Db, commits: u32) {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    const PAGES: u32 = 8;
    let ps = db.page_size;
    let all: Vec<u32> = (1..=PAGES).collect();
    db.conn().commit(&images(ps, &all, 1), PAGES);
    let (done, committed, checkpoints) =
        (AtomicBool::new(false), AtomicU32::new(1), AtomicU32::new(0));
    let snapshot_version = |c: &mut Conn, what: &str| -> u32 {
        let v = label(&c.read(1)).1;
        for p in 2..=PAGES {
            assert_eq!(label(&c.read(p)), (p, v), "{what}: page {p} of a snapshot at version {v}");
        }
        v
    };
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut c = db.conn();
                while !done.load(Ordering::SeqCst) {
                    retry(|| c.wal().begin_read());
                    let v = snapshot_version(&mut c, "writer");
                    match c.wal().begin_write() {
                        Ok(()) => {}
                        Err(e) if e.is_busy() => {
                            c.end_read();
                            std::thread::yield_now();
                            continue;
                        }
                        Err(e) => panic!("begin_write: {e}"),
                    }
                    c.write(&images(ps, &[2, 4, 6, 8], v + 1), None);
                    c.write(&images(ps, &all, v + 1), Some(PAGES));
                    // Still under the WRITE lock: no other commit in between.
                    assert_eq!(
                        committed.swap(v + 1, Ordering::SeqCst),
                        v,
                        "one commit per version"
                    );
                    c.wal().end_write();
                    c.end_read();
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| {
                let mut c = db.conn();
                let mut last = 0;
                while !done.load(Ordering::SeqCst) {
                    retry(|| c.wal().begin_read());
                    let v = snapshot_version(&mut c, "reader");
                    assert!(v >= last, "a reader went back from version {last} to {v}");
                    last = v;
                    c.end_read();
                }
            });
        }
        s.spawn(|| {
            let mut c = db.conn();
            let modes = [PASSIVE, FULL, RESTART, TRUNCATE];
            let mut k = 0;
            while !done.load(Ordering::SeqCst) {
                let mut tries = 0;
                let mut handler = || {
                    tries += 1;
                    std::thread::yield_now();
                    tries < 20
                };
                let mode = modes[k % 4];
                match c.wal().checkpoint(mode, ps, Some(&mut handler)) {
                    Ok(got) => assert!(got.checkpointed <= got.log, "{mode:?}: {got:?}"),
                    Err(e) if e.is_busy() => {}
                    Err(e) => panic!("{mode:?}: {e}"),
                }
                k += 1;
                checkpoints.fetch_add(1, Ordering::SeqCst);
            }
        });
        // Enough commits, and enough checkpoints among them.
        while committed.load(Ordering::SeqCst) < commits
            || checkpoints.load(Ordering::SeqCst) < commits / 2
        {
            std::thread::yield_now();
        }
        done.store(true, Ordering::SeqCst);
    });
    let last = committed.load(Ordering::SeqCst);
    assert!(last >= commits);
    let mut c = db.conn();
    assert_eq!(c.checkpoint(TRUNCATE), ckpt(false, 0, 0));
    for p in 1..=PAGES {
        assert_eq!(label(&db.db_page(p)), (p, last), "page {p} in the database");
    }
    eprintln!(
        "threads on {}: {last} versions, {} checkpoints",
        db.vfs.name(),
        checkpoints.load(Ordering::SeqCst)
    );
}

#[test]
fn threads_see_whole_commits_while_checkpoints_run() {
    threads(&Db::memory(512), 400);
    threads(&Db::os(512), 300);
}
