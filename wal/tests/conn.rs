//! `folio_wal::Wal` protocol behaviour: several connections, each on its own handle of one
//! database file (holding SHARED on it, as SQLite's WAL connections do), on the memory VFS and
//! the OS VFS with real files.

#[path = "conn/harness.rs"]
#[allow(dead_code)]
mod harness;

use folio_wal::{Checkpoint, CheckpointMode};
use harness::{images, label, Db};

const PASSIVE: CheckpointMode = CheckpointMode::Passive;
const FULL: CheckpointMode = CheckpointMode::Full;
const TRUNCATE: CheckpointMode = CheckpointMode::Truncate;

fn ckpt(busy: bool, log: u32, checkpointed: u32) -> Checkpoint {
    Checkpoint { busy, log, checkpointed }
}

/// The same test on the memory VFS and on the OS VFS.
fn on_both(page_size: u32, test: impl Fn(&Db)) {
    test(&Db::memory(page_size));
    test(&Db::os(page_size));
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
