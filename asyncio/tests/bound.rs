//! The queue is bounded: a writer faster than the disk (the artificial delay) waits instead of
//! growing the queue past its caps, and with `WhenFull::Busy` it gets `Error::Busy` instead.

use folio_asyncio::{AsyncVfs, HaltMode, Options, WhenFull};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::sim::Rng;
use folio_vfs::{FileKind, OpenFlags, Vfs, VfsFile};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PAGE: usize = 4096;

fn open(vfs: &dyn Vfs, path: &str) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

#[test]
fn a_writer_faster_than_the_disk_waits_and_never_exceeds_the_caps() {
    let seed = folio_vfs::seed::from_env_or(0xb0_0d);
    println!("seed {seed:#x} (replay with FOLIO_SEED={seed:#x})");
    let mut rng = Rng::new(seed);
    let disk = MemoryVfs::new();
    let options = Options {
        max_queued_bytes: 16 * PAGE,
        max_queued_ops: 12,
        coalesce: false,
        ..Options::default()
    };
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), options.clone());
    vfs.set_delay(Duration::from_micros(300));
    let db = open(&vfs, "/bound.db");
    let n_pages = 64u64;
    let mut model = vec![0u8; n_pages as usize * PAGE];
    for i in 0..300u32 {
        // Sizes up to two pages, so both caps come into play.
        let page = rng.below(n_pages - 1);
        let len = PAGE * (1 + rng.below(2) as usize);
        let fill = (i % 251) as u8 + 1;
        db.write_at(page * PAGE as u64, &vec![fill; len]).unwrap();
        let at = page as usize * PAGE;
        model[at..at + len].fill(fill);
        let stats = vfs.stats();
        assert!(stats.queued_bytes <= options.max_queued_bytes, "{stats:?}");
        assert!(stats.queued_ops <= options.max_queued_ops, "{stats:?}");
    }
    vfs.flush().unwrap();
    let stats = vfs.stats();
    println!("{stats:?}");
    assert!(stats.peak_bytes <= options.max_queued_bytes, "{stats:?}");
    assert!(stats.peak_ops <= options.max_queued_ops, "{stats:?}");
    assert!(stats.n_waits > 0, "the writer never had to wait: {stats:?}");
    assert!(stats.peak_ops == options.max_queued_ops || stats.peak_bytes > 12 * PAGE, "{stats:?}");
    // Waiting lost nothing.
    let plain = open(&disk, "/bound.db");
    let mut bytes = vec![0; model.len()];
    plain.read_at(0, &mut bytes).unwrap();
    assert!(bytes == model, "the disk differs from the model");
}

#[test]
fn with_the_busy_option_a_full_queue_refuses_instead_of_waiting() {
    let disk = MemoryVfs::new();
    let options = Options {
        max_queued_bytes: 4 * PAGE,
        max_queued_ops: 100,
        when_full: WhenFull::Busy,
        coalesce: false,
        ..Options::default()
    };
    let vfs = AsyncVfs::new(Arc::new(disk), options);
    let db = open(&vfs, "/busy.db");
    vfs.set_halt(HaltMode::Now);
    for page in 0..4u64 {
        db.write_at(page * 2 * PAGE as u64, &[1; PAGE]).unwrap();
    }
    let err = db.write_at(100 * PAGE as u64, &[2; PAGE]).unwrap_err();
    assert!(err.is_busy(), "{err}");
    assert!(err.to_string().contains("/busy.db"), "{err}");
    let stats = vfs.stats();
    assert_eq!((stats.n_busy, stats.n_waits, stats.queued_bytes), (1, 0, 4 * PAGE));
    // The refused write left nothing behind: reads show the four pages only.
    assert_eq!(db.size().unwrap(), 7 * PAGE as u64);
    vfs.set_halt(HaltMode::Never);
    vfs.flush().unwrap();
    db.write_at(100 * PAGE as u64, &[2; PAGE]).unwrap();
    assert_eq!(db.size().unwrap(), 101 * PAGE as u64);
}

#[test]
fn a_halted_writer_never_makes_a_waiting_caller_hang() {
    let options = Options { max_queued_ops: 2, when_full: WhenFull::Wait, ..Options::default() };
    let vfs = AsyncVfs::new(Arc::new(MemoryVfs::new()), options);
    let db = open(&vfs, "/halted.db");
    vfs.set_halt(HaltMode::Now);
    db.write_at(0, b"a").unwrap();
    db.write_at(10, b"b").unwrap();
    // Nobody drains a halted queue: waiting would be forever, so the caller is told.
    let err = db.write_at(20, b"c").unwrap_err();
    assert!(err.is_busy() && err.to_string().contains("halted"), "{err}");
    vfs.set_halt(HaltMode::Never);
    db.write_at(20, b"c").unwrap();
}

#[test]
fn a_write_larger_than_the_byte_cap_goes_alone() {
    let options = Options { max_queued_bytes: PAGE, ..Options::default() };
    let vfs = AsyncVfs::new(Arc::new(MemoryVfs::new()), options);
    vfs.set_delay(Duration::from_millis(2));
    let db = open(&vfs, "/big.db");
    db.write_at(0, &[1; 100]).unwrap();
    db.write_at(PAGE as u64 * 10, &vec![7; 3 * PAGE]).unwrap();
    db.write_at(0, &[2; 100]).unwrap();
    vfs.flush().unwrap();
    let stats = vfs.stats();
    assert_eq!(stats.peak_bytes, 3 * PAGE, "the big write was alone: {stats:?}");
    assert!(stats.n_waits >= 1, "{stats:?}");
}
