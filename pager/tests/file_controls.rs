//! The pager's settings that SQLite reaches through file controls: `chunk_size`
//! (`SQLITE_FCNTL_CHUNK_SIZE`, with the commit's size hint), `persist_wal`
//! (`SQLITE_FCNTL_PERSIST_WAL`) and `powersafe_overwrite` (`SQLITE_FCNTL_POWERSAFE_OVERWRITE`),
//! on the OS VFS, which honours all three.

use folio_pager::{CheckpointMode, JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::os::OsVfs;
use folio_vfs::Vfs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PS: u32 = 4096;
const CHUNK: u64 = 65536;

fn temp_db() -> (tempfile::TempDir, PathBuf, Arc<dyn Vfs>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fc.db");
    (dir, path, Arc::new(OsVfs::new()))
}

fn open(vfs: &Arc<dyn Vfs>, path: &Path, opts: PagerOptions) -> Pager {
    Pager::open(Arc::clone(vfs), path, PagerOptions { page_size: PS, ..opts }).unwrap()
}

/// Writes pages `2..=n` filled with `fill` in one transaction.
fn write_pages(pager: &mut Pager, n: u32, fill: u8) {
    pager.begin_write().unwrap();
    for p in 2..=n {
        pager.write(p, &vec![fill; PS as usize]).unwrap();
    }
    pager.commit().unwrap();
}

/// The page count and every page's first byte after page 1.
fn contents(pager: &mut Pager) -> (u32, Vec<u8>) {
    pager.begin_read().unwrap();
    let n = pager.page_count();
    let fills = (2..=n).map(|p| pager.get(p).unwrap()[0]).collect();
    pager.end_read().unwrap();
    (n, fills)
}

fn size_of(path: &Path, suffix: &str) -> Option<u64> {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
}

#[test]
fn a_chunk_size_grows_and_shrinks_the_database_in_whole_chunks() {
    let (_dir, path, vfs) = temp_db();
    let mut pager = open(&vfs, &path, PagerOptions { chunk_size: CHUNK as u32, ..opts() });
    write_pages(&mut pager, 3, 1);
    assert_eq!(size_of(&path, ""), Some(CHUNK), "3 pages in a 64 KiB chunk");
    write_pages(&mut pager, 20, 2);
    assert_eq!(size_of(&path, ""), Some(2 * CHUNK), "20 pages (80 KiB) in two chunks");
    // The commit's size hint preallocated the chunks: no hole at the end of the file.
    let allocated = std::fs::metadata(&path).unwrap().blocks() * 512;
    assert!(allocated >= 2 * CHUNK, "only {allocated} bytes allocated of {}", 2 * CHUNK);
    pager.begin_write().unwrap();
    pager.truncate(5).unwrap();
    pager.commit().unwrap();
    assert_eq!(size_of(&path, ""), Some(CHUNK), "truncated to 5 pages: one chunk left");
    assert_eq!(contents(&mut pager), (5, vec![2; 4]));
    drop(pager);
    // The header, not the file's size, says how many pages there are.
    let mut plain = open(&vfs, &path, opts());
    assert_eq!(contents(&mut plain), (5, vec![2; 4]), "reopened without a chunk size");
    plain.set_chunk_size(CHUNK as u32 * 2);
    write_pages(&mut plain, 6, 3);
    assert_eq!(size_of(&path, ""), Some(2 * CHUNK), "the chunk size set on an open pager");
}

#[test]
fn a_chunk_size_in_wal_mode_leaves_the_page_count_to_the_header() {
    let (_dir, path, vfs) = temp_db();
    let wal = PagerOptions { journal_mode: JournalMode::Wal, ..opts() };
    let mut pager = open(&vfs, &path, PagerOptions { chunk_size: CHUNK as u32, ..wal.clone() });
    write_pages(&mut pager, 20, 4);
    pager.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!(size_of(&path, ""), Some(2 * CHUNK), "20 pages checkpointed into two chunks");
    // The checkpoint's size hint preallocated the second chunk: no hole at the end.
    let allocated = std::fs::metadata(&path).unwrap().blocks() * 512;
    assert!(allocated >= 2 * CHUNK, "only {allocated} bytes allocated of {}", 2 * CHUNK);
    pager.begin_write().unwrap();
    pager.truncate(7).unwrap();
    pager.commit().unwrap();
    write_pages(&mut pager, 7, 5);
    // The last close checkpoints the truncation into the database, which keeps a whole chunk.
    pager.close().unwrap();
    assert_eq!(size_of(&path, ""), Some(CHUNK));
    assert_eq!(size_of(&path, "-wal"), None, "the log is gone");
    let mut again = open(&vfs, &path, wal);
    assert_eq!(contents(&mut again), (7, vec![5; 6]));
}

#[test]
fn persist_wal_keeps_the_log_and_shm_at_the_last_close() {
    for limit in [-1i64, 0] {
        let (_dir, path, vfs) = temp_db();
        let opts = PagerOptions {
            journal_mode: JournalMode::Wal,
            journal_size_limit: limit,
            persist_wal: limit < 0,
            ..opts()
        };
        let mut pager = open(&vfs, &path, opts.clone());
        // Set through the setter for one run, the options for the other.
        pager.set_persist_wal(true);
        write_pages(&mut pager, 4, 5);
        pager.close().unwrap();
        let wal = size_of(&path, "-wal").unwrap_or_else(|| panic!("limit {limit}: no -wal kept"));
        assert_eq!(wal == 0, limit == 0, "limit {limit}: the -wal kept is {wal} bytes");
        assert!(size_of(&path, "-shm").is_some(), "limit {limit}: no -shm kept");
        // Everything was checkpointed: a reader sees it whatever the log holds.
        let mut again = open(&vfs, &path, opts);
        assert_eq!(contents(&mut again), (4, vec![5; 3]), "limit {limit}");
    }
}

#[test]
fn without_powersafe_overwrite_journals_take_whole_sectors_and_wal_commits_are_padded() {
    // The OS VFS says powersafe overwrite, with 4 KiB sectors.
    let journal = |psow: bool| {
        let (_dir, path, vfs) = temp_db();
        let opts = PagerOptions {
            journal_mode: JournalMode::Persist,
            powersafe_overwrite: psow,
            ..opts()
        };
        let mut pager = open(&vfs, &path, opts);
        write_pages(&mut pager, 3, 1);
        write_pages(&mut pager, 3, 2);
        size_of(&path, "-journal").unwrap()
    };
    let record = u64::from(PS) + 8;
    // The header takes one sector: 512 bytes with powersafe overwrite, else the device's.
    assert_eq!(journal(true), 512 + 3 * record, "page 1 to 3 journaled after a 512-byte header");
    assert_eq!(journal(false), 4096 + 3 * record, "the header takes a 4 KiB sector");

    let wal = |psow: bool| {
        let (_dir, path, vfs) = temp_db();
        let opts = PagerOptions {
            journal_mode: JournalMode::Wal,
            synchronous: Synchronous::Full,
            powersafe_overwrite: psow,
            ..opts()
        };
        let mut pager = open(&vfs, &path, opts);
        for fill in 1..=3 {
            write_pages(&mut pager, 2, fill);
        }
        size_of(&path, "-wal").unwrap()
    };
    let frame = u64::from(PS) + 24;
    assert_eq!(wal(true), 32 + 4 * frame, "pages 1 and 2, then page 2 twice: no padding");
    let padded = wal(false);
    assert!(padded > wal(true), "no padding without powersafe overwrite: {padded} bytes");
    assert_eq!((padded - 32) % frame, 0, "padding is whole frames: {padded} bytes");
}

fn opts() -> PagerOptions {
    PagerOptions::default()
}
