//! folio-vfs: the bottom layer of Folio, the same job as SQLite's `sqlite3_vfs` and
//! `sqlite3_io_methods` (versions 1 to 3).
//!
//! * [`Vfs`] opens, deletes and checks files; [`VfsFile`] reads and writes at offsets, syncs,
//!   truncates, takes SQLite's five database lock levels ([`LockLevel`]), maps the `-shm`
//!   wal-index in 32 KiB regions ([`ShmRegion`]) with its eight lock slots, and hands out
//!   memory-mapped pages of the database ([`MappedPage`]) up to a cap.
//! * [`os::OsVfs`] (Unix) does this on real files with SQLite's exact byte-range lock protocol,
//!   so Folio processes and stock sqlite3 processes exclude each other correctly.
//! * [`memory::MemoryVfs`] keeps files in memory, shared by every handle opened through the same
//!   value, with the same lock and shared-memory semantics: fast tests.
//! * [`sync`] is the concurrency facade (std normally, loom under `cfg(loom)`).
//!
//! Architecture invariants:
//! * This crate knows nothing of pages, journals, WAL frames or b-trees: it moves bytes and
//!   arbitrates locks. Offsets and lengths are the caller's business. The one exception is
//!   [`format`](mod@format): the few rules the formats above share (page- and sector-size
//!   ranges, sidecar file names), written once at the lowest crate that all of them use.
//! * Lock arbitration between handles of one process lives in one place, [`lock`] (database
//!   locks) and [`shm`] (slot locks), used by every VFS; the OS VFS adds the `fcntl` calls.
//! * Shared memory is never exposed as a Rust reference: [`ShmRegion`] has atomic accessors only
//!   (a reference into memory another process writes is undefined behaviour; an atomic access
//!   is not).
//! * `unsafe` lives only in the OS VFS's system-call and mapping code and in the view of a mapped
//!   `-shm` region as atomic words (`shm/mapped.rs`), each block justified.

pub mod error;
pub mod format;
#[cfg(not(loom))]
pub mod local;
pub mod lock;
#[cfg(not(loom))]
pub mod memory;
#[cfg(all(unix, not(loom)))]
pub mod os;
#[cfg(not(loom))]
pub mod rng;
pub mod seed;
pub mod shm;
#[cfg(not(loom))]
pub mod sim;
pub mod sync;

use std::path::{Path, PathBuf};
use std::sync::Arc as StdArc;
use std::time::Duration;

pub use error::{CantOpenReason, Error, Lock, Misuse, Op, Result};
pub use lock::LockLevel;
pub use shm::{ShmLockKind, ShmRegion, SHM_NLOCK, SHM_REGION_SIZE};

/// Byte offset of SQLite's PENDING byte (`PENDING_BYTE`, os.h): 0x40000000.
pub const PENDING_BYTE: u64 = 0x4000_0000;
/// Byte offset of the RESERVED byte: `PENDING_BYTE + 1`.
pub const RESERVED_BYTE: u64 = PENDING_BYTE + 1;
/// First byte of the range readers lock shared: `PENDING_BYTE + 2`.
pub const SHARED_FIRST: u64 = PENDING_BYTE + 2;
/// Length of the shared range: 510 bytes.
pub const SHARED_SIZE: u64 = 510;
/// SQLite's default sector size (`SQLITE_DEFAULT_SECTOR_SIZE`).
pub const DEFAULT_SECTOR_SIZE: u32 = 4096;
/// SQLite's hard cap on the mmap size on Linux and most Unixes (`SQLITE_MAX_MMAP_SIZE`).
pub const MAX_MMAP_SIZE: u64 = 0x7fff_0000;

/// What a file is for; SQLite passes the same distinction in `xOpen`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The main database file.
    MainDb,
    /// The rollback journal of the main database (`<db>-journal`).
    MainJournal,
    /// The write-ahead log (`<db>-wal`).
    Wal,
    /// A super-journal (multi-database commit).
    SuperJournal,
    /// A statement journal or sub-journal.
    SubJournal,
    /// A temporary database.
    TempDb,
    /// The journal of a temporary database.
    TempJournal,
}

impl FileKind {
    /// True for files that carry SQLite's database locks and may have shared memory.
    pub fn is_main_db(self) -> bool {
        self == FileKind::MainDb
    }
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    /// What the file is for.
    pub kind: FileKind,
    /// Open for writing (otherwise read-only).
    pub write: bool,
    /// Create the file if it does not exist (requires `write`).
    pub create: bool,
    /// Fail if the file already exists (with `create`).
    pub exclusive: bool,
    /// Delete the file when the handle is closed.
    pub delete_on_close: bool,
    /// Refuse a path whose last component is a symbolic link (`SQLITE_OPEN_NOFOLLOW`; the OS
    /// VFS opens with `O_NOFOLLOW`). Links in the directories above are still followed, as in
    /// SQLite; [`Vfs::canonical_path`] says whether any was.
    pub no_follow: bool,
    /// Main database only: open its `-shm` read-only, never creating it (SQLite's
    /// `readonly_shm=1` URI parameter). Without it the `-shm` is opened read-write (created if
    /// missing) and read-only only when that is refused. A read-only `-shm` is mapped read-only
    /// ([`ShmRegion::is_read_only`]) and its slots can only be taken shared; see
    /// [`VfsFile::shm_map`]. VFSs whose shared memory is not a file (the memory VFS, the
    /// simulated disk) ignore it.
    pub readonly_shm: bool,
}

impl OpenFlags {
    /// Read-write, creating the file if missing.
    pub fn create(kind: FileKind) -> Self {
        OpenFlags {
            kind,
            write: true,
            create: true,
            exclusive: false,
            delete_on_close: false,
            no_follow: false,
            readonly_shm: false,
        }
    }

    /// Read-write; the file must exist.
    pub fn read_write(kind: FileKind) -> Self {
        OpenFlags { create: false, ..Self::create(kind) }
    }

    /// Read-only; the file must exist.
    pub fn read_only(kind: FileKind) -> Self {
        OpenFlags { write: false, ..Self::read_write(kind) }
    }

    /// The same flags with `exclusive` set (create must not find an existing file).
    pub fn exclusive(self) -> Self {
        OpenFlags { exclusive: true, ..self }
    }

    /// The same flags with `readonly_shm` set (the `-shm` opened read-only, never created).
    pub fn readonly_shm(self) -> Self {
        OpenFlags { readonly_shm: true, ..self }
    }

    /// The same flags with `delete_on_close` set.
    pub fn delete_on_close(self) -> Self {
        OpenFlags { delete_on_close: true, ..self }
    }

    /// The same flags with `no_follow` set (the path must not name a symbolic link).
    pub fn no_follow(self) -> Self {
        OpenFlags { no_follow: true, ..self }
    }

    /// The flags every VFS uses for a temporary file (`open(None, ..)`): a fresh file, read-write,
    /// deleted on close, whatever else was asked.
    pub fn for_temp_file(self) -> Self {
        OpenFlags { write: true, create: true, exclusive: true, delete_on_close: true, ..self }
    }

    /// True if a file opened this way must sync its directory on its first sync: a journal, WAL
    /// or super-journal this open creates, so that its name is durable (SQLite's unix VFS sets
    /// `UNIXFILE_DIRSYNC` for exactly these).
    pub fn syncs_directory_on_first_sync(self) -> bool {
        self.create
            && matches!(self.kind, FileKind::MainJournal | FileKind::Wal | FileKind::SuperJournal)
    }
}

/// What [`Vfs::access`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessCheck {
    /// Does the file exist? (SQLite's `SQLITE_ACCESS_EXISTS`)
    Exists,
    /// Can it be read and written? (`SQLITE_ACCESS_READWRITE`)
    ReadWrite,
}

/// How hard [`VfsFile::sync`] pushes data to stable storage (SQLite's `SQLITE_SYNC_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncFlags {
    /// `SQLITE_SYNC_FULL` rather than `SQLITE_SYNC_NORMAL` (macOS uses `F_FULLFSYNC`).
    pub full: bool,
    /// `SQLITE_SYNC_DATAONLY`: the file size and data matter, other metadata does not
    /// (`fdatasync`).
    pub data_only: bool,
}

impl SyncFlags {
    /// `SQLITE_SYNC_NORMAL`.
    pub const NORMAL: SyncFlags = SyncFlags { full: false, data_only: false };
    /// `SQLITE_SYNC_FULL`.
    pub const FULL: SyncFlags = SyncFlags { full: true, data_only: false };
    /// `SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY`.
    pub const DATA_ONLY: SyncFlags = SyncFlags { full: false, data_only: true };
}

/// Device characteristics (SQLite's `SQLITE_IOCAP_*` bits, same values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct DeviceCharacteristics(pub u32);

impl DeviceCharacteristics {
    /// All writes are atomic.
    pub const ATOMIC: Self = Self(0x1);
    /// Aligned 512-byte writes are atomic.
    pub const ATOMIC512: Self = Self(0x2);
    /// Aligned 1 KiB writes are atomic.
    pub const ATOMIC1K: Self = Self(0x4);
    /// Aligned 2 KiB writes are atomic.
    pub const ATOMIC2K: Self = Self(0x8);
    /// Aligned 4 KiB writes are atomic.
    pub const ATOMIC4K: Self = Self(0x10);
    /// Aligned 8 KiB writes are atomic.
    pub const ATOMIC8K: Self = Self(0x20);
    /// Aligned 16 KiB writes are atomic.
    pub const ATOMIC16K: Self = Self(0x40);
    /// Aligned 32 KiB writes are atomic.
    pub const ATOMIC32K: Self = Self(0x80);
    /// Aligned 64 KiB writes are atomic.
    pub const ATOMIC64K: Self = Self(0x100);
    /// Appends reach the disk before the size change: no garbage past the old end.
    pub const SAFE_APPEND: Self = Self(0x200);
    /// Writes reach the disk in the order they were issued.
    pub const SEQUENTIAL: Self = Self(0x400);
    /// The file can be deleted while open.
    pub const UNDELETABLE_WHEN_OPEN: Self = Self(0x800);
    /// A write never damages bytes outside the range written (SQLite's PSOW).
    pub const POWERSAFE_OVERWRITE: Self = Self(0x1000);
    /// The file never changes.
    pub const IMMUTABLE: Self = Self(0x2000);
    /// Batch-atomic writes are supported.
    pub const BATCH_ATOMIC: Self = Self(0x4000);

    /// No special characteristics.
    pub const NONE: Self = Self(0);

    /// True if every bit of `other` is set here.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// These characteristics with every bit of `other` cleared.
    pub fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl std::ops::BitOr for DeviceCharacteristics {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// What a read found: the whole range, or a short read (the rest of the buffer is zero-filled,
/// as SQLite's `xRead` does before returning `SQLITE_IOERR_SHORT_READ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Every byte asked for existed.
    Full,
    /// Only the first `n_read` bytes existed; the rest of the buffer was zeroed.
    Short {
        /// Bytes that came from the file.
        n_read: usize,
    },
}

impl ReadOutcome {
    /// True for [`ReadOutcome::Short`].
    pub fn is_short(self) -> bool {
        matches!(self, ReadOutcome::Short { .. })
    }
}

/// A read-only view of bytes of the database file straight from a memory map (`xFetch`).
///
/// The mapping stays alive while any `MappedPage` into it exists, even if the file handle remaps
/// or unmaps. Soundness contract: the bytes under a page do not
/// change while it lives only because the caller holds the lock that stops every writer (SHARED
/// in rollback mode; in WAL mode a checkpoint never overwrites a page a reader may read from the
/// database). Only the page's own bytes are ever borrowed, never the whole map: other pages of
/// it may change meanwhile. A foreign process that breaks the protocol by truncating the file
/// can still raise SIGBUS, exactly as it can for SQLite; `mmap_size = 0` avoids mapping
/// altogether.
#[derive(Clone)]
pub struct MappedPage {
    backing: Backing,
    start: usize,
    len: usize,
}

/// What a [`MappedPage`] views.
#[derive(Clone)]
enum Backing {
    /// Bytes a wrapper VFS hands out through [`MappedPage::new`] (its own `as_ref`).
    Bytes(StdArc<dyn AsRef<[u8]> + Send + Sync>),
    /// A file map of this crate, of which only the page's own bytes are ever borrowed: other
    /// parts of a database map may change meanwhile (a checkpoint writing pages no reader of
    /// this page reads), so no reference may span the whole map.
    Map(StdArc<dyn PageSource>),
}

/// A memory map that lends out one range at a time (the OS VFS's file maps).
pub(crate) trait PageSource: Send + Sync {
    /// The map's length in bytes.
    fn len(&self) -> usize;

    /// The bytes `start..start + len`, which must lie inside the map (else a panic); they stay
    /// put while borrowed under [`MappedPage`]'s contract.
    fn range(&self, start: usize, len: usize) -> &[u8];
}

/// True if `start..start + len` lies inside `0..map_len`.
pub(crate) fn range_inside(start: usize, len: usize, map_len: usize) -> bool {
    start.checked_add(len).is_some_and(|end| end <= map_len)
}

impl MappedPage {
    /// A page covering `start..start + len` of `map`, for a VFS that wraps another one's pages
    /// (`map` is typically the inner [`MappedPage`], with `start` 0). Only `start..start + len`
    /// of `map.as_ref()` is read, but `as_ref` itself is `map`'s business.
    ///
    /// # Panics
    /// If the range is not inside the map (a VFS bug, never a disk-content issue).
    pub fn new(map: StdArc<dyn AsRef<[u8]> + Send + Sync>, start: usize, len: usize) -> Self {
        let map_len = (*map).as_ref().len();
        assert!(range_inside(start, len, map_len), "page outside its map");
        MappedPage { backing: Backing::Bytes(map), start, len }
    }

    /// A page covering `start..start + len` of a map of this crate.
    ///
    /// # Panics
    /// If the range is not inside the map.
    pub(crate) fn of_map(map: StdArc<dyn PageSource>, start: usize, len: usize) -> Self {
        assert!(range_inside(start, len, map.len()), "page outside its map");
        MappedPage { backing: Backing::Map(map), start, len }
    }
}

impl std::ops::Deref for MappedPage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.backing {
            Backing::Bytes(map) => &(**map).as_ref()[self.start..self.start + self.len],
            Backing::Map(map) => map.range(self.start, self.len),
        }
    }
}

impl std::fmt::Debug for MappedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedPage").field("start", &self.start).field("len", &self.len).finish()
    }
}

/// A file system: SQLite's `sqlite3_vfs`.
///
/// Object safe: upper layers hold an `Arc<dyn Vfs>` and `Box<dyn VfsFile>`.
pub trait Vfs: Send + Sync {
    /// A short name ("os", "memory", "simulated", …).
    fn name(&self) -> &str;

    /// Opens `path` (a temporary file with a name of the VFS's choosing when `None`; such a file
    /// is always deleted on close).
    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>>;

    /// Deletes `path`; with `sync_dir`, also syncs the directory so the deletion is durable.
    /// Deleting a file that does not exist is an error whose OS code is `ENOENT`.
    fn delete(&self, path: &Path, sync_dir: bool) -> Result<()>;

    /// Answers `check` for `path`.
    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool>;

    /// The canonical absolute form of `path` (the file need not exist; its directory must).
    fn full_path(&self, path: &Path) -> Result<PathBuf>;

    /// [`Vfs::full_path`], and whether a symbolic link was followed to reach it (SQLite's
    /// `SQLITE_OK_SYMLINK`, on which SQLite refuses an `SQLITE_OPEN_NOFOLLOW` open). The
    /// default follows no links: a VFS without them says so.
    fn canonical_path(&self, path: &Path) -> Result<CanonicalPath> {
        Ok(CanonicalPath { path: self.full_path(path)?, via_symlink: false })
    }

    /// Fills `buf` with randomness (salts, nonces); the simulated disk makes this deterministic.
    fn randomness(&self, buf: &mut [u8]) -> Result<()>;

    /// Sleeps for about `duration` (busy handlers use this, never `std::thread::sleep`).
    fn sleep(&self, duration: Duration);

    /// A fresh name for a temporary file, one no file has yet (SQLite's
    /// `SQLITE_FCNTL_TEMPFILENAME`); nothing is created. `None` (the default) when the VFS
    /// does not hand out names; [`Vfs::open`] with no path still makes temporary files.
    fn temp_file_name(&self) -> Option<PathBuf> {
        None
    }
}

/// `size` rounded up to a whole number of `chunk`-byte chunks; `size` itself when `chunk` is 0
/// (SQLite's `unixTruncate` and `fcntlSizeHint` rounding for `SQLITE_FCNTL_CHUNK_SIZE`).
pub fn chunk_rounded(size: u64, chunk: u32) -> u64 {
    match u64::from(chunk) {
        0 => size,
        chunk => size.div_ceil(chunk).saturating_mul(chunk),
    }
}

/// What [`Vfs::canonical_path`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath {
    /// The canonical absolute path.
    pub path: PathBuf,
    /// A symbolic link was followed on the way.
    pub via_symlink: bool,
}

/// An open file: SQLite's `sqlite3_io_methods` v1 to v3.
///
/// Methods take `&self`: a handle can be shared by threads of one connection (the async VFS's
/// writer thread, a checkpointer); the lock state is per handle, as in SQLite.
pub trait VfsFile: Send + Sync {
    /// The path the file was opened with.
    fn path(&self) -> &Path;

    /// Reads `buf.len()` bytes at `offset`. Past end of file the rest of `buf` is zero-filled
    /// and [`ReadOutcome::Short`] says how much was real.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome>;

    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()>;

    /// Writes the buffers back to back at `offset`, as one write where the VFS can (the OS
    /// VFS's `pwritev`): afterwards the file holds their concatenation there, extended if
    /// needed, exactly as after [`VfsFile::write_at`] of the concatenated bytes.
    ///
    /// The default writes each buffer with [`VfsFile::write_at`] at the running offset, so a
    /// VFS or a wrapper that only implements `write_at` (one that counts, records or fails
    /// writes) sees ordinary writes, never a path around it.
    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> Result<()> {
        let mut at = offset;
        for buf in bufs {
            self.write_at(at, buf)?;
            at += buf.len() as u64;
        }
        Ok(())
    }

    /// Sets the file size to `size` bytes (shrinking or extending with zeros).
    fn truncate(&self, size: u64) -> Result<()>;

    /// Pushes written data to stable storage.
    fn sync(&self, flags: SyncFlags) -> Result<()>;

    /// A hint: starts writing the file's dirty bytes in `offset..offset + len` to the device
    /// and returns without waiting, so that a later [`VfsFile::sync`] has less left to wait
    /// for (the OS VFS on Linux: `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Makes nothing
    /// durable and promises no order: only `sync` does, and the kernel may write dirty bytes
    /// back at any time anyway, so a crash can find no state it could not find without the
    /// hint. A writer of many pages followed by a sync (a checkpoint) calls it as it goes, so
    /// the device works while the writer still copies.
    ///
    /// The default does nothing (a VFS without such a call, or whose writes are not in the
    /// OS's page cache yet). Errors are the device's own (`EIO`); a file system that does not
    /// support the call is not an error.
    fn start_writeback(&self, offset: u64, len: u64) -> Result<()> {
        let _ = (offset, len);
        Ok(())
    }

    /// The file size in bytes.
    fn size(&self) -> Result<u64>;

    /// Sets the file's chunk size (SQLite's `SQLITE_FCNTL_CHUNK_SIZE`), 0 for none: from now
    /// on [`VfsFile::truncate`] rounds the size it is given up to a multiple of `bytes` (see
    /// [`chunk_rounded`]), and [`VfsFile::size_hint`] grows the file in whole chunks, so a file
    /// that grows often takes its space a chunk at a time.
    ///
    /// The default ignores it (the chunk size stays 0): a VFS that keeps no chunk size simply
    /// grows on write, which changes no file's contents.
    fn set_chunk_size(&self, bytes: u32) {
        let _ = bytes;
    }

    /// The chunk size in force (0: none), as last set by [`VfsFile::set_chunk_size`] where the
    /// VFS keeps one.
    fn chunk_size(&self) -> u32 {
        0
    }

    /// A hint that the file will soon be `bytes` long (SQLite's `SQLITE_FCNTL_SIZE_HINT`):
    /// with a chunk size set, a file shorter than `bytes` rounded up to the chunk size is
    /// extended to that size now (the OS VFS preallocates with `fallocate` where the file
    /// system has it, else writes one zero byte per block, as SQLite's unix VFS does). The
    /// new bytes read as zeros. Without a chunk size, or by default, nothing happens.
    fn size_hint(&self, bytes: u64) -> Result<()> {
        let _ = bytes;
        Ok(())
    }

    /// Raises this handle's database lock to `level` (never [`LockLevel::Pending`] directly,
    /// never [`LockLevel::None`]). Fails with [`Error::Busy`] on conflict; a failed attempt at
    /// EXCLUSIVE leaves the handle at PENDING, as SQLite does.
    fn lock(&self, level: LockLevel) -> Result<()>;

    /// Lowers this handle's lock to `level` ([`LockLevel::Shared`] or [`LockLevel::None`]).
    fn unlock(&self, level: LockLevel) -> Result<()>;

    /// This handle's current lock level.
    fn lock_level(&self) -> LockLevel;

    /// True if any connection (this process or another) holds RESERVED or stronger.
    fn check_reserved_lock(&self) -> Result<bool>;

    /// True if the name this file was opened under no longer leads to it: the file was
    /// renamed or deleted, or another file took its name (SQLite's `SQLITE_FCNTL_HAS_MOVED`).
    /// A journal or WAL created now would sit beside the wrong database, so a writer must
    /// refuse. The default (a VFS whose names cannot move under an open file) says no.
    fn has_moved(&self) -> Result<bool> {
        Ok(false)
    }

    /// The sector size the journal should assume.
    fn sector_size(&self) -> u32 {
        DEFAULT_SECTOR_SIZE
    }

    /// What the device guarantees about writes.
    fn device_characteristics(&self) -> DeviceCharacteristics {
        DeviceCharacteristics::NONE
    }

    /// Maps wal-index region `region` (32 KiB each, see [`SHM_REGION_SIZE`]). If the `-shm`
    /// file is too small: with `extend` it is grown, else `Ok(None)`. The first mapping of a
    /// database in a process opens the `-shm` file and runs the dead-man-switch protocol: when
    /// no process is using the database, stale contents are discarded. As in SQLite, the OS VFS
    /// does that by truncating the file to 3 bytes, so nothing may rely on bytes 0..3 being zero
    /// afterwards (the wal-index header is validated by its checksum anyway).
    ///
    /// A `-shm` opened read-only (`OpenFlags::readonly_shm`, or read-write refused), as SQLite's
    /// unix VFS does it:
    /// * while another process holds the dead-man switch (someone live keeps the wal-index), the
    ///   regions are mapped read-only: [`ShmRegion::is_read_only`] is true and its stores panic
    ///   before touching the memory (a caller bug, never a fault). A region the file does not
    ///   hold yet is [`Error::ReadOnly`] with [`Op::ShmMap`] (it cannot be grown);
    /// * while nobody holds it, the contents cannot be trusted and nobody can fix them:
    ///   [`Error::ReadOnly`] with [`Op::ShmOpen`] ([`Error::is_shm_cant_init`], SQLite's
    ///   `SQLITE_READONLY_CANTINIT`), and every later call asks again. The slot locks still work
    ///   (shared only), so the caller can build a private wal-index under READ_LOCK(0).
    fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        let _ = (region, extend);
        Err(self.unsupported(Op::ShmMap, "this VFS has no shared memory"))
    }

    /// Takes or releases `n` shm lock slots starting at `slot` (0..[`SHM_NLOCK`]).
    /// Shared requests (and [`ShmLockKind::Downgrade`]) are for one slot; a slot never goes
    /// from shared to exclusive, and from exclusive to shared only by `Downgrade`. Fails with
    /// [`Error::Busy`] on conflict.
    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        let _ = (slot, n, kind);
        Err(self.unsupported(Op::ShmLock, "this VFS has no shared memory"))
    }

    /// A full memory barrier between shared-memory accesses (`xShmBarrier`).
    fn shm_barrier(&self) {
        sync::atomic::fence(sync::atomic::Ordering::SeqCst);
    }

    /// Drops this handle's shared-memory mapping and its slot locks. The last handle of the
    /// process closes the `-shm`; with `delete` it also deletes the file.
    fn shm_unmap(&self, delete: bool) -> Result<()> {
        let _ = delete;
        Ok(())
    }

    /// Sets the cap on how many bytes of the file may be memory-mapped (`PRAGMA mmap_size`),
    /// clamped to [`MAX_MMAP_SIZE`]; returns the cap in force. 0 disables mapping.
    fn set_mmap_limit(&self, limit: u64) -> Result<u64> {
        let _ = limit;
        Ok(0)
    }

    /// Returns `len` bytes at `offset` straight from the memory map, or `None` when that range
    /// is beyond the cap or past end of file (the caller then reads). Never a page past EOF.
    fn fetch(&self, offset: u64, len: usize) -> Result<Option<MappedPage>> {
        let _ = (offset, len);
        Ok(None)
    }

    /// Drops the current mapping (`xUnfetch(0, NULL)`), for when the file changed underneath;
    /// outstanding [`MappedPage`]s keep the old mapping alive until they are dropped.
    fn unmap(&self) {}

    /// Builds an [`Error::Unsupported`] for this file.
    fn unsupported(&self, op: Op, why: &'static str) -> Error {
        Error::Unsupported { op, path: self.path().to_path_buf(), why }
    }
}

impl std::fmt::Debug for dyn VfsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfsFile")
            .field("path", &self.path())
            .field("lock", &self.lock_level())
            .finish_non_exhaustive()
    }
}
