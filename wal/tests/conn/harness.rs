//! What the `Wal` tests share: a database on some VFS, connections on separate handles of it
//! (each holding SHARED on the database for its life, as a WAL connection in SQLite does),
//! page images that name their page and version, reads through a snapshot, a recording VFS
//! that logs every write and sync, and readers of the log and the wal-index.

use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::{
    AccessCheck, DeviceCharacteristics, FileKind, LockLevel, MappedPage, OpenFlags, ReadOutcome,
    ShmLockKind, ShmRegion, SyncFlags, Vfs, VfsFile,
};
use folio_wal::index::{self, CkptInfo, HeaderCopy, IndexHeader};
use folio_wal::{scan, wal_path, Checkpoint, CheckpointMode, Wal, WalOptions, WalScan};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A database file on a VFS (kept alive by `_dir` for the OS VFS).
pub struct Db {
    pub vfs: Arc<dyn Vfs>,
    pub path: PathBuf,
    pub page_size: u32,
    pub _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// A database on a fresh memory VFS.
    pub fn memory(page_size: u32) -> Db {
        Db::on(Arc::new(MemoryVfs::new()), PathBuf::from("/db/test.db"), page_size)
    }

    /// A database in a fresh temporary directory on the OS VFS.
    pub fn os(page_size: u32) -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.db");
        Db { _dir: Some(dir), ..Db::on(Arc::new(OsVfs::new()), path, page_size) }
    }

    /// A database at `path` on `vfs`.
    pub fn on(vfs: Arc<dyn Vfs>, path: PathBuf, page_size: u32) -> Db {
        Db { vfs, path, page_size, _dir: None }
    }

    pub fn wal_path(&self) -> PathBuf {
        wal_path(&self.path)
    }

    pub fn shm_path(&self) -> PathBuf {
        folio_vfs::format::Sidecar::Shm.path_of(&self.path)
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.vfs.access(path, AccessCheck::Exists).expect("access")
    }

    /// A connection with the default options (synchronous FULL, shared-memory index).
    pub fn conn(&self) -> Conn {
        self.conn_with(WalOptions::default())
    }

    /// A connection: its own database handle (SHARED, or EXCLUSIVE for a heap index) and Wal.
    pub fn conn_with(&self, opts: WalOptions) -> Conn {
        let db = self.open_db();
        db.lock(LockLevel::Shared).expect("SHARED on the database");
        if opts.heap_index {
            db.lock(LockLevel::Exclusive).expect("EXCLUSIVE for a heap index");
        }
        let wal = Wal::open(Arc::clone(&self.vfs), Arc::clone(&db), opts).expect("Wal::open");
        Conn { db, wal: Some(wal), page_size: self.page_size }
    }

    /// A new handle of the database file (no lock).
    pub fn open_db(&self) -> Arc<dyn VfsFile> {
        Arc::from(
            self.vfs
                .open(Some(&self.path), OpenFlags::create(FileKind::MainDb))
                .expect("open the database"),
        )
    }

    /// Every byte of a file (empty if it does not exist).
    pub fn file_bytes(&self, path: &Path) -> Vec<u8> {
        if !self.exists(path) {
            return Vec::new();
        }
        let f = self.vfs.open(Some(path), OpenFlags::read_only(FileKind::Wal)).expect("open");
        let mut buf = vec![0u8; f.size().expect("size") as usize];
        f.read_at(0, &mut buf).expect("read");
        buf
    }

    pub fn file_size(&self, path: &Path) -> u64 {
        if !self.exists(path) {
            return 0;
        }
        let f = self.vfs.open(Some(path), OpenFlags::read_only(FileKind::Wal)).expect("open");
        f.size().expect("size")
    }

    /// The log as SQLite's recovery reads it.
    pub fn scan(&self) -> WalScan {
        let f = self
            .vfs
            .open(Some(&self.wal_path()), OpenFlags::read_only(FileKind::Wal))
            .expect("open the log");
        scan(&*f).expect("scan")
    }

    /// Asserts that every frame in the log is valid up to the last commit and that the log
    /// holds `max_frame` committed frames and nothing after them.
    pub fn assert_log_valid(&self, max_frame: u32, what: &str) -> WalScan {
        let s = self.scan();
        assert!(s.header.is_some(), "{what}: the log header is ignored: {:?}", s.ignored);
        assert_eq!(s.max_frame, max_frame, "{what}: committed frames in the log ({:?})", s.end);
        assert!(s.uncommitted.is_empty(), "{what}: uncommitted frames {:?}", s.uncommitted);
        s
    }

    /// The database file's page `page_no` (zeros past its end).
    pub fn db_page(&self, page_no: u32) -> Vec<u8> {
        let f = self.open_db();
        let mut buf = vec![0u8; self.page_size as usize];
        f.read_at(u64::from(page_no - 1) * u64::from(self.page_size), &mut buf).expect("read");
        buf
    }

    pub fn db_size(&self) -> u64 {
        self.open_db().size().expect("size")
    }
}

/// One connection: a database handle holding SHARED and a `Wal` on it.
pub struct Conn {
    pub db: Arc<dyn VfsFile>,
    pub wal: Option<Wal>,
    pub page_size: u32,
}

impl Conn {
    pub fn wal(&mut self) -> &mut Wal {
        self.wal.as_mut().expect("open")
    }

    /// Starts a read transaction; returns `changed`.
    pub fn begin_read(&mut self) -> bool {
        self.wal().begin_read().expect("begin_read")
    }

    pub fn end_read(&mut self) {
        self.wal().end_read();
    }

    /// Page `page_no` as this connection's snapshot sees it (the log's newest frame in the
    /// snapshot, else the database file, zeros past its end).
    pub fn read(&mut self, page_no: u32) -> Vec<u8> {
        let mut buf = vec![0u8; self.page_size as usize];
        match self.wal().find_frame(page_no).expect("find_frame") {
            Some(frame) => self.wal().read_frame(frame, &mut buf).expect("read_frame"),
            None => {
                let offset = u64::from(page_no - 1) * u64::from(self.page_size);
                let _: ReadOutcome = self.db.read_at(offset, &mut buf).expect("read the db");
            }
        }
        buf
    }

    pub fn find(&mut self, page_no: u32) -> Option<u32> {
        self.wal().find_frame(page_no).expect("find_frame")
    }

    /// Starts a write transaction (and the read transaction under it, if none is open).
    pub fn begin_write(&mut self) -> folio_wal::Result<()> {
        if !self.wal().in_read() {
            self.wal().begin_read()?;
        }
        let r = self.wal().begin_write();
        if r.is_err() {
            self.wal().end_read();
        }
        r
    }

    /// Writes frames in the open write transaction.
    pub fn write(&mut self, pages: &[(u32, Vec<u8>)], commit: Option<u32>) {
        let ps = self.page_size;
        let refs: Vec<(u32, &[u8])> = pages.iter().map(|(p, d)| (*p, &d[..])).collect();
        self.wal().write_frames(ps, &refs, commit).expect("write_frames");
    }

    /// A whole write transaction: read, write, commit with `db_pages`, end.
    pub fn commit(&mut self, pages: &[(u32, Vec<u8>)], db_pages: u32) {
        self.begin_write().expect("begin_write");
        self.write(pages, Some(db_pages));
        self.wal().end_write();
        self.wal().end_read();
    }

    pub fn checkpoint(&mut self, mode: CheckpointMode) -> Checkpoint {
        let ps = self.page_size;
        self.wal().checkpoint(mode, ps, None).expect("checkpoint")
    }

    /// The live wal-index header (copy 1) and checkpoint info, through this connection's
    /// handle (which must have mapped the index already).
    pub fn index(&self) -> (IndexHeader, CkptInfo) {
        let r0 = self.region0();
        (index::load_header_copy(&r0, HeaderCopy::First), CkptInfo::load(&r0))
    }

    pub fn region0(&self) -> ShmRegion {
        self.db.shm_map(0, false).expect("shm_map").expect("region 0 is mapped")
    }

    /// Closes the Wal (`last`: after taking EXCLUSIVE on the database, as the caller of
    /// `sqlite3WalClose` does); returns whether the files were deleted.
    pub fn close(mut self, last: bool) -> bool {
        let wal = self.wal.take().expect("open");
        if last {
            self.db.lock(LockLevel::Exclusive).expect("EXCLUSIVE for the last close");
        }
        let deleted = wal.close(last, false, self.page_size).expect("close");
        self.db.unlock(LockLevel::None).expect("unlock");
        deleted
    }
}

/// A page image that names its page and version in its first 8 bytes, the rest derived from
/// both. Version 0 is the zero page (never written).
pub fn image(page_size: u32, page_no: u32, version: u32) -> Vec<u8> {
    let mut out = vec![0u8; page_size as usize];
    if version == 0 {
        return out;
    }
    out[..4].copy_from_slice(&page_no.to_be_bytes());
    out[4..8].copy_from_slice(&version.to_be_bytes());
    let mut x = (u64::from(page_no) << 32 | u64::from(version)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in out[8..].chunks_mut(8) {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// (page, version) named by an image's first bytes, for messages.
pub fn label(data: &[u8]) -> (u32, u32) {
    let word = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().expect("4 bytes"));
    (word(0), word(4))
}

/// Images of `pages` at `version`.
pub fn images(page_size: u32, pages: &[u32], version: u32) -> Vec<(u32, Vec<u8>)> {
    pages.iter().map(|&p| (p, image(page_size, p, version))).collect()
}

// ----- a recording VFS ---------------------------------------------------------------------

/// One operation a file of a [`RecordingVfs`] performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Write { path: PathBuf, offset: u64, len: u64 },
    Sync { path: PathBuf },
    Truncate { path: PathBuf, size: u64 },
    Writeback { path: PathBuf, offset: u64, len: u64 },
}

/// Wraps a VFS and records every write, sync, truncate and write-back hint of its files, in
/// order, and counts the memory-mapped ranges its files hand out.
#[derive(Clone)]
pub struct RecordingVfs {
    inner: Arc<dyn Vfs>,
    log: Arc<Mutex<Vec<Event>>>,
    maps: Arc<MapCounts>,
}

impl RecordingVfs {
    pub fn new(inner: Arc<dyn Vfs>) -> Self {
        RecordingVfs { inner, log: Arc::new(Mutex::new(Vec::new())), maps: Arc::default() }
    }

    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.log.lock().expect("log"))
    }

    /// Ranges handed out by `fetch` so far, of files whose path ends with `suffix`.
    pub fn fetched(&self, suffix: &str) -> u64 {
        self.maps.count(&self.maps.fetched, suffix)
    }

    /// Ranges handed out by `fetch` and still alive, of files whose path ends with `suffix`.
    pub fn mapped_now(&self, suffix: &str) -> u64 {
        self.fetched(suffix) - self.maps.count(&self.maps.released, suffix)
    }
}

/// Per path: ranges fetched, and those of them dropped since.
#[derive(Default)]
struct MapCounts {
    fetched: Mutex<Vec<PathBuf>>,
    released: Mutex<Vec<PathBuf>>,
}

impl MapCounts {
    fn count(&self, list: &Mutex<Vec<PathBuf>>, suffix: &str) -> u64 {
        let list = list.lock().expect("map counts");
        list.iter().filter(|p| p.to_string_lossy().ends_with(suffix)).count() as u64
    }
}

/// A mapped range that records its own drop, over the inner VFS's.
struct CountedPage {
    page: MappedPage,
    path: PathBuf,
    maps: Arc<MapCounts>,
}

impl AsRef<[u8]> for CountedPage {
    fn as_ref(&self) -> &[u8] {
        &self.page
    }
}

impl Drop for CountedPage {
    fn drop(&mut self) {
        self.maps.released.lock().expect("map counts").push(self.path.clone());
    }
}

impl Vfs for RecordingVfs {
    fn name(&self) -> &str {
        "recording"
    }
    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> folio_vfs::Result<Box<dyn VfsFile>> {
        let inner = self.inner.open(path, flags)?;
        Ok(Box::new(RecordingFile {
            inner,
            log: Arc::clone(&self.log),
            maps: Arc::clone(&self.maps),
        }))
    }
    fn delete(&self, path: &Path, sync_dir: bool) -> folio_vfs::Result<()> {
        self.inner.delete(path, sync_dir)
    }
    fn access(&self, path: &Path, check: AccessCheck) -> folio_vfs::Result<bool> {
        self.inner.access(path, check)
    }
    fn full_path(&self, path: &Path) -> folio_vfs::Result<PathBuf> {
        self.inner.full_path(path)
    }
    fn randomness(&self, buf: &mut [u8]) -> folio_vfs::Result<()> {
        self.inner.randomness(buf)
    }
    fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration)
    }
}

struct RecordingFile {
    inner: Box<dyn VfsFile>,
    log: Arc<Mutex<Vec<Event>>>,
    maps: Arc<MapCounts>,
}

impl RecordingFile {
    fn record(&self, e: Event) {
        self.log.lock().expect("log").push(e);
    }
}

impl VfsFile for RecordingFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> folio_vfs::Result<ReadOutcome> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> folio_vfs::Result<()> {
        let path = self.path().to_path_buf();
        self.record(Event::Write { path, offset, len: buf.len() as u64 });
        self.inner.write_at(offset, buf)
    }
    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> folio_vfs::Result<()> {
        // One write of the buffers' total length, as the inner VFS is asked for one.
        let path = self.path().to_path_buf();
        let len = bufs.iter().map(|b| b.len() as u64).sum();
        self.record(Event::Write { path, offset, len });
        self.inner.write_vectored_at(offset, bufs)
    }
    fn truncate(&self, size: u64) -> folio_vfs::Result<()> {
        self.record(Event::Truncate { path: self.path().to_path_buf(), size });
        self.inner.truncate(size)
    }
    fn sync(&self, flags: SyncFlags) -> folio_vfs::Result<()> {
        self.record(Event::Sync { path: self.path().to_path_buf() });
        self.inner.sync(flags)
    }
    fn start_writeback(&self, offset: u64, len: u64) -> folio_vfs::Result<()> {
        self.record(Event::Writeback { path: self.path().to_path_buf(), offset, len });
        self.inner.start_writeback(offset, len)
    }
    fn size(&self) -> folio_vfs::Result<u64> {
        self.inner.size()
    }
    fn lock(&self, level: LockLevel) -> folio_vfs::Result<()> {
        self.inner.lock(level)
    }
    fn unlock(&self, level: LockLevel) -> folio_vfs::Result<()> {
        self.inner.unlock(level)
    }
    fn lock_level(&self) -> LockLevel {
        self.inner.lock_level()
    }
    fn check_reserved_lock(&self) -> folio_vfs::Result<bool> {
        self.inner.check_reserved_lock()
    }
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }
    fn device_characteristics(&self) -> DeviceCharacteristics {
        self.inner.device_characteristics()
    }
    fn shm_map(&self, region: u32, extend: bool) -> folio_vfs::Result<Option<ShmRegion>> {
        self.inner.shm_map(region, extend)
    }
    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> folio_vfs::Result<()> {
        self.inner.shm_lock(slot, n, kind)
    }
    fn shm_barrier(&self) {
        self.inner.shm_barrier()
    }
    fn shm_unmap(&self, delete: bool) -> folio_vfs::Result<()> {
        self.inner.shm_unmap(delete)
    }
    fn set_mmap_limit(&self, limit: u64) -> folio_vfs::Result<u64> {
        self.inner.set_mmap_limit(limit)
    }
    fn fetch(&self, offset: u64, len: usize) -> folio_vfs::Result<Option<MappedPage>> {
        let Some(page) = self.inner.fetch(offset, len)? else { return Ok(None) };
        let path = self.path().to_path_buf();
        self.maps.fetched.lock().expect("map counts").push(path.clone());
        let counted = CountedPage { page, path, maps: Arc::clone(&self.maps) };
        Ok(Some(MappedPage::new(Arc::new(counted), 0, len)))
    }
    fn unmap(&self) {
        self.inner.unmap()
    }
}
