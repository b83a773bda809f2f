//! folio-tests: shared helpers for the cross-crate suites.
