//! folio-pager in WAL mode as a crash-harness subject: the transactions of a rollback-mode
//! subject ([`PagerTxns`]: [`super::PagerSubject`]'s pages that name their writer, or
//! [`super::transplant`]'s pages of real sqlite3 databases) run on one connection kept open
//! across steps, with checkpoints and reopens between them, so that the log holds several
//! commits and crashes land everywhere SQLite's WAL writes or syncs:
//!
//! * commits: frames appended (uncommitted ones first when a small cache spills, a draft frame
//!   rewritten in place and its checksums redone), the commit frame, the log sync at FULL, the
//!   padding to a sector boundary on devices without powersafe overwrite (where every page of
//!   a written page's sector goes into the log); rollbacks that leave frames past the log's
//!   end for the next commit to overwrite;
//! * the log restarted by the first commit after a complete checkpoint: a new header, synced
//!   unless the device is SEQUENTIAL, then frames over the old ones;
//! * checkpoints of every mode ([`WalStep::Checkpoint`]) and auto-checkpoints after commits
//!   (a threshold of 3 to 8 frames, or off): the log sync, the copy into the database, its
//!   truncation and sync, TRUNCATE's truncation of the log;
//! * the last connection's close ([`WalStep::Reopen`]): a checkpoint, then `-wal` deleted;
//! * a second connection reading a snapshot for a while ([`WalStep::PeerBegin`] to
//!   [`WalStep::PeerEnd`]): checkpoints stop at its read mark (the database written without a
//!   sync), RESTART and TRUNCATE give up, the log cannot restart, the first connection's
//!   close is not the last; the reader checks that its snapshot never changes, and its own
//!   close is the last one when the first connection is closed.
//!
//! Recovery is what SQLite users do after a crash: open the database again and read every
//! page. Shared memory does not survive the crash (on the simulated disk it is heap memory of
//! the disk value, and a reboot starts with none), so the wal-index is rebuilt from the log.
//!
//! Durability is SQLite's ([`super::sqlite_durability`]): at FULL or EXTRA no acknowledged
//! commit is lost; at NORMAL a tail of commits may be, but never one a checkpoint or a last
//! close acknowledged after it ([`Durability::TailMayBeLost`] with those steps as durability
//! points when no other connection is open: a reader can keep a checkpoint from syncing). At
//! NORMAL on a device without powersafe overwrite, SQLite's exposure of a torn log over a
//! checkpointed database is counted apart ([`Subject::recover_without_journal`]).
//!
//! The canaries: a subject claiming more ([`WalSubject::claiming`]), one that throws the log
//! away before reading ([`WalRecovery::DiscardLog`]), and one whose checkpoint steps do
//! nothing ([`WalSubject::skip_checkpoints`]: durability points that make nothing durable).

use super::{open_pager, vfs_error, PagerSubject, PagerTxns};
use crate::crash::{crash_run, Durability, Subject};
use folio_pager::{CheckpointMode, JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::sim::{Rng, SimConfig, SimVfs};
use folio_vfs::{AccessCheck, DeviceCharacteristics as Dc, Op, Vfs};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;

/// The database's write-ahead log.
pub const WAL: &str = "/pager/test.db-wal";

/// Every checkpoint mode, for workloads.
pub const CHECKPOINT_MODES: [CheckpointMode; 4] = [
    CheckpointMode::Passive,
    CheckpointMode::Full,
    CheckpointMode::Restart,
    CheckpointMode::Truncate,
];

/// One step of a WAL session. `alone` says that no other connection is open during the step,
/// which makes a checkpoint or close a durability point (see the module docs).
#[derive(Debug, Clone)]
pub enum WalStep<T> {
    /// A transaction of the underlying subject, on the session's connection (opened if none
    /// is).
    Txn(T),
    /// `PRAGMA wal_checkpoint(mode)` on the session's connection (opened if none is).
    Checkpoint {
        /// The mode.
        mode: CheckpointMode,
        /// No reader is open: the checkpoint copies everything, syncing the log first.
        alone: bool,
    },
    /// Close the connection (alone, it is the last one: it checkpoints and deletes `-wal`);
    /// the next step opens a new one with `wal_autocheckpoint` set to `autocheckpoint` frames
    /// (0: off).
    Reopen {
        /// The next connection's auto-checkpoint threshold.
        autocheckpoint: u32,
        /// No reader is open: this close is the last one.
        alone: bool,
    },
    /// A second connection opens and starts a read transaction, reading every page.
    PeerBegin,
    /// The second connection reads every page again (it must see the same snapshot), ends its
    /// read transaction and closes.
    PeerEnd {
        /// The first connection is closed: this close is the last one.
        alone: bool,
    },
}

/// How the subject recovers after a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalRecovery {
    /// Open the database again through a pager and read every page.
    Reopen,
    /// Canary: delete the log first, so its commits are never read.
    DiscardLog,
}

/// The connections a session keeps across steps.
#[derive(Default)]
struct Session {
    pager: Option<Pager>,
    autocheckpoint: u32,
    /// The reader and the pages of its snapshot.
    peer: Option<(Pager, Vec<Vec<u8>>)>,
}

/// Every page of the snapshot `pager` reads.
fn read_all(pager: &mut Pager) -> folio_pager::Result<Vec<Vec<u8>>> {
    (1..=pager.page_count()).map(|p| pager.get(p).map(|page| page.to_vec())).collect()
}

/// An error for a run step that found the pager misbehaving on a healthy disk.
fn misbehaved(what: String) -> folio_vfs::Error {
    folio_vfs::Error::io(Op::Read, super::DB, std::io::Error::other(what))
}

impl Session {
    fn connect<T: PagerTxns>(
        &mut self,
        vfs: &SimVfs,
        txns: &T,
    ) -> Result<&mut Pager, folio_vfs::Error> {
        if self.pager.is_none() {
            let opts =
                PagerOptions { wal_autocheckpoint: self.autocheckpoint, ..txns.options(100) };
            self.pager = Some(open_pager(vfs, opts).map_err(vfs_error)?);
        }
        Ok(self.pager.as_mut().expect("opened above"))
    }
}

/// A subject's transactions in WAL mode on one connection kept across steps, as a
/// crash-harness subject. The connection lives in the subject between steps (the harness runs
/// one workload at a time); setup and recovery drop the previous run's.
pub struct WalSubject<T> {
    /// The transactions, their model and the database's recovery (in WAL mode).
    pub txns: T,
    /// The durability the oracle holds the session to.
    pub durability: Durability,
    /// How recovery is done.
    pub recovery: WalRecovery,
    /// Canary: checkpoint steps are acknowledged without checkpointing, so the durability
    /// points they claim to be make nothing durable.
    pub skip_checkpoints: bool,
    /// Workloads have a second connection read snapshots between steps. Off by default at
    /// NORMAL on a device without powersafe overwrite: there a reader keeps the log from
    /// restarting after a checkpoint, and the unpadded appends that follow can tear frames the
    /// checkpoint already copied — SQLite's exposure (see
    /// [`Subject::recover_without_journal`]), which can also leave a database file that is no
    /// committed state when a copy stopped short by the reader was torn too, so the oracle
    /// could not tell it from damage of Folio's making.
    pub readers: bool,
    session: RefCell<Session>,
}

impl<T: PagerTxns + Clone> Clone for WalSubject<T> {
    fn clone(&self) -> Self {
        WalSubject {
            txns: self.txns.clone(),
            durability: self.durability,
            recovery: self.recovery,
            skip_checkpoints: self.skip_checkpoints,
            readers: self.readers,
            session: RefCell::default(),
        }
    }
}

impl<T: PagerTxns> std::fmt::Debug for WalSubject<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalSubject").field("label", &self.label()).finish_non_exhaustive()
    }
}

impl WalSubject<PagerSubject> {
    /// Pages that name their writer, in WAL mode at `sync` on `device`: 8 transactions per
    /// workload, some writing a page twice.
    pub fn pages(sync: Synchronous, device: super::Device, page_size: u32) -> Self {
        let txns = PagerSubject {
            steps: 8,
            rewrites: true,
            ..PagerSubject::new(JournalMode::Wal, sync, device, page_size)
        };
        WalSubject::new(txns)
    }
}

impl<T: PagerTxns> WalSubject<T> {
    /// `txns` (whose pagers must be in WAL mode) in a session, held to their durability.
    pub fn new(txns: T) -> Self {
        let durability = txns.durability();
        let psow = txns.sim_config(0).characteristics.contains(Dc::POWERSAFE_OVERWRITE);
        let readers = psow || txns.options(100).synchronous != Synchronous::Normal;
        WalSubject {
            txns,
            durability,
            recovery: WalRecovery::Reopen,
            skip_checkpoints: false,
            readers,
            session: RefCell::default(),
        }
    }

    /// The same subject with a reader in its workloads, or without ([`WalSubject::readers`]).
    pub fn with_readers(self, readers: bool) -> Self {
        WalSubject { readers, ..self }
    }

    /// The same subject held to `durability` (a canary claims more than the pager gives).
    pub fn claiming(self, durability: Durability) -> Self {
        WalSubject { durability, ..self }
    }

    /// The same subject with recovery done as `recovery`.
    pub fn recovering_by(self, recovery: WalRecovery) -> Self {
        WalSubject { recovery, ..self }
    }

    /// A short name for reports.
    pub fn label(&self) -> String {
        let canary = match self.recovery {
            WalRecovery::Reopen => "",
            WalRecovery::DiscardLog => " discarding the log",
        };
        let skip = if self.skip_checkpoints { " skipping checkpoints" } else { "" };
        let readers = if self.readers { "" } else { " without readers" };
        let claim = if self.durability == self.txns.durability() {
            String::new()
        } else {
            format!(" claiming {:?}", self.durability)
        };
        format!("{}{readers}{canary}{skip}{claim}", self.txns.label())
    }

    /// Ends the connection of an earlier run, if any (its disk may be gone: errors are moot).
    fn drop_session(&self) {
        let old = self.session.replace(Session::default());
        drop(old);
    }

    /// Everything about one run, for replaying a failure: the workload with the model's state
    /// after each step, where the power was cut, the files of the crash image, what recovery
    /// makes of it and what the database file says without its log.
    pub fn explain(&self, run_seed: u64) -> String {
        let mut out = String::new();
        let run = match crash_run(self, run_seed) {
            Ok(Some(run)) => run,
            Ok(None) => return "no crash image: the workload does no I/O".to_string(),
            Err(e) => return format!("no crash image: {e}"),
        };
        let steps = self.workload(&mut Rng::new(run_seed >> crate::crash::POINT_BITS));
        let _ = writeln!(out, "initial state {:?}", run.states[0]);
        for (i, (step, state)) in steps.iter().zip(&run.states[1..]).enumerate() {
            let point = if self.is_durability_point(step) { " (durability point)" } else { "" };
            let _ = writeln!(out, "step {}: {step:?}{point}\n    -> {state:?}", i + 1);
        }
        let _ = writeln!(
            out,
            "power cut at {:?} with {} steps acknowledged, {} durable",
            run.at, run.acked, run.durable
        );
        for (path, bytes) in &run.image.files {
            let _ = writeln!(out, "file {}: {} bytes", path.display(), bytes.len());
        }
        let boot = || SimVfs::from_image(&run.image, self.sim_config(run_seed ^ 0xb007));
        let _ = writeln!(out, "recovered: {:?}", self.recover(&boot()));
        let alone = boot();
        let alone = discard_log(&alone).and_then(|()| self.txns.recover(&alone));
        let _ = writeln!(out, "database alone: {alone:?}");
        out
    }
}

/// Deletes the log if there is one.
pub fn discard_log(vfs: &SimVfs) -> Result<(), String> {
    let wal = Path::new(WAL);
    if vfs.access(wal, AccessCheck::Exists).map_err(|e| e.to_string())? {
        vfs.delete(wal, true).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An auto-checkpoint threshold: off (a third of the time), or 3 to 8 frames.
fn draw_autocheckpoint(rng: &mut Rng) -> u32 {
    match rng.below(3) {
        0 => 0,
        _ => 3 + rng.below(6) as u32,
    }
}

impl<T: PagerTxns> crate::crash::Explained for WalSubject<T> {
    fn label(&self) -> String {
        WalSubject::label(self)
    }

    fn explain(&self, run_seed: u64) -> String {
        WalSubject::explain(self, run_seed)
    }
}

impl<T: PagerTxns> Subject for WalSubject<T> {
    type State = T::State;
    type Step = WalStep<T::Step>;

    fn workload(&self, rng: &mut Rng) -> Vec<Self::Step> {
        let txns = self.txns.workload(rng);
        let autocheckpoint = draw_autocheckpoint(rng);
        let mut steps = vec![WalStep::Reopen { autocheckpoint, alone: true }];
        // Whether the reader is open; whether the first connection is (a transaction opens it).
        let mut peer = false;
        for txn in txns {
            steps.push(WalStep::Txn(txn));
            let mut open = true;
            // Up to two other steps (so a reader can end after the first connection closed).
            for _ in 0..2 {
                match rng.below(20) {
                    0..=5 => {
                        let mode = CHECKPOINT_MODES[rng.below(4) as usize];
                        steps.push(WalStep::Checkpoint { mode, alone: !peer });
                        open = true;
                    }
                    6..=7 => {
                        let autocheckpoint = draw_autocheckpoint(rng);
                        steps.push(WalStep::Reopen { autocheckpoint, alone: !peer });
                        open = false;
                    }
                    8..=10 if !self.readers => {}
                    8..=10 if peer => {
                        steps.push(WalStep::PeerEnd { alone: !open });
                        peer = false;
                    }
                    8..=10 => {
                        steps.push(WalStep::PeerBegin);
                        peer = true;
                    }
                    _ => {}
                }
            }
        }
        steps
    }

    fn initial_state(&self) -> T::State {
        self.txns.initial_state()
    }

    fn model_apply(&self, state: &T::State, step: &Self::Step) -> T::State {
        match step {
            WalStep::Txn(txn) => self.txns.model_apply(state, txn),
            _ => state.clone(),
        }
    }

    fn is_durability_point(&self, step: &Self::Step) -> bool {
        // Alone, a checkpoint syncs the log before copying anything (one with nothing to copy
        // comes after one that copied everything and synced the database), and a close is the
        // last one, which checkpoints. A reader can make a checkpoint stop before it syncs
        // (one reading the database alone holds READ_LOCK(0)), and keeps a close from being
        // the last.
        match step {
            WalStep::Checkpoint { alone, .. }
            | WalStep::Reopen { alone, .. }
            | WalStep::PeerEnd { alone } => *alone,
            WalStep::Txn(_) | WalStep::PeerBegin => false,
        }
    }

    fn setup(&self, vfs: &SimVfs) -> Result<(), String> {
        self.drop_session();
        self.txns.setup(vfs)
    }

    fn run_step(&self, vfs: &SimVfs, step: &Self::Step) -> Result<(), folio_vfs::Error> {
        let mut session = self.session.borrow_mut();
        match step {
            WalStep::Txn(txn) => {
                let pager = session.connect(vfs, &self.txns)?;
                pager.set_cache_size(self.txns.cache_size(txn));
                self.txns.apply(pager, txn).map_err(vfs_error)
            }
            WalStep::Checkpoint { .. } if self.skip_checkpoints => Ok(()),
            WalStep::Checkpoint { mode, alone } => {
                let pager = session.connect(vfs, &self.txns)?;
                let done = pager.checkpoint(*mode).map_err(vfs_error)?;
                if done.busy && *alone {
                    // Nothing else uses the database: a checkpoint has no reason to stop short.
                    return Err(misbehaved(format!(
                        "checkpoint {mode:?} alone was busy: {done:?}"
                    )));
                }
                Ok(())
            }
            WalStep::Reopen { autocheckpoint, .. } => {
                session.autocheckpoint = *autocheckpoint;
                match session.pager.take() {
                    Some(pager) => pager.close().map_err(vfs_error),
                    None => Ok(()),
                }
            }
            WalStep::PeerBegin => {
                // A small cache: reading again goes to the log and the database file.
                let mut peer = open_pager(vfs, self.txns.options(2)).map_err(vfs_error)?;
                peer.begin_read().map_err(vfs_error)?;
                let pages = read_all(&mut peer).map_err(vfs_error)?;
                session.peer = Some((peer, pages));
                Ok(())
            }
            WalStep::PeerEnd { .. } => {
                let Some((mut peer, pages)) = session.peer.take() else {
                    return Err(misbehaved("no reader to end".into()));
                };
                let again = read_all(&mut peer).map_err(vfs_error)?;
                if again != pages {
                    return Err(misbehaved("the reader's snapshot changed under it".into()));
                }
                peer.end_read().map_err(vfs_error)?;
                peer.close().map_err(vfs_error)
            }
        }
    }

    fn recover(&self, vfs: &SimVfs) -> Result<T::State, String> {
        // The application's connection is gone: with the power, or closed after its error.
        self.drop_session();
        if self.recovery == WalRecovery::DiscardLog {
            discard_log(vfs)?;
        }
        self.txns.recover(vfs)
    }

    fn durability(&self) -> Durability {
        self.durability
    }

    fn recover_without_journal(&self, vfs: &SimVfs) -> Option<Result<T::State, String>> {
        // At NORMAL on a device without powersafe overwrite, an unpadded append can tear
        // frames a checkpoint already copied (see `Subject::recover_without_journal`).
        let psow = self.sim_config(0).characteristics.contains(Dc::POWERSAFE_OVERWRITE);
        let normal = self.txns.options(100).synchronous == Synchronous::Normal;
        let exposed = normal && !psow && self.recovery == WalRecovery::Reopen;
        exposed.then(|| discard_log(vfs).and_then(|()| self.txns.recover(vfs)))
    }

    fn sim_config(&self, seed: u64) -> SimConfig {
        self.txns.sim_config(seed)
    }
}
