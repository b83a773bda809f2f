//! Benchmarks of the WAL codecs: the 32-byte WAL header, the 24-byte frame header, whole frames
//! (header, page and SQLite's cumulative checksum), the 48-byte wal-index header (one copy as
//! bytes, and both copies published into and read from a heap region) and the checkpoint info.
//!
//! Run with `cargo bench -p folio-wal --bench codec`; warm-up 1 s and measurement 2 s per
//! benchmark. Compare two versions of the code with criterion's `--save-baseline NAME` on one
//! and `--baseline NAME` on the other.

use criterion::{black_box, Criterion};
use folio_vfs::ShmRegion;
use folio_wal::format::{
    decode_frame, Checksum, FrameEncoder, FrameHeader, Salt, WalHeader, FRAME_HEADER_LEN,
};
use folio_wal::index::{self, CkptInfo, IndexHeader};
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

const PAGE_SIZE: u32 = 4096;
const SALT: Salt = Salt { salt1: 0x1234_5678, salt2: 0x9abc_def0 };

fn wal_header(c: &mut Criterion) {
    let header = WalHeader::new(PAGE_SIZE, 7, SALT);
    let bytes = header.encode();
    let mut g = c.benchmark_group("wal_header");
    g.bench_function("encode", |b| b.iter(|| black_box(black_box(&header).encode())));
    g.bench_function("decode", |b| {
        b.iter(|| black_box(WalHeader::decode(black_box(&bytes[..])).expect("valid")))
    });
    g.finish();
}

fn frame_header(c: &mut Criterion) {
    let fh = FrameHeader {
        page_no: 42,
        commit_size: 100,
        salt: SALT,
        checksum: Checksum { s0: 0xdead_beef, s1: 0x0bad_f00d },
    };
    let bytes = fh.encode();
    let mut g = c.benchmark_group("frame_header");
    g.bench_function("encode", |b| b.iter(|| black_box(black_box(&fh).encode())));
    g.bench_function("decode", |b| {
        b.iter(|| black_box(FrameHeader::decode(black_box(&bytes[..])).expect("24 bytes")))
    });
    g.finish();
}

fn frame(c: &mut Criterion) {
    let header = WalHeader::new(PAGE_SIZE, 7, SALT);
    let page: Vec<u8> = (0..PAGE_SIZE).map(|i| (i * 7 + 3) as u8).collect();
    let mut out = vec![0u8; FRAME_HEADER_LEN + PAGE_SIZE as usize];
    let mut g = c.benchmark_group("frame");
    g.bench_function("encode_4096", |b| {
        b.iter(|| {
            let mut enc = FrameEncoder::new(header);
            enc.encode(black_box(42), 100, black_box(&page), &mut out);
            black_box(&out);
        })
    });
    let mut enc = FrameEncoder::new(header);
    let encoded = enc.encode_to_vec(42, 100, &page);
    let prev = header.checksum();
    g.bench_function("decode_4096", |b| {
        b.iter(|| {
            black_box(decode_frame(black_box(&encoded), &header, prev).expect("valid").header)
        })
    });
    g.finish();
}

fn sample_index_header() -> IndexHeader {
    IndexHeader {
        version: 3_007_000,
        change: 9,
        big_end_cksum: 0,
        sz_page: index::encode_page_size(PAGE_SIZE),
        max_frame: 77,
        n_page: 12,
        frame_checksum: Checksum { s0: 0x0102_0304, s1: 0x0506_0708 },
        salt: SALT,
        ..IndexHeader::default()
    }
    .sealed()
}

fn index_header(c: &mut Criterion) {
    let header = sample_index_header();
    let bytes = header.to_bytes();
    let region = ShmRegion::heap();
    let barrier = || fence(Ordering::SeqCst);
    let mut g = c.benchmark_group("index_header");
    g.bench_function("to_bytes", |b| b.iter(|| black_box(black_box(&header).to_bytes())));
    g.bench_function("from_bytes", |b| {
        b.iter(|| black_box(IndexHeader::from_bytes(black_box(&bytes))))
    });
    g.bench_function("publish", |b| {
        b.iter(|| black_box(index::publish_header(&region, black_box(header), &barrier)))
    });
    g.bench_function("read", |b| {
        b.iter(|| black_box(index::read_header(black_box(&region), &barrier).expect("usable")))
    });
    g.finish();
}

fn ckpt_info(c: &mut Criterion) {
    let region = ShmRegion::heap();
    let info = CkptInfo {
        n_backfill: 40,
        read_marks: [0, 77, 0xffff_ffff, 12, 0xffff_ffff],
        n_backfill_attempted: 40,
        not_used0: 0,
    };
    let mut g = c.benchmark_group("ckpt_info");
    g.bench_function("store", |b| b.iter(|| black_box(&info).store(black_box(&region))));
    g.bench_function("load", |b| b.iter(|| black_box(CkptInfo::load(black_box(&region)))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

fn main() {
    let mut c = config().configure_from_args();
    wal_header(&mut c);
    frame_header(&mut c);
    frame(&mut c);
    index_header(&mut c);
    ckpt_info(&mut c);
    c.final_summary();
}
