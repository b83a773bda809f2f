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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One cached page.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) data: Arc<Vec<u8>>,
    /// Modified since it was last written to the database.
    pub(crate) dirty: bool,
    /// Dirty, and its journal record (or the growth it needs) was written after the journal's
    /// last sync: the journal must be synced before this page may be written to the database.
    pub(crate) need_sync: bool,
    tick: u64,
}

impl Entry {
    fn pinned(&self) -> bool {
        Arc::strong_count(&self.data) > 1
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

/// The cache. Capacity is a soft limit: pinned pages and dirty pages that cannot be spilled
/// make it grow past it, as SQLite's does.
#[derive(Debug)]
pub(crate) struct PageCache {
    map: HashMap<u32, Entry>,
    /// Least recently used first: tick -> page number.
    lru: BTreeMap<u64, u32>,
    tick: u64,
    capacity: usize,
}

impl PageCache {
    pub(crate) fn new(capacity: usize) -> Self {
        PageCache { map: HashMap::new(), lru: BTreeMap::new(), tick: 0, capacity: capacity.max(1) }
    }

    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn touch(&mut self, page_no: u32) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(entry) = self.map.get_mut(&page_no) {
            self.lru.remove(&entry.tick);
            entry.tick = tick;
            self.lru.insert(tick, page_no);
        }
    }

    /// The page's buffer (a new pin), marking it recently used.
    pub(crate) fn get(&mut self, page_no: u32) -> Option<Arc<Vec<u8>>> {
        self.touch(page_no);
        self.map.get(&page_no).map(|e| Arc::clone(&e.data))
    }

    pub(crate) fn entry_mut(&mut self, page_no: u32) -> Option<&mut Entry> {
        self.touch(page_no);
        self.map.get_mut(&page_no)
    }

    pub(crate) fn contains(&self, page_no: u32) -> bool {
        self.map.contains_key(&page_no)
    }

    pub(crate) fn is_dirty(&self, page_no: u32) -> bool {
        self.map.get(&page_no).is_some_and(|e| e.dirty)
    }

    /// Adds a page (replacing any cached copy). The caller makes room first.
    pub(crate) fn insert(&mut self, page_no: u32, data: Vec<u8>, dirty: bool) {
        self.remove(page_no);
        self.tick += 1;
        self.lru.insert(self.tick, page_no);
        let entry = Entry { data: Arc::new(data), dirty, need_sync: dirty, tick: self.tick };
        self.map.insert(page_no, entry);
    }

    pub(crate) fn remove(&mut self, page_no: u32) {
        if let Some(entry) = self.map.remove(&page_no) {
            self.lru.remove(&entry.tick);
        }
    }

    /// Makes room for one more page if the cache is full: drops the least recently used clean,
    /// unpinned page, or names the dirty page to spill.
    pub(crate) fn victim(&mut self, spill_allowed: bool) -> Victim {
        if self.map.len() < self.capacity {
            return Victim::Room;
        }
        let mut spill = None;
        for &page_no in self.lru.values() {
            let entry = &self.map[&page_no];
            if entry.pinned() {
                continue;
            }
            if !entry.dirty {
                self.remove(page_no);
                return Victim::Room;
            }
            if spill.is_none() && spill_allowed {
                spill = Some(page_no);
                break;
            }
        }
        spill.map_or(Victim::None, Victim::Spill)
    }

    /// Dirty pages in ascending page order.
    pub(crate) fn dirty_pages(&self) -> Vec<u32> {
        let mut pages: Vec<u32> =
            self.map.iter().filter(|(_, e)| e.dirty).map(|(&page_no, _)| page_no).collect();
        pages.sort_unstable();
        pages
    }

    /// Marks a page clean (it reached the database).
    pub(crate) fn mark_clean(&mut self, page_no: u32) {
        if let Some(entry) = self.map.get_mut(&page_no) {
            entry.dirty = false;
            entry.need_sync = false;
        }
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
}
