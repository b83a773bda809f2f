//! The callbacks called the way SQLite calls them: through the registered `sqlite3_vfs` and the
//! `sqlite3_io_methods` it installs, on memory we allocate as SQLite would. These pin down the
//! contract details SQLite relies on but rarely shows through SQL: the short-read zero fill,
//! `SQLITE_NOTFOUND` for unknown file controls, a null region for an unextended `xShmMap`,
//! `xFetch`/`xUnfetch` pairing, panics turned into codes, and the last-error record.

use crate::{last_error, Registration};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, SimConfig, SimVfs};
use folio_vfs::sync::Arc;
use folio_vfs::{
    Error, LockLevel, OpenFlags, ReadOutcome, Result as VfsResult, SyncFlags, Vfs, VfsFile,
};
use libsqlite3_sys as ffi;
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CREATE_DB: c_int =
    ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;

/// A registered VFS, reached as SQLite reaches it.
struct Raw {
    vfs: *mut ffi::sqlite3_vfs,
    registration: Registration,
}

impl Raw {
    fn new(vfs: Arc<dyn Vfs>) -> Raw {
        let registration = Registration::unique("raw-test", vfs).expect("register");
        let name = CString::new(registration.name()).unwrap();
        // SAFETY: a valid NUL-terminated name; SQLite is initialised by the registration.
        let vfs = unsafe { ffi::sqlite3_vfs_find(name.as_ptr()) };
        assert!(!vfs.is_null(), "sqlite3_vfs_find does not know {}", registration.name());
        Raw { vfs, registration }
    }

    /// `xOpen` through this registration.
    fn open(&self, path: Option<&str>, flags: c_int) -> Result<File, c_int> {
        open_with(self.vfs, path, flags)
    }
}

/// `xOpen` on `vfs`, with storage allocated as SQLite does; on failure the code, after checking
/// that SQLite would not call xClose.
fn open_with(vfs: *mut ffi::sqlite3_vfs, path: Option<&str>, flags: c_int) -> Result<File, c_int> {
    // SAFETY: `vfs` is a live object made by the bridge (never freed).
    let size = usize::try_from(unsafe { (*vfs).szOsFile }).unwrap();
    // u64 storage: SQLite's allocations are 8-byte aligned.
    let mut storage = vec![0xa5a5_a5a5_a5a5_a5a5u64; size.div_ceil(8)].into_boxed_slice();
    let file = storage.as_mut_ptr().cast::<ffi::sqlite3_file>();
    let name = path.map(|p| CString::new(p).unwrap());
    let mut out_flags = 0;
    // SAFETY: the bridge's object, a valid name or null, `szOsFile` aligned bytes, a valid
    // out-pointer.
    let rc = unsafe {
        (*vfs).xOpen.unwrap()(
            vfs,
            name.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
            file,
            flags,
            &mut out_flags,
        )
    };
    // SAFETY: xOpen always initialises pMethods.
    let methods = unsafe { (*file).pMethods };
    if rc != ffi::SQLITE_OK {
        assert!(methods.is_null(), "a failed xOpen left pMethods set");
        return Err(rc);
    }
    assert_eq!(out_flags, flags);
    Ok(File { _storage: storage, file })
}

/// An open file; closed on drop.
struct File {
    _storage: Box<[u64]>,
    file: *mut ffi::sqlite3_file,
}

impl File {
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: an open file's pMethods points to the bridge's static methods.
        unsafe { &*(*self.file).pMethods }
    }

    fn read(&self, offset: i64, buf: &mut [u8]) -> c_int {
        // SAFETY: an open file and a buffer of the length given.
        unsafe {
            self.methods().xRead.unwrap()(
                self.file,
                buf.as_mut_ptr().cast(),
                buf.len() as c_int,
                offset,
            )
        }
    }

    fn write(&self, offset: i64, buf: &[u8]) -> c_int {
        // SAFETY: an open file and a buffer of the length given.
        unsafe {
            self.methods().xWrite.unwrap()(
                self.file,
                buf.as_ptr().cast(),
                buf.len() as c_int,
                offset,
            )
        }
    }

    fn lock(&self, level: c_int) -> c_int {
        // SAFETY: an open file.
        unsafe { self.methods().xLock.unwrap()(self.file, level) }
    }

    fn file_control(&self, op: c_int, arg: *mut c_void) -> c_int {
        // SAFETY: an open file; each caller passes the argument type `op` expects.
        unsafe { self.methods().xFileControl.unwrap()(self.file, op, arg) }
    }

    fn shm_map(&self, region: c_int, extend: bool) -> (c_int, *mut u8) {
        let mut out: *mut c_void = ptr::dangling_mut();
        // SAFETY: an open file and a valid out-pointer.
        let rc = unsafe {
            self.methods().xShmMap.unwrap()(self.file, region, 32768, c_int::from(extend), &mut out)
        };
        (rc, out.cast())
    }

    fn shm_lock(&self, slot: c_int, n: c_int, flags: c_int) -> c_int {
        // SAFETY: an open file.
        unsafe { self.methods().xShmLock.unwrap()(self.file, slot, n, flags) }
    }

    fn fetch(&self, offset: i64, amount: c_int) -> (c_int, *mut u8) {
        let mut out: *mut c_void = ptr::dangling_mut();
        // SAFETY: an open file and a valid out-pointer.
        let rc = unsafe { self.methods().xFetch.unwrap()(self.file, offset, amount, &mut out) };
        (rc, out.cast())
    }

    fn unfetch(&self, offset: i64, page: *mut u8) -> c_int {
        // SAFETY: an open file; `page` is one xFetch returned, or null, or (in the misuse test)
        // an address the bridge must reject without dereferencing it.
        unsafe { self.methods().xUnfetch.unwrap()(self.file, offset, page.cast()) }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: an open file, closed once.
        let rc = unsafe { self.methods().xClose.unwrap()(self.file) };
        assert_eq!(rc, ffi::SQLITE_OK);
    }
}

#[test]
fn a_short_read_zero_fills_the_rest_and_says_so() {
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let file = raw.open(Some("/short/read.db"), CREATE_DB).unwrap();
    assert_eq!(file.write(0, b"0123456789"), ffi::SQLITE_OK);
    let mut buf = [0xaa_u8; 64];
    assert_eq!(file.read(0, &mut buf), ffi::SQLITE_IOERR_SHORT_READ);
    assert_eq!(&buf[..10], b"0123456789");
    assert!(buf[10..].iter().all(|&b| b == 0), "the tail was not zero-filled: {buf:?}");
    let mut past_end = [0xaa_u8; 16];
    assert_eq!(file.read(4096, &mut past_end), ffi::SQLITE_IOERR_SHORT_READ);
    assert_eq!(past_end, [0; 16]);
    let mut whole = [0u8; 4];
    assert_eq!(file.read(2, &mut whole), ffi::SQLITE_OK);
    assert_eq!(&whole, b"2345");
}

#[test]
fn unknown_file_controls_are_notfound_and_vfsname_is_the_registered_name() {
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let file = raw.open(Some("/fcntl/test.db"), CREATE_DB).unwrap();
    for op in [ffi::SQLITE_FCNTL_PRAGMA, ffi::SQLITE_FCNTL_SYNC, 9999] {
        assert_eq!(file.file_control(op, ptr::null_mut()), ffi::SQLITE_NOTFOUND, "op {op}");
    }
    // HAS_MOVED is answered: a memory file never moves under its handle.
    let mut moved: std::os::raw::c_int = -1;
    let rc = file.file_control(ffi::SQLITE_FCNTL_HAS_MOVED, ptr::from_mut(&mut moved).cast());
    assert_eq!((rc, moved), (ffi::SQLITE_OK, 0));
    let mut name: *mut std::os::raw::c_char = ptr::null_mut();
    assert_eq!(
        file.file_control(ffi::SQLITE_FCNTL_VFSNAME, ptr::from_mut(&mut name).cast()),
        ffi::SQLITE_OK
    );
    assert!(!name.is_null());
    // SAFETY: sqlite3_mprintf returned a NUL-terminated string, freed with sqlite3_free.
    let got = unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_string();
    // SAFETY: the string came from sqlite3_mprintf and is freed once.
    unsafe { ffi::sqlite3_free(name.cast()) };
    assert_eq!(got, raw.registration.name());
}

#[test]
fn mmap_size_reports_the_previous_cap_and_a_negative_request_only_asks() {
    // The memory VFS maps nothing: its cap stays 0 whatever is asked.
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let file = raw.open(Some("/mmap/memory.db"), CREATE_DB).unwrap();
    let mut size: i64 = 1 << 20;
    assert_eq!(file.file_control(ffi::SQLITE_FCNTL_MMAP_SIZE, ptr::from_mut(&mut size).cast()), 0);
    assert_eq!(size, 0, "the previous cap");
    size = -1;
    assert_eq!(file.file_control(ffi::SQLITE_FCNTL_MMAP_SIZE, ptr::from_mut(&mut size).cast()), 0);
    assert_eq!(size, 0, "the memory VFS keeps its cap at 0");
    let (rc, page) = file.fetch(0, 16);
    assert_eq!((rc, page), (ffi::SQLITE_OK, ptr::null_mut()), "no map, no page");
}

#[cfg(unix)]
#[test]
fn fetched_pages_show_the_file_and_go_back_through_unfetch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fetch.db");
    let raw = Raw::new(Arc::new(folio_vfs::os::OsVfs::new()));
    let file = raw.open(Some(path.to_str().unwrap()), CREATE_DB).unwrap();
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(file.write(0, &bytes), ffi::SQLITE_OK);
    assert_eq!(file.lock(ffi::SQLITE_LOCK_SHARED), ffi::SQLITE_OK);

    let mut size: i64 = 1 << 20;
    assert_eq!(file.file_control(ffi::SQLITE_FCNTL_MMAP_SIZE, ptr::from_mut(&mut size).cast()), 0);
    assert_eq!(size, 0, "the cap before: mapping off");
    size = -1;
    assert_eq!(file.file_control(ffi::SQLITE_FCNTL_MMAP_SIZE, ptr::from_mut(&mut size).cast()), 0);
    assert_eq!(size, 1 << 20, "the cap now");

    let (rc, page) = file.fetch(4096, 4096);
    assert_eq!(rc, ffi::SQLITE_OK);
    assert!(!page.is_null(), "a page inside the file and the cap is mapped");
    // SAFETY: xFetch handed out 4096 readable bytes that stay valid until xUnfetch.
    let seen = unsafe { std::slice::from_raw_parts(page, 4096) };
    assert_eq!(seen, &bytes[4096..]);
    let (rc, beyond) = file.fetch(8192, 4096);
    assert_eq!((rc, beyond), (ffi::SQLITE_OK, ptr::null_mut()), "past the end: read instead");

    // xUnfetch(0, NULL) drops the mapping, but the page out keeps its bytes.
    assert_eq!(file.unfetch(0, ptr::null_mut()), ffi::SQLITE_OK);
    // SAFETY: the page was not unfetched yet, so its mapping is alive.
    assert_eq!(unsafe { std::slice::from_raw_parts(page, 4096) }, &bytes[4096..]);
    assert_eq!(file.unfetch(4096, page), ffi::SQLITE_OK);
    let stranger = bytes.as_ptr().cast_mut();
    assert_eq!(file.unfetch(0, stranger), ffi::SQLITE_MISUSE);
    assert!(last_error().unwrap().message.contains("did not hand out"));
}

#[test]
fn shm_regions_are_shared_between_handles_and_slots_exclude_each_other() {
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let a = raw.open(Some("/shm/test.db"), CREATE_DB).unwrap();
    let b = raw.open(Some("/shm/test.db"), CREATE_DB).unwrap();
    assert_eq!(a.shm_map(0, false), (ffi::SQLITE_OK, ptr::null_mut()), "no region, no extend");
    let (rc, region_a) = a.shm_map(0, true);
    assert_eq!(rc, ffi::SQLITE_OK);
    assert!(!region_a.is_null());
    let (rc, region_b) = b.shm_map(0, false);
    assert_eq!(rc, ffi::SQLITE_OK);
    assert_eq!(region_a, region_b, "one wal-index per database");
    // SAFETY: both addresses are the same live 32 KiB region, kept alive by the bridge.
    unsafe {
        region_a.add(100).write_volatile(0x5a);
        assert_eq!(region_b.add(100).read_volatile(), 0x5a);
    }

    let lock_exclusive = ffi::SQLITE_SHM_LOCK | ffi::SQLITE_SHM_EXCLUSIVE;
    let unlock_exclusive = ffi::SQLITE_SHM_UNLOCK | ffi::SQLITE_SHM_EXCLUSIVE;
    assert_eq!(a.shm_lock(0, 1, lock_exclusive), ffi::SQLITE_OK);
    assert_eq!(b.shm_lock(0, 1, lock_exclusive), ffi::SQLITE_BUSY);
    assert_eq!(b.shm_lock(3, 1, ffi::SQLITE_SHM_LOCK | ffi::SQLITE_SHM_SHARED), ffi::SQLITE_OK);
    assert_eq!(a.shm_lock(0, 1, unlock_exclusive), ffi::SQLITE_OK);
    assert_eq!(b.shm_lock(0, 1, lock_exclusive), ffi::SQLITE_OK);
    assert_eq!(b.shm_lock(0, 1, ffi::SQLITE_SHM_LOCK), ffi::SQLITE_MISUSE, "no kind");

    // SAFETY: open files.
    unsafe {
        assert_eq!(a.methods().xShmBarrier.map(|f| f(a.file)), Some(()));
        assert_eq!(a.methods().xShmUnmap.unwrap()(a.file, 0), ffi::SQLITE_OK);
        assert_eq!(b.methods().xShmUnmap.unwrap()(b.file, 0), ffi::SQLITE_OK);
    }
    // The last handle left, so the next first mapper starts from zeroed memory.
    let (_, fresh) = a.shm_map(0, true);
    // SAFETY: a live region kept by the bridge.
    assert_eq!(unsafe { fresh.add(100).read_volatile() }, 0);
}

#[test]
fn a_failed_open_leaves_no_file_and_says_cantopen() {
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let read_write = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE;
    assert_eq!(raw.open(Some("/missing/file.db"), read_write).err(), Some(ffi::SQLITE_CANTOPEN));
    let last = last_error().expect("recorded");
    assert_eq!(last.code, ffi::SQLITE_CANTOPEN);
    assert!(last.message.contains("/missing/file.db"), "{last:?}");
    assert_eq!(raw.registration.open_files(), 0);
    // A null name is a temporary file, deleted on close.
    let temp = ffi::SQLITE_OPEN_TEMP_JOURNAL
        | ffi::SQLITE_OPEN_READWRITE
        | ffi::SQLITE_OPEN_CREATE
        | ffi::SQLITE_OPEN_DELETEONCLOSE
        | ffi::SQLITE_OPEN_EXCLUSIVE;
    let file = raw.open(None, temp).unwrap();
    assert_eq!(raw.registration.open_files(), 1);
    drop(file);
    assert_eq!(raw.registration.open_files(), 0);
}

#[test]
fn vfs_level_callbacks_answer_as_sqlite_expects() {
    let memory = MemoryVfs::new();
    let raw = Raw::new(Arc::new(memory.clone()));
    let vfs = raw.vfs;
    let _file = raw.open(Some("/dir/exists.db"), CREATE_DB).unwrap();
    let name = |s: &str| CString::new(s).unwrap();
    let mut out = [0 as std::os::raw::c_char; 64];
    // SAFETY: our registered object; valid names, buffers and out-pointers throughout.
    unsafe {
        let full = (*vfs).xFullPathname.unwrap();
        assert_eq!(full(vfs, name("a/../b.db").as_ptr(), 64, out.as_mut_ptr()), ffi::SQLITE_OK);
        assert_eq!(CStr::from_ptr(out.as_ptr()).to_str().unwrap(), "/b.db");
        assert_eq!(
            full(vfs, name("/a/very/long/name.db").as_ptr(), 8, out.as_mut_ptr()),
            ffi::SQLITE_CANTOPEN_FULLPATH
        );

        let access = (*vfs).xAccess.unwrap();
        let mut yes = -1;
        assert_eq!(
            access(vfs, name("/dir/exists.db").as_ptr(), ffi::SQLITE_ACCESS_EXISTS, &mut yes),
            0
        );
        assert_eq!(yes, 1);
        assert_eq!(
            access(vfs, name("/dir/nope.db").as_ptr(), ffi::SQLITE_ACCESS_READWRITE, &mut yes),
            0
        );
        assert_eq!(yes, 0);

        let delete = (*vfs).xDelete.unwrap();
        assert_eq!(delete(vfs, name("/dir/nope.db").as_ptr(), 0), ffi::SQLITE_IOERR_DELETE_NOENT);
        assert_eq!(delete(vfs, name("/dir/exists.db").as_ptr(), 1), ffi::SQLITE_OK);
        assert!(!memory
            .access(Path::new("/dir/exists.db"), folio_vfs::AccessCheck::Exists)
            .unwrap());

        let mut random = [0 as std::os::raw::c_char; 32];
        assert_eq!((*vfs).xRandomness.unwrap()(vfs, 32, random.as_mut_ptr()), 32);
        assert!(random.iter().any(|&b| b != 0), "32 random bytes all zero");

        let mut now_f = 0.0;
        let mut now_i = 0i64;
        assert_eq!((*vfs).xCurrentTime.unwrap()(vfs, &mut now_f), 0);
        assert_eq!((*vfs).xCurrentTimeInt64.unwrap()(vfs, &mut now_i), 0);
        // Later than 2020-01-01 (Julian day 2458849.5).
        assert!(now_f > 2_458_849.5 && now_i > 2_458_849_500 * 86_400, "{now_f} {now_i}");
        assert_eq!((*vfs).xSleep.unwrap()(vfs, 10), 10);

        assert!((*vfs).xDlOpen.unwrap()(vfs, name("libx.so").as_ptr()).is_null());
        (*vfs).xDlError.unwrap()(vfs, 64, out.as_mut_ptr());
        assert!(CStr::from_ptr(out.as_ptr()).to_str().unwrap().contains("not supported"));
    }
}

#[test]
fn an_injected_fault_is_recorded_with_its_errno_for_get_last_error() {
    let sim = SimVfs::new(SimConfig::new(0x1a57));
    let raw = Raw::new(Arc::new(sim.clone()));
    let file = raw.open(Some("/fault/test.db"), CREATE_DB).unwrap();
    sim.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::Io));
    assert_eq!(file.write(0, &[1; 512]), ffi::SQLITE_IOERR_WRITE);
    let last = last_error().unwrap();
    assert_eq!(last.errno, Some(5), "EIO");
    assert!(
        last.message.contains("/fault/test.db") && last.message.contains("offset 0"),
        "{last:?}"
    );
    let mut message = [0 as std::os::raw::c_char; 256];
    // SAFETY: our registered object and a 256-byte buffer.
    let errno = unsafe { (*raw.vfs).xGetLastError.unwrap()(raw.vfs, 256, message.as_mut_ptr()) };
    assert_eq!(errno, 5);
    // SAFETY: xGetLastError wrote a NUL-terminated string into the buffer.
    let text = unsafe { CStr::from_ptr(message.as_ptr()) }.to_str().unwrap();
    assert_eq!(text, last.message);

    sim.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::DiskFull));
    assert_eq!(file.write(0, &[1; 512]), ffi::SQLITE_FULL);
    sim.add_fault(FaultRule::once(FaultOp::Lock, 1, FaultKind::Io));
    assert_eq!(file.lock(ffi::SQLITE_LOCK_SHARED), ffi::SQLITE_IOERR_RDLOCK);
}

/// A VFS whose files panic on read once told to: the bridge must turn the panic into a code.
struct Panicky {
    inner: MemoryVfs,
    panic_on_open: Arc<AtomicBool>,
}

struct PanickyFile {
    inner: Box<dyn VfsFile>,
}

impl Vfs for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> VfsResult<Box<dyn VfsFile>> {
        assert!(!self.panic_on_open.load(Ordering::Relaxed), "open refused by a test panic");
        Ok(Box::new(PanickyFile { inner: self.inner.open(path, flags)? }))
    }
    fn delete(&self, path: &Path, sync_dir: bool) -> VfsResult<()> {
        self.inner.delete(path, sync_dir)
    }
    fn access(&self, path: &Path, check: folio_vfs::AccessCheck) -> VfsResult<bool> {
        self.inner.access(path, check)
    }
    fn full_path(&self, path: &Path) -> VfsResult<PathBuf> {
        self.inner.full_path(path)
    }
    fn randomness(&self, buf: &mut [u8]) -> VfsResult<()> {
        self.inner.randomness(buf)
    }
    fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration)
    }
}

impl VfsFile for PanickyFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> VfsResult<ReadOutcome> {
        panic!("read refused by a test panic")
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> VfsResult<()> {
        self.inner.write_at(offset, buf)
    }
    fn truncate(&self, size: u64) -> VfsResult<()> {
        self.inner.truncate(size)
    }
    fn sync(&self, flags: SyncFlags) -> VfsResult<()> {
        self.inner.sync(flags)
    }
    fn size(&self) -> VfsResult<u64> {
        self.inner.size()
    }
    fn lock(&self, level: LockLevel) -> VfsResult<()> {
        self.inner.lock(level)
    }
    fn unlock(&self, level: LockLevel) -> VfsResult<()> {
        self.inner.unlock(level)
    }
    fn lock_level(&self) -> LockLevel {
        self.inner.lock_level()
    }
    fn check_reserved_lock(&self) -> std::result::Result<bool, Error> {
        self.inner.check_reserved_lock()
    }
}

#[test]
fn a_panicking_vfs_returns_an_error_code_instead_of_unwinding_into_sqlite() {
    let panic_on_open = Arc::new(AtomicBool::new(false));
    let vfs = Panicky { inner: MemoryVfs::new(), panic_on_open: panic_on_open.clone() };
    let raw = Raw::new(Arc::new(vfs));
    let file = raw.open(Some("/panic/test.db"), CREATE_DB).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(file.read(0, &mut buf), ffi::SQLITE_IOERR_READ);
    let last = last_error().unwrap();
    assert!(
        last.message.contains("panic in xRead") && last.message.contains("test panic"),
        "{last:?}"
    );

    panic_on_open.store(true, Ordering::Relaxed);
    assert_eq!(raw.open(Some("/panic/other.db"), CREATE_DB).err(), Some(ffi::SQLITE_CANTOPEN));
    assert!(last_error().unwrap().message.contains("panic in xOpen"));
}

#[test]
fn a_file_outliving_its_vfs_registration_keeps_working_and_new_opens_fail() {
    let raw = Raw::new(Arc::new(MemoryVfs::new()));
    let file = raw.open(Some("/outlive/test.db"), CREATE_DB).unwrap();
    let name = raw.registration.name().to_string();
    let Err(err) = crate::unregister(&name) else { panic!("unregistered with a file open") };
    assert!(matches!(err, crate::Error::InUse { open_files: 1, .. }), "{err}");
    drop(file);
    assert_eq!(raw.registration.open_files(), 0);
    // SQLite's object stays valid after unregistering: a stale caller gets an error, not UB.
    let stale = raw.vfs;
    drop(raw);
    assert!(!crate::is_registered(&name));
    assert_eq!(
        open_with(stale, Some("/outlive/test.db"), CREATE_DB).err(),
        Some(ffi::SQLITE_CANTOPEN)
    );
    assert!(last_error().unwrap().message.contains("unregistered"));
}

#[cfg(unix)]
mod fcntl;
