//! Benchmarks of the 100-byte database header codec: decoding it with SQLite's checks, writing
//! a fresh one, stamping a commit into it, and reading the change counter.
//!
//! Run with `cargo bench -p folio-pager --bench header`; warm-up 1 s and measurement 2 s per
//! benchmark. Compare two versions of the code with criterion's `--save-baseline NAME` on one
//! and `--baseline NAME` on the other.

use criterion::{black_box, Criterion};
use folio_pager::header::{change_counter, init_page1, stamp_commit, DbHeader};
use std::time::Duration;

const PAGE_SIZE: u32 = 4096;

fn db_header(c: &mut Criterion) {
    let mut page1 = vec![0u8; PAGE_SIZE as usize];
    init_page1(&mut page1, PAGE_SIZE, 0);
    stamp_commit(&mut page1, 41, 300, 3_050_002);
    let encoded = page1.clone();
    let mut g = c.benchmark_group("db_header");
    g.bench_function("decode", |b| {
        b.iter(|| black_box(DbHeader::decode(black_box(&encoded)).expect("valid")))
    });
    g.bench_function("init_page1", |b| {
        b.iter(|| {
            init_page1(black_box(&mut page1), black_box(PAGE_SIZE), 0);
            black_box(&page1);
        })
    });
    g.bench_function("stamp_commit", |b| {
        b.iter(|| {
            stamp_commit(black_box(&mut page1), black_box(41), 300, 3_050_002);
            black_box(&page1);
        })
    });
    g.bench_function("change_counter", |b| {
        b.iter(|| black_box(change_counter(black_box(&encoded))))
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
    db_header(&mut c);
    c.final_summary();
}
