//! folio: an embedded ordered key-value store whose file is a valid SQLite database.
//!
//! **Not implemented yet.** Its future role: the public facade over `folio-pager` (and
//! optionally `folio-asyncio`), a B-tree in SQLite's format (see
//! <https://sqlite.org/fileformat2.html#b_tree_pages>), with no SQL layer between the user and the
//! B-tree.
#![forbid(unsafe_code)]
