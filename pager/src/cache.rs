//! The page cache: page buffers by page number, least-recently-used order, dirty and need-sync
//! flags, and pins.
//!
//! A page buffer is an `Arc<Vec<u8>>`. A [`crate::PageRef`] handed to the caller holds a clone
//! of the `Arc`: that clone *is* the pin. A pinned page is never evicted, and modifying a page
//! that the caller still holds copies it first (`Arc::make_mut`), so a `PageRef` never changes
//! under its holder.
//!
//! The cache never does I/O. When it is full it names a victim: a clean page it can drop, or a
//! dirty page the pager must first write to the database (a spill).
//!
//! Every operation a commit makes is O(1) or O(dirty pages), whatever the cache size: the
//! dirty pages are kept in a set of their own, and the recency order is a queue that a use
//! appends to (a page's older places in it go stale and are skipped, and the queue is rebuilt
//! when stale places outnumber live ones), so using a page never searches or rebalances.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// One cached page.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) data: Arc<Vec<u8>>,
    /// Modified since it was last written to the database (changed through [`PageCache`]
    /// only, which keeps the set of dirty pages).
    dirty: bool,
    /// Dirty, and its journal record (or the growth it needs) was written after the journal's
    /// last sync: the journal must be synced before this page may be written to the database.
    pub(crate) need_sync: bool,
    /// When it was last used: its live place in the recency queue.
    tick: u64,
}

impl Entry {
    fn pinned(&self) -> bool {
        Arc::strong_count(&self.data) > 1
    }

    /// Modified since it was last written to the database.
    pub(crate) fn dirty(&self) -> bool {
        self.dirty
    }
}

/// What [`PageCache::victim`] found when the cache is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Victim {
    /// There is room (or a clean page was dropped to make some).
    Room,
    /// Only dirty pages can go: this one, the least recently used unpinned dirty page.
    Spill(u32),
    /// Every page is pinned: the cache has to grow past its limit.
    None,
}

/// The entry a queue place refers to, if the place is live.
fn live(map: &PageMap<Entry>, (tick, page_no): (u64, u32)) -> Option<&Entry> {
    map.get(&page_no).filter(|e| e.tick == tick)
}

/// Hashes a page number with one multiplication, folding the product's high half (which
/// depends on every bit of the number) into the low bits the table indexes by, so strided
/// page numbers spread as well as consecutive ones.
#[derive(Default)]
pub(crate) struct PageNoHasher(u64);

impl Hasher for PageNoHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b) ^ (self.0 as u32).rotate_left(8));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let h = (u64::from(n) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

type PageMap<V> = HashMap<u32, V, BuildHasherDefault<PageNoHasher>>;

/// The cache. Capacity is a soft limit: pinned pages and dirty pages that cannot be spilled
/// make it grow past it, as SQLite's does.
#[derive(Debug)]
pub(crate) struct PageCache {
    map: PageMap<Entry>,
    /// The dirty pages, in page order.
    dirty: BTreeSet<u32>,
    /// Uses, oldest first: `(tick, page)`; live where the page's entry still has that tick.
    lru: VecDeque<(u64, u32)>,
    tick: u64,
    capacity: usize,
}

impl PageCache {
    pub(crate) fn new(capacity: usize) -> Self {
        PageCache {
            map: PageMap::default(),
            dirty: BTreeSet::new(),
            lru: VecDeque::new(),
            tick: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The next tick, with the queue rebuilt first if stale places outnumber live ones.
    fn next_tick(&mut self) -> u64 {
        if self.lru.len() > 2 * self.map.len() + 64 {
            let mut live: Vec<(u64, u32)> = self.map.iter().map(|(&p, e)| (e.tick, p)).collect();
            live.sort_unstable();
            self.lru = live.into();
        }
        self.tick += 1;
        self.tick
    }

    /// Marks `page_no` most recently used; returns its entry.
    fn touch(&mut self, page_no: u32) -> Option<&mut Entry> {
        let tick = self.next_tick();
        let entry = self.map.get_mut(&page_no)?;
        entry.tick = tick;
        self.lru.push_back((tick, page_no));
        Some(entry)
    }

    /// The page's data (a pin while the caller holds it); marks it most recently used.
    pub(crate) fn get(&mut self, page_no: u32) -> Option<Arc<Vec<u8>>> {
        self.touch(page_no).map(|e| Arc::clone(&e.data))
    }

    /// The page's entry, for the pager to modify; marks it most recently used.
    pub(crate) fn entry_mut(&mut self, page_no: u32) -> Option<&mut Entry> {
        self.touch(page_no)
    }

    pub(crate) fn contains(&self, page_no: u32) -> bool {
        self.map.contains_key(&page_no)
    }

    pub(crate) fn is_dirty(&self, page_no: u32) -> bool {
        self.dirty.contains(&page_no)
    }

    /// Adds a page (replacing any cached copy) as the most recently used. The caller makes
    /// room first.
    pub(crate) fn insert(&mut self, page_no: u32, data: Vec<u8>, dirty: bool) {
        self.remove(page_no);
        let tick = self.next_tick();
        self.lru.push_back((tick, page_no));
        let entry = Entry { data: Arc::new(data), dirty, need_sync: dirty, tick };
        self.map.insert(page_no, entry);
        if dirty {
            self.dirty.insert(page_no);
        }
        self.debug_check(page_no);
    }

    /// The cache's own invariants for `page_no` (debug builds): its entry's dirty flag and the
    /// dirty set agree, need-sync implies dirty, no page outside the cache is in the dirty set,
    /// and a fresh buffer is pinned by nobody.
    fn debug_check(&self, page_no: u32) {
        if !cfg!(debug_assertions) {
            return;
        }
        match self.map.get(&page_no) {
            Some(entry) => {
                debug_assert_eq!(
                    entry.dirty,
                    self.dirty.contains(&page_no),
                    "page {page_no}: the entry's dirty flag and the dirty set disagree"
                );
                debug_assert!(
                    !entry.need_sync || entry.dirty,
                    "page {page_no} needs a journal sync but is not dirty"
                );
            }
            None => debug_assert!(
                !self.dirty.contains(&page_no),
                "page {page_no} is in the dirty set but not in the cache"
            ),
        }
        debug_assert!(
            self.dirty.len() <= self.map.len(),
            "{} dirty pages but only {} cached",
            self.dirty.len(),
            self.map.len()
        );
    }

    pub(crate) fn remove(&mut self, page_no: u32) {
        // Its place in the queue goes stale.
        if self.map.remove(&page_no).is_some() {
            self.dirty.remove(&page_no);
        }
        self.debug_check(page_no);
    }

    /// Makes room if the cache is full: drops the least recently used clean, unpinned page,
    /// else names the least recently used unpinned dirty page to spill (if spilling is
    /// allowed), else [`Victim::None`].
    pub(crate) fn victim(&mut self, spill_allowed: bool) -> Victim {
        if self.map.len() < self.capacity {
            return Victim::Room;
        }
        while let Some(&front) = self.lru.front() {
            if live(&self.map, front).is_some() {
                break;
            }
            self.lru.pop_front();
        }
        let mut found = Victim::None;
        for &place in &self.lru {
            let Some(entry) = live(&self.map, place) else { continue };
            if entry.pinned() {
                continue;
            }
            if !entry.dirty {
                found = Victim::Room;
                let page_no = place.1;
                debug_assert_eq!(
                    Arc::strong_count(&entry.data),
                    1,
                    "page {page_no}: evicting a page the caller still holds"
                );
                self.remove(page_no);
                break;
            }
            if spill_allowed {
                found = Victim::Spill(place.1);
                break;
            }
        }
        found
    }

    /// The dirty pages in ascending order.
    pub(crate) fn dirty_pages(&self) -> Vec<u32> {
        debug_assert!(
            self.dirty.iter().all(|p| self.map.get(p).is_some_and(|e| e.dirty)),
            "a page in the dirty set is not a dirty cached page"
        );
        self.dirty.iter().copied().collect()
    }

    /// Marks a cached page dirty and in need of a journal sync before it is written.
    pub(crate) fn mark_dirty(&mut self, page_no: u32) {
        if let Some(entry) = self.map.get_mut(&page_no) {
            entry.dirty = true;
            entry.need_sync = true;
            self.dirty.insert(page_no);
        }
        self.debug_check(page_no);
    }

    /// Marks a page clean (it reached the database).
    pub(crate) fn mark_clean(&mut self, page_no: u32) {
        if let Some(entry) = self.map.get_mut(&page_no) {
            entry.dirty = false;
            entry.need_sync = false;
            self.dirty.remove(&page_no);
        }
        self.debug_check(page_no);
    }

    /// After a journal sync: no dirty page waits for one any more.
    pub(crate) fn clear_need_sync(&mut self) {
        for entry in self.map.values_mut() {
            entry.need_sync = false;
        }
    }

    /// Drops every page above `pages` (the image was truncated).
    pub(crate) fn truncate(&mut self, pages: u32) {
        let gone: Vec<u32> = self.map.keys().copied().filter(|&p| p > pages).collect();
        for page_no in gone {
            self.remove(page_no);
        }
    }

    /// Drops every page (another process changed the database, or a rollback).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.dirty.clear();
        self.lru.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_clean_unpinned_pages() {
        let mut cache = PageCache::new(3);
        for p in 1..=3 {
            assert_eq!(cache.victim(true), Victim::Room);
            cache.insert(p, vec![p as u8; 8], false);
        }
        let pin = cache.get(1).unwrap(); // 1 is now the most recent, and pinned
        cache.get(2);
        assert_eq!(cache.victim(true), Victim::Room);
        assert!(!cache.contains(3), "3 was the least recently used");
        cache.insert(4, vec![4; 8], true);
        // 1 pinned, 2 clean, 4 dirty: 2 goes.
        assert_eq!(cache.victim(true), Victim::Room);
        assert!(!cache.contains(2) && cache.contains(1));
        cache.insert(5, vec![5; 8], true);
        // 1 pinned, 4 and 5 dirty: spill the older dirty one.
        assert_eq!(cache.victim(true), Victim::Spill(4));
        assert_eq!(cache.victim(false), Victim::None);
        drop(pin);
        assert_eq!(cache.victim(false), Victim::Room, "1 is unpinned and clean now");
        assert_eq!(cache.dirty_pages(), vec![4, 5]);
    }

    #[test]
    fn a_page_held_by_the_caller_is_copied_on_write() {
        let mut cache = PageCache::new(4);
        cache.insert(7, vec![1; 4], false);
        let held = cache.get(7).unwrap();
        let entry = cache.entry_mut(7).unwrap();
        Arc::make_mut(&mut entry.data)[0] = 9;
        assert_eq!(held[0], 1, "the caller's page did not change under it");
        assert_eq!(cache.get(7).unwrap()[0], 9);
    }

    /// The cache against a plain model (a recency list and a dirty flag per page) over random
    /// operations, with pins held and released, through many queue rebuilds.
    #[test]
    fn matches_a_plain_lru_model() {
        for seed in 0..40u64 {
            let mut rng = folio_vfs::rng::Rng::new(seed);
            let capacity = 1 + rng.below(12) as usize;
            let mut cache = PageCache::new(capacity);
            // Model: pages least recently used first, with their dirty flags.
            let mut order: Vec<(u32, bool)> = Vec::new();
            let mut pins: Vec<(u32, Arc<Vec<u8>>)> = Vec::new();
            let touch = |order: &mut Vec<(u32, bool)>, p: u32| {
                if let Some(i) = order.iter().position(|&(q, _)| q == p) {
                    let e = order.remove(i);
                    order.push(e);
                }
            };
            for step in 0..3000 {
                let p = 1 + rng.below(20) as u32;
                let what = rng.below(9);
                let ctx = format!("seed {seed:#x} step {step} op {what} page {p}");
                match what {
                    0 | 1 => {
                        let dirty = rng.below(2) == 0;
                        order.retain(|&(q, _)| q != p);
                        order.push((p, dirty));
                        cache.insert(p, vec![p as u8; 4], dirty);
                        // A pin of the replaced buffer does not pin the new one.
                        pins.retain(|(q, _)| *q != p);
                    }
                    2 => {
                        let got = cache.get(p);
                        assert_eq!(got.is_some(), order.iter().any(|&(q, _)| q == p), "{ctx}");
                        touch(&mut order, p);
                        if let Some(data) = got.filter(|_| rng.below(4) == 0) {
                            pins.push((p, data));
                        }
                    }
                    3 => {
                        cache.mark_dirty(p);
                        if let Some(e) = order.iter_mut().find(|(q, _)| *q == p) {
                            e.1 = true;
                        }
                    }
                    4 => {
                        cache.mark_clean(p);
                        if let Some(e) = order.iter_mut().find(|(q, _)| *q == p) {
                            e.1 = false;
                        }
                    }
                    5 => {
                        cache.remove(p);
                        order.retain(|&(q, _)| q != p);
                        pins.retain(|(q, _)| *q != p);
                    }
                    6 => {
                        let spill_allowed = rng.below(2) == 0;
                        let got = cache.victim(spill_allowed);
                        let pinned = |q: u32| pins.iter().any(|(r, _)| *r == q);
                        let want = if order.len() < capacity {
                            Victim::Room
                        } else {
                            let mut want = Victim::None;
                            for &(q, dirty) in order.iter().filter(|(q, _)| !pinned(*q)) {
                                if !dirty {
                                    want = Victim::Room;
                                    order.retain(|&(r, _)| r != q);
                                    break;
                                }
                                if spill_allowed {
                                    want = Victim::Spill(q);
                                    break;
                                }
                            }
                            want
                        };
                        assert_eq!(got, want, "{ctx}");
                    }
                    7 => {
                        pins.clear();
                    }
                    _ => {
                        if rng.below(10) == 0 {
                            let keep = rng.below(20) as u32;
                            cache.truncate(keep);
                            order.retain(|&(q, _)| q <= keep);
                            pins.retain(|(q, _)| *q <= keep);
                        }
                    }
                }
                let mut dirty: Vec<u32> = order.iter().filter(|e| e.1).map(|e| e.0).collect();
                dirty.sort_unstable();
                assert_eq!(cache.dirty_pages(), dirty, "{ctx}");
                assert_eq!(cache.len(), order.len(), "{ctx}");
            }
        }
    }
}
