//! The control API: halt modes, the artificial delay, flush, per-file barriers, the durability
//! watermark, and shutdown (Drop drains and joins; files outliving the VFS work synchronously).

use folio_asyncio::{AsyncVfs, HaltMode, Options};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::{FileKind, OpenFlags, SyncFlags, Vfs, VfsFile};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn open(vfs: &dyn Vfs, path: &str) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

fn disk_size(disk: &MemoryVfs, path: &str) -> u64 {
    open(disk, path).size().unwrap()
}

#[test]
fn halt_when_idle_drains_then_stops_and_never_resumes_by_itself() {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let db = open(&vfs, "/h.db");
    vfs.set_halt(HaltMode::Now);
    db.write_at(0, &[1; 10]).unwrap();
    assert!(vfs.is_halted());
    let err = vfs.flush().unwrap_err();
    assert!(err.to_string().contains("halted"), "{err}");
    vfs.set_halt(HaltMode::WhenIdle);
    vfs.flush().unwrap();
    assert_eq!(disk_size(&disk, "/h.db"), 10);
    assert!(vfs.is_halted(), "idle reached: halted");
    db.write_at(10, &[2; 10]).unwrap();
    assert!(vfs.flush().is_err(), "nothing drains after idle");
    assert_eq!(db.size().unwrap(), 20);
    assert_eq!(disk_size(&disk, "/h.db"), 10);
    vfs.set_halt(HaltMode::Never);
    assert!(!vfs.is_halted());
    vfs.flush().unwrap();
    assert_eq!(disk_size(&disk, "/h.db"), 20);
    assert_eq!(vfs.halt_mode(), HaltMode::Never);
}

#[test]
fn the_watermark_follows_syncs_per_file() {
    let vfs = AsyncVfs::new(Arc::new(MemoryVfs::new()), Options::default());
    let (a, b) = (open(&vfs, "/a.db"), open(&vfs, "/b.db"));
    a.write_at(0, b"a").unwrap();
    let write_a = vfs.queued_seq();
    b.write_at(0, b"b").unwrap();
    b.sync(SyncFlags::NORMAL).unwrap();
    vfs.flush().unwrap();
    // b is synced, a is not: the watermark stops just below a's write.
    assert_eq!(vfs.durable_seq(), write_a - 1);
    let err = vfs.wait_durable(write_a).unwrap_err();
    assert!(err.to_string().contains("no sync"), "{err}");
    a.sync(SyncFlags::NORMAL).unwrap();
    let sync_a = vfs.queued_seq();
    vfs.wait_durable(sync_a).unwrap();
    assert_eq!(vfs.durable_seq(), sync_a);
    assert!(vfs.wait_durable(sync_a + 10).is_err(), "never handed out");
    let stats = vfs.stats();
    assert_eq!((stats.queued_seq, stats.durable_seq), (sync_a, sync_a));
}

#[test]
fn a_barrier_waits_for_one_file_only() {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let (a, b) = (open(&vfs, "/a.db"), open(&vfs, "/b.db"));
    vfs.set_delay(Duration::from_millis(2));
    a.write_at(0, &[1; 100]).unwrap();
    for i in 0..20 {
        b.write_at(i * 200, &[2; 100]).unwrap();
    }
    vfs.barrier(Path::new("/a.db")).unwrap();
    assert_eq!(disk_size(&disk, "/a.db"), 100);
    assert!(vfs.stats().queued_ops > 0, "b's writes need not be done yet");
    vfs.barrier(Path::new("/nothing-queued.db")).unwrap();
    vfs.set_delay(Duration::ZERO);
    vfs.flush().unwrap();
}

#[test]
fn drop_drains_the_queue_and_files_outliving_the_vfs_work_synchronously() {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    vfs.set_delay(Duration::from_micros(500));
    let db = open(&vfs, "/d.db");
    for i in 0..20u64 {
        db.write_at(i * 10, &[i as u8; 10]).unwrap();
    }
    vfs.set_halt(HaltMode::Now);
    drop(vfs); // drains whatever the halt mode, then joins the writer
    assert_eq!(disk_size(&disk, "/d.db"), 200);
    db.write_at(200, b"after").unwrap();
    assert_eq!(disk_size(&disk, "/d.db"), 205, "performed at once");
    let mut buf = [0; 5];
    db.read_at(200, &mut buf).unwrap();
    assert_eq!(&buf, b"after");
}

#[test]
fn shutdown_is_idempotent_and_leaves_no_thread_behind() {
    // Many short-lived instances: a leaked writer per instance would show as a hang at exit,
    // and each shutdown must return only after its writer has finished.
    for _ in 0..50 {
        let disk = MemoryVfs::new();
        let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
        let db = open(&vfs, "/s.db");
        db.write_at(0, b"x").unwrap();
        vfs.shutdown();
        vfs.shutdown();
        assert_eq!(disk_size(&disk, "/s.db"), 1);
        assert_eq!(vfs.stats().queued_ops, 0);
    }
}

#[test]
fn shared_memory_is_unsupported_and_nothing_is_mapped() {
    let vfs = AsyncVfs::new(Arc::new(MemoryVfs::new()), Options::default());
    let db = open(&vfs, "/w.db");
    let err = db.shm_map(0, true).unwrap_err();
    assert!(matches!(err, folio_vfs::Error::Unsupported { .. }), "{err}");
    assert!(db.fetch(0, 4096).unwrap().is_none());
}
