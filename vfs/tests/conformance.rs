//! The VFS conformance suite: one set of test bodies, run against every VFS.
//!
//! Each test is a function taking an [`Env`] (a fresh VFS plus a directory to create files in);
//! the [`conformance!`] macro instantiates the whole list once per VFS, so every test appears
//! as its own `#[test]`: `memory::read_past_eof_is_short`, `os::read_past_eof_is_short`, …
//! Run one VFS's half with `cargo test -p folio-vfs --test conformance memory`.
//!
//! The expectations are SQLite's (SQLite's os_unix.c, `unixLock` and
//! `unixShmLock`): what a pager written
//! against `sqlite3_io_methods` may rely on, whichever VFS it runs on.
//!
//! The random-operations test is seeded: `FOLIO_SEED=<u64>` replays a run (the seed is printed
//! on failure), `PROPTEST_CASES` sets the number of cases (default 64).
#![cfg(not(loom))]

#[path = "conformance/files.rs"]
mod files;
#[path = "conformance/locks.rs"]
mod locks;
#[path = "conformance/model.rs"]
mod model;
#[path = "conformance/shm.rs"]
mod shm;

use folio_vfs::{Error, FileKind, OpenFlags, Result, Vfs, VfsFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a test runs against: a fresh VFS and a directory of its own.
pub struct Env {
    /// The VFS under test.
    pub vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    /// Keeps the OS VFS's directory alive (and removes it at the end).
    _temp: Option<tempfile::TempDir>,
}

impl Env {
    /// A fresh memory file system.
    pub fn memory() -> Env {
        Env {
            vfs: Arc::new(folio_vfs::memory::MemoryVfs::new()),
            dir: PathBuf::from("/conformance"),
            _temp: None,
        }
    }

    /// The OS VFS in a fresh temporary directory.
    #[cfg(unix)]
    pub fn os() -> Env {
        let temp = tempfile::tempdir().expect("temporary directory");
        Env {
            vfs: Arc::new(folio_vfs::os::OsVfs::new()),
            dir: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }

    /// The directory files are created in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `name` in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Opens `name` with `flags`.
    pub fn open(&self, name: &str, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        self.vfs.open(Some(&self.path(name)), flags)
    }

    /// Opens (creating if needed) the database file `name`, read-write.
    pub fn db(&self, name: &str) -> Box<dyn VfsFile> {
        self.open(name, OpenFlags::create(FileKind::MainDb))
            .unwrap_or_else(|e| panic!("{} VFS: open {name}: {e}", self.vfs.name()))
    }

    /// True if `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.vfs.access(&self.path(name), folio_vfs::AccessCheck::Exists).unwrap()
    }
}

/// Asserts `result` is [`Error::Busy`].
#[track_caller]
pub fn assert_busy<T: std::fmt::Debug>(result: Result<T>) {
    match result {
        Err(Error::Busy { .. }) => {}
        other => panic!("expected Busy, got {other:?}"),
    }
}

/// Asserts `result` is [`Error::CantOpen`] and returns the error.
#[track_caller]
pub fn assert_cant_open<T>(result: Result<T>) -> Error {
    match result {
        Err(e @ Error::CantOpen { .. }) => e,
        Err(e) => panic!("expected CantOpen, got {e:?}"),
        Ok(_) => panic!("expected CantOpen, got a file"),
    }
}

/// Instantiates the listed tests as `#[test]`s in module `$vfs`, each with a fresh `$make`.
macro_rules! suite {
    ($vfs:ident, $make:expr, [$($group:ident::$test:ident),* $(,)?]) => {
        mod $vfs {
            $(
                #[test]
                fn $test() {
                    crate::$group::$test(&$make);
                }
            )*
        }
    };
}

/// The whole suite for one VFS, plus tests that only apply to it.
macro_rules! conformance {
    ($vfs:ident, $make:expr $(, $group:ident::$test:ident)* $(,)?) => {
        suite!($vfs, $make, [
            files::create_makes_an_empty_file,
            files::exclusive_create_fails_on_an_existing_file,
            files::missing_file_without_create_is_cant_open,
            files::read_only_handle_refuses_writes,
            files::delete_removes_the_file,
            files::delete_of_a_missing_file_is_enoent,
            files::delete_keeps_the_data_of_open_handles,
            files::delete_on_close_removes_the_file_at_close,
            files::temp_file_is_usable_and_deleted_on_close,
            files::access_reports_existence,
            files::handles_of_one_file_share_its_bytes,
            files::data_survives_reopen,
            files::read_past_eof_is_short,
            files::write_past_eof_extends_with_zeros,
            files::vectored_write_equals_the_concatenation,
            files::writeback_hints_change_nothing_a_reader_sees,
            files::vectored_write_of_more_than_1024_buffers,
            files::vectored_write_of_empty_buffers_writes_nothing,
            files::vectored_write_past_eof_extends_with_zeros,
            files::truncate_shrinks_and_extends,
            files::size_follows_writes,
            files::sync_succeeds,
            files::full_path_is_absolute,
            files::randomness_fills_the_buffer,
            files::sleep_waits,
            files::geometry_is_sane,
            locks::new_handles_hold_no_lock,
            locks::readers_share,
            locks::one_reserved_among_readers,
            locks::exclusive_waits_in_pending_for_readers,
            locks::pending_keeps_new_readers_out,
            locks::exclusive_straight_from_shared,
            locks::unlock_to_shared_lets_others_in,
            locks::unlock_to_none_releases_everything,
            locks::dropping_a_handle_releases_its_locks,
            locks::closing_one_handle_keeps_anothers_locks,
            locks::check_reserved_lock_sees_writers,
            locks::lock_misuse_is_an_error,
            locks::read_only_handle_can_read_lock,
            shm::map_without_extend_finds_nothing_new,
            shm::shm_lock_before_map_is_misuse,
            shm::only_the_main_database_has_shared_memory,
            shm::extend_creates_regions_up_to_the_one_asked,
            shm::handles_see_each_others_stores,
            shm::slot_lock_matrix,
            shm::shared_slot_cannot_become_exclusive,
            shm::multi_slot_exclusive,
            shm::unmap_releases_slots,
            shm::dropping_a_handle_releases_slots,
            shm::memory_survives_while_one_handle_stays,
            shm::first_mapper_after_everyone_left_sees_zeroed_memory,
            shm::first_mapper_after_all_handles_closed_sees_zeroed_memory,
            model::random_operations_match_a_vec_model,
            $($group::$test,)*
        ]);
    };
}

conformance!(memory, crate::Env::memory());

#[cfg(unix)]
conformance!(os, crate::Env::os(), files::opening_a_directory_is_cant_open);
