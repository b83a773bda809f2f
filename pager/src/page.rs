//! [`PageRef`]: a read-only page handed to the layer above, from the cache or from the memory
//! map; the two look the same to the caller.

use folio_vfs::MappedPage;
use std::sync::Arc;

/// A page's bytes, valid for as long as the handle lives.
///
/// A cached page is pinned while a `PageRef` to it exists (it is never evicted), and a later
/// modification of the page works on a copy, so the bytes never change under the holder. A
/// mapped page comes straight from the database file's memory map, without a copy; it is only
/// handed out while the pager holds the lock that keeps writers out (see
/// [`folio_vfs::MappedPage`]), so hold it no longer than the read transaction.
#[derive(Clone)]
pub struct PageRef {
    page_no: u32,
    backing: Backing,
}

#[derive(Clone)]
enum Backing {
    Cache(Arc<Vec<u8>>),
    /// The token counts the mapped pages out, so the pager refuses to drop its lock under them.
    Mapped(MappedPage, #[allow(dead_code)] Arc<()>),
}

impl PageRef {
    pub(crate) fn cached(page_no: u32, data: Arc<Vec<u8>>) -> Self {
        PageRef { page_no, backing: Backing::Cache(data) }
    }

    pub(crate) fn mapped(page_no: u32, page: MappedPage, token: Arc<()>) -> Self {
        PageRef { page_no, backing: Backing::Mapped(page, token) }
    }

    /// The page number.
    pub fn page_no(&self) -> u32 {
        self.page_no
    }

    /// True if the bytes come straight from the memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(..))
    }
}

impl std::ops::Deref for PageRef {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.backing {
            Backing::Cache(data) => data,
            Backing::Mapped(page, _) => page,
        }
    }
}

impl AsRef<[u8]> for PageRef {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for PageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRef")
            .field("page_no", &self.page_no)
            .field("mapped", &self.is_mapped())
            .field("len", &self.len())
            .finish()
    }
}
