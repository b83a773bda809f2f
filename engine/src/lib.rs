//! folio: an embedded ordered key-value store whose file is a valid SQLite database.
//!
//! **Not implemented yet.** Its future role: the public facade over `folio-pager` (and
//! optionally `folio-asyncio`), a B-tree in SQLite's format (see `shared/spec/btree-facts.md`),
//! with no SQL layer between the user and the B-tree.
#![forbid(unsafe_code)]
