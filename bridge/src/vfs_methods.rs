//! The `sqlite3_vfs` object and its callbacks over a folio-vfs [`Vfs`]: open, delete, access,
//! full path, randomness, sleep, the clock, the last OS error, and loadable-extension stubs.
//!
//! Each registered VFS's `pAppData` points to its [`Shell`], which lives for the rest of the
//! process, so a callback can always reach it, even from a connection that outlived the
//! registration (it then gets `SQLITE_CANTOPEN` or an I/O error, never freed memory).
//!
//! The `sqlite3_vfs` is version 2: version 3 only adds the system-call overrides of SQLite's own
//! test harness (`xSetSystemCall` and friends), which mean nothing for a Folio VFS, and a
//! version-3 object with null hooks would invite callers that trust the version to jump to null.

use crate::guard::{fail, ffi_call, ffi_call_void, last_error, record};
use crate::io_methods;
use crate::shell::Shell;
use folio_vfs::{AccessCheck, FileKind, Vfs};
use libsqlite3_sys as ffi;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `mxPathname`: the longest full path the bridge hands SQLite, in bytes.
pub(crate) const MAX_PATHNAME: c_int = 1024;

/// The Unix epoch as a Julian day number in milliseconds (2440587.5 days), as `os_unix.c` has it.
const UNIX_EPOCH_JULIAN_MS: i64 = 24_405_875 * 8_640_000;

/// The `sqlite3_vfs` object for `shell`, named by it.
pub(crate) fn new_sqlite3_vfs(shell: &'static Shell) -> ffi::sqlite3_vfs {
    ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: io_methods::FILE_SIZE,
        mxPathname: MAX_PATHNAME,
        pNext: ptr::null_mut(),
        zName: shell.c_name(),
        pAppData: ptr::from_ref(shell).cast_mut().cast::<c_void>(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }
}

/// The shell behind a `sqlite3_vfs` this crate made.
///
/// # Safety
/// `vfs` is an object made by [`new_sqlite3_vfs`] (SQLite only calls our callbacks with ours).
unsafe fn shell(vfs: *mut ffi::sqlite3_vfs) -> &'static Shell {
    // SAFETY: `pAppData` was set to a leaked `&'static Shell` and is never changed; reading the
    // one field through the raw pointer does not touch `pNext`, which SQLite may be updating.
    unsafe { &*(*vfs).pAppData.cast::<Shell>() }
}

/// The inner VFS, or the code to return when the registration is gone.
fn inner(shell: &Shell, what: &str) -> Result<std::sync::Arc<dyn Vfs>, c_int> {
    shell.vfs().ok_or_else(|| {
        record(
            ffi::SQLITE_CANTOPEN,
            None,
            format!(
                "{what}: VFS {:?} was unregistered while a connection still used it",
                shell.name()
            ),
        )
    })
}

/// A path SQLite passed as a C string.
///
/// # Safety
/// `name` is a valid NUL-terminated string for the duration of the call.
unsafe fn path_from_c(name: *const c_char) -> PathBuf {
    // SAFETY: per the contract.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    // `sqlite3_filename` in newer headers: the same `const char *`.
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes `szOsFile` bytes for the file, suitably aligned; until this call
    // succeeds they must say "not open" so that SQLite never closes a half-made file.
    unsafe { io_methods::init_closed(file) };
    ffi_call("xOpen", ffi::SQLITE_CANTOPEN, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let inner = match inner(shell, "xOpen") {
            Ok(inner) => inner,
            Err(code) => return code,
        };
        // A null name asks for a temporary file of the VFS's naming, deleted on close.
        // SAFETY: a non-null name is a NUL-terminated string valid during the call (URI
        // parameters that follow its NUL are not read here).
        let path = (!name.is_null()).then(|| unsafe { path_from_c(name) });
        let mut open_flags = crate::codes::open_flags(flags, path.is_some());
        // As the unix VFS: a URI filename's `psow` parameter sets powersafe overwrite.
        let psow = (flags & ffi::SQLITE_OPEN_URI != 0 && !name.is_null())
            .then(|| {
                // SAFETY: with SQLITE_OPEN_URI the name is a filename SQLite made, whose
                // parameters follow its NUL, which these two calls read; the parameter name is
                // a NUL-terminated literal.
                unsafe {
                    let given = !ffi::sqlite3_uri_parameter(name, c"psow".as_ptr()).is_null();
                    given.then(|| ffi::sqlite3_uri_boolean(name, c"psow".as_ptr(), 1) != 0)
                }
            })
            .flatten();
        if open_flags.kind == FileKind::MainDb && !name.is_null() {
            // `readonly_shm=1` opens the -shm read-only, as the unix VFS's
            // unixOpenSharedMemory asks `sqlite3_uri_boolean` of the database's name.
            let key = c"readonly_shm";
            // SAFETY: for a main database SQLite passes a name made by
            // sqlite3_create_filename / the URI parser, its parameters after its NUL, which
            // is what sqlite3_uri_boolean reads (a name without parameters has an empty list).
            // The key is NUL-terminated.
            let asked = unsafe { ffi::sqlite3_uri_boolean(name, key.as_ptr(), 0) };
            open_flags.readonly_shm = asked != 0;
        }
        match inner.open(path.as_deref(), open_flags) {
            Ok(vfs_file) => {
                // SAFETY: as above; SQLite does not use `file` until xOpen returns.
                unsafe { io_methods::init_open(file, shell, vfs_file, psow) };
                if !out_flags.is_null() {
                    // SAFETY: a non-null out-pointer from SQLite is valid.
                    unsafe { *out_flags = flags };
                }
                ffi::SQLITE_OK
            }
            Err(e) => fail(&e),
        }
    })
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    ffi_call("xDelete", ffi::SQLITE_IOERR_DELETE, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let inner = match inner(shell, "xDelete") {
            Ok(inner) => inner,
            Err(_) => return ffi::SQLITE_IOERR_DELETE,
        };
        // SAFETY: SQLite passes a NUL-terminated name valid during the call.
        let path = unsafe { path_from_c(name) };
        match inner.delete(&path, sync_dir != 0) {
            Ok(()) => ffi::SQLITE_OK,
            Err(e) => fail(&e),
        }
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    result: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes a valid out-pointer; "no" unless we find otherwise.
    unsafe { *result = 0 };
    ffi_call("xAccess", ffi::SQLITE_IOERR_ACCESS, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let inner = match inner(shell, "xAccess") {
            Ok(inner) => inner,
            Err(_) => return ffi::SQLITE_IOERR_ACCESS,
        };
        // SAFETY: SQLite passes a NUL-terminated name valid during the call.
        let path = unsafe { path_from_c(name) };
        // Folio asks "exists" and "readable and writable"; SQLITE_ACCESS_READ is answered as
        // "exists" (every Folio VFS can read what exists; the OS VFS is stricter on open).
        let check = match flags {
            ffi::SQLITE_ACCESS_READWRITE => AccessCheck::ReadWrite,
            _ => AccessCheck::Exists,
        };
        match inner.access(&path, check) {
            Ok(yes) => {
                // SAFETY: as above.
                unsafe { *result = c_int::from(yes) };
                ffi::SQLITE_OK
            }
            Err(e) => fail(&e),
        }
    })
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    out: *mut c_char,
) -> c_int {
    ffi_call("xFullPathname", ffi::SQLITE_CANTOPEN_FULLPATH, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let inner = match inner(shell, "xFullPathname") {
            Ok(inner) => inner,
            Err(code) => return code,
        };
        // SAFETY: SQLite passes a NUL-terminated name valid during the call.
        let path = unsafe { path_from_c(name) };
        let (full, via_symlink) = match inner.canonical_path(&path) {
            Ok(c) => (c.path, c.via_symlink),
            Err(e) => return fail(&e),
        };
        let bytes = full.as_os_str().as_encoded_bytes();
        let capacity = usize::try_from(n_out).unwrap_or(0);
        if bytes.contains(&0) || bytes.len() >= capacity {
            return record(
                ffi::SQLITE_CANTOPEN_FULLPATH,
                None,
                format!(
                    "full path of {} is {} ({} bytes; SQLite's buffer holds {})",
                    path.display(),
                    full.display(),
                    bytes.len(),
                    capacity.saturating_sub(1)
                ),
            );
        }
        // SAFETY: `out` has room for `n_out` bytes, checked above to exceed the path's length,
        // so the bytes and the terminating NUL fit; the regions cannot overlap (ours is a
        // fresh Rust allocation).
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len());
            *out.add(bytes.len()) = 0;
        }
        // As the unix VFS does: SQLite refuses an SQLITE_OPEN_NOFOLLOW open on this answer.
        if via_symlink {
            crate::codes::SQLITE_OK_SYMLINK
        } else {
            ffi::SQLITE_OK
        }
    })
}

unsafe extern "C" fn x_dl_open(_vfs: *mut ffi::sqlite3_vfs, _path: *const c_char) -> *mut c_void {
    // Loading extensions through a Folio VFS is not supported: SQLite then calls xDlError.
    ptr::null_mut()
}

unsafe extern "C" fn x_dl_error(_vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    const MESSAGE: &[u8] = b"loadable extensions are not supported by Folio VFSes";
    let Ok(capacity) = usize::try_from(n) else { return };
    if capacity == 0 || out.is_null() {
        return;
    }
    let len = MESSAGE.len().min(capacity - 1);
    // SAFETY: SQLite passes a buffer of `n` bytes; `len + 1 <= n`.
    unsafe {
        ptr::copy_nonoverlapping(MESSAGE.as_ptr(), out.cast::<u8>(), len);
        *out.add(len) = 0;
    }
}

unsafe extern "C" fn x_dl_sym(
    _vfs: *mut ffi::sqlite3_vfs,
    _handle: *mut c_void,
    _symbol: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    None
}

unsafe extern "C" fn x_dl_close(_vfs: *mut ffi::sqlite3_vfs, _handle: *mut c_void) {}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let Ok(len) = usize::try_from(n) else { return 0 };
    // SAFETY: SQLite passes a buffer of `n` bytes, possibly uninitialised, so it is zeroed
    // before a slice is made; zeros are also what a failure leaves.
    let buf = unsafe {
        ptr::write_bytes(out.cast::<u8>(), 0, len);
        std::slice::from_raw_parts_mut(out.cast::<u8>(), len)
    };
    ffi_call("xRandomness", 0, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let Ok(inner) = inner(shell, "xRandomness") else { return 0 };
        match inner.randomness(buf) {
            Ok(()) => n,
            Err(e) => {
                fail(&e);
                0
            }
        }
    })
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, microseconds: c_int) -> c_int {
    ffi_call("xSleep", 0, || {
        // SAFETY: SQLite calls our callbacks with our object.
        let shell = unsafe { shell(vfs) };
        let micros = u64::try_from(microseconds).unwrap_or(0);
        // Through the VFS, so the simulated disk's time does not pass on the wall clock.
        if let Ok(inner) = inner(shell, "xSleep") {
            inner.sleep(Duration::from_micros(micros));
        }
        microseconds
    })
}

/// Now, in milliseconds since the Julian epoch. The folio-vfs `Vfs` has no clock, so this is the
/// system's: SQLite only uses it for `date('now')` and friends, never for I/O decisions.
fn now_julian_ms() -> i64 {
    let since_unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH_JULIAN_MS + i64::try_from(since_unix.as_millis()).unwrap_or(i64::MAX / 2)
}

unsafe extern "C" fn x_current_time(_vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    // SAFETY: SQLite passes a valid out-pointer.
    unsafe { *out = now_julian_ms() as f64 / 86_400_000.0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_current_time_int64(_vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    // SAFETY: SQLite passes a valid out-pointer.
    unsafe { *out = now_julian_ms() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_get_last_error(
    _vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let mut errno = 0;
    ffi_call_void("xGetLastError", || {
        let Some(last) = last_error() else { return };
        errno = last.errno.unwrap_or(0);
        let capacity = usize::try_from(n).unwrap_or(0);
        if capacity == 0 || out.is_null() {
            return;
        }
        let len = last.message.len().min(capacity - 1);
        // SAFETY: SQLite passes a buffer of `n` bytes; `len + 1 <= n`.
        unsafe {
            ptr::copy_nonoverlapping(last.message.as_ptr(), out.cast::<u8>(), len);
            *out.add(len) = 0;
        }
    });
    errno
}

#[cfg(test)]
mod tests {
    //! The clock conversion, checked against SQLite's own `julianday('now')` arithmetic.

    use super::*;

    #[test]
    fn the_unix_epoch_is_julian_day_2440587_5() {
        assert_eq!(UNIX_EPOCH_JULIAN_MS as f64 / 86_400_000.0, 2_440_587.5);
        assert!(now_julian_ms() > UNIX_EPOCH_JULIAN_MS);
    }
}
