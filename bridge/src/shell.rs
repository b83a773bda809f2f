//! The object each registration's `sqlite3_vfs` points to (through `pAppData`): the name, the
//! Folio VFS until it is unregistered, and a count of the files open through it.
//!
//! It sits below both sides of the FFI: [`crate::registry`] makes and retires shells,
//! [`crate::vfs_methods`] and [`crate::io_methods`] reach the VFS through them, and the shell
//! knows neither.

use folio_vfs::sync::atomic::{AtomicUsize, Ordering};
use folio_vfs::sync::{Arc, RwLock};
use folio_vfs::Vfs;
use std::ffi::CString;
use std::os::raw::c_char;

/// What SQLite's `sqlite3_vfs` points to (through `pAppData`); lives for the rest of the process.
pub(crate) struct Shell {
    name: CString,
    /// `None` once unregistered.
    vfs: RwLock<Option<Arc<dyn Vfs>>>,
    open_files: AtomicUsize,
}

impl Shell {
    /// A shell for `vfs`, registered as `name`.
    pub(crate) fn new(name: CString, vfs: Arc<dyn Vfs>) -> Shell {
        Shell { name, vfs: RwLock::new(Some(vfs)), open_files: AtomicUsize::new(0) }
    }

    /// Takes the VFS out (at unregistration): from then on [`Shell::vfs`] is `None`.
    pub(crate) fn take_vfs(&self) -> Option<Arc<dyn Vfs>> {
        self.vfs.write().take()
    }

    /// How many files are open through this shell.
    pub(crate) fn open_files(&self) -> usize {
        self.open_files.load(Ordering::Acquire)
    }

    /// The name as SQLite sees it.
    pub(crate) fn c_name(&self) -> *const c_char {
        self.name.as_ptr()
    }

    /// The name, for messages.
    pub(crate) fn name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    /// The VFS, unless unregistered.
    pub(crate) fn vfs(&self) -> Option<Arc<dyn Vfs>> {
        self.vfs.read().clone()
    }

    /// Counts a file opened through this shell.
    pub(crate) fn file_opened(&self) {
        self.open_files.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a file closed.
    pub(crate) fn file_closed(&self) {
        self.open_files.fetch_sub(1, Ordering::AcqRel);
    }
}
