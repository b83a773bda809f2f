//! WAL mode on a device whose sectors hold several pages and that lacks powersafe overwrite: a
//! torn write garbles its whole sector, so a checkpoint copying one page into the database can
//! damage the other pages of that sector. SQLite's `pagerWriteLargeSector` (which runs in WAL
//! mode too) puts every page of a written page's sector into the log, so the log restores the
//! whole sector after such a crash. Found by the WAL crash suite (folio-tests `wal_crash`,
//! `crash_found_a_torn_checkpoint_damages_only_pages_the_log_restores`: FOLIO_SEED=0x3a1e00012
//! on `NoPsow 1024`).

use folio_pager::{CheckpointMode, JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::sim::{CrashAt, FaultOp, SimConfig, SimVfs};
use folio_vfs::DeviceCharacteristics;
use std::path::Path;
use std::sync::Arc;

const PS: usize = 1024;
const DB: &str = "/db/test.db";

fn device(seed: u64) -> SimConfig {
    SimConfig::new(seed).with_sector_size(4096).with_characteristics(DeviceCharacteristics::NONE)
}

fn open(vfs: &SimVfs) -> Pager {
    let opts = PagerOptions {
        journal_mode: JournalMode::Wal,
        synchronous: Synchronous::Full,
        page_size: PS as u32,
        wal_autocheckpoint: 0,
        ..PagerOptions::default()
    };
    Pager::open(Arc::new(vfs.clone()), Path::new(DB), opts).unwrap()
}

fn commit_pages(pager: &mut Pager, pages: impl IntoIterator<Item = u32>, fill: u8) {
    pager.begin_write().unwrap();
    for p in pages {
        pager.write(p, &[fill; PS]).unwrap();
    }
    pager.commit().unwrap();
}

/// The fill byte of each page (page 1 after its 100-byte header), or `None` for a page that
/// is not uniform (damaged); an error if the database cannot be read at all.
fn fills(pager: &mut Pager) -> Result<Vec<Option<u8>>, String> {
    let err = |e: folio_pager::Error| e.to_string();
    pager.begin_read().map_err(err)?;
    let mut fills = Vec::new();
    for p in 1..=pager.page_count() {
        let page = pager.get(p).map_err(err)?;
        let body = if p == 1 { &page[100..] } else { &page[..] };
        fills.push(body.iter().all(|&b| b == body[0]).then_some(body[0]));
    }
    pager.end_read().map_err(err)?;
    Ok(fills)
}

#[test]
fn a_torn_checkpoint_on_large_sectors_damages_no_page_the_log_cannot_restore() {
    let mut torn_runs = 0;
    for seed in 0..48 {
        let vfs = SimVfs::new(device(seed));
        let mut pager = open(&vfs);
        // Eight pages (two sectors) in the database, then page 2 alone changed in the log.
        commit_pages(&mut pager, 1..=8, 0x11);
        let done = pager.checkpoint(CheckpointMode::Truncate).unwrap();
        assert!(!done.busy);
        commit_pages(&mut pager, [2], 0x22);
        // The checkpoint syncs the log, writes the database, syncs it: cut the power at that
        // second sync, with the database writes pending (survived, lost or torn by sector).
        vfs.crash_at(CrashAt::Sync(vfs.op_count(FaultOp::Sync) + 2));
        assert!(pager.checkpoint(CheckpointMode::Passive).is_err(), "seed {seed:#x}: no crash");
        let image = vfs.crash_now();
        drop(pager);
        let db_file = &image.files[Path::new(DB)];
        torn_runs += usize::from(db_file[..PS * 4].chunks(PS).skip(1).any(|page| {
            !page.iter().all(|&b| b == page[0]) || (page[0] != 0x11 && page[0] != 0x22)
        }));
        let mut reopened = open(&SimVfs::from_image(&image, device(seed ^ 0xb007)));
        let mut expected = vec![Some(0x11); 8];
        expected[1] = Some(0x22);
        assert_eq!(fills(&mut reopened), Ok(expected), "seed {seed:#x}");
    }
    assert!(torn_runs > 0, "no run tore the database's first sector: the test proves nothing");
}

#[test]
fn a_torn_checkpoint_of_regrown_zero_pages_damages_no_page_the_log_cannot_restore() {
    // Pages 7 and 8 are truncated away and regrown as zeros by a write of page 9: the log
    // carries them as zero pages, and their sector (pages 5 to 8) must come with them.
    // Found by the WAL crash suite (FOLIO_SEED=0x3a5f00085 on `NoPsow 1024`).
    let mut torn_runs = 0;
    for seed in 0..48 {
        let vfs = SimVfs::new(device(seed));
        let mut pager = open(&vfs);
        commit_pages(&mut pager, 1..=8, 0x11);
        assert!(!pager.checkpoint(CheckpointMode::Truncate).unwrap().busy);
        pager.begin_write().unwrap();
        pager.truncate(6).unwrap();
        pager.write(9, &[0x22; PS]).unwrap();
        pager.commit().unwrap();
        vfs.crash_at(CrashAt::Sync(vfs.op_count(FaultOp::Sync) + 2));
        assert!(pager.checkpoint(CheckpointMode::Passive).is_err(), "seed {seed:#x}: no crash");
        let image = vfs.crash_now();
        drop(pager);
        let db_file = &image.files[Path::new(DB)];
        torn_runs += usize::from(db_file[PS * 4..PS * 6].chunks(PS).any(|page| page != [0x11; PS]));
        let mut reopened = open(&SimVfs::from_image(&image, device(seed ^ 0xb007)));
        let mut expected = vec![Some(0x11); 9];
        expected[6] = Some(0);
        expected[7] = Some(0);
        expected[8] = Some(0x22);
        assert_eq!(fills(&mut reopened), Ok(expected), "seed {seed:#x}");
    }
    assert!(torn_runs > 0, "no run tore the database's second sector: the test proves nothing");
}
