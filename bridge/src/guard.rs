//! The fence between SQLite and Rust: every callback body runs inside [`ffi_call`], so a panic
//! never unwinds into SQLite's C frames (it becomes an error code), and every error a callback
//! returns is recorded with what happened and where.
//!
//! The record goes to two places: this thread's [`last_error`] (which SQLite also reads through
//! `xGetLastError` to fill `sqlite3_system_errno`), and SQLite's error log (`sqlite3_log`, the
//! channel `SQLITE_CONFIG_LOG` subscribers see, as the unix VFS uses it). Busy answers are
//! recorded but not logged: they are the lock protocol working, not failures.

use crate::codes::sqlite_code;
use libsqlite3_sys as ffi;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The last error a bridged VFS returned to SQLite on this thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// The (extended) SQLite result code returned.
    pub code: c_int,
    /// The OS error number behind it, if there was one (what `sqlite3_system_errno` reports).
    pub errno: Option<i32>,
    /// What happened and where: the folio-vfs error's message (operation, path, offset, OS
    /// error), or the panic message for a callback that panicked.
    pub message: String,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// The last error any bridged VFS returned to SQLite on the calling thread, if any.
///
/// SQLite reports only a code (`SQLITE_IOERR_WRITE`); this says which file, at which offset,
/// with which OS error. Calls made by SQLite on other threads do not change it.
pub fn last_error() -> Option<LastError> {
    LAST_ERROR.with(|last| last.borrow().clone())
}

/// Records an error returned to SQLite and hands back its code.
pub(crate) fn record(code: c_int, errno: Option<i32>, message: String) -> c_int {
    if code != ffi::SQLITE_BUSY {
        // Interior NULs cannot occur in our messages' structure, but a path could hold one.
        let text = CString::new(message.replace('\0', "\\0")).expect("NULs were replaced");
        // SAFETY: the format is a NUL-terminated literal with one `%s`, matched by one
        // NUL-terminated string that outlives the call; sqlite3_log may be called from any
        // thread at any time after SQLite is initialized (which registration ensures).
        unsafe { ffi::sqlite3_log(code, c"folio bridge: %s".as_ptr(), text.as_ptr()) };
    }
    LAST_ERROR.with(|last| *last.borrow_mut() = Some(LastError { code, errno, message }));
    code
}

/// Maps `error` to its SQLite code (see [`sqlite_code`]), records it, returns the code.
pub(crate) fn fail(error: &folio_vfs::Error) -> c_int {
    fail_as(sqlite_code(error), error)
}

/// Records `error` under a code the caller chose (a refinement of [`sqlite_code`]).
pub(crate) fn fail_as(code: c_int, error: &folio_vfs::Error) -> c_int {
    record(code, error.raw_os_error(), error.to_string())
}

/// Runs a callback body; a panic becomes `on_panic`, recorded with the panic message.
pub(crate) fn ffi_call(
    method: &'static str,
    on_panic: c_int,
    body: impl FnOnce() -> c_int,
) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(payload) => {
            record(on_panic, None, format!("panic in {method}: {}", panic_message(&*payload)))
        }
    }
}

/// Runs a callback body that returns nothing to SQLite; a panic is recorded and swallowed.
pub(crate) fn ffi_call_void(method: &'static str, body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        record(
            ffi::SQLITE_INTERNAL,
            None,
            format!("panic in {method}: {}", panic_message(&*payload)),
        );
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
