//! The memory VFS.
