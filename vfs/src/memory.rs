//! The memory VFS: files that live in the heap, shared by every handle opened through the same
//! [`MemoryVfs`] value (or a clone of it), with the OS VFS's lock and shared-memory semantics.
//!
//! * One node per file (the memory VFS's inode): its bytes in an `RwLock<Vec<u8>>`, and its
//!   database locks and shared memory in a [`LocalInode`] (nothing outside the process can see
//!   these files, so the in-process tables are the whole truth).
//! * A file's name lives in the [`MemoryVfs`]'s table; [`Vfs::delete`] removes the name only, so
//!   open handles keep their data, as after `unlink`.
//! * Shared memory ([`crate::local`]): one shm node per database file, shared by the handles
//!   that mapped it, with heap regions ([`ShmRegion::heap`]) and the eight slot locks. When the
//!   last handle unmaps, the node is dropped, so the next first mapper starts from zeroed memory:
//!   the effect of the OS VFS's dead-man switch (SQLite's os_unix.c, `unixLockSharedMemory`).
//! * No memory mapping: [`VfsFile::fetch`] always answers `None` and the mmap cap is 0, so the
//!   pager reads every page through [`VfsFile::read_at`].
//! * There are no directories: any path names a file, and [`Vfs::full_path`] only makes it
//!   absolute and removes `.` and `..` lexically. Paths that normalise alike are the same file.
//!
//! Lock order: as in [`crate::local`]. The VFS's name table is never held while any of those
//! is taken.

use crate::local::{LocalHandle, LocalInode};
use crate::rng::Rng;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Mutex, RwLock};
use crate::{
    AccessCheck, CantOpenReason, DeviceCharacteristics, Error, FileKind, LockLevel, MappedPage,
    Misuse, Op, OpenFlags, ReadOutcome, Result, ShmLockKind, ShmRegion, SyncFlags, Vfs, VfsFile,
    DEFAULT_SECTOR_SIZE,
};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Directory-like prefix of the names given to temporary files (`open(None, ..)`).
const TEMP_DIR: &str = "/.folio-temp";

/// An in-memory file system. Clones share the same files.
#[derive(Clone)]
pub struct MemoryVfs {
    fs: Arc<FileSystem>,
}

/// Builds a [`MemoryVfs`] with non-default geometry or a fixed randomness seed.
#[derive(Debug, Clone)]
pub struct MemoryVfsBuilder {
    sector_size: u32,
    device_characteristics: DeviceCharacteristics,
    seed: Option<u64>,
    max_file_size: u64,
}

struct FileSystem {
    /// Name (normalised path) to file.
    files: Mutex<HashMap<PathBuf, Arc<Node>>>,
    /// Counter for the names of temporary files.
    next_temp: AtomicU64,
    rng: Mutex<Rng>,
    sector_size: u32,
    device_characteristics: DeviceCharacteristics,
    /// The largest size a write or truncate may give a file; beyond it `EFBIG`.
    max_file_size: u64,
}

/// One file, whatever names it has had (the memory VFS's inode).
#[derive(Default)]
struct Node {
    data: RwLock<Vec<u8>>,
    locks: Arc<LocalInode>,
}

/// An open file of a [`MemoryVfs`].
struct MemoryFile {
    fs: Arc<FileSystem>,
    node: Arc<Node>,
    /// The path as given to `open` (or the generated temporary name).
    path: PathBuf,
    /// The normalised path: the key in the name table.
    key: PathBuf,
    kind: FileKind,
    writable: bool,
    delete_on_close: bool,
    handle: LocalHandle,
}

impl Default for MemoryVfs {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryVfs")
            .field("n_files", &self.fs.files.lock().len())
            .field("sector_size", &self.fs.sector_size)
            .field("device_characteristics", &self.fs.device_characteristics)
            .finish()
    }
}

impl MemoryVfs {
    /// An empty file system with the unix VFS's defaults: sector size 4096, powersafe overwrite.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to change the sector size, the device characteristics or the randomness seed.
    pub fn builder() -> MemoryVfsBuilder {
        MemoryVfsBuilder {
            sector_size: DEFAULT_SECTOR_SIZE,
            device_characteristics: DeviceCharacteristics::POWERSAFE_OVERWRITE,
            seed: None,
            max_file_size: u64::MAX,
        }
    }

    /// True if `other` is a clone of this value (they share their files).
    pub fn same_file_system(&self, other: &MemoryVfs) -> bool {
        Arc::ptr_eq(&self.fs, &other.fs)
    }

    /// A fresh name for a temporary file: one no file has now.
    fn temp_name(&self) -> PathBuf {
        loop {
            let n = self.fs.next_temp.fetch_add(1, Ordering::Relaxed);
            // SQLite's temporary files are named `etilqs_*` (SQLITE_TEMP_FILE_PREFIX).
            let name = Path::new(TEMP_DIR).join(format!("etilqs_{n:016x}"));
            if !self.fs.files.lock().contains_key(&name) {
                return name;
            }
        }
    }
}

impl MemoryVfsBuilder {
    /// The sector size every file reports: a power of two from 32 to 65536, what a journal
    /// header may claim ([`crate::format::valid_sector_size`]).
    ///
    /// # Panics
    /// If `bytes` is not such a power of two.
    pub fn sector_size(mut self, bytes: u32) -> Self {
        assert!(
            crate::format::valid_sector_size(bytes),
            "sector size {bytes} is not a power of two from 32 to 65536"
        );
        self.sector_size = bytes;
        self
    }

    /// The device characteristics every file reports.
    pub fn device_characteristics(mut self, characteristics: DeviceCharacteristics) -> Self {
        self.device_characteristics = characteristics;
        self
    }

    /// Makes [`Vfs::randomness`] replay the same bytes for the same seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The largest size a file may reach: a write or truncate past it fails with `EFBIG`, as
    /// a real file system's maximum file size (or `RLIMIT_FSIZE`) makes it fail, instead of the
    /// process trying to allocate it. Unlimited by default.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The file system, empty.
    pub fn build(self) -> MemoryVfs {
        let seed = self.seed.unwrap_or_else(fresh_seed);
        MemoryVfs {
            fs: Arc::new(FileSystem {
                files: Mutex::new(HashMap::new()),
                next_temp: AtomicU64::new(0),
                rng: Mutex::new(Rng::new(seed)),
                sector_size: self.sector_size,
                device_characteristics: self.device_characteristics,
                max_file_size: self.max_file_size,
            }),
        }
    }
}

impl Vfs for MemoryVfs {
    fn name(&self) -> &str {
        "memory"
    }

    /// Opens or creates a file. A temporary file (`path == None`) is always created read-write,
    /// fresh, and deleted on close, whatever `flags` says about that.
    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        let (path, flags) = match path {
            Some(path) => (path.to_path_buf(), flags),
            None => (self.temp_name(), flags.for_temp_file()),
        };
        if (flags.create && !flags.write) || (flags.exclusive && !flags.create) {
            return Err(Error::misuse(path, Misuse::OpenFlags(flags)));
        }
        let key = normalize(&path);
        if key.file_name().is_none() {
            return Err(Error::CantOpen {
                path,
                reason: CantOpenReason::NotAFileName,
                source: Some(io::Error::from_raw_os_error(libc::EISDIR)),
            });
        }
        let node = {
            let mut files = self.fs.files.lock();
            match files.get(&key) {
                Some(_) if flags.create && flags.exclusive => {
                    return Err(Error::CantOpen {
                        path,
                        reason: CantOpenReason::Exists,
                        source: Some(io::Error::from_raw_os_error(libc::EEXIST)),
                    });
                }
                Some(node) => Arc::clone(node),
                None if flags.create => {
                    let node = Arc::new(Node::default());
                    files.insert(key.clone(), Arc::clone(&node));
                    node
                }
                None => {
                    return Err(Error::CantOpen {
                        path,
                        reason: CantOpenReason::NotFound,
                        source: Some(io::Error::from_raw_os_error(libc::ENOENT)),
                    });
                }
            }
        };
        Ok(Box::new(MemoryFile {
            fs: Arc::clone(&self.fs),
            handle: LocalHandle::new(Arc::clone(&node.locks)),
            node,
            path,
            key,
            kind: flags.kind,
            writable: flags.write,
            delete_on_close: flags.delete_on_close,
        }))
    }

    /// Removes the name; open handles keep the file's data until they close. `sync_dir` has
    /// nothing to do in memory.
    fn delete(&self, path: &Path, _sync_dir: bool) -> Result<()> {
        match self.fs.files.lock().remove(&normalize(path)) {
            Some(_) => Ok(()),
            None => Err(Error::io(Op::Delete, path, io::Error::from_raw_os_error(libc::ENOENT))),
        }
    }

    /// Every file of a memory VFS can be read and written, so both checks ask "does it exist?".
    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool> {
        let exists = self.fs.files.lock().contains_key(&normalize(path));
        Ok(match check {
            AccessCheck::Exists | AccessCheck::ReadWrite => exists,
        })
    }

    /// `path` made absolute (relative paths start at `/`), with `.` and `..` resolved lexically.
    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        Ok(normalize(path))
    }

    /// Fills `buf` from a splitmix64 generator seeded from the time and a counter (or from
    /// [`MemoryVfsBuilder::seed`]). Good enough for WAL salts and unique names; **not
    /// cryptographic**.
    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        self.fs.rng.lock().fill(buf);
        Ok(())
    }

    fn sleep(&self, duration: Duration) {
        crate::sync::thread::sleep(duration);
    }
}

impl MemoryFile {
    fn require_writable(&self, op: Op) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly { op, path: self.path.clone() })
        }
    }

    fn require_shm(&self, op: Op) -> Result<()> {
        if self.kind.is_main_db() {
            Ok(())
        } else {
            Err(self.unsupported(op, "only the main database file has shared memory"))
        }
    }

    /// A byte count or offset as an index into the data, or EFBIG.
    fn index(&self, op: Op, offset: u64, value: Option<u64>) -> Result<usize> {
        let within = value.filter(|&v| v <= self.fs.max_file_size);
        within.and_then(|v| usize::try_from(v).ok()).ok_or_else(|| {
            Error::io_at(op, &self.path, offset, io::Error::from_raw_os_error(libc::EFBIG))
        })
    }
}

impl VfsFile for MemoryFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        let data = self.node.data.read();
        let n_read = match usize::try_from(offset) {
            Ok(start) if start < data.len() => buf.len().min(data.len() - start),
            _ => 0,
        };
        if n_read > 0 {
            // `n_read > 0` implies `offset` fits and is inside the data.
            let start = offset as usize;
            buf[..n_read].copy_from_slice(&data[start..start + n_read]);
        }
        buf[n_read..].fill(0);
        Ok(if n_read == buf.len() { ReadOutcome::Full } else { ReadOutcome::Short { n_read } })
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        self.require_writable(Op::Write)?;
        if buf.is_empty() {
            // A write of nothing does not extend the file (pwrite of 0 bytes).
            return Ok(());
        }
        let start = self.index(Op::Write, offset, Some(offset))?;
        let end = self.index(Op::Write, offset, offset.checked_add(buf.len() as u64))?;
        let mut data = self.node.data.write();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }

    fn truncate(&self, size: u64) -> Result<()> {
        self.require_writable(Op::Truncate)?;
        let size = self.index(Op::Truncate, size, Some(size))?;
        self.node.data.write().resize(size, 0);
        Ok(())
    }

    /// Memory is as durable as it gets here: nothing to do.
    fn sync(&self, _flags: SyncFlags) -> Result<()> {
        Ok(())
    }

    fn size(&self) -> Result<u64> {
        Ok(self.node.data.read().len() as u64)
    }

    fn lock(&self, level: LockLevel) -> Result<()> {
        self.handle.lock(level, &self.path)
    }

    fn unlock(&self, level: LockLevel) -> Result<()> {
        self.handle.unlock(level, &self.path)
    }

    fn lock_level(&self) -> LockLevel {
        self.handle.lock_level()
    }

    fn check_reserved_lock(&self) -> Result<bool> {
        self.handle.check_reserved()
    }

    fn sector_size(&self) -> u32 {
        self.fs.sector_size
    }

    fn device_characteristics(&self) -> DeviceCharacteristics {
        self.fs.device_characteristics
    }

    /// Regions live in the heap; read-only handles may map and store too (nothing outside the
    /// process could be harmed).
    fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        self.require_shm(Op::ShmMap)?;
        self.handle.shm_map(region, extend)
    }

    /// Slots can be locked only once the handle has mapped (as in SQLite, where `xShmLock`
    /// needs the connection's `unixShm` that `xShmMap` creates): before that, [`Error::Misuse`].
    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        self.require_shm(Op::ShmLock)?;
        self.handle.shm_lock(slot, n, kind, &self.path)
    }

    /// Releases this handle's slots and detaches it; the last handle to detach drops the shm
    /// node. `delete` changes nothing: there is no `-shm` file, and a dropped node is gone.
    fn shm_unmap(&self, _delete: bool) -> Result<()> {
        self.handle.shm_unmap(&self.path)
    }

    /// The memory VFS never maps: the cap is always 0.
    fn set_mmap_limit(&self, _limit: u64) -> Result<u64> {
        Ok(0)
    }

    /// Always `None`: the memory VFS has no memory map (its bytes move when the file grows), so
    /// callers read pages with [`VfsFile::read_at`].
    fn fetch(&self, _offset: u64, _len: usize) -> Result<Option<MappedPage>> {
        Ok(None)
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        // Cannot fail: no process locks are involved, and NONE is a legal target from any level.
        let released = self.handle.release(&self.path);
        debug_assert!(released.is_ok(), "memory handle release failed: {released:?}");
        if self.delete_on_close {
            let mut files = self.fs.files.lock();
            // Only if the name still means this file: it may have been deleted and re-created.
            if files.get(&self.key).is_some_and(|node| Arc::ptr_eq(node, &self.node)) {
                files.remove(&self.key);
            }
        }
    }
}

/// `path` made absolute with `.` and `..` removed lexically (no directories exist to consult).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

/// A seed that differs between [`MemoryVfs`] values and between runs.
fn fresh_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Rng::new(nanos ^ count.rotate_left(32)).next_u64()
}

#[cfg(test)]
mod tests;
