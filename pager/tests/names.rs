//! folio-pager and the database's name on the OS VFS: a name that leads through symbolic links
//! opens the file they lead to, with its journal and log beside that file (as SQLite names
//! them); `no_follow` refuses such a name; a database renamed or deleted while open refuses to
//! start writing (`Error::Moved`) instead of leaving a journal under its old name.

use folio_pager::{Error, JournalMode, Pager, PagerOptions};
use folio_vfs::os::OsVfs;
use folio_vfs::Vfs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PS: usize = 4096;

fn os() -> Arc<dyn Vfs> {
    Arc::new(OsVfs::new())
}

fn open(path: &Path, opts: PagerOptions) -> Result<Pager, Error> {
    Pager::open(os(), path, opts)
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// Writes pages `2..=n` filled with `fill` in one transaction.
fn write_pages(pager: &mut Pager, n: u32, fill: u8) -> Result<(), Error> {
    pager.begin_write()?;
    for p in 2..=n {
        pager.write(p, &[fill; PS])?;
    }
    pager.commit()
}

fn page(pager: &mut Pager, p: u32) -> Vec<u8> {
    pager.begin_read().unwrap();
    let bytes = pager.get(p).unwrap().to_vec();
    pager.end_read().unwrap();
    bytes
}

#[test]
fn a_name_through_a_symbolic_link_opens_the_file_and_names_its_journal_and_log_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    let real = root.join("data/real.db");
    let link = root.join("link.db");
    std::os::unix::fs::symlink("data/real.db", &link).unwrap();

    let persist = PagerOptions { journal_mode: JournalMode::Persist, ..PagerOptions::default() };
    let mut by_link = open(&link, persist.clone()).unwrap();
    assert_eq!(by_link.path(), real);
    assert_eq!(by_link.journal_path(), beside(&real, "-journal"));
    write_pages(&mut by_link, 3, 0xA1).unwrap();
    assert!(beside(&real, "-journal").exists(), "PERSIST keeps the journal beside the file");
    assert!(!beside(&link, "-journal").exists(), "no journal named after the link");

    // WAL: a second connection by the real name reads the first one's log.
    let wal = PagerOptions { journal_mode: JournalMode::Wal, ..PagerOptions::default() };
    drop(by_link);
    let mut writer = open(&link, wal.clone()).unwrap();
    write_pages(&mut writer, 3, 0xB2).unwrap();
    assert!(beside(&real, "-wal").exists());
    assert!(!beside(&link, "-wal").exists(), "no log named after the link");
    let mut reader = open(&real, wal).unwrap();
    assert_eq!(page(&mut reader, 3), vec![0xB2; PS]);
}

#[test]
fn no_follow_refuses_a_name_that_leads_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link.db")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up")).unwrap();
    let opts = PagerOptions { no_follow: true, ..PagerOptions::default() };
    let mut pager = open(&real, opts.clone()).expect("a name without links opens");
    write_pages(&mut pager, 2, 1).unwrap();
    // A link as the last element, or as a directory on the way: SQLite refuses both.
    for name in [dir.path().join("link.db"), dir.path().join("sub/up/real.db")] {
        let err = open(&name, opts.clone()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("symbolic link") && text.contains(name.to_str().unwrap()), "{text}");
    }
}

#[test]
fn a_database_renamed_or_deleted_while_open_refuses_to_start_writing() {
    for deleted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let mut pager = open(&db, PagerOptions::default()).unwrap();
        write_pages(&mut pager, 3, 7).unwrap();
        let moved_to = dir.path().join("b.db");
        if deleted {
            std::fs::remove_file(&db).unwrap();
        } else {
            std::fs::rename(&db, &moved_to).unwrap();
        }
        let err = write_pages(&mut pager, 3, 8).unwrap_err();
        assert!(matches!(&err, Error::Moved { path } if *path == db), "{err:?}");
        assert!(err.to_string().contains("moved or deleted"), "{err}");
        assert!(!beside(&db, "-journal").exists(), "no journal under the old name");
        assert!(!pager.in_transaction(), "the failed write transaction was rolled back");
        // Reading goes on, and the file (under its new name) holds the committed pages.
        assert_eq!(page(&mut pager, 3), vec![7; PS]);
        drop(pager);
        if !deleted {
            let mut reopened = open(&moved_to, PagerOptions::default()).unwrap();
            assert_eq!(page(&mut reopened, 3), vec![7; PS]);
            write_pages(&mut reopened, 3, 9).expect("reopened by its new name, it writes");
        }
    }
}
