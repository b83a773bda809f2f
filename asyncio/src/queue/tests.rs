//! Unit tests of the queue state: the read-through replay, merging, the bound's accounting and
//! the durability watermark, without a writer thread.

use super::*;
use folio_vfs::{Error, Op};
use std::io;

fn state_with_file() -> (State, FileId) {
    let mut st = State::new();
    let (_, file) = st.register_handle(&PathBuf::from("/f"), false);
    (st, file)
}

fn write(st: &mut State, file: FileId, offset: u64, bytes: &[u8]) -> Seq {
    st.push(Some(file), None, OpKind::Write { offset, data: Arc::new(bytes.to_vec()) }, false)
}

fn read(st: &State, file: FileId, base: &[u8], offset: u64, len: usize) -> (Vec<u8>, ReadOutcome) {
    let mut buf = vec![0; len];
    let start = (offset as usize).min(base.len());
    let n = (base.len() - start).min(len);
    buf[..n].copy_from_slice(&base[start..start + n]);
    let outcome = st.overlay(file, &Base::Parent { size: base.len() as u64 }, offset, &mut buf);
    (buf, outcome)
}

#[test]
fn overlay_applies_writes_and_truncates_in_order() {
    let (mut st, file) = state_with_file();
    write(&mut st, file, 2, b"abcd");
    st.push(Some(file), None, OpKind::Truncate { size: 4 }, false);
    write(&mut st, file, 6, b"xy");
    // Base "0123456789": writes "01abcd6789", truncate to "01ab", then "01ab\0\0xy".
    let (buf, outcome) = read(&st, file, b"0123456789", 0, 10);
    assert_eq!(&buf, b"01ab\0\0xy\0\0");
    assert_eq!(outcome, ReadOutcome::Short { n_read: 8 });
    assert_eq!(st.replay_size(file, &Base::Parent { size: 10 }), 8);
    let (buf, outcome) = read(&st, file, b"0123456789", 3, 3);
    assert_eq!((&buf[..], outcome), (&b"b\0\0"[..], ReadOutcome::Full));
}

#[test]
fn overlay_is_right_whatever_prefix_the_parent_already_applied() {
    let (mut st, file) = state_with_file();
    write(&mut st, file, 0, b"hello");
    st.push(Some(file), None, OpKind::Truncate { size: 2 }, false);
    write(&mut st, file, 4, b"!");
    // The parent before anything, after the write, and after the truncate.
    for base in [&b""[..], b"hello", b"he"] {
        let (buf, outcome) = read(&st, file, base, 0, 6);
        assert_eq!(&buf, b"he\0\0!\0", "base {base:?}");
        assert_eq!(outcome, ReadOutcome::Short { n_read: 5 });
    }
}

#[test]
fn an_empty_base_ignores_the_parent() {
    let (mut st, file) = state_with_file();
    write(&mut st, file, 1, b"z");
    let mut buf = *b"stale";
    let outcome = st.overlay(file, &Base::Empty, 0, &mut buf);
    assert_eq!(&buf, b"\0z\0\0\0");
    assert_eq!(outcome, ReadOutcome::Short { n_read: 2 });
}

#[test]
fn durability_needs_a_later_sync_of_the_same_file() {
    let mut st = State::new();
    let (_, a) = st.register_handle(&PathBuf::from("/a"), false);
    let (_, b) = st.register_handle(&PathBuf::from("/b"), false);
    let w_a = write(&mut st, a, 0, b"x");
    let sync_b = st.push(Some(b), None, OpKind::Sync { flags: SyncFlags::FULL }, false);
    let sync_a = st.push(Some(a), None, OpKind::Sync { flags: SyncFlags::FULL }, false);
    assert_eq!(st.durable_seq(), 0);
    st.retire(1, None);
    // The write is performed but not synced: the watermark stays below it.
    assert_eq!((st.done_seq, st.durable_seq()), (w_a, w_a - 1));
    st.retire(1, None);
    assert_eq!((st.done_seq, st.durable_seq()), (sync_b, w_a - 1));
    st.retire(1, None);
    assert_eq!(st.durable_seq(), sync_a);
}

#[test]
fn a_failure_drops_everything_behind_it_and_poisons_those_files() {
    let mut st = State::new();
    let (h_db, db) = st.register_handle(&PathBuf::from("/db"), false);
    let (h_j, journal) = st.register_handle(&PathBuf::from("/db-journal"), false);
    let (h_other, _other) = st.register_handle(&PathBuf::from("/other"), false);
    write(&mut st, journal, 0, b"j");
    let failing = write(&mut st, db, 0, b"d");
    let delete = OpKind::Delete {
        path: "/db-journal".into(),
        canonical: "/db-journal".into(),
        sync_dir: true,
    };
    st.push(Some(journal), None, delete, false);
    st.retire(1, Some(Error::io_at(Op::Write, "/db", 0, io::Error::from_raw_os_error(28))));
    assert!(st.queue.is_empty(), "the journal delete behind the failed write was dropped");
    assert_eq!(st.stats.n_dropped, 1);
    let err = st.poison(h_db).expect("the failed file is poisoned").error();
    assert!(err.is_disk_full(), "{err}");
    assert!(st.poison(h_j).is_some(), "the file whose delete was dropped is poisoned");
    assert!(st.poison(h_other).is_some(), "every open handle is poisoned");
    // The journal write before the failure was never synced; the failure pins the watermark
    // below itself for good.
    assert_eq!(st.durable_seq(), 0);
    assert!(st.failure_at_or_before(failing).is_some());
    assert!(st.failure_at_or_before(failing - 1).is_none());
}

#[test]
fn the_bound_counts_bytes_and_operations() {
    let options = Options { max_queued_bytes: 10, max_queued_ops: 2, ..Options::default() };
    let (mut st, file) = state_with_file();
    assert!(st.fits(100, &options), "an oversize write goes alone into an empty queue");
    write(&mut st, file, 0, &[1; 6]);
    assert!(st.fits(4, &options));
    assert!(!st.fits(5, &options));
    write(&mut st, file, 100, &[1; 4]);
    assert!(!st.fits(0, &options), "two operations queued");
    st.retire(1, None);
    assert!(st.fits(6, &options));
    assert_eq!((st.stats.peak_bytes, st.stats.peak_ops), (10, 2));
}
