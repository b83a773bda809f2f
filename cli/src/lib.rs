//! folio-cli: the `folio` command-line tool.
//!
//! The storage-layer commands work on any SQLite database, including ones stock sqlite3 made:
//!
//! * `folio info DB`: the header's fields, the journal mode the file is in, pages and free
//!   pages, the journal, the WAL's frames and the `-shm`'s checkpoint state and read marks. It
//!   only reads.
//! * `folio check DB [--sqlite3]`: the storage layer's checks (header, stated size against the
//!   file, freelist count, WAL against wal-index, a crash's leftovers); `--sqlite3` adds stock
//!   `PRAGMA integrity_check`. Exit status 3 when anything is corrupt.
//! * `folio wal dump DB`: the WAL's header and every valid frame (page, commit marks), and where
//!   and why the valid frames end.
//! * `folio shm dump DB`: the wal-index header copies and whether a reader could use them,
//!   the checkpoint state and the read marks.
//! * `folio checkpoint DB [--mode passive|full|restart|truncate]` copies a WAL database's log
//!   into the database file, as `PRAGMA wal_checkpoint(MODE)` does, and prints its row.
//!
//! Every command takes `--json` (one JSON document on standard output, one stable schema per
//! command, documented on its report type), `-v`/`-q` (more or less logging on standard error;
//! `FOLIO_LOG=debug` or any `tracing` filter overrides them).
//!
//! Exit codes ([`ExitStatus`]): 0 success, 1 an error (the message names the file and what
//! failed), 2 a usage error, 3 corruption found. Errors are one sentence on standard error,
//! never a debug dump or a panic.

mod cmd;
mod error;

pub use error::{CliError, ExitStatus};

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "folio",
    version,
    about = "Inspect, check and maintain SQLite database files with Folio"
)]
pub struct Cli {
    /// Print the result as one JSON document.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more (repeat for more detail); `FOLIO_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log errors only; `FOLIO_LOG` overrides.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// What a database file and its journal, WAL and -shm hold (reads only).
    Info {
        /// The database file.
        db: PathBuf,
    },
    /// Check a database and its sidecars; exit status 3 if anything is corrupt.
    Check {
        /// The database file.
        db: PathBuf,
        /// Also run stock SQLite's `PRAGMA integrity_check` (the sqlite3 shell).
        #[arg(long)]
        sqlite3: bool,
    },
    /// The write-ahead log: header, frames, commit marks, where the valid frames end.
    Wal {
        /// What to do with it.
        #[command(subcommand)]
        action: DumpAction,
    },
    /// The wal-index (-shm): header copies, checkpoint state, read marks.
    Shm {
        /// What to do with it.
        #[command(subcommand)]
        action: DumpAction,
    },
    /// Checkpoint a WAL database: copy its log into the database file.
    Checkpoint {
        /// The database file.
        db: PathBuf,
        /// PASSIVE copies what readers allow; FULL waits for them; RESTART also waits until the
        /// next writer can start the log over; TRUNCATE also truncates the log to 0 bytes.
        #[arg(long, value_enum, default_value_t = CheckpointMode::Passive)]
        mode: CheckpointMode,
    },
}

/// What to do with a sidecar file.
#[derive(Debug, Subcommand)]
pub enum DumpAction {
    /// List its contents.
    Dump {
        /// The database (or the sidecar file itself).
        path: PathBuf,
    },
}

/// `--mode` of `folio checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckpointMode {
    /// Copy what readers allow; never wait.
    Passive,
    /// Wait for the writer and the readers until everything is copied.
    Full,
    /// FULL, then wait until no reader uses the log.
    Restart,
    /// RESTART, then truncate the log to 0 bytes.
    Truncate,
}

impl From<CheckpointMode> for folio_pager::CheckpointMode {
    fn from(mode: CheckpointMode) -> Self {
        match mode {
            CheckpointMode::Passive => folio_pager::CheckpointMode::Passive,
            CheckpointMode::Full => folio_pager::CheckpointMode::Full,
            CheckpointMode::Restart => folio_pager::CheckpointMode::Restart,
            CheckpointMode::Truncate => folio_pager::CheckpointMode::Truncate,
        }
    }
}

/// What a command prints: as text, or with `--json` as one JSON document.
pub trait Report: serde::Serialize + std::fmt::Display {
    /// The exit status the result calls for: [`ExitStatus::Corrupt`] when it found corruption.
    fn status(&self) -> ExitStatus {
        ExitStatus::Ok
    }
}

/// Runs the `folio` command line `args` (the program name first) and returns its exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output with status 0; mistakes to standard error
            // with the usage status.
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitStatus::Usage.into(),
            };
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match run(&cli) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("folio: {e}");
            e.status().into()
        }
    }
}

/// Runs a parsed command line, printing its report; the exit status it calls for.
pub fn run(cli: &Cli) -> Result<ExitStatus, CliError> {
    match &cli.command {
        Command::Info { db } => emit(cli, &cmd::info::run(db)?),
        Command::Check { db, sqlite3 } => emit(cli, &cmd::check::run(db, *sqlite3)?),
        Command::Wal { action: DumpAction::Dump { path } } => emit(cli, &cmd::wal::dump(path)?),
        Command::Shm { action: DumpAction::Dump { path } } => emit(cli, &cmd::shm::dump(path)?),
        Command::Checkpoint { db, mode } => emit(cli, &cmd::checkpoint::run(db, (*mode).into())?),
    }
}

/// Prints `report` as `--json` asks; its status.
fn emit(cli: &Cli, report: &impl Report) -> Result<ExitStatus, CliError> {
    if cli.json {
        let text = serde_json::to_string_pretty(report).map_err(CliError::Json)?;
        println!("{text}");
    } else {
        print!("{report}");
    }
    Ok(report.status())
}

/// Logging to standard error through `tracing`: `FOLIO_LOG` if set (any `tracing` filter, for
/// example `debug` or `folio_wal=trace`), else warnings (`-q`: errors; `-v`: info; `-vv`: debug;
/// `-vvv`: trace).
fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOLIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
