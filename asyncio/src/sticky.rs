//! A background error kept so that it can be reported again and again: [`folio_vfs::Error`] is
//! not `Clone` (it holds an `io::Error`), so [`Sticky`] keeps what is needed to rebuild an
//! equal error each time, the OS error number included (so "disk full" stays "disk full").

use folio_vfs::sync::Arc;
use folio_vfs::{Error, Op};
use std::io;
use std::path::PathBuf;

/// An error of the writer thread, shared by every handle it poisons.
#[derive(Debug, Clone)]
pub(crate) struct Sticky(Arc<Error>);

impl Sticky {
    pub(crate) fn new(error: Error) -> Self {
        Sticky(Arc::new(error))
    }

    /// A fresh copy of the error, as the writer got it.
    pub(crate) fn error(&self) -> Error {
        replay(&self.0)
    }
}

fn copy_io(source: &io::Error) -> io::Error {
    match source.raw_os_error() {
        // Rebuilt from the number, the message is the OS's own, as in the original.
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(source.kind(), source.to_string()),
    }
}

fn replay(error: &Error) -> Error {
    match error {
        Error::Busy { op, path, lock } => Error::Busy { op: *op, path: path.clone(), lock: *lock },
        Error::Io { op, path, offset, source } => {
            Error::Io { op: *op, path: path.clone(), offset: *offset, source: copy_io(source) }
        }
        Error::CantOpen { path, reason, source } => Error::CantOpen {
            path: path.clone(),
            reason: *reason,
            source: source.as_ref().map(copy_io),
        },
        Error::ReadOnly { op, path } => Error::ReadOnly { op: *op, path: path.clone() },
        Error::Unsupported { op, path, why } => {
            Error::Unsupported { op: *op, path: path.clone(), why }
        }
        Error::Misuse { path, rule } => Error::Misuse { path: path.clone(), rule: *rule },
        other => Error::io(Op::Write, PathBuf::new(), io::Error::other(other.to_string())),
    }
}
