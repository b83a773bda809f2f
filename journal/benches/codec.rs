//! Benchmarks of the rollback journal's codecs: the journal header (encoded into one 512-byte
//! sector, decoded with its checks) and a page record of 4096 bytes with its checksum.
//!
//! Run with `cargo bench -p folio-journal --bench codec`; warm-up 1 s and measurement 2 s per
//! benchmark. Compare two versions of the code with criterion's `--save-baseline NAME` on one
//! and `--baseline NAME` on the other.

use criterion::{black_box, Criterion};
use folio_journal::format::{decode_record, encode_record, record_len, JournalHeader};
use std::time::Duration;

const PAGE_SIZE: u32 = 4096;
const SECTOR_SIZE: u32 = 512;

fn header(c: &mut Criterion) {
    let header = JournalHeader {
        n_rec: 17,
        nonce: 0x5eed_1234,
        db_orig_pages: 300,
        sector_size: SECTOR_SIZE,
        page_size: PAGE_SIZE,
    };
    let mut sector = vec![0u8; SECTOR_SIZE as usize];
    header.encode(&mut sector, true);
    let encoded = sector.clone();
    let mut g = c.benchmark_group("journal_header");
    g.bench_function("encode", |b| {
        b.iter(|| {
            black_box(&header).encode(&mut sector, true);
            black_box(&sector);
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(JournalHeader::decode(black_box(&encoded)).expect("valid")))
    });
    g.finish();
}

fn record(c: &mut Criterion) {
    let page: Vec<u8> = (0..PAGE_SIZE).map(|i| (i * 7 + 3) as u8).collect();
    let mut out = vec![0u8; record_len(PAGE_SIZE) as usize];
    let nonce = 0x5eed_1234;
    let mut g = c.benchmark_group("journal_record");
    g.bench_function("encode_4096", |b| {
        b.iter(|| {
            encode_record(black_box(42), black_box(&page), nonce, &mut out);
            black_box(&out);
        })
    });
    let encoded = out.clone();
    g.bench_function("decode_4096", |b| {
        b.iter(|| {
            black_box(decode_record(black_box(&encoded), PAGE_SIZE, nonce).expect("valid").page_no)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

fn main() {
    let mut c = config().configure_from_args();
    header(&mut c);
    record(&mut c);
    c.final_summary();
}
