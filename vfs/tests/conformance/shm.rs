//! Conformance: the wal-index shared memory (<https://sqlite.org/walformat.html>): regions mapped
//! on demand, shared between the handles of one database, the eight slot locks, and a fresh start
//! (zeroed memory) once nobody has it mapped, the effect of the dead-man switch.

use crate::{assert_busy, Env};
use folio_vfs::{ShmLockKind, ShmRegion, VfsFile, SHM_NLOCK, SHM_REGION_SIZE};
use std::sync::atomic::Ordering::SeqCst;

use ShmLockKind::{Exclusive, Shared, UnlockExclusive, UnlockShared};

#[track_caller]
fn map(file: &dyn VfsFile, region: u32, extend: bool) -> Option<ShmRegion> {
    file.shm_map(region, extend).unwrap_or_else(|e| panic!("map region {region}: {e}"))
}

#[track_caller]
fn ok(file: &dyn VfsFile, slot: usize, n: usize, kind: ShmLockKind) {
    file.shm_lock(slot, n, kind).unwrap_or_else(|e| panic!("slots {slot}+{n} {kind:?}: {e}"));
}

#[track_caller]
fn busy(file: &dyn VfsFile, slot: usize, n: usize, kind: ShmLockKind) {
    assert_busy(file.shm_lock(slot, n, kind));
}

pub fn map_without_extend_finds_nothing_new(env: &Env) {
    let a = env.db("m.db");
    assert!(map(&*a, 0, false).is_none());
    assert!(map(&*a, 0, false).is_none(), "asking twice does not create it");
    let r0 = map(&*a, 0, true).expect("extend creates the region");
    assert_eq!(r0.load_u32(0, SeqCst), 0, "a new region is zeroed");
    assert_eq!(r0.load_u32(SHM_REGION_SIZE - 4, SeqCst), 0);
    assert!(map(&*a, 0, false).is_some());
    assert!(map(&*a, 1, false).is_none());
    // Another handle finds what the first created, without extending.
    let b = env.db("m.db");
    let seen = map(&*b, 0, false).expect("region 0 exists for every handle");
    r0.store_u32(8, 0x5eed, SeqCst);
    assert_eq!(seen.load_u32(8, SeqCst), 0x5eed);
}

pub fn shm_lock_before_map_is_misuse(env: &Env) {
    let a = env.db("early.db");
    let err = a.shm_lock(0, 1, Exclusive).unwrap_err();
    assert!(matches!(err, folio_vfs::Error::Misuse { .. }), "{err:?}");
    // Mapping, even a region that does not exist yet, opens the shared memory for locking.
    assert!(map(&*a, 0, false).is_none());
    ok(&*a, 0, 1, Exclusive);
}

pub fn only_the_main_database_has_shared_memory(env: &Env) {
    let journal = env
        .open("j.db-journal", folio_vfs::OpenFlags::create(folio_vfs::FileKind::MainJournal))
        .unwrap();
    let err = journal.shm_map(0, true).unwrap_err();
    assert!(matches!(err, folio_vfs::Error::Unsupported { .. }), "{err:?}");
}

pub fn extend_creates_regions_up_to_the_one_asked(env: &Env) {
    let a = env.db("x.db");
    let r2 = map(&*a, 2, true).unwrap();
    r2.store_u32(0, 2, SeqCst);
    let r0 = map(&*a, 0, false).expect("region 0 exists once region 2 does");
    let r1 = map(&*a, 1, false).expect("region 1 exists once region 2 does");
    r0.store_u32(0, 10, SeqCst);
    r1.store_u32(0, 11, SeqCst);
    // Three distinct regions.
    assert_eq!(r2.load_u32(0, SeqCst), 2);
    assert_eq!(map(&*a, 0, false).unwrap().load_u32(0, SeqCst), 10);
    assert_eq!(map(&*a, 1, false).unwrap().load_u32(0, SeqCst), 11);
    assert!(map(&*a, 3, false).is_none());
}

pub fn handles_see_each_others_stores(env: &Env) {
    let a = env.db("v.db");
    let b = env.db("v.db");
    let ra = map(&*a, 1, true).unwrap();
    let rb = map(&*b, 1, false).unwrap();
    ra.store_u32(96, 0xdead_beef, SeqCst);
    b.shm_barrier();
    assert_eq!(rb.load_u32(96, SeqCst), 0xdead_beef);
    rb.store_u16(200, 0x1234, SeqCst);
    rb.store_u16(202, 0x5678, SeqCst);
    a.shm_barrier();
    assert_eq!(ra.load_u16(200, SeqCst), 0x1234);
    assert_eq!(ra.load_u16(202, SeqCst), 0x5678);
    let header: Vec<u8> = (0..136).map(|i| i as u8).collect();
    ra.copy_in(0, &header, SeqCst);
    let mut seen = vec![0; 136];
    rb.copy_out(0, &mut seen, SeqCst);
    assert_eq!(seen, header);
}

pub fn slot_lock_matrix(env: &Env) {
    let a = env.db("l.db");
    let b = env.db("l.db");
    map(&*a, 0, true);
    map(&*b, 0, true);
    // Readers share a read-mark slot.
    ok(&*a, 3, 1, Shared);
    ok(&*b, 3, 1, Shared);
    busy(&*b, 3, 1, Exclusive);
    ok(&*a, 3, 1, UnlockShared);
    // b still holds it shared: an exclusive taker waits.
    busy(&*a, 3, 1, Exclusive);
    ok(&*b, 3, 1, UnlockShared);
    ok(&*a, 3, 1, Exclusive);
    busy(&*b, 3, 1, Shared);
    busy(&*b, 3, 1, Exclusive);
    // The write lock is independent of the read marks.
    ok(&*b, 0, 1, Exclusive);
    busy(&*a, 0, 1, Exclusive);
    ok(&*b, 0, 1, UnlockExclusive);
    ok(&*a, 3, 1, UnlockExclusive);
    ok(&*b, 3, 1, Shared);
    // Every slot can be taken.
    for slot in 0..SHM_NLOCK {
        ok(&*a, slot, 1, if slot == 3 { Shared } else { Exclusive });
    }
}

pub fn shared_slot_cannot_become_exclusive(env: &Env) {
    let a = env.db("se.db");
    map(&*a, 0, true);
    ok(&*a, 4, 1, Shared);
    busy(&*a, 4, 1, Exclusive);
    ok(&*a, 4, 1, UnlockShared);
    ok(&*a, 4, 1, Exclusive);
}

pub fn multi_slot_exclusive(env: &Env) {
    let a = env.db("ms.db");
    let b = env.db("ms.db");
    map(&*a, 0, true);
    map(&*b, 0, false).unwrap();
    // A checkpoint-style range: every read mark but the first.
    ok(&*a, 4, 4, Exclusive);
    for slot in 4..8 {
        busy(&*b, slot, 1, Shared);
    }
    busy(&*b, 0, 5, Exclusive);
    ok(&*b, 3, 1, Shared);
    ok(&*b, 0, 3, Exclusive);
    ok(&*a, 4, 4, UnlockExclusive);
    for slot in 4..8 {
        ok(&*b, slot, 1, Shared);
    }
}

pub fn unmap_releases_slots(env: &Env) {
    let a = env.db("u.db");
    let b = env.db("u.db");
    map(&*a, 0, true);
    map(&*b, 0, false).unwrap();
    ok(&*a, 0, 1, Exclusive);
    ok(&*a, 3, 1, Shared);
    busy(&*b, 0, 1, Exclusive);
    busy(&*b, 3, 1, Exclusive);
    a.shm_unmap(false).unwrap();
    ok(&*b, 0, 1, Exclusive);
    ok(&*b, 3, 1, Exclusive);
    // Unmapping twice is harmless.
    a.shm_unmap(false).unwrap();
}

pub fn dropping_a_handle_releases_slots(env: &Env) {
    let a = env.db("dr.db");
    let b = env.db("dr.db");
    map(&*a, 0, true);
    map(&*b, 0, false).unwrap();
    ok(&*a, 1, 2, Exclusive);
    busy(&*b, 1, 1, Exclusive);
    drop(a);
    ok(&*b, 1, 2, Exclusive);
}

pub fn memory_survives_while_one_handle_stays(env: &Env) {
    let a = env.db("k.db");
    let b = env.db("k.db");
    map(&*a, 0, true).unwrap().store_u32(40, 4040, SeqCst);
    map(&*b, 0, false).unwrap();
    a.shm_unmap(false).unwrap();
    drop(a);
    // A newcomer joins b's live shared memory: contents kept.
    let c = env.db("k.db");
    let rc = map(&*c, 0, false).expect("region 0 still exists");
    assert_eq!(rc.load_u32(40, SeqCst), 4040);
}

/// Fills `region` with a non-zero pattern.
fn scribble(region: &ShmRegion) {
    for offset in (0..SHM_REGION_SIZE).step_by(4) {
        region.store_u32(offset, 0xffff_ffff - offset as u32, SeqCst);
    }
}

/// Asserts `region` is zero from byte 4 on. The OS VFS, like SQLite, truncates the `-shm` to 3
/// bytes (not 0, as a debugging aid) when the dead-man switch says nobody is left, so up to 3
/// stale bytes may survive at the start; nothing may rely on them.
#[track_caller]
fn assert_fresh(region: &ShmRegion) {
    let mut bytes = vec![0xaa; SHM_REGION_SIZE - 4];
    region.copy_out(4, &mut bytes, SeqCst);
    let first_dirty = bytes.iter().position(|&b| b != 0);
    assert_eq!(first_dirty, None, "stale byte at offset {:?}", first_dirty.map(|i| i + 4));
}

pub fn first_mapper_after_everyone_left_sees_zeroed_memory(env: &Env) {
    let a = env.db("z.db");
    let b = env.db("z.db");
    scribble(&map(&*a, 0, true).unwrap());
    scribble(&map(&*a, 1, true).unwrap());
    map(&*b, 0, false).unwrap();
    a.shm_unmap(false).unwrap();
    b.shm_unmap(false).unwrap();
    // Nobody has it mapped: whatever was there is untrustworthy, the next user starts afresh.
    assert!(map(&*b, 0, false).is_none(), "the first mapper finds no region");
    assert_fresh(&map(&*b, 0, true).unwrap());
    assert!(map(&*a, 1, false).is_none());
    let r1 = map(&*a, 1, true).unwrap();
    assert_eq!(r1.load_u32(0, SeqCst), 0, "region 1 is entirely fresh");
    assert_fresh(&r1);
}

pub fn first_mapper_after_all_handles_closed_sees_zeroed_memory(env: &Env) {
    let a = env.db("c.db");
    map(&*a, 0, true).unwrap().store_u32(16, 99, SeqCst);
    ok(&*a, 0, 1, Exclusive);
    drop(a);
    let b = env.db("c.db");
    assert!(map(&*b, 0, false).is_none());
    assert_eq!(map(&*b, 0, true).unwrap().load_u32(16, SeqCst), 0);
    ok(&*b, 0, 1, Exclusive);
}
