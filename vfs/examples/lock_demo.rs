//! Shows folio-vfs and a stock `sqlite3` process honouring the same locks.
//!
//! Creates a database with the `sqlite3` CLI, then takes each lock level through Folio's OS VFS
//! and asks `sqlite3` to read and to write while we hold it:
//!
//! ```text
//! cargo run -p folio-vfs --example lock_demo
//! ```

use folio_vfs::os::OsVfs;
use folio_vfs::{FileKind, LockLevel, OpenFlags, Vfs};
use std::path::Path;
use std::process::Command;

fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 CLI must be installed (apt-get install sqlite3)");
    let text = if out.status.success() { out.stdout } else { out.stderr };
    String::from_utf8_lossy(&text).trim().to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("demo.db");
    sqlite3(&db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");

    let vfs = OsVfs::new();
    let file = vfs.open(Some(&db), OpenFlags::read_write(FileKind::MainDb))?;
    for level in [LockLevel::Shared, LockLevel::Reserved, LockLevel::Exclusive] {
        file.lock(level)?;
        println!("folio holds {level}:");
        println!("  sqlite3 read : {}", sqlite3(&db, "SELECT count(*) FROM t;"));
        println!("  sqlite3 write: {}", or_ok(sqlite3(&db, "INSERT INTO t VALUES (2);")));
    }
    file.unlock(LockLevel::None)?;
    println!("folio holds NONE:");
    println!("  sqlite3 read : {}", sqlite3(&db, "SELECT count(*) FROM t;"));
    Ok(())
}

fn or_ok(reply: String) -> String {
    if reply.is_empty() {
        "ok".to_string()
    } else {
        reply
    }
}
