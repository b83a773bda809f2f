//! A `Vfs` wrapper that counts memory-mapped pages: how many `fetch` calls handed a page out, and
//! how many of those pages are still alive. Under the SQLite bridge a page stays alive exactly
//! from `xFetch` to `xUnfetch`, so "fetched > 0" shows SQLite read through the map and
//! "outstanding == 0" after close shows every page went back.

use folio_vfs::{
    AccessCheck, DeviceCharacteristics, LockLevel, MappedPage, OpenFlags, ReadOutcome, Result,
    ShmLockKind, ShmRegion, SyncFlags, Vfs, VfsFile,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The counters of a [`CountingVfs`], shared by its files.
#[derive(Debug, Default)]
pub struct FetchCounts {
    fetched: AtomicU64,
    released: AtomicU64,
}

impl FetchCounts {
    /// Pages handed out by `fetch`.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::SeqCst)
    }

    /// Pages handed out and not yet dropped.
    pub fn outstanding(&self) -> u64 {
        self.fetched() - self.released.load(Ordering::SeqCst)
    }
}

/// Wraps a VFS and counts the mapped pages its files hand out.
pub struct CountingVfs {
    inner: Arc<dyn Vfs>,
    counts: Arc<FetchCounts>,
}

impl CountingVfs {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Vfs>) -> Self {
        CountingVfs { inner, counts: Arc::default() }
    }

    /// The counters (shared: keep a clone before handing the VFS away).
    pub fn counts(&self) -> Arc<FetchCounts> {
        Arc::clone(&self.counts)
    }
}

struct CountingFile {
    inner: Box<dyn VfsFile>,
    counts: Arc<FetchCounts>,
}

/// A page that counts its own drop, over the inner VFS's page.
struct CountedPage {
    page: MappedPage,
    counts: Arc<FetchCounts>,
}

impl AsRef<[u8]> for CountedPage {
    fn as_ref(&self) -> &[u8] {
        &self.page
    }
}

impl Drop for CountedPage {
    fn drop(&mut self) {
        self.counts.released.fetch_add(1, Ordering::SeqCst);
    }
}

impl Vfs for CountingVfs {
    fn name(&self) -> &str {
        "counting"
    }
    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        let inner = self.inner.open(path, flags)?;
        Ok(Box::new(CountingFile { inner, counts: Arc::clone(&self.counts) }))
    }
    fn delete(&self, path: &Path, sync_dir: bool) -> Result<()> {
        self.inner.delete(path, sync_dir)
    }
    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool> {
        self.inner.access(path, check)
    }
    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        self.inner.full_path(path)
    }
    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        self.inner.randomness(buf)
    }
    fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration);
    }
    fn temp_file_name(&self) -> Option<PathBuf> {
        self.inner.temp_file_name()
    }
}

impl VfsFile for CountingFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        self.inner.write_at(offset, buf)
    }
    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> Result<()> {
        self.inner.write_vectored_at(offset, bufs)
    }
    fn truncate(&self, size: u64) -> Result<()> {
        self.inner.truncate(size)
    }
    fn sync(&self, flags: SyncFlags) -> Result<()> {
        self.inner.sync(flags)
    }
    fn size(&self) -> Result<u64> {
        self.inner.size()
    }
    fn set_chunk_size(&self, bytes: u32) {
        self.inner.set_chunk_size(bytes);
    }
    fn chunk_size(&self) -> u32 {
        self.inner.chunk_size()
    }
    fn size_hint(&self, bytes: u64) -> Result<()> {
        self.inner.size_hint(bytes)
    }
    fn lock(&self, level: LockLevel) -> Result<()> {
        self.inner.lock(level)
    }
    fn unlock(&self, level: LockLevel) -> Result<()> {
        self.inner.unlock(level)
    }
    fn lock_level(&self) -> LockLevel {
        self.inner.lock_level()
    }
    fn check_reserved_lock(&self) -> Result<bool> {
        self.inner.check_reserved_lock()
    }
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }
    fn device_characteristics(&self) -> DeviceCharacteristics {
        self.inner.device_characteristics()
    }
    fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        self.inner.shm_map(region, extend)
    }
    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        self.inner.shm_lock(slot, n, kind)
    }
    fn shm_barrier(&self) {
        self.inner.shm_barrier();
    }
    fn shm_unmap(&self, delete: bool) -> Result<()> {
        self.inner.shm_unmap(delete)
    }
    fn set_mmap_limit(&self, limit: u64) -> Result<u64> {
        self.inner.set_mmap_limit(limit)
    }
    fn fetch(&self, offset: u64, len: usize) -> Result<Option<MappedPage>> {
        let Some(page) = self.inner.fetch(offset, len)? else { return Ok(None) };
        self.counts.fetched.fetch_add(1, Ordering::SeqCst);
        let counted = CountedPage { page, counts: Arc::clone(&self.counts) };
        Ok(Some(MappedPage::new(Arc::new(counted), 0, len)))
    }
    fn unmap(&self) {
        self.inner.unmap();
    }
}
