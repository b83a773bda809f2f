//! The WAL file's bytes (<https://sqlite.org/fileformat2.html#wal_file_format>; SQLite's `wal.c`
//! header comment, `walChecksumBytes`, `walEncodeFrame`, `walDecodeFrame`): the 32-byte header,
//! the 24-byte frame headers, and the cumulative checksum. Every WAL offset and byte order lives
//! here.
//!
//! ```text
//! header (32 bytes, every field BE32):
//!   0 magic 0x377f0682 (checksum words little-endian) or 0x377f0683 (big-endian)
//!   4 format version 3007000     8 page size (65536 stored as 65536)
//!  12 checkpoint sequence       16 salt-1        20 salt-2
//!  24 checksum-1                28 checksum-2    (over bytes 0..24, seed (0, 0))
//! frame i (1-based) at 32 + (i - 1) * (24 + page size):
//!   0 page number (0 is invalid)   4 commit: database size in pages after it, else 0
//!   8 salt-1   12 salt-2           (copies of the header's)
//!  16 checksum-1   20 checksum-2   (cumulative: continues from the previous frame, or from
//!                                   the header's checksum for frame 1, over frame bytes 0..8
//!                                   and then the page)
//!  24 page data
//! ```
//!
//! The checksum reads its input as 32-bit words in the byte order the magic names; stored
//! checksums are big-endian whatever that order. Salts are not covered by frame checksums.
//!
//! Each layout above is declared once, as a `#[repr(C)]` struct of zerocopy's big-endian
//! integers (`WalHeaderLayout`, `FrameHeaderLayout`, with `SaltLayout` and `ChecksumLayout`);
//! lengths and offsets are taken from those structs, and decoding reads through them.
//!
//! Decoding never panics on bytes read from disk: whatever fails a check is an
//! [`HeaderInvalid`] or [`FrameInvalid`] value naming the check.

use core::mem::{offset_of, size_of};
pub use folio_vfs::format::{valid_page_size, MAX_PAGE_SIZE, MIN_PAGE_SIZE};
use zerocopy::big_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Bytes of the WAL header (`WAL_HDRSIZE`).
pub const WAL_HEADER_LEN: usize = size_of::<WalHeaderLayout>();
/// Bytes of a frame header (`WAL_FRAME_HDRSIZE`).
pub const FRAME_HEADER_LEN: usize = size_of::<FrameHeaderLayout>();
/// The magic of a WAL whose checksums read little-endian words (`WAL_MAGIC`).
pub const MAGIC_LITTLE_ENDIAN: u32 = 0x377f_0682;
/// The magic of a WAL whose checksums read big-endian words (`WAL_MAGIC | 1`).
pub const MAGIC_BIG_ENDIAN: u32 = MAGIC_LITTLE_ENDIAN | 1;
/// The only WAL format version (`WAL_MAX_VERSION`).
pub const WAL_VERSION: u32 = 3_007_000;
/// Bytes of the header its checksum covers.
pub const HEADER_CHECKSUMMED_LEN: usize = offset_of!(WalHeaderLayout, checksum);
/// Bytes of a frame header its checksum covers (page number and commit size).
pub const FRAME_CHECKSUMMED_LEN: usize = offset_of!(FrameHeaderLayout, salt);

/// The WAL header as it lies in the file.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct WalHeaderLayout {
    magic: U32,
    version: U32,
    page_size: U32,
    checkpoint_seq: U32,
    salt: SaltLayout,
    checksum: ChecksumLayout,
}
const _: () = assert!(size_of::<WalHeaderLayout>() == 32);
const _: () = assert!(offset_of!(WalHeaderLayout, salt) == 16 && HEADER_CHECKSUMMED_LEN == 24);

/// A frame header as it lies in the file.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct FrameHeaderLayout {
    page_no: U32,
    commit_size: U32,
    salt: SaltLayout,
    checksum: ChecksumLayout,
}
const _: () = assert!(size_of::<FrameHeaderLayout>() == 24);
const _: () = assert!(FRAME_CHECKSUMMED_LEN == 8 && offset_of!(FrameHeaderLayout, checksum) == 16);

/// The two salts as stored in the WAL header, in every frame header and (as these same bytes)
/// in the wal-index header.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct SaltLayout {
    salt1: U32,
    salt2: U32,
}
const _: () = assert!(size_of::<SaltLayout>() == 8);

/// A stored checksum: two big-endian words, whatever order the checksum read its input in.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct ChecksumLayout {
    s0: U32,
    s1: U32,
}
const _: () = assert!(size_of::<ChecksumLayout>() == 8);

impl From<Salt> for SaltLayout {
    #[inline]
    fn from(salt: Salt) -> Self {
        SaltLayout { salt1: U32::new(salt.salt1), salt2: U32::new(salt.salt2) }
    }
}

impl From<SaltLayout> for Salt {
    #[inline]
    fn from(raw: SaltLayout) -> Self {
        Salt { salt1: raw.salt1.get(), salt2: raw.salt2.get() }
    }
}

impl From<Checksum> for ChecksumLayout {
    #[inline]
    fn from(sum: Checksum) -> Self {
        ChecksumLayout { s0: U32::new(sum.s0), s1: U32::new(sum.s1) }
    }
}

impl From<&ChecksumLayout> for Checksum {
    #[inline]
    fn from(raw: &ChecksumLayout) -> Self {
        Checksum { s0: raw.s0.get(), s1: raw.s1.get() }
    }
}

/// The order in which the checksum reads its 32-bit input words, chosen by the magic's low bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Magic 0x377f0682.
    LittleEndian,
    /// Magic 0x377f0683.
    BigEndian,
}

impl ByteOrder {
    /// The host's order: what SQLite writes (`WAL_MAGIC | SQLITE_BIGENDIAN`).
    pub fn native() -> Self {
        if cfg!(target_endian = "big") {
            ByteOrder::BigEndian
        } else {
            ByteOrder::LittleEndian
        }
    }

    /// The order a magic names, or `None` if it is not a WAL magic.
    pub fn from_magic(magic: u32) -> Option<Self> {
        match magic {
            MAGIC_LITTLE_ENDIAN => Some(ByteOrder::LittleEndian),
            MAGIC_BIG_ENDIAN => Some(ByteOrder::BigEndian),
            _ => None,
        }
    }

    /// The magic naming this order.
    pub fn magic(self) -> u32 {
        match self {
            ByteOrder::LittleEndian => MAGIC_LITTLE_ENDIAN,
            ByteOrder::BigEndian => MAGIC_BIG_ENDIAN,
        }
    }

    /// True for big-endian (the wal-index header's `bigEndCksum`).
    pub fn is_big_endian(self) -> bool {
        self == ByteOrder::BigEndian
    }

    /// A word of the checksummed bytes in this order.
    #[cfg(test)]
    fn word(self, bytes: [u8; 4]) -> u32 {
        match self {
            ByteOrder::LittleEndian => u32::from_le_bytes(bytes),
            ByteOrder::BigEndian => u32::from_be_bytes(bytes),
        }
    }
}

/// The running checksum (s0, s1) of `walChecksumBytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The first word (`aCksum[0]`).
    pub s0: u32,
    /// The second word (`aCksum[1]`).
    pub s1: u32,
}

impl Checksum {
    /// The seed of a chain: (0, 0).
    pub const ZERO: Checksum = Checksum { s0: 0, s1: 0 };

    /// Continues the checksum over `bytes` read as words in `order` (SQLite's
    /// `walChecksumBytes`): for each pair of words, `s0 += x0 + s1; s1 += x1 + s0`, modulo 2^32.
    ///
    /// The recurrence is one long chain of dependent additions. It is linear, though: a step
    /// maps the state `(s0, s1)` to `M·(s0, s1) + (x0, x0 + x1)` with `M = [[1, 1], [1, 2]]`.
    /// So a long input is cut into four equal parts summed side by side (the first
    /// from this state, the others from zero) and joined with `M^q`, `q` the pairs in a part:
    /// the same result, with the lanes' additions overlapping. Leftover pairs go on serially.
    ///
    /// # Panics
    /// If `bytes.len()` is not a multiple of 8 (a caller bug: every checksummed range is).
    #[must_use]
    pub fn extend(self, order: ByteOrder, bytes: &[u8]) -> Checksum {
        assert!(
            bytes.len().is_multiple_of(8),
            "checksummed length {} is not a multiple of 8",
            bytes.len()
        );
        // A pair's two words from one 64-bit load.
        let pair = |p: &[u8]| [p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]];
        match order {
            ByteOrder::LittleEndian => self.extend_in_lanes(bytes, |p| {
                let v = u64::from_le_bytes(pair(p));
                (v as u32, (v >> 32) as u32)
            }),
            ByteOrder::BigEndian => self.extend_in_lanes(bytes, |p| {
                let v = u64::from_be_bytes(pair(p));
                ((v >> 32) as u32, v as u32)
            }),
        }
    }

    /// [`Checksum::extend`] for one byte order (`word` decodes a word).
    #[inline(always)]
    fn extend_in_lanes(self, bytes: &[u8], words: impl Fn(&[u8]) -> (u32, u32) + Copy) -> Checksum {
        let per_lane = bytes.len() / 8 / CHECKSUM_LANES;
        if per_lane < MIN_PAIRS_PER_LANE {
            return self.extend_serial(bytes, words);
        }
        let lane_len = per_lane * 8;
        let (body, tail) = bytes.split_at(lane_len * CHECKSUM_LANES);
        let (a, rest) = body.split_at(lane_len);
        let (b, rest) = rest.split_at(lane_len);
        let (c, d) = rest.split_at(lane_len);
        let mut s0 = [self.s0, 0, 0, 0];
        let mut s1 = [self.s1, 0, 0, 0];
        let pairs =
            a.chunks_exact(8).zip(b.chunks_exact(8)).zip(c.chunks_exact(8).zip(d.chunks_exact(8)));
        for ((pa, pb), (pc, pd)) in pairs {
            for (l, p) in [pa, pb, pc, pd].into_iter().enumerate() {
                let (x0, x1) = words(p);
                s0[l] = s0[l].wrapping_add(x0).wrapping_add(s1[l]);
                s1[l] = s1[l].wrapping_add(x1).wrapping_add(s0[l]);
            }
        }
        // Join: state = M^q·state + lane, lane by lane (Horner).
        let jump = StepMatrix::STEP.pow(per_lane as u64);
        let mut joined = Checksum { s0: s0[0], s1: s1[0] };
        for l in 1..CHECKSUM_LANES {
            let moved = jump.apply(joined);
            joined =
                Checksum { s0: moved.s0.wrapping_add(s0[l]), s1: moved.s1.wrapping_add(s1[l]) };
        }
        joined.extend_serial(tail, words)
    }

    /// The recurrence as written, pair after pair.
    #[inline(always)]
    fn extend_serial(self, bytes: &[u8], words: impl Fn(&[u8]) -> (u32, u32)) -> Checksum {
        let (mut s0, mut s1) = (self.s0, self.s1);
        for pair in bytes.chunks_exact(8) {
            let (x0, x1) = words(pair);
            s0 = s0.wrapping_add(x0).wrapping_add(s1);
            s1 = s1.wrapping_add(x1).wrapping_add(s0);
        }
        Checksum { s0, s1 }
    }

    /// [`Checksum::extend`] one pair at a time, for tests to hold the lanes to.
    #[cfg(test)]
    fn extend_reference(self, order: ByteOrder, bytes: &[u8]) -> Checksum {
        let word = |p: &[u8]| order.word([p[0], p[1], p[2], p[3]]);
        self.extend_serial(bytes, |p| (word(&p[..4]), word(&p[4..])))
    }

    /// The checksum as stored in the WAL: two big-endian words.
    pub fn to_be_bytes(self) -> [u8; 8] {
        zerocopy::transmute!(ChecksumLayout::from(self))
    }
}

/// Parts a long checksummed range is summed in side by side ([`Checksum::extend`]).
const CHECKSUM_LANES: usize = 4;
/// Below this many pairs per lane the serial loop is as fast.
const MIN_PAIRS_PER_LANE: usize = 16;

/// A 2×2 matrix over the integers modulo 2^32, row-major: what `n` checksum steps do to the
/// state before the words are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StepMatrix([u32; 4]);

impl StepMatrix {
    const IDENTITY: StepMatrix = StepMatrix([1, 0, 0, 1]);
    /// One step: `s0' = s0 + s1`, `s1' = s1 + s0' = s0 + 2·s1`.
    const STEP: StepMatrix = StepMatrix([1, 1, 1, 2]);

    fn mul(self, o: StepMatrix) -> StepMatrix {
        let ([a, b, c, d], [e, f, g, h]) = (self.0, o.0);
        let dot =
            |x: u32, y: u32, z: u32, w: u32| x.wrapping_mul(y).wrapping_add(z.wrapping_mul(w));
        StepMatrix([dot(a, e, b, g), dot(a, f, b, h), dot(c, e, d, g), dot(c, f, d, h)])
    }

    fn pow(self, mut n: u64) -> StepMatrix {
        let (mut result, mut base) = (StepMatrix::IDENTITY, self);
        while n > 0 {
            if n & 1 == 1 {
                result = result.mul(base);
            }
            base = base.mul(base);
            n >>= 1;
        }
        result
    }

    fn apply(self, v: Checksum) -> Checksum {
        let [a, b, c, d] = self.0;
        Checksum {
            s0: a.wrapping_mul(v.s0).wrapping_add(b.wrapping_mul(v.s1)),
            s1: c.wrapping_mul(v.s0).wrapping_add(d.wrapping_mul(v.s1)),
        }
    }
}

/// The two salts of a WAL generation, as the big-endian numbers stored at header bytes 16..24.
///
/// The wal-index keeps them as the raw bytes ([`Salt::to_bytes`]), not as native numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Salt {
    /// Salt-1: random at the first frame of a new WAL, incremented at each restart.
    pub salt1: u32,
    /// Salt-2: random at every (re)start.
    pub salt2: u32,
}

impl Salt {
    /// The 8 bytes as stored in the WAL header and in every frame header.
    pub fn to_bytes(self) -> [u8; 8] {
        zerocopy::transmute!(SaltLayout::from(self))
    }

    /// The salts stored as `bytes`.
    pub fn from_bytes(bytes: [u8; 8]) -> Salt {
        let raw: SaltLayout = zerocopy::transmute!(bytes);
        Salt::from(raw)
    }

    /// The salts of the generation after a restart (`walRestartHdr`): salt-1 plus one, a new
    /// salt-2 (the caller's randomness).
    pub fn restarted(self, new_salt2: u32) -> Salt {
        Salt { salt1: self.salt1.wrapping_add(1), salt2: new_salt2 }
    }
}

/// Bytes of one frame: header and page.
pub fn frame_len(page_size: u32) -> u64 {
    FRAME_HEADER_LEN as u64 + u64::from(page_size)
}

/// The offset of frame `frame_no` (1-based) in the WAL file (`walFrameOffset`).
///
/// # Panics
/// If `frame_no` is 0.
pub fn frame_offset(frame_no: u32, page_size: u32) -> u64 {
    assert!(frame_no > 0, "frame numbers start at 1");
    WAL_HEADER_LEN as u64 + u64::from(frame_no - 1) * frame_len(page_size)
}

/// Whole frames a WAL file of `file_size` bytes holds (recovery's `iLastFrame`).
pub fn whole_frames(file_size: u64, page_size: u32) -> u64 {
    file_size.saturating_sub(WAL_HEADER_LEN as u64) / frame_len(page_size)
}

/// Why a WAL header is not accepted (`walIndexRecover`). Every case but
/// [`HeaderInvalid::UnsupportedVersion`] makes SQLite ignore the whole WAL; that one makes it
/// refuse to open the database (`SQLITE_CANTOPEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderInvalid {
    /// The file holds no frame: at most 32 bytes (SQLite reads the header only when the file is
    /// longer than one).
    TooShort {
        /// The file's size.
        size: u64,
    },
    /// Bytes 0..4 are neither magic.
    BadMagic(u32),
    /// Bytes 8..12 are not a power of two in 512..=65536.
    BadPageSize(u32),
    /// Bytes 24..32 do not match the checksum of bytes 0..24.
    BadChecksum {
        /// What the header says.
        stored: Checksum,
        /// What its bytes sum to.
        computed: Checksum,
    },
    /// The checksum verifies but bytes 4..8 are not 3007000.
    UnsupportedVersion(u32),
}

impl std::fmt::Display for HeaderInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderInvalid::TooShort { size } => write!(f, "file of {size} bytes holds no frame"),
            HeaderInvalid::BadMagic(m) => write!(f, "bad magic {m:#010x} at offset 0"),
            HeaderInvalid::BadPageSize(p) => write!(f, "bad page size {p} at offset 8"),
            HeaderInvalid::BadChecksum { stored, computed } => write!(
                f,
                "header checksum at offset 24 is {:08x}{:08x}, bytes 0..24 sum to {:08x}{:08x}",
                stored.s0, stored.s1, computed.s0, computed.s1
            ),
            HeaderInvalid::UnsupportedVersion(v) => {
                write!(f, "format version {v} at offset 4 is not {WAL_VERSION}")
            }
        }
    }
}

/// A WAL header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    /// The checksum word order (the magic).
    pub order: ByteOrder,
    /// Bytes per page.
    pub page_size: u32,
    /// The checkpoint sequence number (`nCkpt`).
    pub checkpoint_seq: u32,
    /// This generation's salts.
    pub salt: Salt,
}

impl WalHeader {
    /// The header SQLite writes on this host for a WAL generation.
    pub fn new(page_size: u32, checkpoint_seq: u32, salt: Salt) -> Self {
        WalHeader { order: ByteOrder::native(), page_size, checkpoint_seq, salt }
    }

    /// The 32 bytes of the header, its checksum included.
    ///
    /// # Panics
    /// If the page size is not valid (a caller bug).
    pub fn encode(&self) -> [u8; WAL_HEADER_LEN] {
        zerocopy::transmute!(self.layout())
    }

    /// The header's layout, its checksum computed.
    fn layout(&self) -> WalHeaderLayout {
        assert!(valid_page_size(self.page_size), "WAL page size {}", self.page_size);
        let mut raw = WalHeaderLayout {
            magic: U32::new(self.order.magic()),
            version: U32::new(WAL_VERSION),
            page_size: U32::new(self.page_size),
            checkpoint_seq: U32::new(self.checkpoint_seq),
            salt: self.salt.into(),
            checksum: Checksum::ZERO.into(),
        };
        let sum = Checksum::ZERO.extend(self.order, &raw.as_bytes()[..HEADER_CHECKSUMMED_LEN]);
        raw.checksum = sum.into();
        raw
    }

    /// The header's checksum: the seed of frame 1's.
    ///
    /// # Panics
    /// If the page size is not valid (a caller bug).
    pub fn checksum(&self) -> Checksum {
        Checksum::from(&self.layout().checksum)
    }

    /// Decodes and verifies a header as SQLite's recovery does: magic and page size first
    /// (no checksum involved), then the checksum, then the version.
    pub fn decode(bytes: &[u8]) -> Result<WalHeader, HeaderInvalid> {
        let Ok((raw, _)) = WalHeaderLayout::ref_from_prefix(bytes) else {
            return Err(HeaderInvalid::TooShort { size: bytes.len() as u64 });
        };
        let magic = raw.magic.get();
        let order = ByteOrder::from_magic(magic).ok_or(HeaderInvalid::BadMagic(magic))?;
        let page_size = raw.page_size.get();
        if !valid_page_size(page_size) {
            return Err(HeaderInvalid::BadPageSize(page_size));
        }
        let stored = Checksum::from(&raw.checksum);
        let computed = Checksum::ZERO.extend(order, &raw.as_bytes()[..HEADER_CHECKSUMMED_LEN]);
        if stored != computed {
            return Err(HeaderInvalid::BadChecksum { stored, computed });
        }
        let version = raw.version.get();
        if version != WAL_VERSION {
            return Err(HeaderInvalid::UnsupportedVersion(version));
        }
        Ok(WalHeader {
            order,
            page_size,
            checkpoint_seq: raw.checkpoint_seq.get(),
            salt: raw.salt.into(),
        })
    }
}

/// A frame header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The page the frame carries (1-based; 0 makes the frame invalid).
    pub page_no: u32,
    /// For the last frame of a transaction, the database size in pages after it; else 0.
    pub commit_size: u32,
    /// The salts copied from the WAL header.
    pub salt: Salt,
    /// The cumulative checksum up to and including this frame.
    pub checksum: Checksum,
}

impl FrameHeader {
    /// True for a commit frame.
    pub fn is_commit(&self) -> bool {
        self.commit_size != 0
    }

    /// The 24 bytes of the header.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        zerocopy::transmute!(self.layout())
    }

    fn layout(&self) -> FrameHeaderLayout {
        FrameHeaderLayout {
            page_no: U32::new(self.page_no),
            commit_size: U32::new(self.commit_size),
            salt: self.salt.into(),
            checksum: self.checksum.into(),
        }
    }

    /// The fields of a frame header, unchecked; `None` if fewer than 24 bytes.
    pub fn decode(bytes: &[u8]) -> Option<FrameHeader> {
        let (raw, _) = FrameHeaderLayout::ref_from_prefix(bytes).ok()?;
        Some(FrameHeader::from(raw))
    }
}

impl From<&FrameHeaderLayout> for FrameHeader {
    #[inline]
    fn from(raw: &FrameHeaderLayout) -> Self {
        FrameHeader {
            page_no: raw.page_no.get(),
            commit_size: raw.commit_size.get(),
            salt: raw.salt.into(),
            checksum: Checksum::from(&raw.checksum),
        }
    }
}

/// Why a frame is not valid (`walDecodeFrame`); the log ends before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameInvalid {
    /// Fewer bytes than a whole frame.
    Short {
        /// Bytes there were.
        len: usize,
        /// Bytes a frame needs.
        needed: usize,
    },
    /// The frame's salts (bytes 8..16) are not the header's: a frame of another generation.
    SaltMismatch {
        /// The frame's.
        found: Salt,
        /// The header's.
        expected: Salt,
    },
    /// Page number 0 (bytes 0..4).
    PageZero,
    /// The stored checksum (bytes 16..24) is not the running checksum.
    BadChecksum {
        /// What the frame says.
        stored: Checksum,
        /// What the chain computes.
        computed: Checksum,
    },
}

impl std::fmt::Display for FrameInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameInvalid::Short { len, needed } => {
                write!(f, "partial frame: {len} of {needed} bytes")
            }
            FrameInvalid::SaltMismatch { found, expected } => write!(
                f,
                "salts {:08x} {:08x} at frame offset 8 are not the header's {:08x} {:08x}",
                found.salt1, found.salt2, expected.salt1, expected.salt2
            ),
            FrameInvalid::PageZero => write!(f, "page number 0 at frame offset 0"),
            FrameInvalid::BadChecksum { stored, computed } => write!(
                f,
                "checksum at frame offset 16 is {:08x}{:08x}, the chain computes {:08x}{:08x}",
                stored.s0, stored.s1, computed.s0, computed.s1
            ),
        }
    }
}

/// A verified frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Its header (the checksum is the new running checksum).
    pub header: FrameHeader,
    /// The page image.
    pub page: &'a [u8],
}

/// Verifies one frame (`bytes`: frame header and page) against the generation's salts and the
/// running checksum `prev` (the header's for frame 1), checking in SQLite's order: salts, page
/// number, checksum.
pub fn decode_frame<'a>(
    bytes: &'a [u8],
    header: &WalHeader,
    prev: Checksum,
) -> Result<Frame<'a>, FrameInvalid> {
    let needed = FRAME_HEADER_LEN + header.page_size as usize;
    let Some(bytes) = bytes.get(..needed) else {
        return Err(FrameInvalid::Short { len: bytes.len(), needed });
    };
    let Ok((raw, page)) = FrameHeaderLayout::ref_from_prefix(bytes) else {
        return Err(FrameInvalid::Short { len: bytes.len(), needed });
    };
    let fh = FrameHeader::from(raw);
    if fh.salt != header.salt {
        return Err(FrameInvalid::SaltMismatch { found: fh.salt, expected: header.salt });
    }
    if fh.page_no == 0 {
        return Err(FrameInvalid::PageZero);
    }
    let covered = &raw.as_bytes()[..FRAME_CHECKSUMMED_LEN];
    let computed = prev.extend(header.order, covered).extend(header.order, page);
    if computed != fh.checksum {
        return Err(FrameInvalid::BadChecksum { stored: fh.checksum, computed });
    }
    Ok(Frame { header: fh, page })
}

/// Encodes frames of one WAL generation, carrying the running checksum from one to the next
/// (`walEncodeFrame`).
#[derive(Debug, Clone)]
pub struct FrameEncoder {
    header: WalHeader,
    running: Checksum,
}

impl FrameEncoder {
    /// An encoder whose next frame is frame 1 of the generation `header` starts.
    pub fn new(header: WalHeader) -> Self {
        FrameEncoder { header, running: header.checksum() }
    }

    /// An encoder continuing after a frame whose cumulative checksum was `running` (appending
    /// to an existing log).
    pub fn resume(header: WalHeader, running: Checksum) -> Self {
        FrameEncoder { header, running }
    }

    /// The running checksum: the last encoded frame's (the header's before the first).
    pub fn running(&self) -> Checksum {
        self.running
    }

    /// The generation's header.
    pub fn header(&self) -> &WalHeader {
        &self.header
    }

    /// Encodes the next frame for `page_no` with image `page` into `out` (24 + page size
    /// bytes); `commit_size` is the database size in pages for a commit frame, else 0.
    ///
    /// # Panics
    /// If `page_no` is 0, `page` is not one page, or `out` is not one frame (caller bugs).
    pub fn encode(&mut self, page_no: u32, commit_size: u32, page: &[u8], out: &mut [u8]) {
        assert!(page_no > 0, "frame for page 0");
        assert_eq!(page.len(), self.header.page_size as usize, "page image size");
        assert_eq!(out.len(), FRAME_HEADER_LEN + page.len(), "frame buffer size");
        let fh =
            FrameHeader { page_no, commit_size, salt: self.header.salt, checksum: Checksum::ZERO };
        let mut raw = fh.layout();
        let order = self.header.order;
        let sum = self
            .running
            .extend(order, &raw.as_bytes()[..FRAME_CHECKSUMMED_LEN])
            .extend(order, page);
        raw.checksum = sum.into();
        let (head, image) = out.split_at_mut(FRAME_HEADER_LEN);
        head.copy_from_slice(raw.as_bytes());
        image.copy_from_slice(page);
        self.running = sum;
    }

    /// [`FrameEncoder::encode`] into a new buffer.
    pub fn encode_to_vec(&mut self, page_no: u32, commit_size: u32, page: &[u8]) -> Vec<u8> {
        let mut out = vec![0; FRAME_HEADER_LEN + page.len()];
        self.encode(page_no, commit_size, page, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
