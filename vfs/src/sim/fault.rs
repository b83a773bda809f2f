//! Fault injection for the simulated disk: the Nth operation of a kind fails, once or from then
//! on, with a chosen error; or a read or write comes up short. Faults belong to one simulated
//! disk value, never to global state, so tests stay parallel.

use std::path::Path;

/// The kinds of operation a fault can target (and that the disk counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultOp {
    /// `Vfs::open`.
    Open,
    /// `VfsFile::read_at`.
    Read,
    /// `VfsFile::write_at`.
    Write,
    /// `VfsFile::sync`.
    Sync,
    /// `VfsFile::truncate`.
    Truncate,
    /// `VfsFile::lock` / `unlock`.
    Lock,
    /// `VfsFile::shm_map`.
    ShmMap,
    /// `Vfs::delete`.
    Delete,
}

impl FaultOp {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultOp; 8] = [
        FaultOp::Open,
        FaultOp::Read,
        FaultOp::Write,
        FaultOp::Sync,
        FaultOp::Truncate,
        FaultOp::Lock,
        FaultOp::ShmMap,
        FaultOp::Delete,
    ];
}

/// What the faulty operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Fails with an I/O error (`EIO`).
    Io,
    /// Fails with "no space left on device" (`ENOSPC`).
    DiskFull,
    /// Fails with "permission denied" (`EACCES`).
    Permission,
    /// A read returns only the first half of the bytes asked for (the rest zero-filled and
    /// reported as [`crate::ReadOutcome::Short`]); on other operations, an I/O error.
    ShortRead,
    /// A write stores only its first half, then fails with `ENOSPC`; on other operations, an
    /// I/O error.
    ShortWrite,
}

impl FaultKind {
    /// The OS error number this fault reports.
    pub fn errno(self) -> i32 {
        match self {
            FaultKind::DiskFull | FaultKind::ShortWrite => libc::ENOSPC,
            FaultKind::Permission => libc::EACCES,
            FaultKind::Io | FaultKind::ShortRead => libc::EIO,
        }
    }
}

/// One fault: the `nth` (1-based) operation of kind `op` (counted over the whole disk, or only
/// on files whose path ends with `path_suffix`) fails with `kind`; with `persist`, so does every
/// later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The operation kind.
    pub op: FaultOp,
    /// Which occurrence fails first (1-based).
    pub nth: u64,
    /// Keep failing after the first.
    pub persist: bool,
    /// What happens.
    pub kind: FaultKind,
    /// Only count operations on paths ending with this (for example `"-journal"`).
    pub path_suffix: Option<String>,
}

impl FaultRule {
    /// The `nth` operation of kind `op` fails once with `kind`.
    pub fn once(op: FaultOp, nth: u64, kind: FaultKind) -> Self {
        FaultRule { op, nth, persist: false, kind, path_suffix: None }
    }

    /// The `nth` operation of kind `op` and every later one fail with `kind`.
    pub fn from_then_on(op: FaultOp, nth: u64, kind: FaultKind) -> Self {
        FaultRule { persist: true, ..Self::once(op, nth, kind) }
    }

    /// Restricts the rule to paths ending with `suffix`.
    pub fn on_paths_ending_with(self, suffix: &str) -> Self {
        FaultRule { path_suffix: Some(suffix.to_string()), ..self }
    }

    fn matches_path(&self, path: &Path) -> bool {
        match &self.path_suffix {
            None => true,
            Some(suffix) => path.to_str().is_some_and(|p| p.ends_with(suffix.as_str())),
        }
    }
}

/// The fault rules of one disk, with their own occurrence counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct FaultPlan {
    rules: Vec<(FaultRule, u64)>,
}

impl FaultPlan {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Counts one operation and returns the fault it triggers, if any.
    pub(crate) fn check(&mut self, op: FaultOp, path: &Path) -> Option<FaultKind> {
        let mut hit = None;
        for (rule, seen) in &mut self.rules {
            if rule.op != op || !rule.matches_path(path) {
                continue;
            }
            *seen += 1;
            let fires = *seen == rule.nth || (rule.persist && *seen > rule.nth);
            if fires && hit.is_none() {
                hit = Some(rule.kind);
            }
        }
        hit
    }
}
