//! The error type of folio-journal: an I/O or lock failure of the VFS underneath, or a journal
//! record the caller handed over in the wrong shape.

/// Result alias for folio-journal.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A folio-journal error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The VFS failed (I/O error, lock conflict, …) on the journal or the database.
    #[error(transparent)]
    Vfs(#[from] folio_vfs::Error),
    /// A page image handed to [`crate::writer::JournalWriter::append`] is not one page long
    /// (a bug in the caller; nothing was written).
    #[error("journal record of page {page_no} is {len} bytes, not one {page_size}-byte page")]
    RecordSize {
        /// The page whose image was given.
        page_no: u32,
        /// The image's length.
        len: usize,
        /// The journal's page size.
        page_size: u32,
    },
}

impl Error {
    /// The VFS error underneath, if any.
    pub fn vfs_error(&self) -> Option<&folio_vfs::Error> {
        match self {
            Error::Vfs(e) => Some(e),
            _ => None,
        }
    }

    /// True when a lock was not available: retrying later may succeed.
    pub fn is_busy(&self) -> bool {
        self.vfs_error().is_some_and(folio_vfs::Error::is_busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_names_its_file_page_and_sizes() {
        let io = std::io::Error::other("device gone");
        let e =
            Error::from(folio_vfs::Error::io_at(folio_vfs::Op::Write, "/d/a.db-journal", 512, io));
        let text = e.to_string();
        assert!(text.contains("/d/a.db-journal") && text.contains("offset 512"), "{text}");
        let e = Error::RecordSize { page_no: 7, len: 100, page_size: 4096 };
        let text = e.to_string();
        assert!(
            text.contains("page 7") && text.contains("100 bytes") && text.contains("4096-byte"),
            "{text}"
        );
    }
}
