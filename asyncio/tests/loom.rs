//! Loom models of the async write queue's hand-off between callers and the writer thread:
//! enqueue, read-through while the writer drains, the bound's wait and wake-up, and
//! unlock-after-flush (another connection that gets the lock finds the transaction on disk).
//!
//! The parent is a toy in-memory VFS built on the sync facade, so every mutex the parent takes
//! is loom's too; its database locks are folio-vfs's in-process lock table.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test -p folio-asyncio --release --test loom` (or `cargo xtask loom`).
#![cfg(loom)]

use folio_asyncio::{AsyncVfs, Options};
use folio_vfs::lock::{InodeLocks, NoProcessLocks};
use folio_vfs::sync::{thread, Arc, Mutex};
use folio_vfs::{
    AccessCheck, Error, FileKind, LockLevel, OpenFlags, ReadOutcome, Result, SyncFlags, Vfs,
    VfsFile,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

const DB: &str = "/loom.db";

/// The one file of the toy disk.
#[derive(Default)]
struct Disk {
    data: Mutex<Vec<u8>>,
    locks: InodeLocks,
}

struct ToyVfs {
    disk: Arc<Disk>,
}

struct ToyFile {
    disk: Arc<Disk>,
    level: Mutex<LockLevel>,
}

impl Vfs for ToyVfs {
    fn name(&self) -> &str {
        "loom-toy"
    }
    fn open(&self, _path: Option<&Path>, _flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        Ok(Box::new(ToyFile { disk: Arc::clone(&self.disk), level: Mutex::new(LockLevel::None) }))
    }
    fn delete(&self, path: &Path, _sync_dir: bool) -> Result<()> {
        Err(Error::Unsupported {
            op: folio_vfs::Op::Delete,
            path: path.to_path_buf(),
            why: "no deletes here",
        })
    }
    fn access(&self, _path: &Path, _check: AccessCheck) -> Result<bool> {
        Ok(true)
    }
    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        Ok(path.to_path_buf())
    }
    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        buf.fill(0);
        Ok(())
    }
    fn sleep(&self, _duration: Duration) {}
}

impl VfsFile for ToyFile {
    fn path(&self) -> &Path {
        Path::new(DB)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        let data = self.disk.data.lock();
        let start = (offset as usize).min(data.len());
        let n = (data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&data[start..start + n]);
        buf[n..].fill(0);
        Ok(if n == buf.len() { ReadOutcome::Full } else { ReadOutcome::Short { n_read: n } })
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        let mut data = self.disk.data.lock();
        let end = offset as usize + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }
    fn truncate(&self, size: u64) -> Result<()> {
        self.disk.data.lock().resize(size as usize, 0);
        Ok(())
    }
    fn sync(&self, _flags: SyncFlags) -> Result<()> {
        Ok(())
    }
    fn size(&self) -> Result<u64> {
        Ok(self.disk.data.lock().len() as u64)
    }
    fn lock(&self, level: LockLevel) -> Result<()> {
        self.disk.locks.lock(&mut self.level.lock(), level, &NoProcessLocks, Path::new(DB))
    }
    fn unlock(&self, level: LockLevel) -> Result<()> {
        let mut held = self.level.lock();
        self.disk.locks.unlock(&mut held, level, &NoProcessLocks, Path::new(DB), |_| {})
    }
    fn lock_level(&self) -> LockLevel {
        *self.level.lock()
    }
    fn check_reserved_lock(&self) -> Result<bool> {
        self.disk.locks.check_reserved(&NoProcessLocks)
    }
}

fn setup(options: Options) -> (Arc<Disk>, ToyVfs, AsyncVfs) {
    let disk = Arc::new(Disk::default());
    let parent = ToyVfs { disk: Arc::clone(&disk) };
    let vfs = AsyncVfs::new(std::sync::Arc::new(ToyVfs { disk: Arc::clone(&disk) }), options);
    (disk, parent, vfs)
}

fn open(vfs: &dyn Vfs) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(DB)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

/// A transaction through the queue while another connection (a plain handle on the parent)
/// tries to read: whenever it gets SHARED, the transaction's bytes are on disk; and the writer
/// itself always reads its own bytes back, whatever the writer thread has done so far.
#[test]
fn the_lock_is_released_only_after_the_transaction_is_on_disk() {
    loom::model(|| {
        let (disk, parent, vfs) = setup(Options::default());
        let a = open(&vfs);
        a.lock(LockLevel::Shared).unwrap();
        a.lock(LockLevel::Reserved).unwrap();
        a.lock(LockLevel::Exclusive).unwrap();
        let reader = {
            let (disk, other) = (Arc::clone(&disk), open(&parent));
            thread::spawn(move || {
                if other.lock(LockLevel::Shared).is_ok() {
                    assert_eq!(&disk.data.lock()[..], b"new", "locked before the data landed");
                    other.unlock(LockLevel::None).unwrap();
                }
            })
        };
        a.write_at(0, b"new").unwrap();
        let mut buf = [0; 3];
        assert_eq!(a.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
        assert_eq!(&buf, b"new", "read-through");
        a.unlock(LockLevel::None).unwrap();
        reader.join().unwrap();
        drop(a);
        vfs.shutdown();
        assert_eq!(&disk.data.lock()[..], b"new");
    });
}

/// A queue capped at one operation: the second write waits for the writer to retire the first
/// (no lost wake-up), and both land in order.
#[test]
fn a_full_queue_hands_off_without_losing_a_wakeup() {
    loom::model(|| {
        let options = Options { max_queued_ops: 1, coalesce: false, ..Options::default() };
        let (disk, _parent, vfs) = setup(options);
        let a = open(&vfs);
        a.write_at(0, b"ab").unwrap();
        a.write_at(1, b"c").unwrap();
        let mut buf = [0; 2];
        a.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"ac");
        vfs.flush().unwrap();
        assert_eq!(&disk.data.lock()[..], b"ac");
        assert!(vfs.stats().peak_ops <= 1);
        drop(a);
    });
}

/// Two transactions back to back, each writing two bytes in two writes: a reader that gets the
/// lock sees the state before or after a transaction, never half of one. Guards SQLite's rule
/// that only the last queued unlock acts: the first transaction's unlock, performed late, must
/// not release the lock the second one holds while its writes are queued.
#[test]
fn a_late_unlock_never_exposes_the_next_transaction() {
    loom::model(|| {
        let options = Options { coalesce: false, ..Options::default() };
        let (disk, parent, vfs) = setup(options);
        let a = open(&vfs);
        let transaction = |fill: u8| {
            a.lock(LockLevel::Shared).unwrap();
            a.lock(LockLevel::Reserved).unwrap();
            // The reader may hold SHARED: wait for it, as a busy handler would.
            while let Err(e) = a.lock(LockLevel::Exclusive) {
                assert!(e.is_busy(), "{e}");
                thread::yield_now();
            }
            a.write_at(0, &[fill]).unwrap();
            a.write_at(1, &[fill]).unwrap();
            a.unlock(LockLevel::None).unwrap();
        };
        transaction(b'1');
        let reader = {
            let (disk, other) = (Arc::clone(&disk), open(&parent));
            thread::spawn(move || {
                if other.lock(LockLevel::Shared).is_ok() {
                    let data = disk.data.lock().clone();
                    assert!(data == b"11" || data == b"22", "half a transaction: {data:?}");
                    other.unlock(LockLevel::None).unwrap();
                }
            })
        };
        transaction(b'2');
        reader.join().unwrap();
        drop(a);
        vfs.shutdown();
        assert_eq!(&disk.data.lock()[..], b"22");
    });
}
