//! WAL mode: the header's database size (page 1, bytes 28..32) in the log always matches the
//! commit frame's size, even when page 1 was spilled to the log mid-transaction at another size
//! and the transaction ended at the size it began with; and the next commit stamps the next
//! change counter. Found by the WAL crash suite (folio-tests `wal_crash`,
//! `crash_found_a_page1_spilled_mid_transaction_is_restamped_at_commit`: FOLIO_SEED=0x3a2e00007
//! on `Psow 1024` at NORMAL; first as "the header says 2 pages, the pager sees 4").

use folio_pager::header::DbHeader;
use folio_pager::{JournalMode, Pager, PagerOptions};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::Vfs;
use std::path::Path;
use std::sync::Arc;

const PS: usize = 1024;

fn open(vfs: &Arc<dyn Vfs>, cache_size: i64) -> Pager {
    let opts = PagerOptions {
        journal_mode: JournalMode::Wal,
        page_size: PS as u32,
        cache_size,
        wal_autocheckpoint: 0,
        ..PagerOptions::default()
    };
    Pager::open(Arc::clone(vfs), Path::new("/db"), opts).unwrap()
}

fn header_and_size(pager: &mut Pager) -> (DbHeader, u32) {
    pager.begin_read().unwrap();
    let header = DbHeader::decode(&pager.get(1).unwrap()).unwrap();
    let n_pages = pager.page_count();
    pager.end_read().unwrap();
    (header, n_pages)
}

#[test]
fn page1_spilled_at_a_smaller_size_is_restamped_at_commit() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let mut pager = open(&vfs, 100);
    pager.begin_write().unwrap();
    for p in 1..=4 {
        pager.write(p, &[p as u8; PS]).unwrap();
    }
    pager.commit().unwrap();
    let (before, _) = header_and_size(&mut pager);

    // Shrink to 2 pages, change page 1, let a cache of 2 pages spill it (stamped with the
    // size then: 2), and grow back to the 4 pages the transaction began with.
    pager.set_cache_size(2);
    pager.begin_write().unwrap();
    pager.truncate(2).unwrap();
    pager.page_mut(1).unwrap()[100..].fill(0x11);
    pager.write(2, &[0x22; PS]).unwrap();
    pager.write(3, &[0x33; PS]).unwrap();
    pager.write(4, &[0x44; PS]).unwrap();
    pager.commit().unwrap();
    assert!(pager.stats().spills > 0, "nothing was spilled: the test proves nothing");

    for reader in [&mut pager, &mut open(&vfs, 100)] {
        let (header, n_pages) = header_and_size(reader);
        assert_eq!(n_pages, 4);
        assert_eq!(header.db_size_pages, 4, "the log's page 1 says another size");
        assert_eq!(header.change_counter, before.change_counter + 1);
    }
    // The next commit stamps the next counter (the pager took it from the page 1 it wrote).
    pager.set_cache_size(100);
    pager.begin_write().unwrap();
    pager.write(5, &[0x55; PS]).unwrap();
    pager.commit().unwrap();
    let (header, n_pages) = header_and_size(&mut pager);
    assert_eq!((header.db_size_pages, n_pages), (5, 5));
    assert_eq!(header.change_counter, before.change_counter + 2);
}
