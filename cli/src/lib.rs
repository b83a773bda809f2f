//! folio-cli: the `folio` command-line tool.
//!
//! **Not implemented yet.** Its future role: a binary over the `folio` engine to create, inspect,
//! check and dump databases. Until the engine exists this crate holds only this description.
