//! `sqlite3_io_methods` version 3 over a folio-vfs [`VfsFile`]: the callbacks SQLite makes on an
//! open file, and the file object SQLite allocates for us.
//!
//! SQLite allocates `szOsFile` bytes per open file and hands them to `xOpen`; ours are a
//! [`BridgeFile`]: the `sqlite3_file` header SQLite reads (`pMethods`) and a pointer to the boxed
//! Rust state, [`FileState`], which `xClose` frees. Between `xOpen` and `xClose` SQLite may call
//! the methods from any thread (one connection at a time per file, but a connection may move
//! between threads), so the state is `Sync` and each callback only takes `&FileState`.
//!
//! Memory handed to SQLite stays valid while SQLite may use it:
//! * shared memory: every [`ShmRegion`] whose address went out through `xShmMap` is kept in
//!   [`FileState`] until `xShmUnmap` (or `xClose`);
//! * mmap pages: every [`MappedPage`] that went out through `xFetch` is kept until the matching
//!   `xUnfetch` (or `xClose`). A page keeps its mapping alive even if the file remaps.

use crate::codes::{self, SQLITE_READONLY_CANTINIT};
use crate::guard::{fail_as, ffi_call, ffi_call_void, record};
use crate::shell::Shell;
use folio_vfs::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use folio_vfs::sync::Mutex;
use folio_vfs::{
    DeviceCharacteristics, Error, LockLevel, MappedPage, ReadOutcome, ShmRegion, VfsFile,
    SHM_REGION_SIZE,
};
use libsqlite3_sys as ffi;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

/// The per-file object SQLite allocates (`szOsFile` bytes) and passes to every io method.
/// `base` must come first: SQLite reads `pMethods` through a `sqlite3_file *`.
#[repr(C)]
pub(crate) struct BridgeFile {
    base: ffi::sqlite3_file,
    /// Owned; null before a successful `xOpen` and after `xClose`.
    state: *mut FileState,
}

/// The Rust side of one open file.
pub(crate) struct FileState {
    /// The registration the file was opened through (counts open files).
    shell: &'static Shell,
    file: Box<dyn VfsFile>,
    /// Regions whose address SQLite holds, kept alive until `xShmUnmap`.
    shm: Mutex<Vec<ShmRegion>>,
    /// Pages handed out by `xFetch` and not yet returned by `xUnfetch`.
    fetched: Mutex<Vec<MappedPage>>,
    /// The mmap cap as last set through `SQLITE_FCNTL_MMAP_SIZE` (reported back by it).
    mmap_limit: AtomicI64,
    /// `SQLITE_FCNTL_PERSIST_WAL`: SQLite's WAL asks it when the last connection closes, and
    /// keeps the `-wal` and `-shm` when it is set (off at open, as in the unix VFS).
    persist_wal: AtomicBool,
    /// `SQLITE_FCNTL_POWERSAFE_OVERWRITE` (the unix VFS's `UNIXFILE_PSOW`): at open, the
    /// filename's `psow` URI parameter, else whether the VFS reports powersafe overwrite.
    powersafe_overwrite: AtomicBool,
    /// What `xDeviceCharacteristics` reports, fixed by the first `xDeviceCharacteristics` or
    /// `xSectorSize` call, as the unix VFS fixes it (`setDeviceCharacteristics`): powersafe
    /// overwrite as set by then. SQLite's pager asks both as it opens a database, so a file
    /// control changes the flag it reports back, not what SQLite was told.
    characteristics: OnceLock<c_int>,
    /// `SQLITE_FCNTL_LAST_ERRNO`: the OS error of the last failed call on this file (0: none).
    last_errno: AtomicI32,
}

impl FileState {
    /// The device characteristics SQLite is told (see [`FileState::characteristics`]):
    /// batch-atomic writes are never passed on, since they need file controls the bridge does
    /// not implement; powersafe overwrite as the flag says when first asked.
    fn characteristics(&self) -> c_int {
        *self.characteristics.get_or_init(|| {
            let psow = DeviceCharacteristics::POWERSAFE_OVERWRITE;
            let mut bits = self
                .file
                .device_characteristics()
                .without(DeviceCharacteristics::BATCH_ATOMIC | psow);
            if self.powersafe_overwrite.load(Ordering::Relaxed) {
                bits = bits | psow;
            }
            c_int::try_from(bits.0).unwrap_or(0)
        })
    }

    /// Remembers `error`'s OS error for `SQLITE_FCNTL_LAST_ERRNO`, records it (see
    /// [`crate::guard::fail`]) and returns its code.
    fn fail(&self, error: &Error) -> c_int {
        self.fail_as(codes::sqlite_code(error), error)
    }

    /// As [`FileState::fail`], under a code the caller chose.
    fn fail_as(&self, code: c_int, error: &Error) -> c_int {
        if let Some(errno) = error.raw_os_error() {
            self.last_errno.store(errno, Ordering::Relaxed);
        }
        fail_as(code, error)
    }
}

/// The methods of every bridged file. Version 3: v1 (I/O and locks), v2 (shared memory, so WAL
/// works in normal locking mode), v3 (`xFetch`/`xUnfetch`, so `PRAGMA mmap_size` works).
pub(crate) static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// `szOsFile`: the bytes SQLite allocates per open file.
pub(crate) const FILE_SIZE: c_int = std::mem::size_of::<BridgeFile>() as c_int;

/// Marks `file` (SQLite's uninitialized `szOsFile` bytes) as not open: `pMethods` null, so SQLite
/// will not call `xClose` on it.
///
/// # Safety
/// `file` points to at least [`FILE_SIZE`] writable bytes, aligned for [`BridgeFile`].
pub(crate) unsafe fn init_closed(file: *mut ffi::sqlite3_file) {
    let closed =
        BridgeFile { base: ffi::sqlite3_file { pMethods: ptr::null() }, state: ptr::null_mut() };
    // SAFETY: the caller guarantees the memory is ours to write and suitably aligned (SQLite
    // allocates szOsFile bytes with 8-byte alignment, BridgeFile's alignment).
    unsafe { ptr::write(file.cast::<BridgeFile>(), closed) };
}

/// Makes `file` an open bridged file over `vfs_file`; `powersafe_overwrite` is the filename's
/// `psow` URI parameter, if it had one.
///
/// # Safety
/// As [`init_closed`]; SQLite must not use `file` concurrently (it does not during `xOpen`).
pub(crate) unsafe fn init_open(
    file: *mut ffi::sqlite3_file,
    shell: &'static Shell,
    vfs_file: Box<dyn VfsFile>,
    powersafe_overwrite: Option<bool>,
) {
    let psow = powersafe_overwrite.unwrap_or_else(|| {
        vfs_file.device_characteristics().contains(DeviceCharacteristics::POWERSAFE_OVERWRITE)
    });
    let state = Box::new(FileState {
        shell,
        shm: Mutex::new(Vec::new()),
        fetched: Mutex::new(Vec::new()),
        mmap_limit: AtomicI64::new(0),
        persist_wal: AtomicBool::new(false),
        powersafe_overwrite: AtomicBool::new(psow),
        characteristics: OnceLock::new(),
        last_errno: AtomicI32::new(0),
        file: vfs_file,
    });
    shell.file_opened();
    let open = BridgeFile {
        base: ffi::sqlite3_file { pMethods: &IO_METHODS },
        state: Box::into_raw(state),
    };
    // SAFETY: as for `init_closed`; the caller guarantees exclusive access during xOpen.
    unsafe { ptr::write(file.cast::<BridgeFile>(), open) };
}

/// The state of an open file.
///
/// # Safety
/// `file` was initialised by [`init_open`] and not yet closed. SQLite guarantees this for
/// every io method but `xClose`, which it calls last and once.
unsafe fn state<'a>(file: *mut ffi::sqlite3_file) -> &'a FileState {
    // SAFETY: per the contract, `file` is a BridgeFile whose `state` is a live Box that is only
    // freed by xClose, after which SQLite makes no other call on this file.
    unsafe { &*(*file.cast::<BridgeFile>()).state }
}

/// A length SQLite passed as `c_int`, or an error code for a negative one.
fn len_of(n: c_int) -> Result<usize, c_int> {
    usize::try_from(n).map_err(|_| record(ffi::SQLITE_MISUSE, None, format!("negative length {n}")))
}

/// An offset SQLite passed as `sqlite3_int64`, or an error code for a negative one.
fn offset_of(offset: i64) -> Result<u64, c_int> {
    u64::try_from(offset)
        .map_err(|_| record(ffi::SQLITE_MISUSE, None, format!("negative offset {offset}")))
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    ffi_call("xClose", ffi::SQLITE_IOERR_CLOSE, || {
        let bridge = file.cast::<BridgeFile>();
        // SAFETY: SQLite calls xClose once, last, on a file xOpen initialised; taking the Box
        // back and nulling the pointer makes any (buggy) later call fail on a null state
        // rather than use freed memory.
        let state = unsafe {
            let state = (*bridge).state;
            (*bridge).state = ptr::null_mut();
            Box::from_raw(state)
        };
        let shell = state.shell;
        // Dropping the VfsFile closes it (releasing its locks); the regions and pages SQLite
        // had are no longer in use by it.
        drop(state);
        shell.file_closed();
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    ffi_call("xRead", ffi::SQLITE_IOERR_READ, || {
        let (len, offset) = match (len_of(amount), offset_of(offset)) {
            (Ok(len), Ok(offset)) => (len, offset),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        // SAFETY: SQLite passes a buffer of `amount` writable bytes that it does not touch
        // during the call. It may be uninitialised, so it is zeroed before a slice is made.
        let buf = unsafe {
            ptr::write_bytes(buf.cast::<u8>(), 0, len);
            std::slice::from_raw_parts_mut(buf.cast::<u8>(), len)
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.read_at(offset, buf) {
            Ok(ReadOutcome::Full) => ffi::SQLITE_OK,
            Ok(ReadOutcome::Short { n_read }) => {
                // SQLite relies on the zero fill (its pager reads past the end of a file).
                buf[n_read.min(len)..].fill(0);
                ffi::SQLITE_IOERR_SHORT_READ
            }
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    ffi_call("xWrite", ffi::SQLITE_IOERR_WRITE, || {
        let (len, offset) = match (len_of(amount), offset_of(offset)) {
            (Ok(len), Ok(offset)) => (len, offset),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        // SAFETY: SQLite passes `amount` initialised bytes that it does not change during the
        // call.
        let buf = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.write_at(offset, buf) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    ffi_call("xTruncate", ffi::SQLITE_IOERR_TRUNCATE, || {
        let size = match offset_of(size) {
            Ok(size) => size,
            Err(code) => return code,
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.truncate(size) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    ffi_call("xSync", ffi::SQLITE_IOERR_FSYNC, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.sync(codes::sync_flags(flags)) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    ffi_call("xFileSize", ffi::SQLITE_IOERR_FSTAT, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.size() {
            Ok(n) => {
                // SAFETY: SQLite passes a valid out-pointer.
                unsafe { *size = i64::try_from(n).unwrap_or(i64::MAX) };
                ffi::SQLITE_OK
            }
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    ffi_call("xLock", ffi::SQLITE_IOERR_LOCK, || {
        let Some(want) = codes::lock_level(level) else {
            return record(ffi::SQLITE_MISUSE, None, format!("xLock to level {level}"));
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.lock(want) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => match codes::sqlite_code(&e) {
                // SQLite's unix VFS reports a failed read lock as its own code.
                ffi::SQLITE_IOERR_LOCK if want == LockLevel::Shared => {
                    state.fail_as(ffi::SQLITE_IOERR_RDLOCK, &e)
                }
                code => state.fail_as(code, &e),
            },
        }
    })
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    ffi_call("xUnlock", ffi::SQLITE_IOERR_UNLOCK, || {
        let Some(want) = codes::lock_level(level) else {
            return record(ffi::SQLITE_MISUSE, None, format!("xUnlock to level {level}"));
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.unlock(want) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_check_reserved_lock(
    file: *mut ffi::sqlite3_file,
    reserved: *mut c_int,
) -> c_int {
    ffi_call("xCheckReservedLock", ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.check_reserved_lock() {
            Ok(held) => {
                // SAFETY: SQLite passes a valid out-pointer.
                unsafe { *reserved = c_int::from(held) };
                ffi::SQLITE_OK
            }
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    ffi_call("xFileControl", ffi::SQLITE_IOERR, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        // Each op below is answered as SQLite's unix VFS answers it (`unixFileControl`), with
        // the argument type SQLite documents for it; SQLite passes a valid, aligned pointer of
        // that type for every op it handles, and a caller of `sqlite3_file_control` must too.
        match op {
            ffi::SQLITE_FCNTL_LOCKSTATE => {
                // SAFETY: an `int *` for this op (see above).
                unsafe { *arg.cast::<c_int>() = state.file.lock_level() as c_int };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_LAST_ERRNO => {
                // SAFETY: an `int *` for this op.
                unsafe { *arg.cast::<c_int>() = state.last_errno.load(Ordering::Relaxed) };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_CHUNK_SIZE => {
                // SAFETY: an `int *` for this op.
                let bytes = unsafe { *arg.cast::<c_int>() };
                state.file.set_chunk_size(u32::try_from(bytes).unwrap_or(0));
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_SIZE_HINT => {
                // SAFETY: a `sqlite3_int64 *` for this op.
                let bytes = unsafe { *arg.cast::<i64>() };
                match state.file.size_hint(u64::try_from(bytes).unwrap_or(0)) {
                    Ok(()) => ffi::SQLITE_OK,
                    Err(e) => state.fail(&e),
                }
            }
            ffi::SQLITE_FCNTL_PERSIST_WAL => {
                // SAFETY: an `int *` for this op.
                unsafe { mode_bit(&state.persist_wal, arg.cast::<c_int>()) };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_POWERSAFE_OVERWRITE => {
                // SAFETY: an `int *` for this op.
                unsafe { mode_bit(&state.powersafe_overwrite, arg.cast::<c_int>()) };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_TEMPFILENAME => {
                let Some(name) = state.shell.vfs().and_then(|vfs| vfs.temp_file_name()) else {
                    return ffi::SQLITE_NOTFOUND;
                };
                let Ok(name) = std::ffi::CString::new(name.as_os_str().as_encoded_bytes()) else {
                    return record(
                        ffi::SQLITE_IOERR,
                        None,
                        format!("temporary file name {name:?} holds a NUL byte"),
                    );
                };
                // SAFETY: the format is a literal with one `%s`, matched by a NUL-terminated
                // string that outlives the call.
                let copy = unsafe { ffi::sqlite3_mprintf(c"%s".as_ptr(), name.as_ptr()) };
                if copy.is_null() {
                    return ffi::SQLITE_NOMEM;
                }
                // SAFETY: a `char **` for this op; SQLite (or the caller) frees the string
                // with sqlite3_free, which matches sqlite3_mprintf.
                unsafe { *arg.cast::<*mut std::os::raw::c_char>() = copy };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_MMAP_SIZE => {
                let arg = arg.cast::<i64>();
                // SAFETY: a `sqlite3_int64 *` for this op.
                let wanted = unsafe { *arg };
                let previous = state.mmap_limit.load(Ordering::Acquire);
                // Report the cap in force before the call, and change it only for a
                // non-negative request (a negative one is a query) while no fetched page is
                // out: SQLite counts on the cap it set staying put until its pages come back.
                // SAFETY: as above.
                unsafe { *arg = previous };
                let out = !state.fetched.lock().is_empty();
                if let (Ok(wanted), false) = (u64::try_from(wanted), out) {
                    match state.file.set_mmap_limit(wanted) {
                        Ok(in_force) => state
                            .mmap_limit
                            .store(i64::try_from(in_force).unwrap_or(i64::MAX), Ordering::Release),
                        Err(e) => return state.fail(&e),
                    }
                }
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_VFSNAME => {
                // SAFETY: the format is a literal with one `%s`, matched by the registration's
                // NUL-terminated name, which lives forever (`Shell`s are never freed).
                let name = unsafe { ffi::sqlite3_mprintf(c"%s".as_ptr(), state.shell.c_name()) };
                // SAFETY: a `char **` for this op; SQLite frees the string with sqlite3_free,
                // which matches sqlite3_mprintf.
                unsafe { *arg.cast::<*mut std::os::raw::c_char>() = name };
                ffi::SQLITE_OK
            }
            ffi::SQLITE_FCNTL_HAS_MOVED => match state.file.has_moved() {
                Ok(moved) => {
                    // SAFETY: for this op SQLite passes a valid, aligned `int *`.
                    unsafe { *arg.cast::<c_int>() = c_int::from(moved) };
                    ffi::SQLITE_OK
                }
                Err(e) => state.fail(&e),
            },
            // Everything else, including PRAGMA (so SQLite runs its own pragmas) and the
            // atomic-write controls (never asked for: BATCH_ATOMIC is never advertised), is not
            // ours.
            _ => ffi::SQLITE_NOTFOUND,
        }
    })
}

/// A flag file control (`unixModeBit`): a negative `*arg` asks, and gets the flag back as 0 or
/// 1; otherwise `*arg != 0` sets the flag.
///
/// # Safety
/// `arg` is a valid, aligned `int *`.
unsafe fn mode_bit(flag: &AtomicBool, arg: *mut c_int) {
    // SAFETY: per the contract.
    let wanted = unsafe { *arg };
    if wanted < 0 {
        // SAFETY: per the contract.
        unsafe { *arg = c_int::from(flag.load(Ordering::Relaxed)) };
    } else {
        flag.store(wanted != 0, Ordering::Relaxed);
    }
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    ffi_call("xSectorSize", folio_vfs::DEFAULT_SECTOR_SIZE as c_int, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        // The unix VFS fixes its device characteristics at this call too.
        state.characteristics();
        c_int::try_from(state.file.sector_size()).unwrap_or(c_int::MAX)
    })
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    ffi_call("xDeviceCharacteristics", 0, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        state.characteristics()
    })
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    region_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes a valid out-pointer; it must hold null unless a region is returned.
    unsafe { *out.cast::<*mut c_void>() = ptr::null_mut() };
    ffi_call("xShmMap", ffi::SQLITE_IOERR_SHMMAP, || {
        let Ok(region) = u32::try_from(region) else {
            return record(ffi::SQLITE_MISUSE, None, format!("xShmMap of region {region}"));
        };
        if usize::try_from(region_size) != Ok(SHM_REGION_SIZE) {
            return record(
                ffi::SQLITE_IOERR_SHMMAP,
                None,
                format!("xShmMap with {region_size}-byte regions; Folio maps {SHM_REGION_SIZE}"),
            );
        }
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.shm_map(region, extend != 0) {
            Ok(Some(shm)) => {
                let address = shm.as_ptr();
                let read_only = shm.is_read_only();
                let mut kept = state.shm.lock();
                if !kept.iter().any(|r| r.same_memory(&shm)) {
                    kept.push(shm);
                }
                // SAFETY: as above. The region is kept alive in `state.shm` until xShmUnmap or
                // xClose, the only points after which SQLite stops using the address.
                unsafe { *out = address.cast::<c_void>() };
                // A read-only mapping is returned with SQLITE_READONLY, as unixShmMap does:
                // SQLite then never writes it (its WAL_SHM_RDONLY paths).
                if read_only {
                    ffi::SQLITE_READONLY
                } else {
                    ffi::SQLITE_OK
                }
            }
            // Not there yet and not to be created: SQLITE_OK with a null pointer, as unix does.
            Ok(None) => ffi::SQLITE_OK,
            // A read-only -shm nobody live initialised: SQLite's unreliable-shm path.
            Err(e) if e.is_shm_cant_init() => state.fail_as(SQLITE_READONLY_CANTINIT, &e),
            // A read-only -shm too small for the region: SQLITE_READONLY with a null pointer,
            // as unixShmMap returns (SQLite then asks for recovery it may not run).
            Err(e @ Error::ReadOnly { .. }) => state.fail_as(ffi::SQLITE_READONLY, &e),
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    ffi_call("xShmLock", ffi::SQLITE_IOERR_SHMLOCK, || {
        let (Ok(slot), Ok(n), Some(kind)) =
            (usize::try_from(offset), usize::try_from(n), codes::shm_lock_kind(flags))
        else {
            return record(
                ffi::SQLITE_MISUSE,
                None,
                format!("xShmLock of {n} slot(s) from {offset} with flags {flags:#x}"),
            );
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.shm_lock(slot, n, kind) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    ffi_call_void("xShmBarrier", || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        state.file.shm_barrier();
    });
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    ffi_call("xShmUnmap", ffi::SQLITE_IOERR_SHMMAP, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        let result = state.file.shm_unmap(delete != 0);
        // SQLite forgets every region address now, whatever the outcome.
        state.shm.lock().clear();
        match result {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => state.fail(&e),
        }
    })
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes a valid out-pointer; null means "read it instead".
    unsafe { *out = ptr::null_mut() };
    ffi_call("xFetch", ffi::SQLITE_IOERR_MMAP, || {
        let (len, offset) = match (len_of(amount), offset_of(offset)) {
            (Ok(len), Ok(offset)) => (len, offset),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        match state.file.fetch(offset, len) {
            Ok(Some(page)) => {
                let address = page.as_ptr();
                state.fetched.lock().push(page);
                // SAFETY: as above. The page (and so its mapping) is kept in `state.fetched`
                // until xUnfetch returns this address, or xClose. SQLite never writes through
                // it (Folio maps read-only; SQLITE_MMAP_READWRITE is not a bundled option).
                unsafe { *out = address.cast_mut().cast::<c_void>() };
                ffi::SQLITE_OK
            }
            Ok(None) => ffi::SQLITE_OK,
            Err(e) => {
                // As the unix VFS does when mmap fails: turn mapping off for this file and let
                // SQLite read; the failure is still recorded and logged.
                state.fail(&e);
                let _ = state.file.set_mmap_limit(0);
                state.mmap_limit.store(0, Ordering::Release);
                ffi::SQLITE_OK
            }
        }
    })
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    _offset: i64,
    page: *mut c_void,
) -> c_int {
    ffi_call("xUnfetch", ffi::SQLITE_IOERR_MMAP, || {
        // SAFETY: an io method on an open file.
        let state = unsafe { state(file) };
        if page.is_null() {
            // xUnfetch(0, NULL): the file changed underneath; drop the current mapping. Pages
            // still out keep theirs alive.
            state.file.unmap();
            return ffi::SQLITE_OK;
        }
        let address = page.cast_const().cast::<u8>();
        let mut fetched = state.fetched.lock();
        match fetched.iter().rposition(|p| p.as_ptr() == address) {
            Some(i) => {
                fetched.swap_remove(i);
                ffi::SQLITE_OK
            }
            None => record(
                ffi::SQLITE_MISUSE,
                None,
                format!("xUnfetch of {address:p}, which xFetch did not hand out"),
            ),
        }
    })
}

#[cfg(test)]
mod tests;
