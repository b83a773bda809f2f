//! The disk model behind the simulated VFS: what every file holds now, what would survive a
//! power loss, and the crash itself (after SQLite's `test6.c`).
//!
//! * Every write and truncate since a file's last sync is *pending*, in one global ordered list.
//!   `sync(F)` makes F's pending entries durable (on a SEQUENTIAL device, everything before F's
//!   last entry too).
//! * Creating and deleting a name is pending until its directory is synced.
//! * A crash decides each pending entry independently: survives, is lost, or (writes only) is
//!   torn sector by sector into new bytes, old bytes and garbage, within the limits the device
//!   advertises. The result is a [`CrashImage`]: the files a reboot would find.
//! * SEQUENTIAL: data and directory operations reach the disk in the one order they were
//!   issued, so a crash keeps a prefix of both together (the first write past the cut, the
//!   one in flight, may be torn), and a sync makes everything issued before it durable.
//!   Directory operations are in that order because SQLite reads the promise so: on a
//!   SEQUENTIAL device pager.c `syncJournal` skips every journal sync before the database
//!   writes, and a new journal's name is made durable only at its first sync (os_unix.c
//!   `unixSync`, `UNIXFILE_DIRSYNC`), so nothing else orders it before them.
//! * SAFE_APPEND: a file grows only with its appended data, in order: once an append is lost,
//!   no later write past the file's end survives (no hole of zeros within the size). It says
//!   nothing of overwrites: those tear as on any device.

use crate::rng::Rng;
use crate::DeviceCharacteristics as Dc;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Identity of a file's contents, independent of its name (an inode).
pub(crate) type FileNo = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataOp {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

#[derive(Debug, Clone)]
struct Pending {
    /// Position in the one order of every data and directory operation.
    seq: u64,
    file: FileNo,
    op: DataOp,
}

#[derive(Debug, Clone)]
enum DirOp {
    Create { path: PathBuf, file: FileNo },
    Delete { path: PathBuf },
}

impl DirOp {
    fn path(&self) -> &Path {
        match self {
            DirOp::Create { path, .. } | DirOp::Delete { path } => path,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Contents {
    /// What reads see.
    current: Vec<u8>,
    /// What a power loss with every pending entry lost would leave.
    durable: Vec<u8>,
}

/// The files a reboot after a crash finds: name → contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashImage {
    /// Every surviving file.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl CrashImage {
    /// Writes every file into the real directory `dir` under its file name, so that stock
    /// sqlite3 can open the same image (files must have distinct names).
    pub fn write_to_dir(&self, dir: &Path) -> std::io::Result<()> {
        for (path, bytes) in &self.files {
            let name = path.file_name().ok_or_else(|| {
                std::io::Error::other(format!("{} has no file name", path.display()))
            })?;
            std::fs::write(dir.join(name), bytes)?;
        }
        Ok(())
    }

    /// A 64-bit FNV-1a digest of every name and byte, to compare images cheaply.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (path, bytes) in &self.files {
            eat(path.as_os_str().as_encoded_bytes());
            eat(&(bytes.len() as u64).to_le_bytes());
            eat(bytes);
        }
        h
    }
}

/// Files, names and pending entries of one simulated disk.
#[derive(Debug)]
pub(crate) struct Disk {
    pub(crate) sector_size: u64,
    pub(crate) characteristics: Dc,
    contents: HashMap<FileNo, Contents>,
    names: BTreeMap<PathBuf, FileNo>,
    durable_names: BTreeMap<PathBuf, FileNo>,
    pending: Vec<Pending>,
    /// Pending creates and deletes, with their position in the order of operations.
    pending_dir: Vec<(u64, DirOp)>,
    next_file: FileNo,
    next_seq: u64,
}

fn apply(bytes: &mut Vec<u8>, op: &DataOp) {
    match op {
        DataOp::Write { offset, data } => {
            let start = *offset as usize;
            let end = start + data.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[start..end].copy_from_slice(data);
        }
        DataOp::Truncate { size } => bytes.resize(*size as usize, 0),
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// The largest atomic write size the device advertises (0: none; `u64::MAX`: every write).
fn atomic_size(dc: Dc) -> u64 {
    if dc.contains(Dc::ATOMIC) {
        return u64::MAX;
    }
    (1..=8)
        .rev()
        .map(|i| 1u32 << i)
        .find(|bit| dc.0 & bit != 0)
        .map_or(0, |bit| 256 * u64::from(bit))
}

impl Disk {
    pub(crate) fn new(sector_size: u32, characteristics: Dc) -> Self {
        assert!(sector_size.is_power_of_two() && sector_size >= 512, "bad sector size");
        Disk {
            sector_size: u64::from(sector_size),
            characteristics,
            contents: HashMap::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            pending: Vec::new(),
            pending_dir: Vec::new(),
            next_file: 1,
            next_seq: 0,
        }
    }

    /// A disk holding exactly `image`, everything durable.
    pub(crate) fn from_image(image: &CrashImage, sector_size: u32, characteristics: Dc) -> Self {
        let mut disk = Disk::new(sector_size, characteristics);
        for (path, bytes) in &image.files {
            let file = disk.next_file;
            disk.next_file += 1;
            disk.contents.insert(file, Contents { current: bytes.clone(), durable: bytes.clone() });
            disk.names.insert(path.clone(), file);
            disk.durable_names.insert(path.clone(), file);
        }
        disk
    }

    pub(crate) fn lookup(&self, path: &Path) -> Option<FileNo> {
        self.names.get(path).copied()
    }

    /// Creates an empty file named `path`; the name is durable after its directory is synced.
    pub(crate) fn create(&mut self, path: &Path) -> FileNo {
        let file = self.next_file;
        self.next_file += 1;
        self.contents.insert(file, Contents::default());
        self.names.insert(path.to_path_buf(), file);
        let seq = self.seq();
        self.pending_dir.push((seq, DirOp::Create { path: path.to_path_buf(), file }));
        file
    }

    /// Removes the name `path` (open handles keep the contents); durable after a directory sync.
    pub(crate) fn delete(&mut self, path: &Path) -> bool {
        if self.names.remove(path).is_none() {
            return false;
        }
        let seq = self.seq();
        self.pending_dir.push((seq, DirOp::Delete { path: path.to_path_buf() }));
        true
    }

    pub(crate) fn current(&self, file: FileNo) -> &[u8] {
        &self.contents[&file].current
    }

    /// What `path` holds on the device if every pending write, truncate, create and delete is
    /// lost: its durable name and bytes (`None` if the name is not durable).
    pub(crate) fn synced(&self, path: &Path) -> Option<&[u8]> {
        let file = self.durable_names.get(path)?;
        Some(&self.contents[file].durable)
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn sequential(&self) -> bool {
        self.characteristics.contains(Dc::SEQUENTIAL)
    }

    pub(crate) fn modify(&mut self, file: FileNo, op: DataOp) {
        apply(&mut self.contents.get_mut(&file).expect("open file has contents").current, &op);
        let seq = self.seq();
        self.pending.push(Pending { seq, file, op });
    }

    /// Makes `file`'s pending entries durable (on a SEQUENTIAL device, with everything issued
    /// before them, directory operations included).
    pub(crate) fn sync(&mut self, file: FileNo) {
        let Some(last) = self.pending.iter().rev().find(|p| p.file == file).map(|p| p.seq) else {
            return;
        };
        if self.sequential() {
            self.make_durable_through(last);
            return;
        }
        let mut kept = Vec::with_capacity(self.pending.len());
        for entry in std::mem::take(&mut self.pending) {
            if entry.file == file {
                let contents = self.contents.get_mut(&entry.file).expect("pending file exists");
                apply(&mut contents.durable, &entry.op);
            } else {
                kept.push(entry);
            }
        }
        self.pending = kept;
    }

    /// Makes the pending creates and deletes of names in `dir` durable (on a SEQUENTIAL
    /// device, with everything issued before them).
    pub(crate) fn sync_dir(&mut self, dir: &Path) {
        if self.sequential() {
            let last = self.pending_dir.iter().rev().find(|(_, op)| parent(op.path()) == dir);
            if let Some(&(seq, _)) = last {
                self.make_durable_through(seq);
            }
            return;
        }
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_dir)
            .into_iter()
            .partition(|(_, op)| parent(op.path()) == dir);
        for (_, op) in now {
            self.apply_dir(op);
        }
        self.pending_dir = later;
    }

    /// Makes every pending data and directory operation up to `seq` durable.
    fn make_durable_through(&mut self, seq: u64) {
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.seq <= seq);
        for entry in now {
            let contents = self.contents.get_mut(&entry.file).expect("pending file exists");
            apply(&mut contents.durable, &entry.op);
        }
        self.pending = later;
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending_dir).into_iter().partition(|(s, _)| *s <= seq);
        for (_, op) in now {
            self.apply_dir(op);
        }
        self.pending_dir = later;
    }

    fn apply_dir(&mut self, op: DirOp) {
        match op {
            DirOp::Create { path, file } => {
                self.durable_names.insert(path, file);
            }
            DirOp::Delete { path } => {
                self.durable_names.remove(&path);
            }
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &Path> {
        self.names.keys().map(PathBuf::as_path)
    }

    /// Number of pending (unsynced) data entries and directory entries.
    pub(crate) fn pending_counts(&self) -> (usize, usize) {
        (self.pending.len(), self.pending_dir.len())
    }

    /// What a power loss now leaves, with every decision drawn from `rng`.
    pub(crate) fn crash(&self, rng: &mut Rng) -> CrashImage {
        let dc = self.characteristics;
        let mut durable: HashMap<FileNo, Vec<u8>> =
            self.contents.iter().map(|(&f, c)| (f, c.durable.clone())).collect();

        // A sequential device keeps a prefix of all pending operations, data and directory
        // alike, and loses the rest: everything issued before `cut` survives.
        let cut = if self.sequential() {
            let mut seqs: Vec<u64> = self.pending.iter().map(|p| p.seq).collect();
            seqs.extend(self.pending_dir.iter().map(|(seq, _)| *seq));
            seqs.sort_unstable();
            let k = rng.below(seqs.len() as u64 + 1) as usize;
            seqs.get(k).copied().unwrap_or(u64::MAX)
        } else {
            u64::MAX
        };
        // Files whose append was lost: on a SAFE_APPEND device nothing later grows them.
        let mut append_lost = std::collections::HashSet::new();
        for entry in &self.pending {
            let bytes = durable.get_mut(&entry.file).expect("pending file exists");
            if entry.seq > cut {
                continue;
            }
            if entry.seq == cut {
                // The write the power cut interrupted: lost, or torn within the device's limits
                // (the order promises nothing about the write in flight).
                if let DataOp::Write { offset, data } = &entry.op {
                    if rng.below(4) == 0 && self.may_tear(*offset, data.len() as u64) {
                        self.tear(bytes, *offset, data, rng);
                    }
                }
                continue;
            }
            if self.sequential() {
                apply(bytes, &entry.op);
                continue;
            }
            match &entry.op {
                DataOp::Truncate { .. } => {
                    if rng.below(2) == 0 {
                        apply(bytes, &entry.op);
                    }
                }
                DataOp::Write { offset, data } => {
                    let grows = offset + data.len() as u64 > bytes.len() as u64;
                    if grows && dc.contains(Dc::SAFE_APPEND) && append_lost.contains(&entry.file) {
                        continue;
                    }
                    let r = rng.below(8);
                    if r >= 6 && self.may_tear(*offset, data.len() as u64) {
                        self.tear(bytes, *offset, data, rng);
                    } else if r.is_multiple_of(2) {
                        apply(bytes, &entry.op);
                    } else if grows {
                        append_lost.insert(entry.file);
                    }
                }
            }
        }

        let mut names = self.durable_names.clone();
        for (seq, op) in &self.pending_dir {
            let survives = *seq < cut && (self.sequential() || rng.below(2) == 0);
            if survives {
                match op {
                    DirOp::Create { path, file } => names.insert(path.clone(), *file),
                    DirOp::Delete { path } => names.remove(path),
                };
            }
        }
        CrashImage {
            files: names.into_iter().map(|(path, file)| (path, durable[&file].clone())).collect(),
        }
    }

    /// Whether a write of `len` bytes at `offset` can be torn on this device.
    fn may_tear(&self, offset: u64, len: u64) -> bool {
        let atomic = atomic_size(self.characteristics);
        if atomic == u64::MAX {
            return false;
        }
        // A write inside one aligned block of the atomic size is all-or-nothing.
        !(atomic > 0 && len <= atomic && offset / atomic == (offset + len - 1) / atomic)
    }

    /// Applies a torn write: each sector it touches independently gets the new bytes, keeps the
    /// old ones, or fills with garbage. Without POWERSAFE_OVERWRITE garbage covers the whole
    /// sector (neighbouring bytes too); with it, only the bytes written. With SAFE_APPEND the
    /// part past the old end of file is never garbage: it is the new bytes.
    fn tear(&self, bytes: &mut Vec<u8>, offset: u64, data: &[u8], rng: &mut Rng) {
        let dc = self.characteristics;
        let safe_append = dc.contains(Dc::SAFE_APPEND);
        let old_len = bytes.len() as u64;
        let end = offset + data.len() as u64;
        let sector = self.sector_size;
        let new_bytes = |from: u64, to: u64| DataOp::Write {
            offset: from,
            data: data[(from - offset) as usize..(to - offset) as usize].to_vec(),
        };
        let mut s = offset / sector * sector;
        while s < end {
            let (lo, hi) = (offset.max(s), end.min(s + sector));
            // [lo, split) may tear; [split, hi) lies past the old end on a safe-append device
            // and is written as it should be.
            let split = if safe_append { old_len.clamp(lo, hi) } else { hi };
            if lo < split {
                match rng.below(3) {
                    0 => apply(bytes, &new_bytes(lo, split)),
                    1 => {
                        // Old bytes stay; a region past the old end reads as zeros.
                        if split > bytes.len() as u64 {
                            bytes.resize(split as usize, 0);
                        }
                    }
                    _ => {
                        let (g_lo, g_hi) = if dc.contains(Dc::POWERSAFE_OVERWRITE) {
                            (lo, split)
                        } else if safe_append {
                            (s, (s + sector).min(old_len))
                        } else {
                            (s, (s + sector).min((bytes.len() as u64).max(split)))
                        };
                        let mut garbage = vec![0u8; (g_hi - g_lo) as usize];
                        rng.fill(&mut garbage);
                        apply(bytes, &DataOp::Write { offset: g_lo, data: garbage });
                    }
                }
            }
            if split < hi {
                apply(bytes, &new_bytes(split, hi));
            }
            s += sector;
        }
    }
}
