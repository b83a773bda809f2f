//! Unit tests of the in-process lock table against SQLite's locking matrix.
