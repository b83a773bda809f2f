//! Registering Folio VFSes with SQLite under a name, and unregistering them.
//!
//! Each registration makes a [`Shell`] (the name, the VFS, a count of open files) and a
//! `sqlite3_vfs` pointing to it, and hands the latter to `sqlite3_vfs_register`. Both are leaked
//! on purpose: SQLite gives no signal when the last connection that chose a VFS is gone (a
//! connection keeps its `sqlite3_vfs *` for its whole life, even with no file open, e.g. for
//! `date('now')`), so freeing them could leave SQLite with a dangling pointer. A registration
//! therefore costs a few hundred bytes for the life of the process; the VFS itself (which may
//! hold a whole simulated disk) is released at [`unregister`].
//!
//! Lifetime rules:
//! * the VFS is kept alive from [`register`] to [`unregister`], which hands it back;
//! * [`unregister`] refuses while any file opened through the registration is still open
//!   ([`Error::InUse`]): close the connections first;
//! * a connection that somehow outlives its registration gets `SQLITE_CANTOPEN` or I/O errors
//!   from then on, never undefined behaviour;
//! * names are unique among SQLite's VFSes: registering a name SQLite already knows (`unix`, or
//!   another registration's) fails with [`Error::NameTaken`].

use crate::shell::Shell;
use crate::vfs_methods;
use folio_vfs::sync::atomic::{AtomicU64, Ordering};
use folio_vfs::sync::{Arc, Mutex};
use folio_vfs::Vfs;
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::sync::OnceLock;

/// An error from registering or unregistering a VFS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name cannot be a SQLite VFS name.
    #[error("cannot register a VFS named {name:?}: {why}")]
    InvalidName {
        /// The name asked for.
        name: String,
        /// Why not.
        why: &'static str,
    },
    /// SQLite already has a VFS by that name (a stock one, or another registration).
    #[error("cannot register a VFS named {name:?}: SQLite already has a VFS by that name")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// No VFS by that name was registered by this bridge (or it was already unregistered).
    #[error("cannot unregister VFS {name:?}: the bridge has not registered it")]
    NotRegistered {
        /// The name asked for.
        name: String,
    },
    /// Files opened through the VFS are still open: a connection still uses it.
    #[error(
        "cannot unregister VFS {name:?}: {open_files} file(s) opened through it are still open; \
         close the connections using it first"
    )]
    InUse {
        /// The VFS's name.
        name: String,
        /// How many files are open through it.
        open_files: usize,
    },
    /// A SQLite call failed.
    #[error("{call} for VFS {name:?} failed with SQLite result code {code}")]
    Sqlite {
        /// The SQLite function.
        call: &'static str,
        /// The VFS's name.
        name: String,
        /// Its result code.
        code: c_int,
    },
}

/// A `sqlite3_vfs` handed to SQLite; never freed.
struct RawVfs(*mut ffi::sqlite3_vfs);

// SAFETY: the pointer is only passed back to SQLite (`sqlite3_vfs_unregister`), which takes
// its own mutex; Rust never reads or writes through it, so which thread holds it is immaterial.
unsafe impl Send for RawVfs {}

struct Entry {
    shell: &'static Shell,
    raw: RawVfs,
}

/// Registrations by name. Held across the SQLite calls so that two registrations of one name
/// cannot race between the check and the registration.
fn registry() -> &'static Mutex<HashMap<String, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Registers `vfs` with SQLite as `name`, so that `sqlite3_open_v2(.., name)` (rusqlite's
/// `Connection::open_with_flags_and_vfs`) opens files through it; with `make_default`, it also
/// becomes the process's default VFS, used by every connection that names none.
///
/// The VFS is kept alive until [`unregister`]. Safe to call from many threads with distinct
/// names.
///
/// The `sqlite3_vfs` object SQLite receives is never freed (a few hundred bytes per
/// registration): a connection keeps its `sqlite3_vfs *` for its whole life, even with no file
/// open, and SQLite says nothing when the last one is gone. After [`unregister`], a connection
/// that outlived the registration gets errors from it, never freed memory.
pub fn register(name: &str, vfs: Arc<dyn Vfs>, make_default: bool) -> Result<(), Error> {
    let invalid = |why| Error::InvalidName { name: name.to_string(), why };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    let c_name = CString::new(name).map_err(|_| invalid("the name contains a NUL byte"))?;
    let mut registry = registry().lock();
    // SAFETY: sqlite3_initialize may be called any number of times from any thread.
    let rc = unsafe { ffi::sqlite3_initialize() };
    if rc != ffi::SQLITE_OK {
        return Err(Error::Sqlite { call: "sqlite3_initialize", name: name.to_string(), code: rc });
    }
    // SAFETY: `c_name` is a valid NUL-terminated string; SQLite is initialized.
    let existing = unsafe { ffi::sqlite3_vfs_find(c_name.as_ptr()) };
    if !existing.is_null() || registry.contains_key(name) {
        return Err(Error::NameTaken { name: name.to_string() });
    }
    let shell: &'static Shell = Box::leak(Box::new(Shell::new(c_name, vfs)));
    let raw = Box::into_raw(Box::new(vfs_methods::new_sqlite3_vfs(shell)));
    // SAFETY: `raw` is a fully initialised sqlite3_vfs that is never freed (SQLite keeps the
    // pointer and writes its `pNext`), naming a NUL-terminated name that is never freed either.
    let rc = unsafe { ffi::sqlite3_vfs_register(raw, c_int::from(make_default)) };
    if rc != ffi::SQLITE_OK {
        // SQLite did not take the object, so it can go; the shell is tiny and stays.
        // SAFETY: `raw` came from Box::into_raw above and SQLite kept no pointer to it.
        drop(unsafe { Box::from_raw(raw) });
        shell.take_vfs();
        return Err(Error::Sqlite {
            call: "sqlite3_vfs_register",
            name: name.to_string(),
            code: rc,
        });
    }
    registry.insert(name.to_string(), Entry { shell, raw: RawVfs(raw) });
    Ok(())
}

/// Unregisters the VFS registered as `name` and hands it back.
///
/// Fails with [`Error::InUse`] (and leaves the registration in place) while files opened
/// through it are open, i.e. while a connection uses it: close connections first. If it was the
/// default VFS, SQLite's next registered VFS becomes the default.
pub fn unregister(name: &str) -> Result<Arc<dyn Vfs>, Error> {
    let mut registry = registry().lock();
    let entry =
        registry.get(name).ok_or_else(|| Error::NotRegistered { name: name.to_string() })?;
    let open_files = entry.shell.open_files();
    if open_files > 0 {
        return Err(Error::InUse { name: name.to_string(), open_files });
    }
    // SAFETY: `entry.raw` is the object registered for this name, still alive (never freed).
    let rc = unsafe { ffi::sqlite3_vfs_unregister(entry.raw.0) };
    if rc != ffi::SQLITE_OK {
        return Err(Error::Sqlite {
            call: "sqlite3_vfs_unregister",
            name: name.to_string(),
            code: rc,
        });
    }
    let entry = registry.remove(name).expect("looked up above, under the same lock");
    let vfs = entry.shell.take_vfs();
    Ok(vfs.expect("a registered shell holds its VFS until unregistered"))
}

/// How many files are open through the VFS registered as `name`; `None` if there is no such
/// registration.
pub fn open_files(name: &str) -> Option<usize> {
    registry().lock().get(name).map(|entry| entry.shell.open_files())
}

/// True if this bridge has registered a VFS as `name` (and not unregistered it).
pub fn is_registered(name: &str) -> bool {
    registry().lock().contains_key(name)
}

/// A registration that unregisters itself when dropped: the convenient form for tests and
/// applications that scope a VFS.
///
/// Drop connections before the `Registration`: dropping it while a connection still has files
/// open through it panics (unless the thread is already panicking, when the registration is
/// left in place), because the connection would otherwise lose its VFS under its feet.
#[derive(Debug)]
pub struct Registration {
    name: String,
}

impl Registration {
    /// Registers `vfs` as `name` (not as the default VFS); see [`register`].
    pub fn new(name: &str, vfs: Arc<dyn Vfs>) -> Result<Registration, Error> {
        register(name, vfs, false)?;
        Ok(Registration { name: name.to_string() })
    }

    /// Registers `vfs` under a name no other registration of this process has:
    /// `<prefix>-<process id>-<counter>`.
    pub fn unique(prefix: &str, vfs: Arc<dyn Vfs>) -> Result<Registration, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::new(&format!("{prefix}-{}-{n}", std::process::id()), vfs)
    }

    /// The name to open connections with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Files open through this registration now.
    pub fn open_files(&self) -> usize {
        open_files(&self.name).expect("a live Registration is registered")
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Err(e) = unregister(&self.name) {
            if !std::thread::panicking() {
                panic!("dropping the Registration of VFS {:?}: {e}", self.name);
            }
        }
    }
}
