//! The CLI's errors and exit statuses.

use std::path::PathBuf;
use std::process::ExitCode;

/// What `folio` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked.
    Ok,
    /// 1: an error stopped it; the message names the file and what failed.
    Error,
    /// 2: the command line was wrong.
    Usage,
    /// 3: the file is corrupt (a check found problems, or the bytes broke a rule of the
    /// format).
    Corrupt,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Error => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Corrupt => 3,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// Why a command failed. The message is one sentence naming the file and what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The pager failed (I/O, locks, a corrupt file, a WAL error).
    #[error(transparent)]
    Pager(#[from] folio_pager::Error),
    /// The WAL layer failed.
    #[error(transparent)]
    Wal(#[from] folio_wal::Error),
    /// The VFS failed.
    #[error(transparent)]
    Vfs(#[from] folio_vfs::Error),
    /// The file named does not exist; `folio` never creates a database it was asked to read.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file is shorter than the structure it must hold.
    #[error("{}: {len} bytes, too short for {what} ({needed} bytes)", path.display())]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
        /// The structure.
        what: &'static str,
        /// The bytes that structure needs.
        needed: usize,
    },
    /// Writing the JSON report failed.
    #[error("cannot write the JSON report: {0}")]
    Json(#[source] serde_json::Error),
}

impl CliError {
    /// The exit status this error calls for: [`ExitStatus::Corrupt`] for a corrupt file,
    /// [`ExitStatus::Error`] otherwise.
    pub fn status(&self) -> ExitStatus {
        let corrupt = match self {
            CliError::Pager(e) => e.is_corrupt(),
            CliError::Wal(e) => {
                matches!(
                    e,
                    folio_wal::Error::Corrupt { .. } | folio_wal::Error::IndexCorrupt { .. }
                )
            }
            CliError::TooShort { .. } => true,
            _ => false,
        };
        if corrupt {
            ExitStatus::Corrupt
        } else {
            ExitStatus::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_the_documented_codes() {
        let codes: Vec<u8> =
            [ExitStatus::Ok, ExitStatus::Error, ExitStatus::Usage, ExitStatus::Corrupt]
                .into_iter()
                .map(ExitStatus::code)
                .collect();
        assert_eq!(codes, [0, 1, 2, 3]);
    }

    #[test]
    fn messages_name_the_file_and_what_failed() {
        let e = CliError::NotFound { path: "/x/db".into() };
        assert_eq!(e.to_string(), "/x/db: no such file");
        assert_eq!(e.status(), ExitStatus::Error);
    }
}
