//! The OS VFS for Linux and other Unixes: real files, SQLite's exact lock protocol.
//!
//! * Database locks are `fcntl` byte-range locks on the PENDING byte, the RESERVED byte and the
//!   510-byte SHARED range (SQLite's os_unix.c, `unixLock`), so stock sqlite3 processes and ours
//!   exclude each other. Between handles of this process the per-inode table
//!   ([`crate::lock::InodeLocks`]) decides first, and a descriptor whose close would drop the
//!   process's locks is parked until the last lock on the inode goes (os_unix.c, `unixInodeInfo`).
//! * Shared memory: one `-shm` node per inode per process (`os/shm.rs`), SQLite's dead-man switch
//!   on byte 128 and slot locks on bytes 120..127, 32 KiB regions mapped `MAP_SHARED`.
//! * mmap (`os/mmap.rs`): the first `min(limit, file size)` bytes mapped read-only and shared;
//!   [`crate::VfsFile::fetch`] hands out pages of it and remaps when the file has grown.
//!
//! I/O uses `pread`/`pwrite` through std's `FileExt` and the other system calls std has no word
//! for through rustix (`pwritev`, `fallocate`, `access`); libc only where rustix has no call:
//! `F_SETLK` on a byte range (`os/fcntl.rs`) and `sync_file_range`.

mod fcntl;
mod mmap;
mod shm;

use crate::error::CantOpenReason;
use crate::format::Sidecar;
use crate::lock::{InodeLocks, LockLevel};
use crate::shm::{ShmLockKind, ShmRegion};
use crate::sync::{Arc, Mutex};
use crate::{
    chunk_rounded, AccessCheck, CanonicalPath, DeviceCharacteristics, Error, FileKind, MappedPage,
    Op, OpenFlags, ReadOutcome, Result, SyncFlags, Vfs, VfsFile,
};
use fcntl::FcntlLocks;
use rustix::io::Errno;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IoSlice, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{OnceLock, Weak};
use std::time::Duration;

/// Permission bits of files created without a database to copy them from.
const DEFAULT_FILE_MODE: u32 = 0o644;

/// The most symbolic links one name may lead through (SQLite's `SQLITE_MAX_SYMLINK`).
pub const MAX_SYMLINKS: u32 = 100;

/// The OS VFS. Cheap to create; all instances share the process-wide inode table.
#[derive(Debug, Default, Clone)]
pub struct OsVfs {
    _private: (),
}

impl OsVfs {
    /// The OS VFS.
    pub fn new() -> Self {
        OsVfs { _private: () }
    }
}

/// Identity of an open file: device and inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId {
    dev: u64,
    ino: u64,
}

/// Everything this process shares about one inode (SQLite's `unixInodeInfo`): the lock table
/// entry (whose payload parks descriptors that must not be closed yet) and the `-shm` node.
pub(crate) struct Inode {
    locks: InodeLocks<Vec<Parked>>,
    shm: Mutex<Weak<shm::ShmNode>>,
}

/// A descriptor of a closed handle, kept open because closing it would drop the process's
/// locks on the inode (SQLite's `UnixUnusedFd`). The next open of the same inode with the same
/// access takes it back, so parked descriptors never pile up; the last unlock closes the rest.
struct Parked {
    file: File,
    /// The open asked for write access (what a later open must ask for to take it back).
    asked_write: bool,
    /// It was opened, or fell back to, read-only.
    read_only: bool,
}

fn inode_table() -> &'static Mutex<HashMap<FileId, Weak<Inode>>> {
    static TABLE: OnceLock<Mutex<HashMap<FileId, Weak<Inode>>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A parked descriptor of the database `path` names now, opened with the access `flags` asks
/// for (SQLite's `findReusableFd`), if this process has one.
fn take_parked(path: &Path, flags: OpenFlags) -> Option<Parked> {
    if flags.kind != FileKind::MainDb || (flags.create && flags.exclusive) {
        return None;
    }
    // With `no_follow` a link is never resolved here: its open must fail with ELOOP.
    let meta =
        if flags.no_follow { std::fs::symlink_metadata(path) } else { std::fs::metadata(path) };
    let meta = meta.ok().filter(|m| m.is_file())?;
    let id = FileId { dev: meta.dev(), ino: meta.ino() };
    let inode = inode_table().lock().get(&id).and_then(Weak::upgrade)?;
    let mut state = inode.locks.state();
    let at = state.extra.iter().position(|p| p.asked_write == flags.write)?;
    Some(state.extra.swap_remove(at))
}

fn inode_for(id: FileId) -> Arc<Inode> {
    let mut table = inode_table().lock();
    if let Some(inode) = table.get(&id).and_then(Weak::upgrade) {
        return inode;
    }
    table.retain(|_, weak| weak.strong_count() > 0);
    let inode = Arc::new(Inode { locks: InodeLocks::new(), shm: Mutex::new(Weak::new()) });
    table.insert(id, Arc::downgrade(&inode));
    inode
}

/// A unique name for a temporary file in the system's temporary directory.
fn temp_path() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut salt = [0u8; 8];
    // Randomness only makes collisions with other processes unlikely; a failure is harmless
    // because `create_new` refuses an existing name.
    let _ = read_urandom(&mut salt);
    std::env::temp_dir().join(format!(
        "folio-tmp-{}-{n}-{:016x}",
        std::process::id(),
        u64::from_ne_bytes(salt)
    ))
}

fn read_urandom(buf: &mut [u8]) -> io::Result<()> {
    File::open("/dev/urandom")?.read_exact(buf)
}

/// The permission bits and owner a journal, WAL or `-shm` of the database `db_path` gets: the
/// database's own, as SQLite does (`findCreateFileMode`, `robust_open`, `robustFchown`), so
/// every user who can write the database can also open and recover it.
#[derive(Debug, Clone, Copy)]
struct SidecarOwner {
    mode: u32,
    uid: u32,
    gid: u32,
}

impl SidecarOwner {
    /// The database's mode and owner, or `None` if it cannot be examined.
    fn of(db_path: &Path) -> Option<SidecarOwner> {
        let meta = std::fs::metadata(db_path).ok()?;
        Some(SidecarOwner { mode: meta.mode() & 0o777, uid: meta.uid(), gid: meta.gid() })
    }

    /// Gives `file`, just opened, the database's mode and owner: the mode if the file is empty
    /// and the umask cut bits from it (SQLite's `robust_open` does the same `fchmod`), the owner
    /// when this process runs as root (otherwise `fchown` could not succeed). Failures are
    /// ignored, as SQLite ignores them: the file works either way, only for fewer users.
    fn apply(self, file: &File) {
        if let Ok(meta) = file.metadata() {
            if meta.len() == 0 && meta.mode() & 0o777 != self.mode {
                let _ = file.set_permissions(std::fs::Permissions::from_mode(self.mode));
            }
            if running_as_root() && (meta.uid() != self.uid || meta.gid() != self.gid) {
                let _ = std::os::unix::fs::fchown(file, Some(self.uid), Some(self.gid));
            }
        }
    }
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// SQLite's `unixFullPathname`: `path` made absolute (relative to the working directory), `.`
/// and `..` applied, and every symbolic link met on the way replaced by its target (relative
/// targets resolved against the link's directory), at most [`MAX_SYMLINKS`] of them. Elements
/// that do not exist are kept as written, so a database may be named before it is created.
fn resolve_path(path: &Path) -> Result<CanonicalPath> {
    let mut resolver = Resolver { out: Vec::new(), links: 0, original: path };
    if !path.is_absolute() {
        let cwd = std::env::current_dir().map_err(|e| Error::io(Op::FullPath, path, e))?;
        resolver.append_all(cwd.as_os_str().as_bytes())?;
    }
    resolver.append_all(path.as_os_str().as_bytes())?;
    if resolver.out.len() < 2 {
        return Err(Error::io(
            Op::FullPath,
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "the name resolves to the root directory"),
        ));
    }
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&resolver.out));
    Ok(CanonicalPath { path, via_symlink: resolver.links > 0 })
}

/// The state of [`resolve_path`]: the absolute path so far (empty for the root) and the links
/// followed.
struct Resolver<'a> {
    out: Vec<u8>,
    links: u32,
    original: &'a Path,
}

impl Resolver<'_> {
    fn append_all(&mut self, path: &[u8]) -> Result<()> {
        for element in path.split(|&b| b == b'/').filter(|e| !e.is_empty()) {
            self.append_one(element)?;
        }
        Ok(())
    }

    fn append_one(&mut self, name: &[u8]) -> Result<()> {
        match name {
            b"." => return Ok(()),
            b".." => {
                // Everything before is resolved already, so `..` is purely lexical here.
                let parent = self.out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                self.out.truncate(parent);
                return Ok(());
            }
            _ => {}
        }
        self.out.push(b'/');
        self.out.extend_from_slice(name);
        let here = Path::new(std::ffi::OsStr::from_bytes(&self.out));
        let meta = match std::fs::symlink_metadata(here) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(Op::FullPath, self.original, e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(());
        }
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            let e = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("more than {MAX_SYMLINKS} symbolic links on the way"),
            );
            return Err(Error::io(Op::FullPath, self.original, e));
        }
        let target =
            std::fs::read_link(here).map_err(|e| Error::io(Op::FullPath, self.original, e))?;
        let target = target.as_os_str().as_bytes();
        if target.first() == Some(&b'/') {
            self.out.clear();
        } else {
            self.out.truncate(self.out.len() - name.len() - 1);
        }
        self.append_all(target)
    }
}

/// The database whose sidecar (journal or WAL) `path` is, by its name.
fn database_of(path: &Path, kind: FileKind) -> Option<PathBuf> {
    let sidecar = match kind {
        FileKind::MainJournal => Sidecar::Journal,
        FileKind::Wal => Sidecar::Wal,
        _ => return None,
    };
    sidecar.database_of(path)
}

fn cant_open(path: &Path, reason: CantOpenReason, source: Option<io::Error>) -> Error {
    Error::cant_open(path, reason, source)
}

/// Buffers one `pwritev` takes at most: Linux's `UIO_MAXIOV` (POSIX's `IOV_MAX` there).
const IOV_MAX: usize = 1024;

/// One `pwritev` of `slices` (at most [`IOV_MAX`]) at `offset`, retried on `EINTR`: the number
/// of bytes written, which is never 0 for slices that are not all empty (that is an error, as
/// for `write_all_at`).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn pwritev(file: &File, slices: &[IoSlice<'_>], offset: u64) -> io::Result<usize> {
    debug_assert!(slices.len() <= IOV_MAX);
    if i64::try_from(offset).is_err() {
        return Err(Errno::FBIG.into());
    }
    loop {
        match rustix::io::pwritev(file, slices, offset) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "pwritev wrote nothing")),
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Where the C library has no `pwritev` this crate calls (macOS before 11): the slices one
/// after the other, which is what a short `pwritev` would do anyway.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn pwritev(file: &File, slices: &[IoSlice<'_>], offset: u64) -> io::Result<usize> {
    let first = slices.iter().find(|s| !s.is_empty()).map_or(&[][..], |s| &s[..]);
    file.write_all_at(first, offset)?;
    Ok(first.len())
}

/// Starts the write-back of `file`'s dirty pages in `offset..offset + len` without waiting
/// (`sync_file_range` with `SYNC_FILE_RANGE_WRITE` alone: no wait before or after, no
/// metadata). A file system without the call, or a range the kernel refuses, leaves the
/// bytes to the next sync: that is not an error for a hint.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(offset) = libc::off64_t::try_from(offset) else { return Ok(()) };
    // A length past what the call takes means "to the end of the file": 0.
    let len = libc::off64_t::try_from(len).unwrap_or(0);
    loop {
        // SAFETY: a plain system call on a descriptor that stays open while `file` is
        // borrowed; it takes no pointers.
        let rc = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match Errno::from_io_error(&e) {
            Some(Errno::INTR) => continue,
            Some(Errno::INVAL | Errno::SPIPE | Errno::NOSYS | Errno::OPNOTSUPP) => return Ok(()),
            _ => return Err(e),
        }
    }
}

/// Elsewhere there is no such call; the next sync writes everything.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

/// Extends `file` from `from` bytes to `to` bytes by allocating the blocks (`fallocate` with
/// mode 0, which also sets the size), retried on `EINTR`. `Ok(false)` when the file system
/// (or the kernel) has no such call, so the caller writes the blocks instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn allocate(file: &File, from: u64, to: u64) -> io::Result<bool> {
    use rustix::fs::FallocateFlags;
    if i64::try_from(to).is_err() {
        return Err(Errno::FBIG.into());
    }
    loop {
        match rustix::fs::fallocate(file, FallocateFlags::empty(), from, to - from) {
            Ok(()) => return Ok(true),
            Err(Errno::INTR) => {}
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Elsewhere the blocks are written.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn allocate(_file: &File, _from: u64, _to: u64) -> io::Result<bool> {
    Ok(false)
}

/// Extends `file` from `from` bytes to `to` by writing one zero byte at the end of each
/// `block`-byte block, and at byte `to - 1` (SQLite's `fcntlSizeHint` without
/// `posix_fallocate`): the file system allocates each block as it is written. Returns the
/// offset of a write that failed with its error.
fn write_blocks(
    file: &File,
    from: u64,
    to: u64,
    block: u64,
) -> std::result::Result<(), (u64, io::Error)> {
    let mut at = (from / block) * block + block - 1;
    while at < to + block - 1 {
        let byte_at = at.min(to - 1);
        file.write_all_at(&[0], byte_at).map_err(|e| (byte_at, e))?;
        at += block;
    }
    Ok(())
}

fn sync_directory_of(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(Op::SyncDir, path, e))
}

impl Vfs for OsVfs {
    fn name(&self) -> &str {
        "os"
    }

    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        Ok(Box::new(OsFile::open(path, flags)?))
    }

    fn delete(&self, path: &Path, sync_dir: bool) -> Result<()> {
        std::fs::remove_file(path).map_err(|e| Error::io(Op::Delete, path, e))?;
        if sync_dir {
            sync_directory_of(path)?;
        }
        Ok(())
    }

    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool> {
        match check {
            AccessCheck::Exists => match std::fs::metadata(path) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(Error::io(Op::Access, path, e)),
            },
            AccessCheck::ReadWrite => {
                // Permission bits alone mislead (root, ACLs, read-only mounts): ask the kernel.
                // Any refusal means no; only a name no system call can take (one holding a NUL
                // byte) is an error.
                use rustix::fs::Access;
                match rustix::fs::access(path, Access::READ_OK | Access::WRITE_OK) {
                    Ok(()) => Ok(true),
                    Err(e) if path.as_os_str().as_bytes().contains(&0) => {
                        Err(Error::io(Op::Access, path, e.into()))
                    }
                    Err(_) => Ok(false),
                }
            }
        }
    }

    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        resolve_path(path).map(|c| c.path)
    }

    fn canonical_path(&self, path: &Path) -> Result<CanonicalPath> {
        resolve_path(path)
    }

    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        read_urandom(buf).map_err(|e| Error::io(Op::Random, "/dev/urandom", e))
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn temp_file_name(&self) -> Option<PathBuf> {
        Some(temp_path())
    }
}

/// An open file of the OS VFS.
pub struct OsFile {
    /// Always `Some` until `drop`, which closes it or parks it on the inode.
    file: Option<File>,
    path: PathBuf,
    kind: FileKind,
    read_only: bool,
    /// `OpenFlags::readonly_shm`: the `-shm`, if this handle opens it, is opened read-only.
    readonly_shm: bool,
    delete_on_close: bool,
    /// Journals and WALs we created sync their directory on their first sync, so the new
    /// name is durable (SQLite's `UNIXFILE_DIRSYNC`).
    sync_dir_pending: AtomicBool,
    id: FileId,
    inode: Arc<Inode>,
    /// The chunk size set by [`VfsFile::set_chunk_size`] (0: none).
    chunk: AtomicU32,
    lock: Mutex<LockLevel>,
    shm: Mutex<Option<shm::ShmConn>>,
    mmap: Mutex<mmap::MmapState>,
    /// The open asked for write access (a parked descriptor goes back to such an open only).
    asked_write: bool,
}

impl std::fmt::Debug for OsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsFile")
            .field("path", &self.path)
            .field("lock", &*self.lock.lock())
            .finish()
    }
}

impl OsFile {
    fn open(path: Option<&Path>, flags: OpenFlags) -> Result<OsFile> {
        let (path, flags) = match path {
            Some(p) => (p.to_path_buf(), flags),
            None => (temp_path(), flags.for_temp_file()),
        };
        if flags.create && !flags.write {
            return Err(cant_open(&path, CantOpenReason::CreateReadOnly, None));
        }
        let owner = database_of(&path, flags.kind).and_then(|db| SidecarOwner::of(&db));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(flags.write).mode(owner.map_or(DEFAULT_FILE_MODE, |o| o.mode));
        if flags.no_follow {
            options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        if flags.create && flags.exclusive {
            options.create_new(true);
        } else if flags.create {
            options.create(true);
        }
        let opened = match take_parked(&path, flags) {
            Some(parked) => Ok((parked.file, parked.read_only)),
            None => options.open(&path).map(|file| (file, !flags.write)),
        };
        let (file, read_only) = match opened {
            Ok(opened) => opened,
            // As SQLite does, a database we may not write is opened read-only rather than
            // refused; writes then fail with ReadOnly.
            Err(e)
                if flags.write
                    && !flags.create
                    && e.kind() == io::ErrorKind::PermissionDenied
                    && flags.kind == FileKind::MainDb =>
            {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .open(&path)
                    .map_err(|e| cant_open(&path, CantOpenReason::ReadFallback, Some(e)))?;
                (file, true)
            }
            Err(e) => {
                let reason = match e.kind() {
                    io::ErrorKind::NotFound if flags.create => CantOpenReason::NoDirectory,
                    io::ErrorKind::NotFound => CantOpenReason::NotFound,
                    io::ErrorKind::AlreadyExists => CantOpenReason::Exists,
                    io::ErrorKind::PermissionDenied => CantOpenReason::PermissionDenied,
                    _ if Errno::from_io_error(&e) == Some(Errno::ISDIR) => {
                        CantOpenReason::IsDirectory
                    }
                    _ if flags.no_follow && Errno::from_io_error(&e) == Some(Errno::LOOP) => {
                        CantOpenReason::SymlinkNotFollowed
                    }
                    _ => CantOpenReason::OsRefused,
                };
                return Err(cant_open(&path, reason, Some(e)));
            }
        };
        let meta = file.metadata().map_err(|e| cant_open(&path, CantOpenReason::Stat, Some(e)))?;
        if meta.is_dir() {
            return Err(cant_open(&path, CantOpenReason::IsDirectory, None));
        }
        if let (Some(owner), false) = (owner, read_only) {
            owner.apply(&file);
        }
        let id = FileId { dev: meta.dev(), ino: meta.ino() };
        let inode = inode_for(id);
        Ok(OsFile {
            file: Some(file),
            path,
            kind: flags.kind,
            read_only,
            readonly_shm: flags.readonly_shm,
            delete_on_close: flags.delete_on_close,
            sync_dir_pending: AtomicBool::new(flags.syncs_directory_on_first_sync()),
            id,
            inode,
            chunk: AtomicU32::new(0),
            lock: Mutex::new(LockLevel::None),
            shm: Mutex::new(None),
            mmap: Mutex::new(mmap::MmapState::default()),
            asked_write: flags.write,
        })
    }

    fn file(&self) -> &File {
        self.file.as_ref().expect("an OsFile's descriptor is only taken by drop")
    }

    fn locks(&self, op: Op) -> FcntlLocks<'_> {
        FcntlLocks { fd: self.file().as_fd(), path: &self.path, op }
    }

    fn refuse_if_read_only(&self, op: Op) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly { op, path: self.path.clone() });
        }
        Ok(())
    }

    /// The identity of whatever file `path` names now.
    fn id_of_path(&self) -> Option<FileId> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some(FileId { dev: meta.dev(), ino: meta.ino() })
    }

    /// True if the file was opened (or fell back to) read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
}

impl VfsFile for OsFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        let mut done = 0;
        while done < buf.len() {
            match self.file().read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io_at(Op::Read, &self.path, offset, e)),
            }
        }
        if done == buf.len() {
            Ok(ReadOutcome::Full)
        } else {
            buf[done..].fill(0);
            Ok(ReadOutcome::Short { n_read: done })
        }
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        self.refuse_if_read_only(Op::Write)?;
        self.file()
            .write_all_at(buf, offset)
            .map_err(|e| Error::io_at(Op::Write, &self.path, offset, e))
    }

    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> Result<()> {
        self.refuse_if_read_only(Op::Write)?;
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|buf| IoSlice::new(buf)).collect();
        let mut rest = &mut slices[..];
        // Leading empty buffers are dropped here, later ones as the writes pass them.
        IoSlice::advance_slices(&mut rest, 0);
        let mut at = offset;
        while !rest.is_empty() {
            let chunk = rest.len().min(IOV_MAX);
            let written = pwritev(self.file(), &rest[..chunk], at)
                .map_err(|e| Error::io_at(Op::Write, &self.path, at, e))?;
            // A short write (a signal, a full disk on the way to an error) goes on after the
            // last byte written, possibly in the middle of a buffer.
            IoSlice::advance_slices(&mut rest, written);
            at += written as u64;
        }
        Ok(())
    }

    fn truncate(&self, size: u64) -> Result<()> {
        self.refuse_if_read_only(Op::Truncate)?;
        // As SQLite's unixTruncate: with a chunk size, the file keeps whole chunks.
        let size = chunk_rounded(size, self.chunk_size());
        self.file().set_len(size).map_err(|e| Error::io_at(Op::Truncate, &self.path, size, e))?;
        self.mmap.lock().truncated(size);
        Ok(())
    }

    fn sync(&self, flags: SyncFlags) -> Result<()> {
        // On Linux every sync is an `fdatasync`, as in SQLite's unix VFS: its `full_fsync`
        // ignores `dataOnly` and calls `fdatasync` on every system but Apple's, because
        // fdatasync also flushes the file size, the only metadata SQLite needs (os_unix.c's
        // comment, after Ted Ts'o). SQLite built with HAVE_FDATASYNC (by configure, as
        // distributions build it) makes that a real fdatasync; the bare amalgamation without
        // the define falls back to fsync. Linux's fdatasync writes the data and whatever
        // metadata reading it back needs (size, block map); only timestamps and the like may
        // stay behind. Other Unixes keep fsync for syncs that are not data-only (SQLite's own
        // comment: HFS+'s fdatasync did not flush a size change).
        let data_only = cfg!(any(target_os = "linux", target_os = "android")) || flags.data_only;
        let result = if data_only { self.file().sync_data() } else { self.file().sync_all() };
        result.map_err(|e| Error::io(Op::Sync, &self.path, e))?;
        if self.sync_dir_pending.swap(false, Ordering::AcqRel) {
            sync_directory_of(&self.path)?;
        }
        Ok(())
    }

    fn start_writeback(&self, offset: u64, len: u64) -> Result<()> {
        if self.read_only || len == 0 {
            return Ok(());
        }
        start_writeback(self.file(), offset, len)
            .map_err(|e| Error::io_at(Op::Writeback, &self.path, offset, e))
    }

    fn size(&self) -> Result<u64> {
        self.file().metadata().map(|m| m.len()).map_err(|e| Error::io(Op::Size, &self.path, e))
    }

    fn set_chunk_size(&self, bytes: u32) {
        self.chunk.store(bytes, Ordering::Relaxed);
    }

    fn chunk_size(&self) -> u32 {
        self.chunk.load(Ordering::Relaxed)
    }

    fn size_hint(&self, bytes: u64) -> Result<()> {
        let chunk = self.chunk_size();
        if chunk == 0 || self.read_only {
            return Ok(());
        }
        let meta = self.file().metadata().map_err(|e| Error::io(Op::Size, &self.path, e))?;
        let (from, to) = (meta.len(), chunk_rounded(bytes, chunk));
        if to <= from {
            return Ok(());
        }
        let allocated = allocate(self.file(), from, to)
            .map_err(|e| Error::io_at(Op::Write, &self.path, from, e))?;
        if !allocated {
            // The block size the file system reports, as SQLite uses; 4 KiB if it says 0.
            let block = match meta.blksize() {
                0 => 4096,
                b => b,
            };
            write_blocks(self.file(), from, to, block)
                .map_err(|(at, e)| Error::io_at(Op::Write, &self.path, at, e))?;
        }
        Ok(())
    }

    fn lock(&self, level: LockLevel) -> Result<()> {
        let mut held = self.lock.lock();
        self.inode.locks.lock(&mut held, level, &self.locks(Op::Lock), &self.path)
    }

    fn unlock(&self, level: LockLevel) -> Result<()> {
        let mut held = self.lock.lock();
        // Closing the parked descriptors is safe once this process holds no lock on the inode.
        self.inode.locks.unlock(&mut held, level, &self.locks(Op::Unlock), &self.path, Vec::clear)
    }

    fn lock_level(&self) -> LockLevel {
        *self.lock.lock()
    }

    fn check_reserved_lock(&self) -> Result<bool> {
        self.inode.locks.check_reserved(&self.locks(Op::CheckReserved))
    }

    fn has_moved(&self) -> Result<bool> {
        // As the unix VFS's `fileHasMoved`, plus the link count its `verifyDbFile` checks: the
        // name leads nowhere or to another inode, or no name leads to ours.
        let meta = self.file().metadata().map_err(|e| Error::io(Op::Size, &self.path, e))?;
        Ok(meta.nlink() == 0 || self.id_of_path() != Some(self.id))
    }

    fn device_characteristics(&self) -> DeviceCharacteristics {
        // SQLite's unix VFS assumes powersafe overwrite by default (`psow=1`).
        DeviceCharacteristics::POWERSAFE_OVERWRITE
    }

    fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        if !self.kind.is_main_db() {
            return Err(
                self.unsupported(Op::ShmMap, "only the main database file has shared memory")
            );
        }
        let mut conn = self.shm.lock();
        if conn.is_none() {
            *conn = Some(shm::ShmConn::open(&self.inode, &self.path, self.readonly_shm)?);
        }
        conn.as_ref().expect("set above").node().map(region, extend)
    }

    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        let mut conn = self.shm.lock();
        match conn.as_mut() {
            Some(conn) => conn.lock(slot, n, kind),
            None => Err(Error::misuse(&self.path, crate::Misuse::ShmLockBeforeMap)),
        }
    }

    fn shm_unmap(&self, delete: bool) -> Result<()> {
        match self.shm.lock().take() {
            Some(conn) => conn.close(&self.inode, delete),
            None => Ok(()),
        }
    }

    fn set_mmap_limit(&self, limit: u64) -> Result<u64> {
        Ok(self.mmap.lock().set_limit(limit))
    }

    fn fetch(&self, offset: u64, len: usize) -> Result<Option<MappedPage>> {
        self.mmap.lock().fetch(self.file(), &self.path, offset, len)
    }

    fn unmap(&self) {
        self.mmap.lock().unmap();
    }
}

impl Drop for OsFile {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; a failure here leaves at worst a lock that the
        // OS drops when the descriptor finally closes.
        let _ = self.shm_unmap(false);
        let _ = self.unlock(LockLevel::None);
        {
            // Closing our descriptor while another handle of this process holds a lock on the
            // inode would drop that handle's POSIX locks: park it instead until the last lock
            // goes (SQLite's `unixClose` / `setPendingFd`).
            // The close happens under the entry's mutex, so no other handle can take a lock
            // between the check and the close.
            let mut state = self.inode.locks.state();
            let file = self.file.take();
            if state.n_lock > 0 {
                let (asked_write, read_only) = (self.asked_write, self.read_only);
                state.extra.extend(file.map(|file| Parked { file, asked_write, read_only }));
            } else {
                drop(file);
            }
        }
        if self.delete_on_close && self.id_of_path() == Some(self.id) {
            // Only if the name still refers to our file, not to one created later under it.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests;
