//! A background error kept so that it can be reported again and again: every handle the writer
//! poisons shares one [`Sticky`], and each report is a fresh copy of the error as the writer got
//! it ([`folio_vfs::Error`]'s `Clone` keeps the OS error number, so "disk full" stays "disk
//! full").

use folio_vfs::sync::Arc;
use folio_vfs::Error;

/// An error of the writer thread, shared by every handle it poisons.
#[derive(Debug, Clone)]
pub(crate) struct Sticky(Arc<Error>);

impl Sticky {
    pub(crate) fn new(error: Error) -> Self {
        Sticky(Arc::new(error))
    }

    /// A fresh copy of the error, as the writer got it.
    pub(crate) fn error(&self) -> Error {
        Error::clone(&self.0)
    }
}
