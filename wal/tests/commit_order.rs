//! A commit that overwrites in place frames its transaction spilled earlier must not become
//! valid with the old images: the commit frame's checksum has to chain over the new bytes.
//! Writing the commit frame before the checksums of the overwritten frames are redone (the
//! order of SQLite's `sqlite3WalFrames`) lets a power loss keep the commit frame and lose an
//! overwrite, and the log then commits the spilled draft of a page beside the final images of
//! the others. Found by the WAL crash suite (folio-tests `wal_crash`, FOLIO_SEED=0x3a780000c
//! on `Atomic 4096` and 0x3aa900012 on `SafeAppend 1024`: a draft page or a page 1 with
//! another size in a committed state).

use folio_vfs::sim::{CrashAt, FaultOp, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics as Dc, FileKind, LockLevel, OpenFlags, Vfs, VfsFile};
use folio_wal::format::{frame_offset, FRAME_HEADER_LEN};
use folio_wal::{Wal, WalOptions, WalSync};
use std::path::Path;
use std::sync::Arc;

const PS: u32 = 1024;
const DB: &str = "/t/test.db";
const WAL: &str = "/t/test.db-wal";

fn page(fill: u8) -> Vec<u8> {
    vec![fill; PS as usize]
}

/// Commits `pages` (the last one carries the commit) in one write transaction.
fn write(wal: &mut Wal, pages: &[(u32, Vec<u8>)], commit: Option<u32>) -> folio_wal::Result<()> {
    let pages: Vec<(u32, &[u8])> = pages.iter().map(|(p, d)| (*p, &d[..])).collect();
    wal.write_frames(PS, &pages, commit)
}

/// The images of the log's committed pages (newest frame of each), as recovery reads them.
fn committed(vfs: &SimVfs) -> (u32, Vec<(u32, u8)>) {
    let file = vfs.open(Some(Path::new(WAL)), OpenFlags::read_only(FileKind::Wal)).unwrap();
    let scan = folio_wal::scan(&*file).unwrap();
    let mut newest = std::collections::BTreeMap::new();
    for entry in &scan.frames {
        newest.insert(entry.page_no, entry.frame_no);
    }
    let fills = newest
        .into_iter()
        .map(|(page_no, frame)| {
            let mut data = page(0);
            let offset = frame_offset(frame, PS) + FRAME_HEADER_LEN as u64;
            file.read_at(offset, &mut data).unwrap();
            assert!(data.iter().all(|&b| b == data[0]), "frame {frame} is not one image");
            (page_no, data[0])
        })
        .collect();
    (scan.max_frame, fills)
}

#[test]
fn a_commit_over_spilled_frames_is_valid_only_with_its_own_images() {
    let (mut second_commits, mut first_commits) = (0, 0);
    for seed in 0..400 {
        for sync in [WalSync::Full, WalSync::Normal] {
            let chars = Dc::POWERSAFE_OVERWRITE | Dc::ATOMIC;
            let vfs = SimVfs::new(SimConfig::new(seed).with_characteristics(chars));
            let db: Arc<dyn VfsFile> = Arc::from(
                vfs.open(Some(Path::new(DB)), OpenFlags::create(FileKind::MainDb)).unwrap(),
            );
            db.lock(LockLevel::Shared).unwrap();
            let opts = WalOptions { sync, ..WalOptions::default() };
            let mut wal = Wal::open(Arc::new(vfs.clone()), Arc::clone(&db), opts).unwrap();
            wal.begin_read().unwrap();
            wal.begin_write().unwrap();
            write(&mut wal, &[(1, page(0x10)), (2, page(0x20))], Some(2)).unwrap();
            wal.end_write();
            wal.end_read();

            // Drafts of pages 1 and 2 spilled, then the commit: both overwritten in place, page
            // 3 the commit frame. The power goes at the next sync (FULL: the commit's; NORMAL:
            // none, so at the end).
            wal.begin_read().unwrap();
            wal.begin_write().unwrap();
            write(&mut wal, &[(1, page(0xd1))], None).unwrap();
            write(&mut wal, &[(2, page(0xd2))], None).unwrap();
            vfs.crash_at(CrashAt::Sync(vfs.op_count(FaultOp::Sync) + 1));
            let _ = write(&mut wal, &[(1, page(0x11)), (2, page(0x21)), (3, page(0x31))], Some(3));
            let image = vfs.crash_now();
            drop(wal);
            let (max_frame, fills) = committed(&SimVfs::from_image(&image, SimConfig::new(seed)));
            match max_frame {
                0 => assert!(fills.is_empty()),
                2 => {
                    assert_eq!(fills, [(1, 0x10), (2, 0x20)], "seed {seed:#x} {sync:?}");
                    first_commits += 1;
                }
                _ => {
                    assert_eq!(
                        fills,
                        [(1, 0x11), (2, 0x21), (3, 0x31)],
                        "seed {seed:#x} {sync:?}: the second commit with other images than its own"
                    );
                    second_commits += 1;
                }
            }
        }
    }
    assert!(second_commits > 0 && first_commits > 0, "{second_commits} / {first_commits}");
}
