//! `register(.., make_default = true)`: a Folio VFS as the process's default, used by
//! connections that name no VFS. In its own test binary, since the default is process-wide.

use folio_sqlite_bridge::{register, unregister};
use folio_vfs::memory::MemoryVfs;
use rusqlite::Connection;
use std::sync::Arc;

#[test]
fn a_default_registration_serves_connections_that_name_no_vfs() {
    let memory = MemoryVfs::new();
    register("folio-default-test", Arc::new(memory.clone()), true).unwrap();
    // No VFS named: the memory VFS serves it, so the file never touches the disk.
    let path = "/default/only-in-memory.db";
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (42);").unwrap();
    drop(conn);
    assert!(!std::path::Path::new(path).exists(), "the default VFS was not used");
    assert!(folio_vfs::Vfs::access(
        &memory,
        std::path::Path::new(path),
        folio_vfs::AccessCheck::Exists
    )
    .unwrap());

    // Unregistered, the default goes back to SQLite's own VFS.
    unregister("folio-default-test").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let on_disk = dir.path().join("on-disk.db");
    let conn = Connection::open(&on_disk).unwrap();
    conn.execute_batch("CREATE TABLE t(x)").unwrap();
    drop(conn);
    assert!(on_disk.exists(), "after unregistering, SQLite's own VFS is the default again");
}
