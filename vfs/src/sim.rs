//! The simulated disk: a [`Vfs`] that models power loss and injects I/O faults, after SQLite's
//! crash VFS (`src/test6.c`) and its I/O-error simulation (`src/test_vfs.c`).
//!
//! * Every write and truncate since a file's last sync is pending; creates and deletes are
//!   pending until their directory is synced (a deleted journal can come back). A crash — at
//!   the Nth write, the Nth sync, or now — decides each pending entry: survives, is lost, or is
//!   torn at sector granularity, within the device characteristics advertised
//!   ([`SimConfig::characteristics`]: ATOMIC/ATOMICnK, SAFE_APPEND, SEQUENTIAL,
//!   POWERSAFE_OVERWRITE; [`SimConfig::claiming`] reports more than it keeps, for canaries).
//!   After the crash every operation fails; [`SimVfs::crash_image`] is what a reboot finds,
//!   and [`SimVfs::from_image`] boots a new disk on it.
//! * Faults ([`FaultRule`]) make the Nth operation of a kind fail once or from then on, with an
//!   I/O error, a full disk, a permission error, or a short read or write. They belong to the
//!   disk value, never to global state.
//! * Deterministic: outcomes depend only on the seed and the sequence of operations. Randomness
//!   handed to the caller ([`Vfs::randomness`]) comes from the seed too. [`crate::seed`] lets
//!   `FOLIO_SEED=…` replay a failing run.
//! * Locks and shared memory behave as in the memory VFS (one process, [`crate::local`]);
//!   shared memory is never durable, as the `-shm` file never is. There is no mmap (`fetch`
//!   returns `None`), as in SQLite's crash VFS.

mod disk;
mod fault;

pub use crate::rng::Rng;
pub use disk::CrashImage;
pub use fault::{FaultKind, FaultOp, FaultRule};

use crate::local::{LocalHandle, LocalInode};
use crate::shm::{ShmLockKind, ShmRegion};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::{
    chunk_rounded, AccessCheck, CantOpenReason, DeviceCharacteristics, Error, FileKind, LockLevel,
    Op, OpenFlags, ReadOutcome, Result, SyncFlags, Vfs, VfsFile,
};
use disk::{DataOp, Disk, FileNo};
use fault::FaultPlan;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// How the simulated device behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// Seeds every random decision.
    pub seed: u64,
    /// The sector size reported and used for tearing.
    pub sector_size: u32,
    /// What the device guarantees; it both reports these and is held to them in a crash.
    pub characteristics: DeviceCharacteristics,
    /// What the device also reports without keeping it (a lie, for canaries: a sweep must catch
    /// a pager that relies on it); normally none.
    pub claimed: DeviceCharacteristics,
}

impl SimConfig {
    /// A 4096-byte-sector disk with no guarantees at all (the harshest model).
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            sector_size: 4096,
            characteristics: DeviceCharacteristics::NONE,
            claimed: DeviceCharacteristics::NONE,
        }
    }

    /// The same disk with other characteristics.
    pub fn with_characteristics(self, characteristics: DeviceCharacteristics) -> Self {
        SimConfig { characteristics, ..self }
    }

    /// The same disk reporting `claimed` too, though a crash does not keep it (canaries).
    pub fn claiming(self, claimed: DeviceCharacteristics) -> Self {
        SimConfig { claimed, ..self }
    }

    /// What the device reports: what it keeps and what it only claims.
    pub fn reported(&self) -> DeviceCharacteristics {
        self.characteristics | self.claimed
    }

    /// The same disk with another sector size (a power of two, at least 512).
    pub fn with_sector_size(self, sector_size: u32) -> Self {
        SimConfig { sector_size, ..self }
    }
}

/// When the simulated power loss happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashAt {
    /// During the Nth write (1-based, counted over the whole disk): the write is issued, then
    /// the power goes, so it is pending like every other unsynced write.
    Write(u64),
    /// At the Nth sync (1-based): the power goes instead of the sync.
    Sync(u64),
}

struct State {
    config: SimConfig,
    disk: Disk,
    crash_rng: Rng,
    random_rng: Rng,
    inodes: HashMap<FileNo, Arc<LocalInode>>,
    counts: BTreeMap<FaultOp, u64>,
    faults: FaultPlan,
    crash_at: Option<CrashAt>,
    image: Option<CrashImage>,
    next_temp: u64,
}

/// The simulated disk and its VFS. Clones share the disk.
#[derive(Clone)]
pub struct SimVfs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for SimVfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("SimVfs")
            .field("config", &st.config)
            .field("crashed", &st.image.is_some())
            .finish_non_exhaustive()
    }
}

fn power_loss(op: Op, path: &Path) -> Error {
    Error::io(op, path, io::Error::other("simulated power loss: the disk is gone"))
}

fn fault_error(op: Op, path: &Path, kind: FaultKind) -> Error {
    Error::io(op, path, io::Error::from_raw_os_error(kind.errno()))
}

fn op_of(op: FaultOp) -> Op {
    match op {
        FaultOp::Open => Op::Open,
        FaultOp::Read => Op::Read,
        FaultOp::Write => Op::Write,
        FaultOp::Sync => Op::Sync,
        FaultOp::Truncate => Op::Truncate,
        FaultOp::Lock => Op::Lock,
        FaultOp::ShmMap => Op::ShmMap,
        FaultOp::Delete => Op::Delete,
    }
}

impl State {
    fn new(config: SimConfig, disk: Disk) -> Self {
        State {
            config,
            disk,
            crash_rng: Rng::new(config.seed),
            random_rng: Rng::new(config.seed ^ 0x005e_ed0f_5a17_5a17),
            inodes: HashMap::new(),
            counts: BTreeMap::new(),
            faults: FaultPlan::default(),
            crash_at: None,
            image: None,
            next_temp: 0,
        }
    }

    /// Counts an operation; fails it if the disk has crashed; returns the fault it triggers.
    fn begin(&mut self, op: FaultOp, path: &Path) -> Result<Option<FaultKind>> {
        if self.image.is_some() {
            return Err(power_loss(op_of(op), path));
        }
        *self.counts.entry(op).or_default() += 1;
        Ok(self.faults.check(op, path))
    }

    /// True if this operation (just counted) is the chosen crash point.
    fn is_crash_point(&self, op: FaultOp) -> bool {
        let n = self.counts.get(&op).copied().unwrap_or(0);
        match self.crash_at {
            Some(CrashAt::Write(at)) => op == FaultOp::Write && n == at,
            Some(CrashAt::Sync(at)) => op == FaultOp::Sync && n == at,
            None => false,
        }
    }

    fn crash(&mut self) -> CrashImage {
        if let Some(image) = &self.image {
            return image.clone();
        }
        let image = self.disk.crash(&mut self.crash_rng);
        self.image = Some(image.clone());
        image
    }

    fn inode(&mut self, file: FileNo) -> Arc<LocalInode> {
        self.inodes.entry(file).or_default().clone()
    }
}

impl SimVfs {
    /// An empty simulated disk.
    pub fn new(config: SimConfig) -> Self {
        let disk = Disk::new(config.sector_size, config.characteristics);
        SimVfs { state: Arc::new(Mutex::new(State::new(config, disk))) }
    }

    /// A disk that boots on `image` (everything in it durable), for example after a crash.
    pub fn from_image(image: &CrashImage, config: SimConfig) -> Self {
        let disk = Disk::from_image(image, config.sector_size, config.characteristics);
        SimVfs { state: Arc::new(Mutex::new(State::new(config, disk))) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The configuration (and seed) of this disk.
    pub fn config(&self) -> SimConfig {
        self.lock().config
    }

    /// Arms a crash at `at`.
    pub fn crash_at(&self, at: CrashAt) {
        self.lock().crash_at = Some(at);
    }

    /// Cuts the power now and returns what survives. Every later operation fails.
    pub fn crash_now(&self) -> CrashImage {
        self.lock().crash()
    }

    /// What survived the crash, once there has been one.
    pub fn crash_image(&self) -> Option<CrashImage> {
        self.lock().image.clone()
    }

    /// True once the power has been cut.
    pub fn has_crashed(&self) -> bool {
        self.lock().image.is_some()
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.add(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// How many operations of kind `op` have been issued so far.
    pub fn op_count(&self, op: FaultOp) -> u64 {
        self.lock().counts.get(&op).copied().unwrap_or(0)
    }

    /// The names that exist now (not necessarily durably).
    pub fn file_names(&self) -> Vec<PathBuf> {
        self.lock().disk.names().map(Path::to_path_buf).collect()
    }

    /// The current contents of `path`, as reads see them.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.lock();
        st.disk.lookup(path).map(|f| st.disk.current(f).to_vec())
    }

    /// What `path` holds on the device up to its last sync: its contents if every unsynced
    /// write, truncate, create and delete were lost (`None` if its name is not durable). After
    /// a crash, what the file held durably at the moment of the crash.
    pub fn synced_contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.lock().disk.synced(path).map(<[u8]>::to_vec)
    }

    /// Number of pending (unsynced) data entries and pending directory entries.
    pub fn pending(&self) -> (usize, usize) {
        self.lock().disk.pending_counts()
    }
}

impl Vfs for SimVfs {
    fn name(&self) -> &str {
        "simulated"
    }

    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        let mut st = self.lock();
        let (path, flags) = match path {
            Some(p) => (p.to_path_buf(), flags),
            None => {
                st.next_temp += 1;
                let path = PathBuf::from(format!("/sim-tmp/folio-{}", st.next_temp));
                (path, flags.for_temp_file())
            }
        };
        let cant_open = |reason, source| Error::cant_open(&path, reason, source);
        if let Some(kind) = st.begin(FaultOp::Open, &path)? {
            return Err(cant_open(
                CantOpenReason::InjectedFault,
                Some(io::Error::from_raw_os_error(kind.errno())),
            ));
        }
        if flags.create && !flags.write {
            return Err(cant_open(CantOpenReason::CreateReadOnly, None));
        }
        let file = match st.disk.lookup(&path) {
            Some(_) if flags.create && flags.exclusive => {
                return Err(cant_open(CantOpenReason::Exists, None))
            }
            Some(file) => file,
            None if flags.create => st.disk.create(&path),
            None => return Err(cant_open(CantOpenReason::NotFound, None)),
        };
        let inode = st.inode(file);
        drop(st);
        Ok(Box::new(SimFile {
            vfs: self.clone(),
            file,
            path,
            kind: flags.kind,
            read_only: !flags.write,
            delete_on_close: flags.delete_on_close,
            sync_dir_pending: AtomicBool::new(flags.syncs_directory_on_first_sync()),
            handle: LocalHandle::new(inode),
            chunk: AtomicU32::new(0),
        }))
    }

    fn delete(&self, path: &Path, sync_dir: bool) -> Result<()> {
        let mut st = self.lock();
        if let Some(kind) = st.begin(FaultOp::Delete, path)? {
            return Err(fault_error(Op::Delete, path, kind));
        }
        if !st.disk.delete(path) {
            return Err(Error::io(Op::Delete, path, io::Error::from_raw_os_error(libc::ENOENT)));
        }
        if sync_dir {
            st.disk.sync_dir(path.parent().unwrap_or(Path::new("")));
        }
        Ok(())
    }

    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool> {
        let st = self.lock();
        if st.image.is_some() {
            return Err(power_loss(Op::Access, path));
        }
        let _ = check;
        Ok(st.disk.lookup(path).is_some())
    }

    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        Ok(Path::new("/").join(path))
    }

    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        self.lock().random_rng.fill(buf);
        Ok(())
    }

    fn sleep(&self, _duration: Duration) {
        // Simulated time: nothing to wait for, and waiting would make runs slow, not different.
    }
}

/// An open file on the simulated disk.
pub struct SimFile {
    vfs: SimVfs,
    file: FileNo,
    path: PathBuf,
    kind: FileKind,
    read_only: bool,
    delete_on_close: bool,
    sync_dir_pending: AtomicBool,
    handle: LocalHandle,
    /// The chunk size set by [`VfsFile::set_chunk_size`] (0: none).
    chunk: AtomicU32,
}

impl SimFile {
    fn begin(&self, op: FaultOp) -> Result<(MutexGuard<'_, State>, Option<FaultKind>)> {
        let mut st = self.vfs.lock();
        let fault = st.begin(op, &self.path)?;
        Ok((st, fault))
    }

    fn refuse_if_read_only(&self, op: Op) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly { op, path: self.path.clone() });
        }
        Ok(())
    }

    fn modify(&self, fault_op: FaultOp, op: Op, change: DataOp, at: u64) -> Result<()> {
        self.refuse_if_read_only(op)?;
        let (mut st, fault) = self.begin(fault_op)?;
        match fault {
            Some(FaultKind::ShortWrite) => {
                if let DataOp::Write { offset, data } = change {
                    let half = data[..data.len() / 2].to_vec();
                    st.disk.modify(self.file, DataOp::Write { offset, data: half });
                }
                let err = io::Error::from_raw_os_error(FaultKind::ShortWrite.errno());
                return Err(Error::io_at(op, &self.path, at, err));
            }
            Some(kind) => {
                return Err(Error::io_at(
                    op,
                    &self.path,
                    at,
                    io::Error::from_raw_os_error(kind.errno()),
                ))
            }
            None => {}
        }
        st.disk.modify(self.file, change);
        if st.is_crash_point(fault_op) {
            st.crash();
            return Err(power_loss(op, &self.path));
        }
        Ok(())
    }

    fn lock_op(&self) -> Result<()> {
        let (_st, fault) = self.begin(FaultOp::Lock)?;
        match fault {
            Some(kind) => Err(fault_error(Op::Lock, &self.path, kind)),
            None => Ok(()),
        }
    }
}

impl VfsFile for SimFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        let (st, fault) = self.begin(FaultOp::Read)?;
        let want = match fault {
            Some(FaultKind::ShortRead) => buf.len() / 2,
            Some(kind) => {
                let err = io::Error::from_raw_os_error(kind.errno());
                return Err(Error::io_at(Op::Read, &self.path, offset, err));
            }
            None => buf.len(),
        };
        let data = st.disk.current(self.file);
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let n = want.min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        buf[n..].fill(0);
        Ok(if n == buf.len() { ReadOutcome::Full } else { ReadOutcome::Short { n_read: n } })
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        self.modify(FaultOp::Write, Op::Write, DataOp::Write { offset, data: buf.to_vec() }, offset)
    }

    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> Result<()> {
        // One write of the concatenation, as the OS VFS's `pwritev` is one system call: one
        // fault point and one crash point, and a crash tears it by sector like any write
        // (which also covers the short writes a `pwritev` may be split into).
        let data = bufs.concat();
        self.modify(FaultOp::Write, Op::Write, DataOp::Write { offset, data }, offset)
    }

    fn truncate(&self, size: u64) -> Result<()> {
        // As the OS VFS: with a chunk size, the file keeps whole chunks.
        let size = chunk_rounded(size, self.chunk_size());
        self.modify(FaultOp::Truncate, Op::Truncate, DataOp::Truncate { size }, size)
    }

    fn set_chunk_size(&self, bytes: u32) {
        self.chunk.store(bytes, Ordering::Relaxed);
    }

    fn chunk_size(&self) -> u32 {
        self.chunk.load(Ordering::Relaxed)
    }

    /// With a chunk size, a file shorter than the rounded hint is extended by one truncate (one
    /// fault and crash point; the new bytes are zeros, as the OS VFS's preallocation).
    fn size_hint(&self, bytes: u64) -> Result<()> {
        let to = chunk_rounded(bytes, self.chunk_size());
        if self.chunk_size() == 0 || self.read_only || to <= self.size()? {
            return Ok(());
        }
        self.modify(FaultOp::Truncate, Op::Truncate, DataOp::Truncate { size: to }, to)
    }

    fn sync(&self, _flags: SyncFlags) -> Result<()> {
        let (mut st, fault) = self.begin(FaultOp::Sync)?;
        if st.is_crash_point(FaultOp::Sync) {
            st.crash();
            return Err(power_loss(Op::Sync, &self.path));
        }
        if let Some(kind) = fault {
            return Err(fault_error(Op::Sync, &self.path, kind));
        }
        st.disk.sync(self.file);
        if self.sync_dir_pending.swap(false, Ordering::AcqRel) {
            st.disk.sync_dir(self.path.parent().unwrap_or(Path::new("")));
        }
        Ok(())
    }

    fn size(&self) -> Result<u64> {
        let st = self.vfs.lock();
        if st.image.is_some() {
            return Err(power_loss(Op::Size, &self.path));
        }
        Ok(st.disk.current(self.file).len() as u64)
    }

    fn lock(&self, level: LockLevel) -> Result<()> {
        self.lock_op()?;
        self.handle.lock(level, &self.path)
    }

    fn unlock(&self, level: LockLevel) -> Result<()> {
        self.lock_op()?;
        self.handle.unlock(level, &self.path)
    }

    fn lock_level(&self) -> LockLevel {
        self.handle.lock_level()
    }

    fn check_reserved_lock(&self) -> Result<bool> {
        self.lock_op()?;
        self.handle.check_reserved()
    }

    fn sector_size(&self) -> u32 {
        self.vfs.lock().config.sector_size
    }

    fn device_characteristics(&self) -> DeviceCharacteristics {
        self.vfs.lock().config.reported()
    }

    fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        if !self.kind.is_main_db() {
            return Err(
                self.unsupported(Op::ShmMap, "only the main database file has shared memory")
            );
        }
        let (st, fault) = self.begin(FaultOp::ShmMap)?;
        drop(st);
        if let Some(kind) = fault {
            return Err(fault_error(Op::ShmMap, &self.path, kind));
        }
        self.handle.shm_map(region, extend)
    }

    fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        self.handle.shm_lock(slot, n, kind, &self.path)
    }

    fn shm_unmap(&self, _delete: bool) -> Result<()> {
        // Shared memory has no file on the simulated disk, so there is nothing to delete.
        self.handle.shm_unmap(&self.path)
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let _ = self.handle.release(&self.path);
        if self.delete_on_close {
            let mut st = self.vfs.lock();
            if st.image.is_none() && st.disk.lookup(&self.path) == Some(self.file) {
                st.disk.delete(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests;
